"""How close each mask sampler's shapes are to the real DSB 2018 train-half nuclei; and how fast layouts are.

For ``bank``, ``gan`` (the shipped model) and ``ellipse``: the distances of the area, eccentricity
and solidity distributions (Wasserstein-1 over the real standard deviation, Kolmogorov-Smirnov) and
the nearest-real-shape IoU (after centring, over 60 rotations and mirroring), next to the same IoU
of each real nucleus against the other real ones (the level of two distinct real nuclei). Then the
time to lay out 200 nuclei on 512 x 512 and high densities on 1024 x 1024. Never part of the tests.

    python benchmarks/samplers.py                  # table
    python benchmarks/samplers.py --json out.json  # and the full reports
    python benchmarks/samplers.py --n 1000 --labels ../shared/data/dsb2018/labels.tif
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import nucgan

DEFAULT_LABELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "dsb2018" / "labels.tif"


def sampler_reports(labels: Path, n: int, seed: int) -> dict[str, dict]:
    """``sampler_report`` of each built-in sampler against the real train-half shapes."""
    real = nucgan.instance_shapes(labels, region="train")
    samplers = {"bank": nucgan.create_sampler("bank", labels=str(labels), region="train"),
                "gan": nucgan.create_sampler("gan"), "ellipse": nucgan.create_sampler("ellipse")}
    out = {}
    for name, sampler in samplers.items():
        start = time.perf_counter()
        shapes = sampler.shapes(n, np.random.default_rng(seed))
        seconds = time.perf_counter() - start
        out[name] = {"sample_seconds": round(seconds, 3), **nucgan.sampler_report(shapes, real)}
    return out


def print_reports(reports: dict[str, dict]) -> None:
    """One line per sampler: the three distances and the nearest-real IoU quantiles."""
    first = next(iter(reports.values()))
    loo = first["real_loo_iou"]
    print(f"real train-half shapes: {first['n_real']}; samples per sampler: {first['n_sampled']}")
    print(f"{'sampler':8} {'area W1n/KS':>13} {'ecc W1n/KS':>13} {'sol W1n/KS':>13}   "
          f"nearest-real IoU p10/median/p90   copies>{first['copy_iou']}")
    for name, rep in reports.items():
        cells = " ".join(f"{rep['stats'][k]['w1_norm']:6.3f}/{rep['stats'][k]['ks']:.3f}"
                         for k in ("area", "eccentricity", "solidity"))
        iou = rep["nearest_iou"]
        print(f"{name:8} {cells}   {iou['p10']:.3f} / {iou['median']:.3f} / {iou['p90']:.3f}"
              f"         {100 * iou['copies']:5.1f} %")
    print(f"{'real LOO':8} {'':41}   {loo['p10']:.3f} / {loo['median']:.3f} / {loo['p90']:.3f}"
          f"         {100 * loo['copies']:5.1f} %")


def layout_speed(labels: Path, repeat: int) -> list[tuple[str, float]]:
    """Best-of-``repeat`` seconds of :func:`nucgan.place` (shape sampling included) for a few layouts."""
    bank = nucgan.create_sampler("bank", labels=str(labels), region="train")
    gan = nucgan.create_sampler("gan")
    cases = [("bank  200 nuclei on 512, gap 2", bank, 512, {"nuclei": 200}),
             ("gan   200 nuclei on 512, gap 2", gan, 512, {"nuclei": 200}),
             ("bank  density 200 on 1024, gap 2", bank, 1024, {"density": 200}),
             ("gan   density 200 on 1024, gap 2", gan, 1024, {"density": 200}),
             ("gan   density 300 on 1024, gap 2", gan, 1024, {"density": 300}),
             ("gan   density 300 on 1024, overlap 0.1", gan, 1024, {"density": 300, "overlap": 0.1})]
    out = []
    for label, sampler, size, kwargs in cases:
        best = float("inf")
        for r in range(repeat):
            start = time.perf_counter()
            nucgan.place(sampler, size=size, seed=r, **kwargs)
            best = min(best, time.perf_counter() - start)
        out.append((label, best))
        print(f"{label:42} {best:7.3f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--n", type=int, default=500, help="shapes drawn per sampler")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="layout timings: best of this many")
    parser.add_argument("--json", type=Path, help="also write the full reports here")
    args = parser.parse_args()
    reports = sampler_reports(args.labels, args.n, args.seed)
    print_reports(reports)
    print()
    speeds = layout_speed(args.labels, args.repeat)
    if args.json:
        args.json.write_text(json.dumps({"samplers": reports, "layout_seconds": dict(speeds)}, indent=2))


if __name__ == "__main__":
    main()
