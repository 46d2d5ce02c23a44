"""Tiles dataset throughput and memory at the paper's size: two images, ~850 nuclei, 128 px tiles every 4 px.

    python benchmarks/dataset.py [--samples 20000] [--all] [--batch 20] [--workers 0]

Builds two synthetic images of 629 x 1014 and 527 x 1383 px (415 and 435 nuclei, 40 px empty
border, as the paper's zebrafish crops), then a TilesDataset with tile 128, stride 4, 10 layerings
per image, the paper's 5 views and the merged channel. Prints the sample count, construction time,
samples/s through a shuffling DataLoader, and peak RSS (the process, torch included).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from scipy import ndimage as ndi

import nucgan


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def zebrafish_like(h: int, w: int, n: int, seed: int, border: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """``n`` non-overlapping elliptic nuclei (touching allowed) inside a ``border`` px empty frame, and an image."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((h, w), dtype=np.uint16)
    placed, tries = 0, 0
    while placed < n and tries < 200 * n:
        tries += 1
        a, b, th = rng.uniform(6, 11), rng.uniform(5, 9), rng.uniform(0, np.pi)
        r = int(np.ceil(max(a, b)))
        cy, cx = rng.integers(border + r, h - border - r), rng.integers(border + r, w - border - r)
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        u, v = xx * np.cos(th) + yy * np.sin(th), -xx * np.sin(th) + yy * np.cos(th)
        shape = (u / a) ** 2 + (v / b) ** 2 <= 1
        window = labels[cy - r:cy + r + 1, cx - r:cx + r + 1]
        if (window[shape] != 0).any():
            continue
        placed += 1
        window[shape] = placed
    texture = ndi.gaussian_filter(rng.normal(0, 1, (h, w)), 2)
    image = ndi.gaussian_filter((labels > 0) * 160.0, 1.2) * (1 + 0.3 * texture) + rng.normal(12, 4, (h, w))
    return np.clip(image, 0, 255).astype(np.uint8), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000, help="samples to draw (random order)")
    parser.add_argument("--all", action="store_true", help="iterate every sample once (one epoch)")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--stride", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)

    base = rss_mb()
    sources = [nucgan.Source(f"synthetic-{h}x{w}", *zebrafish_like(h, w, n, seed))
               for seed, (h, w, n) in enumerate([(629, 1014, 415), (527, 1383, 435)])]
    nuclei = sum(int(s.labels.max()) for s in sources)
    t = time.perf_counter()
    ds = nucgan.TilesDataset(sources, tile=128, stride=args.stride, randomize=10, views="paper5", merged=True, seed=0)
    build = time.perf_counter() - t
    after = rss_mb()
    materialised = len(ds) * (ds.in_channels + 1) * 128 * 128
    print(f"{ds}")
    print(f"  {nuclei} nuclei; built in {build:.2f} s (20 layerings, normalisation); "
          f"a materialised copy would need {materialised / 1e9:.1f} GB as uint8, {4 * materialised / 1e9:.1f} GB "
          f"as float32")
    print(f"  dataset arrays: {ds.nbytes / 1e6:.1f} MB; "
          f"peak RSS {base:.0f} MB after imports, {after:.0f} MB after building")

    count = len(ds) if args.all else min(args.samples, len(ds))
    sampler = torch.utils.data.RandomSampler(ds, num_samples=count) if not args.all else \
        torch.utils.data.RandomSampler(ds)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, sampler=sampler, num_workers=args.workers)
    seen, checksum = 0, 0.0
    t = time.perf_counter()
    for cond, target in loader:
        seen += len(cond)
        checksum += float(target[:, 0, 0, 0].sum())
    elapsed = time.perf_counter() - t
    print(f"  iterated {seen} samples in batches of {args.batch} ({args.workers} workers): "
          f"{seen / elapsed:,.0f} samples/s; peak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
