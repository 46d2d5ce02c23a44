"""How real are de novo layouts? `nucgan masks report` figures for the old and the current `synth` defaults.

    python benchmarks/layouts.py                        # writes benchmarks/results/layouts/
    python benchmarks/layouts.py --work /tmp/layouts    # keep the label images (resumable)

Rows, each against the real dsb2018-fluo/train labels (the folder the layout model learned from):

- ``reference``: dsb2018-fluo/test, real against real: how far two real samples lie apart;
- ``old-default``: the old `synth` default (sampler gan, density 150, gap 2), one layout per train
  image at that image's size (so border cuts and counts compare with real images of the same size);
- ``tissue-train-sizes``: the layout model (sampler tissue: per-image density, size and touching,
  nuclei cut by the border), one layout per train image at that image's size;
- ``tissue-512``: the layout model at 512 x 512, `synth --size 512` (no real image has this size;
  border cuts and counts there do not compare like for like);
- ``default``: `synth`'s defaults (sampler tissue, and without --size each image the size of a real
  train image, drawn as synth draws it, seed 0), so whole images compare like for like.

Prints the table and writes report.json and report.txt. Only train is learned from; test is reported.
``--write-docs`` puts the committed report's table into docs/generation.md (no measuring).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018-fluo"


def layouts(folder: Path, sizes: list[tuple[int, int]], sampler: str, **kwargs: object) -> Path:
    """One layout per size into ``folder`` (uint16 TIFFs), skipping those already there."""
    import tifffile

    import nucgan

    folder.mkdir(parents=True, exist_ok=True)
    made = nucgan.create_sampler(sampler)
    for i, size in enumerate(sizes):
        path = folder / f"layout_{i:04d}.tif"
        if path.exists():
            continue
        lab = nucgan.place(made, size=size, seed=int(np.random.SeedSequence([15, i]).generate_state(1)[0]),
                           **kwargs)
        tmp = path.with_suffix(".part.tif")
        tifffile.imwrite(tmp, lab.astype(np.uint16))
        tmp.replace(path)
    return folder


def real_sizes(count: int) -> list[tuple[int, int]]:
    """The image sizes `nucgan synth --count COUNT --seed 0` draws (the default sampler, no --size: real sizes)."""
    import nucgan
    from nucgan.synth import SynthPlan, with_size

    sampler = nucgan.create_sampler(SynthPlan(count=count).sampler)
    plan = with_size(sampler, SynthPlan(count=count))
    return [plan.image_size(i, sampler.image_sizes()) for i in range(count)]


def markdown(report: dict) -> str:
    """The report as a markdown table: KS distance per statistic and row, x the reference's."""
    from nucgan.layout_report import STATS

    rows = report["rows"]
    head = "| statistic (KS to real train) | " + " | ".join(r["name"] for r in rows) + " |"
    lines = [head, "| --- |" + " ---: |" * len(rows)]
    lines.append("| touching, pooled (real train {:.1f} %) | ".format(100 * report["real"]["touching"])
                 + " | ".join(f"{100 * r['touching']:.1f} %" for r in rows) + " |")
    lines.append("| cut by the border, pooled (real train {:.1f} %) | ".format(100 * report["real"]["cut"])
                 + " | ".join(f"{100 * r['cut']:.1f} %" for r in rows) + " |")
    for key, label, *_ in STATS:
        cells = []
        for r in rows:
            cell = f"{r['distances'][key]['ks']:.3f}"
            if "ratio" in r:
                cell += f" ({r['ratio'][key]:.1f}x)" if r["within"][key] else f" (**{r['ratio'][key]:.1f}x**)"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(out: Path) -> None:
    """Replace the table between the layouts-table markers of docs/generation.md with the committed report's."""
    doc = ROOT / "docs" / "generation.md"
    text = doc.read_text()
    start, end = "<!-- layouts-table -->", "<!-- /layouts-table -->"
    report = json.loads((out / "report.json").read_text())
    a, b = text.index(start) + len(start), text.index(end)
    doc.write_text(text[:a] + "\n" + markdown(report) + "\n" + text[b:])
    print(f"table written into {doc}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="dsb2018-fluo folder (train/, test/)")
    ap.add_argument("--work", type=Path, default=None, help="where the layouts go [a temporary folder]")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "layouts")
    ap.add_argument("--count-512", type=int, default=200, help="layouts at 512 x 512, and at real sizes")
    ap.add_argument("--write-docs", action="store_true", help="only write the committed table into the docs")
    args = ap.parse_args()
    if args.write_docs:
        write_docs(args.out)
        return
    import tifffile

    from nucgan.labelstats import label_files
    from nucgan.layout_report import format_table, layout_report, write_report

    train, test = args.data / "train", args.data / "test"
    sizes = [tuple(tifffile.imread(p).shape) for p in label_files(train)]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        rows = [layouts(work / "old-default", sizes, "gan", density=150.0, gap=2),
                layouts(work / "tissue-train-sizes", sizes, "tissue"),
                layouts(work / "tissue-512", [(512, 512)] * args.count_512, "tissue"),
                layouts(work / "default", real_sizes(args.count_512), "tissue")]
        report = layout_report(train, [str(r) for r in rows], reference=test)
    for row in report["rows"]:  # name rows by what they are, not by the temporary folder
        row["name"] = "reference (test)" if row["reference"] else Path(row["name"]).name
        row["folder"] = row["name"]
    table = format_table(report)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(report, args.out / "report.json")
    (args.out / "report.txt").write_text(" ".join(["python", *sys.argv]) + "\n\n" + table + "\n")
    print(f"\nwritten to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
