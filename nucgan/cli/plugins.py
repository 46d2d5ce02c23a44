"""``nucgan plugins``: what is installed, what each provides, what failed."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from nucgan.cli.output import out


def plugins_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines instead of a table."),
) -> None:
    """List plugins: name, package, version, status (active/failed/disabled, with the error), what each provides."""
    import warnings

    from nucgan.plugins import PluginWarning, plugin_infos

    with warnings.catch_warnings():  # failures are shown in the table itself
        warnings.simplefilter("ignore", PluginWarning)
        infos = plugin_infos()
    if as_json:
        out.print_json(json.dumps([i.to_dict() for i in infos]))
        return
    table = Table(title="nucgan plugins")
    for col in ("plugin", "package", "version", "status", "provides"):
        table.add_column(col)
    for i in infos:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in i.provides.items() if names)
        status = {"active": "[green]active[/]", "disabled": "[dim]disabled[/]"}.get(i.status, "[red]failed[/]")
        if i.error:
            status += f" [red]{i.error}[/]"
        table.add_row(i.name, i.package, i.version, status, provides or "-")
    out.print(table)
