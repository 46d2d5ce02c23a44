"""Compare training recipes over their training-seed draws, from select_stardist.py's held-out selection files.

One trained model is one draw of its recipe: the training seed alone moves the held-out StarDist F1 by as much
as a recipe change (issue 14), so recipes are compared by the mean over draws. A row named ``<recipe>-s<N>``
is a draw of ``<recipe>``; the training seed shown is the one its run's config.json records (``--models``).

    python benchmarks/recipe_draws.py benchmarks/results/select_stardist/selection-tissue-real-sensor-noise.json \
        benchmarks/results/select_stardist/ablations/selection-tissue-real-sensor-noise.json
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

DRAW = re.compile(r"^(?P<recipe>.+?)(?:-s(?P<seed>\d+))?$")


def recipe_of(row: str, suffix: str, models: Path) -> tuple[str, int]:
    """``(recipe, training seed)`` of a selection row, its layout suffix (e.g. ``-tissue-real-sensor-noise``) removed;
    the seed is read from the model's config.json (a fine-tune's seed is not its name's), else from the name."""
    name = row[: -len(suffix)] if suffix and row.endswith(suffix) else row
    match = DRAW.match(name)
    config = models / name / "config.json"
    seed = json.loads(config.read_text())["seed"] if config.is_file() else int(match["seed"] or 0)
    return match["recipe"], seed


def draws(paths: list[Path], suffix: str, models: Path) -> dict[str, dict[int, dict]]:
    """Every recipe's draws, ``{recipe: {seed: row}}``; a draw measured in two files is an error, not a silent pick."""
    out: dict[str, dict[int, dict]] = {}
    for path in paths:
        for name, row in json.loads(path.read_text())["rows"]:
            if "baseline" in name:
                continue
            recipe, seed = recipe_of(name, suffix, models)
            if seed in out.setdefault(recipe, {}):
                raise SystemExit(f"error: {path}: {name} is a second measurement of {recipe} seed {seed}")
            out[recipe][seed] = row
    return out


def summary(rows: dict[int, dict], key: str) -> str:
    """``mean ± sd (draw, draw, ...)`` over draws of one recipe's per-draw means of ``key``."""
    values = [rows[s][key]["mean"] for s in sorted(rows)]
    if len(values) == 1:
        return f"{values[0]:.3f} (one draw)"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f} ({', '.join(f'{v:.3f}' for v in values)})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path, help="selection-*.json files of one layout")
    ap.add_argument("--suffix", default="-tissue-real-sensor-noise", help="layout suffix of the row names (it starts with a dash: write --suffix=-tissue-real)")
    ap.add_argument("--models", type=Path, default=Path("benchmarks/results/generalist"),
                    help="folder of the measured models (their config.json gives the training seed)")
    args = ap.parse_args(argv)
    table = draws(args.files, args.suffix, args.models)
    print("| recipe | draws (training seeds) | F1@0.5 over draws | F1@0.7 over draws |")
    print("| --- | --- | --- | --- |")
    for recipe, rows in sorted(table.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        seeds = ",".join(str(s) for s in sorted(rows))
        print(f"| {recipe} | {len(rows)} ({seeds}) | {summary(rows, 'f1_50')} | {summary(rows, 'f1_70')} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
