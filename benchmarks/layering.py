"""Layering speed: the DSB 2018 labels (125 nuclei, 512 x 512) and 10,000 nuclei on 4096 x 4096, one core.

    python benchmarks/layering.py [--repeat 200] [--data ../shared/data/dsb2018]

Prints milliseconds per ``nucgan.layer`` call (warm: plugins discovered, modules imported) for both
built-in layerers, and two reference points on the DSB labels: the paper's first-fit (dilate each
mask, test it against each channel image) and a plain numpy neighbour search (the gap graph from
shifted whole-image comparisons). Targets (issue 4): DSB under 5 ms (aim 2), 10k nuclei under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if hasattr(os, "sched_setaffinity"):  # one core, as the targets say
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import tifffile  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402
from skimage.measure import label as label_pieces  # noqa: E402

import nucgan  # noqa: E402


def timed(fn, repeat: int) -> list[float]:  # noqa: ANN001
    """Seconds per call over ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def paper_first_fit(labels: np.ndarray, channels: int = 4, gap: int = 2, seed: int = 0) -> np.ndarray:
    """The paper script's method: shuffle, then put each mask on the first channel its dilation leaves clear."""
    rng = np.random.default_rng(seed)
    layers = np.zeros((channels, *labels.shape), dtype=bool)
    square = np.ones((2 * gap + 1, 2 * gap + 1), dtype=bool)
    for i in rng.permutation([i for i in np.unique(labels) if i]):
        mask = labels == i
        grown = ndi.binary_dilation(mask, structure=square)
        for c in range(channels):
            if not (layers[c] & grown).any():
                layers[c] |= mask
                break
    return layers


def numpy_neighbours(labels: np.ndarray, gap: int = 2) -> set[tuple[int, int]]:
    """Conflicting pairs from whole-image comparisons with every shift of the (2 gap + 1)^2 window."""
    padded = np.pad(labels, gap)
    h, w = labels.shape
    pairs = set()
    for dy in range(-gap, gap + 1):
        for dx in range(-gap, gap + 1):
            if (dy, dx) <= (0, 0):
                continue
            other = padded[gap + dy:gap + dy + h, gap + dx:gap + dx + w]
            hit = (labels != 0) & (other != 0) & (labels != other)
            if hit.any():
                a, b = labels[hit], other[hit]
                pairs.update(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))
    return pairs


def ellipse_grid(side: int, size: int, radius: tuple[float, float], jitter: float, seed: int = 0) -> np.ndarray:
    """side^2 random ellipses on a jittered grid; nearby ones touch or overlap (later ones cut earlier ones)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=np.int32)
    step, top = size / side, int(np.ceil(radius[1]))
    yy, xx = np.mgrid[-top:top + 1, -top:top + 1]
    k = 0
    for i in range(side):
        for j in range(side):
            k += 1
            cy = int((i + 0.5) * step + rng.uniform(-jitter, jitter))
            cx = int((j + 0.5) * step + rng.uniform(-jitter, jitter))
            r, ratio, th = rng.uniform(*radius), rng.uniform(0.7, 1.0), rng.uniform(0, np.pi)
            u, v = xx * np.cos(th) + yy * np.sin(th), -xx * np.sin(th) + yy * np.cos(th)
            ys, xs = np.nonzero((u / r) ** 2 + (v / (r * ratio)) ** 2 <= 1)
            ys, xs = ys + cy - top, xs + cx - top
            ok = (ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)
            labels[ys[ok], xs[ok]] = k
    return label_pieces(labels, background=0, connectivity=2).astype(np.uint16)  # cut-up ellipses: pieces


def report(name: str, seconds: list[float], unit: float = 1e3, suffix: str = "ms") -> None:
    print(f"  {name:44s} median {statistics.median(seconds) * unit:8.2f} {suffix}   "
          f"min {min(seconds) * unit:8.2f} {suffix}   ({len(seconds)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/dsb2018")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"nucgan {nucgan.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"cores used: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")

    labels = tifffile.imread(args.data / "labels.tif")
    n = len(np.unique(labels)) - 1
    print(f"\nDSB 2018 labels {labels.shape[0]} x {labels.shape[1]}, {n} nuclei, 4 channels, gap 2")
    t = time.perf_counter()
    nucgan.layer(labels, seed=0)
    print(f"  first call (plugin discovery, imports)         {1e3 * (time.perf_counter() - t):8.1f} ms")
    for method in ("coloring", "first-fit"):
        seeds = iter(range(10 ** 9))
        report(f"nucgan.layer(method={method!r})",
               timed(lambda m=method: nucgan.layer(labels, seed=next(seeds), method=m), args.repeat))
    report("  of which nucgan.plugin_api.gap_graph", timed(lambda: nucgan.plugin_api.gap_graph(labels, 2), args.repeat))
    report("reference: paper's first-fit (dilate + test)", timed(lambda: paper_first_fit(labels), 5))
    report("reference: numpy neighbour search (graph only)", timed(lambda: numpy_neighbours(labels), 20))
    assert numpy_neighbours(labels) == {tuple(int(v) for v in nucgan.plugin_api.gap_graph(labels, 2).ids[e])
                                        for e in nucgan.plugin_api.gap_graph(labels, 2).edges}

    for title, radius, jitter in (("some touching", (12.0, 24.0), 6.0), ("dense, most touching", (18.0, 30.0), 8.0)):
        big = ellipse_grid(100, 4096, radius, jitter)
        graph = nucgan.plugin_api.gap_graph(big, 2)
        print(f"\n{len(graph)} nuclei on 4096 x 4096 ({title}: {100 * (big > 0).mean():.0f} % foreground, "
              f"{len(graph.edges)} conflicting pairs)")
        for method in ("coloring", "first-fit"):
            seeds = iter(range(10 ** 9))
            try:
                report(f"nucgan.layer(method={method!r})",
                       timed(lambda m=method: nucgan.layer(big, seed=next(seeds), method=m), 5), 1, "s ")
            except nucgan.LayeringError as exc:
                print(f"  nucgan.layer(method={method!r}): {str(exc)[:110]}...")
        report("  of which nucgan.plugin_api.gap_graph", timed(lambda: nucgan.plugin_api.gap_graph(big, 2), 3), 1, "s ")


if __name__ == "__main__":
    main()
