"""The downstream table on DSB 2018 fluorescence, and the docs sections made from it.

Runs ``nucgan downstream`` (``nucgan.quality.downstream_table.run_table``) with this project's data
and results folders, then, with ``--write-docs``, rewrites the marked sections of README.md,
docs/results.md and docs/shipped-models.md from the committed ``results.json`` files, so no figure in
them is typed in (tests/test_docs.py checks that they match).

    /work/sdenv/bin/python benchmarks/downstream.py --segmenter stardist           # the StarDist table (~2 h)
    python benchmarks/downstream.py --segmenter builtin                            # the built-in segmenter
    python benchmarks/downstream.py --segmenter builtin --model dsb2018-1x-k3 --arms synthetic
    python benchmarks/downstream.py --write-docs                                   # only the docs

Results: ``benchmarks/results/downstream_SEGMENTER_MODEL`` (``downstream_SEGMENTER`` for
``dsb2018-3x-k7``, the default when those tables were made). Resumable: a rerun skips done runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018-fluo"
RESULTS = ROOT / "benchmarks" / "results"
ARM_TEXT = {
    "real": "real train images",
    "synthetic": "nucgan synthetic only",
    "real+synthetic": "real + synthetic",
    "few-real+synthetic": "10 % of the real + synthetic",
    "painter": "painter baseline (same masks)",
    "flat": "flat baseline (same masks)",
}
FIRST_DEFAULT = "dsb2018-3x-k7"  # synth's default until 2026-12-04: its tables keep their unsuffixed folders


@functools.cache
def published() -> dict[str, str]:
    """Committed run folder name -> the shipped zoo entry (id@version) published from it, read from each manifest's
    evaluation source, so a table made with the run folder is shown under the entry's versioned name."""
    runs = {}
    for path in sorted((ROOT / "zoo").glob("*/*/manifest.json")):
        manifest = json.loads(path.read_text())
        source = ((manifest.get("metrics") or {}).get("values") or {}).get("sources", {}).get("model", {})
        if str(source.get("model", "")).endswith(".safetensors"):
            runs[Path(source["model"]).parent.name] = f"{manifest['id']}@{manifest['version']}"
    return runs


def out_folder(segmenter: str, model: str) -> Path:
    """Where the results of (segmenter, model) live."""
    name = Path(model).name if Path(model).is_dir() else model  # a run folder (the generalists) by its name
    return RESULTS / (f"downstream_{segmenter}" if model == FIRST_DEFAULT else f"downstream_{segmenter}_{name}")


def results() -> list[dict[str, Any]]:
    """Every committed downstream result, StarDist first, the default model first."""
    from nucgan.synth import DEFAULT_MODEL

    found = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("downstream_*/results.json"))]
    default = model_name(DEFAULT_MODEL)  # a table measured on the run folder the default was published from counts
    return sorted(found, key=lambda r: (r["segmenter"] != "stardist", table_model(r) != default, r["model"]))


def table_model(result: dict[str, Any]) -> str:
    """The name of the model that painted a table's synthetic arms (a zoo id or a run folder's name)."""
    return model_name(result["data"].get("synthetic", {}).get("model", result["model"]))


def model_name(model: str) -> str:
    """A zoo id (with its version where the id has several), or a run's folder name: the zoo entry made from it if any."""
    if model.endswith(".safetensors") or "/" in model:  # a run folder or its weights file
        name = Path(model).parent.name if model.endswith(".safetensors") else Path(model).name
        return published().get(name, name)
    return model if model in published().values() else model.split("@")[0]


def cell(s: dict[str, float]) -> str:
    return f"{s['mean']:.3f} ± {s['sd']:.3f}"


def section(result: dict[str, Any]) -> str:
    """One result as markdown: what ran, the table with every arm, and the command."""
    seg = {"stardist": "StarDist2D trained from scratch", "builtin": "the built-in segmenter (a 3-level U-Net)"}
    model = result["data"].get("synthetic", {}).get("model", result["model"])
    lines = [f"**{seg[result['segmenter']]}**, synthetic data by `{model}`, scored on "
             f"`{Path(result['test_folder']).parent.name}/{Path(result['test_folder']).name}` "
             f"({next(iter(result['runs'].values()))[0]['n_true'] if result['runs'] else '?'} nuclei):", "",
             "| arm | trained on | seeds | images | F1@0.5 | F1@0.7 | PQ | per-seed F1@0.5 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arm, s in result["summary"].items():
        lines.append(f"| {arm} | {ARM_TEXT.get(arm, arm)} | {len(s['seeds'])} | {s['train_images']} | "
                     f"{cell(s['f1_50'])} | {cell(s['f1_70'])} | {cell(s['pq_50'])} | "
                     f"{', '.join(f'{v:.3f}' for v in s['per_seed_f1_50'])} |")
    missing = [a for a in result["arms"] if len(result["summary"].get(a, {}).get("seeds", [])) < len(result["seeds"])]
    if missing:
        lines += ["", f"Not complete: {', '.join(missing)} ran fewer than {len(result['seeds'])} seeds."]
    c = result["config"]
    budget = (f"{c['epochs']} x {c['steps_per_epoch']} steps of batch {c['batch_size']} x {c['patch']} px patches"
              if result["segmenter"] == "stardist" else f"{c['steps']} steps of batch {c['batch']} x {c['crop']} px crops")
    lines += ["", f"Budget per run: {budget}, {c['threads']} thread(s). Command: `{result['command']}`"]
    return "\n".join(lines)


def headline(all_results: list[dict[str, Any]]) -> str:
    """The README's first-screen line: synthetic-only vs real-only with StarDist, baselines beside."""
    from nucgan.synth import DEFAULT_MODEL

    star = [r for r in all_results if r["segmenter"] == "stardist" and "synthetic" in r["summary"]]
    star.sort(key=lambda r: "real" not in r["summary"])  # the full table (the default model's) first
    if not star or "real" not in star[0]["summary"]:
        return "The StarDist table on the test folder is being measured."
    r, s = star[0], star[0]["summary"]
    model = table_model(r)
    default = "the default model " if model == model_name(DEFAULT_MODEL) else ""
    parts = [f"**StarDist2D** trained from scratch only on synthetic images from {default}"
             f"`{model}` scores F1@0.5 **{cell(s['synthetic']['f1_50'])}** on the "
             f"{next(iter(r['runs'].values()))[0]['n_test']} real DSB 2018 test images; trained on the "
             f"{s['real']['train_images']} real train images, **{cell(s['real']['f1_50'])}**"]
    base = [f"by the {b} baseline, {cell(s[b]['f1_50'])}" for b in ("painter", "flat") if b in s]
    extra = [f"on the same masks painted {' and '.join(base)}"] if base else []
    if "real+synthetic" in s:
        extra.append(f"real + synthetic, {cell(s['real+synthetic']['f1_50'])}")
    for other in star[1:]:  # the other shipped models' synthetic-only figure, so the default is not the only one shown
        name = table_model(other)
        extra.append(f"synthetic only from `{name}`, {cell(other['summary']['synthetic']['f1_50'])}")
    seeds = min(len(v["seeds"]) for v in s.values())
    return "; ".join(parts + extra) + f" ({seeds} seed{'s' if seeds > 1 else ''}; [results](docs/results.md))."


def models_table(all_results: list[dict[str, Any]]) -> str:
    """Shipped models and both baselines side by side: the synthetic-only arm of each, real for reference."""
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for r in all_results:
        model = table_model(r)
        for arm, s in r["summary"].items():
            name = {"real": f"real train images ({s['train_images']})", "synthetic": f"`{model}` synthetic only",
                    "painter": "painter baseline", "flat": "flat baseline"}.get(arm)
            if name:
                rows.setdefault(name, {}).setdefault(r["segmenter"], s)
    if not rows:
        return "(no downstream result committed yet)"
    lines = ["| trained on | StarDist F1@0.5 | StarDist F1@0.7 | built-in F1@0.5 | built-in F1@0.7 | seeds |",
             "| --- | --- | --- | --- | --- | --- |"]
    rank = {"painter baseline": 2, "flat baseline": 3}
    order = sorted(rows, key=lambda n: (0 if n.startswith("real") else rank.get(n, 1), n))
    for name in order:
        by = rows[name]
        get = lambda seg, k: cell(by[seg][k]) if seg in by else "–"  # noqa: E731
        seeds = "/".join(str(len(by[seg]["seeds"])) for seg in ("stardist", "builtin") if seg in by)
        lines.append(f"| {name} | {get('stardist', 'f1_50')} | {get('stardist', 'f1_70')} | "
                     f"{get('builtin', 'f1_50')} | {get('builtin', 'f1_70')} | {seeds} |")
    return "\n".join(lines)


def render() -> dict[str, str]:
    """Marker name -> the text that belongs between its markers."""
    found = results()
    body = "\n\n".join(section(r) for r in found) or "(no downstream result committed yet)"
    return {"downstream-headline": headline(found), "downstream-tables": body, "downstream-models": models_table(found)}


def write_docs() -> list[Path]:
    """Rewrite the marked sections; the files that changed."""
    from docblocks import rewrite

    blocks = render()
    return [p for p in (ROOT / "README.md", ROOT / "docs" / "results.md", ROOT / "docs" / "shipped-models.md")
            if rewrite(p, blocks)]


def main(argv: list[str] | None = None) -> int:
    """Run the table (unless only --write-docs), then optionally rewrite the docs."""
    from nucgan.quality.arms import ARMS
    from nucgan.quality.downstream_table import SEGMENTERS, run_table
    from nucgan.synth import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segmenter", choices=SEGMENTERS, default="stardist")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding train/ and test/")
    ap.add_argument("--out", type=Path, default=None, help="[benchmarks/results/downstream_SEGMENTER[_MODEL]]")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the runs (one with StarDist)")
    ap.add_argument("--write-docs", action="store_true", help="rewrite the docs sections from the results")
    args = ap.parse_args(argv)
    raw = sys.argv[1:] if argv is None else argv
    if raw != ["--write-docs"]:
        out = args.out or out_folder(args.segmenter, args.model)
        command = shlex.join(["python", "benchmarks/downstream.py", *raw])
        result = run_table((args.data / "train").resolve(), (args.data / "test").resolve(), args.model, out,
                           segmenter=args.segmenter, arms=[a for a in args.arms.split(",") if a],
                           seeds=[int(s) for s in args.seeds.split(",")], python=args.python, command=command,
                           log=lambda m: print(m, file=sys.stderr, flush=True))
        print(section(result))
        if result["failed"]:
            return 1
    if args.write_docs:
        for path in write_docs():
            print(f"rewrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
