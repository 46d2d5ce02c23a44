"""Choose ``synth``'s default with StarDist on the held-out 15 % of dsb2018-fluo/train, never the test folder.

The protocol of the StarDist table on the test folder (``nucgan downstream``: bank layouts of the
real train shapes at the train density, as many synthetic pixels as real ones, the fixed
``StarDistConfig``, thresholds tuned on each arm's own images), with the fit part (train/ minus
the seeded 15 % that ``select_default.py`` holds out, the part the generalists trained on) as the
real train folder and the held-out part as the test folder. ``select_default.py`` makes the same
choice with the small built-in segmenter, which disagreed with StarDist on the crop models; this
settles it with the segmenter the goals are stated in. Each candidate's synthetic arm runs in its
own folder under ``--out``; ``painter`` and ``flat`` (the masks are the same for every candidate)
run once, in the first candidate's. ``--layout tissue`` paints the candidates' synthetic arms on
``tissue`` layouts instead (rows ``NAME-tissue``, their own folders): the held-out test of ``synth``'s
default sampler. Resumable: a rerun skips the done runs.

    python benchmarks/select_stardist.py --python /path/to/stardist-venv/bin/python \\
        --candidates dsb2018-3x-k7,benchmarks/results/generalist/dsb2018-fluo-1x-k3
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from select_default import DATA, label, split_train  # noqa: E402

from nucgan.folders import folder_pairs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: the link folders; their paths are part of each run's key, so keep them in one place across checkouts
WORK = Path(os.environ.get("NUCGAN_SELECT_WORK", ROOT / "runs" / "select_stardist"))


def link_split(work: Path) -> tuple[Path, Path]:
    """``work/fit`` and ``work/held_out``: StarDist folders of links to the two parts of train/."""
    parts = dict(zip(("fit", "held_out"), split_train(folder_pairs(DATA))))
    for name, pairs in parts.items():
        for image, mask in pairs:
            for sub, target in (("images", image), ("masks", mask)):
                link = work / name / sub / target.name
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.is_symlink() or os.readlink(link) != str(target):
                    link.unlink(missing_ok=True)
                    link.symlink_to(target)
    return work / "fit", work / "held_out"


def parameters(candidate: str) -> int:
    """The generator's parameter count: what a tie is broken by (fewer paint faster)."""
    import nucgan

    return sum(p.numel() for p in nucgan.zoo.load(candidate.strip()).generator.parameters())


def noise_suffix(candidate: str, asked: bool | None, spread: float | None = None, signal: bool | None = None) -> str:
    """``-sensor-noise`` when the candidate's synthetic arm gets synth's sensor noise (``-signal`` after it when
    that grows with the signal), ``-spreadF`` when its nucleus spread factor is F != 1; else nothing.

    Rows without them keep the names they had before the options (2026-12-06), so their results stay found.
    """
    from nucgan.generation import resolve_nucleus_spread, resolve_sensor_noise, resolve_signal_noise

    import nucgan

    model = nucgan.zoo.load(candidate)
    factor = resolve_nucleus_spread(model, spread)
    noisy = resolve_sensor_noise(model, asked)
    return (("-sensor-noise" if noisy else "") + ("-signal" if resolve_signal_noise(noisy, signal) else "")
            + (f"-spread{factor:g}" if factor != 1.0 else ""))


def choose(models: list[tuple[str, dict]], candidates: dict[str, str]) -> tuple[str, str]:
    """The highest mean F1@0.5; candidates within the larger sd of it tie, and of those the smallest wins
    (of equal sizes, such as two training seeds of one recipe, the higher mean).

    The rule was fixed before the seeds 1 and 2 of the two generalists were run (2026-12-04); the tie-break
    between equal sizes was added on 2026-12-07, when two draws of one recipe first tied (it changes no
    earlier choice: those ties were between models of different sizes).
    """
    best = max(models, key=lambda r: r[1]["f1_50"]["mean"])
    tied = [(n, s) for n, s in models
            if best[1]["f1_50"]["mean"] - s["f1_50"]["mean"] <= max(best[1]["f1_50"]["sd"], s["f1_50"]["sd"])]
    if len(tied) == 1 or len(best[1]["seeds"]) < 2:
        return best[0], f"F1@0.5 {best[1]['f1_50']['mean']:.3f}"
    sizes = {n: parameters(candidates[n]) for n, _ in tied}
    pick = min(tied, key=lambda r: (sizes[r[0]], -r[1]["f1_50"]["mean"]))
    return pick[0], (f"F1@0.5 {pick[1]['f1_50']['mean']:.3f}; within one sd of {', '.join(n for n, _ in tied)}, "
                     f"the one with the fewest parameters ({sizes[pick[0]]:,})")


def main(argv: list[str] | None = None) -> int:
    from nucgan.quality.downstream_table import run_table

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", required=True, help="comma list: zoo ids or run folders")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--python", default=sys.executable, help="interpreter with StarDist for the runs")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "select_stardist")
    ap.add_argument("--segmenter", default="stardist", help="builtin: a quick look, not for choosing")
    ap.add_argument("--steps", type=int, default=None, help="quick looks only")
    ap.add_argument("--synth-count", type=int, default=None, help="quick looks only")
    ap.add_argument("--max-train-images", type=int, default=None, help="quick looks only")
    ap.add_argument("--layout", choices=("bank", "tissue", "gan", "tissue-real"), default="bank",
                    help="the synthetic arms' layouts: bank (the test table's), tissue (synth's layout model), tissue-real (the layout model at real image sizes, synth --size real) "
                         "or gan (synth's gan shape sampler at its default density and gap)")
    ap.add_argument("--sensor-noise", choices=("on", "off"), default=None,
                    help="synth's sensor noise on or off [synth's default: on for a model with a style input]; "
                         "rows painted with it are named NAME[-LAYOUT]-sensor-noise")
    ap.add_argument("--signal-noise", choices=("on", "off"), default=None,
                    help="synth's sensor noise growing with the signal, or not [synth's default]; rows with it are "
                         "named NAME[-LAYOUT]-sensor-noise-signal")
    ap.add_argument("--nucleus-spread", type=float, default=None,
                    help="synth's nucleus spread factor (>= 1; 1: as painted) [synth's default]; rows with F != 1 "
                         "are named NAME[-LAYOUT][-sensor-noise]-spreadF")
    ap.add_argument("--no-baselines", action="store_true",
                    help="only the candidates' synthetic arms (more seeds for a close choice)")
    args = ap.parse_args(argv)
    command = shlex.join(["python", "benchmarks/select_stardist.py", *(sys.argv[1:] if argv is None else argv)])
    fit, held = link_split(WORK)
    asked = None if args.sensor_noise is None else args.sensor_noise == "on"
    candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    signal = None if args.signal_noise is None else args.signal_noise == "on"
    suffixes = {c: noise_suffix(c, asked, args.nucleus_spread, signal) for c in candidates}  # each model loaded once
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for k, candidate in enumerate(candidates):
        name = label(candidate) + ("" if args.layout == "bank" else f"-{args.layout}") + suffixes[candidate]
        baselines = k == 0 and not args.no_baselines and args.layout == "bank"
        arms = ["synthetic", "painter", "flat"] if baselines else ["synthetic"]
        result = run_table(fit, held, candidate, args.out / name, segmenter=args.segmenter, arms=arms,
                           seeds=seeds, python=args.python, command=command, steps=args.steps,
                           synth_count=args.synth_count, max_train_images=args.max_train_images,
                           log=lambda m: print(m, file=sys.stderr, flush=True), layout=args.layout,
                           sensor_noise=asked, nucleus_spread=args.nucleus_spread,
                           signal_noise=signal)
        rows += [(name if arm == "synthetic" else f"{arm} (baseline)", s) for arm, s in result["summary"].items()]
    print(f"\n{command}\n\n| candidate | seeds | {args.segmenter} F1@0.5 on the held-out train part | F1@0.7 |\n"
          "| --- | --- | --- | --- |")
    for name, s in rows:
        print(f"| {name} | {len(s['seeds'])} | {s['f1_50']['mean']:.3f} ± {s['f1_50']['sd']:.3f} | "
              f"{s['f1_70']['mean']:.3f} ± {s['f1_70']['sd']:.3f} |")
    models = [(n, s) for n, s in rows if not n.endswith("(baseline)")]
    if models:
        suffix = "" if args.layout == "bank" else f"-{args.layout}"
        name, why = choose(models, {label(c) + suffix + suffixes[c]: c for c in candidates})
        print(f"\nbest of these candidates on the held-out part: {name} ({why}); synth's default is DEFAULT_MODEL in nucgan/synth.py")
    noisy = max(suffixes.values(), key=len)  # the file name carries the options' suffix, as the rows do
    write_selection(args.out / f"selection{'' if args.layout == 'bank' else '-' + args.layout}{noisy}.json",
                    rows, command)
    return 0


def write_selection(path: Path, rows: list, command: str) -> None:
    """Merge ``rows`` into the selection file at ``path``, atomically: a candidate measured in an earlier run
    keeps its row (each row records the command that measured it), one measured again is replaced."""
    kept = []
    if path.exists():
        old = json.loads(path.read_text())
        fresh = {name for name, _ in rows}
        kept = [(name, {"command": old.get("command"), **s}) for name, s in old.get("rows", []) if name not in fresh]
    merged = kept + [(name, {"command": command, **s}) for name, s in rows]
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"command": command, "rows": merged}, indent=1) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
