"""Train-on-synthetic, test-on-real: F1@0.5 on the real DSB test half of a small net per arm, over seeds.

Arms: real (the train half), synthetic (only pairs painted by ``--model`` from de novo ``--sampler``
layouts), both. Prints a table (mean ± std over seeds) and the wall time; ``--json`` keeps everything.

    python benchmarks/downstream_crop.py --model runs/dsb-3x-k7          # a trained nucgan run / zoo id / file
    python benchmarks/downstream_crop.py --model painter                 # the non-learned baseline's pairs
    python benchmarks/downstream_crop.py --model painter --steps 50 --seeds 0   # a quick look

Settings are fixed (see ``nucgan.quality.downstream.DownstreamConfig``); nothing is tuned on the test half.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import tifffile

from nucgan.quality.downstream import ARMS, DownstreamConfig, downstream

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dsb2018"


def table(result: dict[str, Any]) -> str:
    """A markdown table of F1@0.5 (and precision, recall, accuracy 0.5..0.95) per arm."""
    lines = ["| arm | n seeds | F1@0.5 | precision | recall | accuracy 0.5..0.95 | F1 per seed |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for arm, r in result["arms"].items():
        cell = lambda k: f"{r[k]['mean']:.3f} ± {r[k]['std']:.3f}"  # noqa: E731
        per_seed = ", ".join(f"{run['f1']:.3f}" for run in r["runs"])
        lines.append(f"| {arm} | {len(r['runs'])} | {cell('f1')} | {cell('precision')} | {cell('recall')} | "
                     f"{cell('accuracy_50_95')} | {per_seed} |")
    lines.append(f"| (judge, classical, on the real test half) | – | {result['judge_on_real_test']['f1']:.3f} | "
                 f"{result['judge_on_real_test']['precision']:.3f} | {result['judge_on_real_test']['recall']:.3f} | "
                 f"{result['judge_on_real_test']['accuracy_50_95']:.3f} | – |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the three arms and print the table."""
    defaults = DownstreamConfig()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="run directory, generator file, zoo id, or 'painter'")
    ap.add_argument("--image", default=str(DATA / "image.tif"))
    ap.add_argument("--labels", default=str(DATA / "labels.tif"))
    ap.add_argument("--seeds", default="0,1,2", help="comma list of net seeds")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--steps", type=int, default=defaults.steps)
    ap.add_argument("--crop", type=int, default=defaults.crop)
    ap.add_argument("--batch", type=int, default=defaults.batch)
    ap.add_argument("--synth-count", type=int, default=defaults.synth_count)
    ap.add_argument("--synth-size", type=int, default=defaults.synth_size)
    ap.add_argument("--sampler", default=defaults.sampler, help="bank (train-half shapes), ellipse or gan")
    ap.add_argument("--threads", type=int, default=defaults.threads)
    ap.add_argument("--json", help="write the full result here")
    ap.add_argument("--note", default="", help="a remark kept in the JSON (e.g. which training step the model is)")
    args = ap.parse_args(argv)
    config = DownstreamConfig(steps=args.steps, crop=args.crop, batch=args.batch, synth_count=args.synth_count,
                              synth_size=args.synth_size, sampler=args.sampler, threads=args.threads)
    image, labels = tifffile.imread(args.image), tifffile.imread(args.labels)
    started = time.perf_counter()
    result = downstream(args.model, image, labels, seeds=[int(s) for s in args.seeds.split(",")], config=config,
                        arms=[a.strip() for a in args.arms.split(",")], progress=lambda m: print(m, flush=True))
    wall = time.perf_counter() - started
    result["wall_seconds"] = round(wall, 1)
    if args.note:
        result["note"] = args.note
    print(f"\nmodel {result['model']}, sampler {config.sampler}, {config.synth_count} synthetic images of "
          f"{config.synth_size} px, {config.steps} steps of batch {config.batch} x {config.crop} px crops, "
          f"{config.threads} thread(s)\n")
    print(table(result))
    print(f"\nwall time {wall / 60:.1f} min")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
