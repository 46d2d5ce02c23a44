"""Which decoder paints without a grid: ``upsample`` = transpose / resize / bilinear / shuffle, trained and scored alike.

For each generator, mode and seed: ``nucgan train`` on the train half of the 512 x 512 DSB crop
(``tests/data/dsb2018``) with the same small budget, then the model paints the test half's masks and
is scored against the real test half: ``grid_peak`` (issue 11's checkerboard power at periods 2/4/8 px,
``nucgan.quality.grid``, the generated image on the real image's scale as ``nucgan evaluate-folder``
does) beside the real test half's own, and the fidelity figures of ``nucgan evaluate`` (MAE in units of
the real range, SSIM, nucleus_w1), so "no grid" cannot hide "blurry". Resumable: each run's figures
are a JSON file in ``--out``; a rerun skips the done ones and prints the table (mean ± sd over seeds).

    python benchmarks/decoder.py                                   # unetpp, every mode, seeds 0,1
    python benchmarks/decoder.py --generators unetpp,timm-unet --seeds 0,1,2 --steps 400
    python benchmarks/decoder.py --table                           # just print what is done
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "dsb2018"
OUT = ROOT / "benchmarks" / "results" / "decoder"
RUNS = ROOT / "runs" / "decoder"
MODES = ("transpose", "resize", "bilinear", "shuffle")


def train_command(generator: str, mode: str, seed: int, args: argparse.Namespace, run: Path) -> list[str]:
    """The ``nucgan train`` command of one (generator, mode, seed) run."""
    return [sys.executable, "-m", "nucgan", "train", "--image", str(DATA / "image.tif"),
            "--labels", str(DATA / "labels.tif"), "--region", "train", "--generator", generator,
            "--gen-arg", f"upsample={mode}", "--steps", str(args.steps), "--tile", str(args.tile),
            "--batch", str(args.batch), "--seed", str(seed), "--threads", str(args.threads), "-o", str(run),
            "-q", "--log-every", "50", "--sample-every", "100000", "--checkpoint-every", "100000"]


def score(run: Path, seed: int) -> dict[str, Any]:
    """grid_peak, MAE, SSIM and nucleus_w1 of the run's painting of the test half, against the real test half."""
    from nucgan.io import read_pair
    from nucgan.quality.evaluate import paint_region
    from nucgan.quality.fidelity import intensities, paired
    from nucgan.quality.grid import WelchPower
    from nucgan.quality.realism import image_scale
    from nucgan.regions import crop, parse_region

    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    box = parse_region("test", labels.shape)
    fake, _ = paint_region(str(run), image, labels, box, seed=seed)
    real, truth = crop(image, box), crop(labels, box)
    fake_welch, real_welch = WelchPower(), WelchPower()
    fake_welch.add(fake, image_scale(real))
    real_welch.add(real, image_scale(real))
    fid = paired(real, fake, truth)
    return {"grid": fake_welch.grid_peak(), "grid_real": real_welch.grid_peak(), "mae": fid["mae_all"],
            "ssim": fid["ssim_all"], "nucleus_w1": intensities(real, fake, truth)["nucleus_w1"]}


def one_run(generator: str, mode: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train (unless the run is already there), score, and return the figures of one run."""
    run = RUNS / f"{generator}_{mode}_s{seed}_n{args.steps}"
    cmd = train_command(generator, mode, seed, args, run)
    started, seconds = time.perf_counter(), None
    if not (run / "generator.safetensors").is_file():
        subprocess.run(cmd, check=True, cwd=ROOT)
        seconds = round(time.perf_counter() - started, 1)
    return {"generator": generator, "upsample": mode, "seed": seed, "steps": args.steps, "tile": args.tile,
            "batch": args.batch, "train_seconds": seconds,
            "command": " ".join(["nucgan", *cmd[3:]]).replace(str(ROOT) + "/", ""), **score(run, seed)}


def mean_sd(values: list[float]) -> str:
    """``mean ± sd`` (sample sd; 0 for one value)."""
    arr = np.asarray(values, dtype=np.float64)
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return f"{arr.mean():.3g} ± {sd:.2g}"


def _seconds(rs: list[dict[str, Any]]) -> str:
    timed = [r["train_seconds"] for r in rs if r["train_seconds"] is not None]
    return f"{np.mean(timed):.0f}" if timed else "–"


def table(results: list[dict[str, Any]]) -> str:
    """A markdown table: one row per (generator, mode), figures as mean ± sd over seeds."""
    lines = ["| generator | upsample | seeds | grid_peak generated | grid_peak real | ratio | peak 2 / 4 / 8 px | "
             "MAE | SSIM | nucleus_w1 | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["generator"], r["upsample"]), []).append(r)
    for (gen, mode), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], MODES.index(kv[0][1]))):
        grid = [r["grid"]["grid_peak"] for r in rs]
        real = rs[0]["grid_real"]["grid_peak"]
        periods = " / ".join(f"{np.mean([r['grid'][f'grid_peak_{p}'] for r in rs]):.3g}" for p in (2, 4, 8))
        lines.append(f"| {gen} | {mode} | {','.join(str(r['seed']) for r in rs)} | {mean_sd(grid)} | {real:.3g} | "
                     f"{np.mean(grid) / real:.3g}x | {periods} | {mean_sd([r['mae'] for r in rs])} | "
                     f"{mean_sd([r['ssim'] for r in rs])} | {mean_sd([r['nucleus_w1'] for r in rs])} | "
                     f"{_seconds(rs)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run what is missing, then print (and write) the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", default="unetpp", help="comma list of generators taking upsample")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--tile", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--table", action="store_true", help="print the table of the done runs only")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.table:
        for seed in (int(s) for s in args.seeds.split(",")):
            for generator in args.generators.split(","):
                for mode in args.modes.split(","):
                    path = args.out / f"{generator}_{mode}_s{seed}_n{args.steps}.json"
                    if path.is_file():
                        continue
                    result = one_run(generator, mode, seed, args)
                    path.write_text(json.dumps(result, indent=2) + "\n")
                    print(f"{generator} {mode} seed {seed}: grid_peak {result['grid']['grid_peak']:.3g} "
                          f"(real {result['grid_real']['grid_peak']:.3g}), MAE {result['mae']:.4f}", flush=True)
    results = [json.loads(p.read_text()) for p in sorted(args.out.glob("*.json"))]
    text = table(results)
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
