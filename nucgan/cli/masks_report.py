"""``nucgan masks report``: how close synthetic layouts are to a real label folder, as a table and JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nucgan.cli.output import err, out
from nucgan.errors import InputError

app = typer.Typer(rich_markup_mode=None, no_args_is_help=True,
                  help="Nucleus layouts: compare synthetic label folders with real ones.")


@app.command("report")
def report_command(
    folders: list[Path] = typer.Argument(..., help="Label folders to compare (synth outputs, or any folder of "
                                                   "label images or with masks/)."),
    real: Path = typer.Option(..., "--real", help="The real label folder the layouts should look like."),
    reference: Optional[Path] = typer.Option(None, "--reference", help="A second real folder (e.g. the test "
                                             "half): its distance is the reference row, how far real lies from real."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON to this file."),
) -> None:
    """Touching, density, size, shape, spacing and border cuts against a real folder: `nucgan masks report
    synth/ --real train/ --reference test/ --json report.json`."""
    from nucgan.atomic import check_output_file
    from nucgan.labelstats import label_files
    from nucgan.layout_report import format_table, layout_report, write_report

    for folder in [real, *( [reference] if reference else []), *folders]:
        label_files(folder)  # every folder readable before any work
    if json_out is not None:
        check_output_file(json_out)
        if json_out.suffix.lower() != ".json":
            raise InputError(f"--json {json_out}: the report file must end in .json")
    err.print(f"measuring {1 + bool(reference) + len(folders)} folders ...")
    report = layout_report(real, [str(f) for f in folders], reference=reference)
    out.print(format_table(report), highlight=False, markup=False, soft_wrap=True)
    if json_out is not None:
        write_report(report, json_out)
        err.print(f"report written to {json_out}")
