"""Can any weighting of the real image records make a fixed 512 px canvas match the real folder's per-image counts?

The ``tissue`` layout model draws, for a canvas size no real image has, one real image's record in
proportion to its pixels. This prints, for weights pixels**alpha, the KS distance between the records
as a 512 x 512 canvas would see them (nuclei per image = density per 512^2; the record's median nucleus
area) and the real train folder (its images' own counts and medians), computed from the shipped layout
model's records alone (train folder only; no layout is drawn). Pooled nucleus area is approximated by
each image's median area weighted by its nuclei. It shows that the per-image nucleus count of a folder
of 256-1388 px images cannot be matched by one canvas size, whatever the weighting (issue 15, point 3).

    python benchmarks/layout_weighting.py
"""

from __future__ import annotations

import numpy as np


def weighted_ks(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between two weighted samples."""
    xs = np.unique(np.concatenate([a, b]))
    ca = np.cumsum(np.bincount(np.searchsorted(xs, a), wa, xs.size)) / wa.sum()
    cb = np.cumsum(np.bincount(np.searchsorted(xs, b), wb, xs.size)) / wb.sum()
    return float(np.abs(ca - cb).max())


def main() -> int:
    import nucgan

    r = nucgan.create_sampler("tissue").records
    pixels = r["height"] * r["width"]
    count = r["density"] * pixels / 512 ** 2  # each real image's own number of nuclei
    one = np.ones_like(pixels)
    print(f"{len(pixels)} real train images, {count.sum():.0f} nuclei; KS distance, 512 x 512 canvas vs real")
    print(f"{'weights':>14} {'nuclei/image':>13} {'median area/image':>18} {'pooled area (approx.)':>22} {'density/512^2':>14}")
    for alpha in (0.0, 0.25, 0.5, 0.75, 1.0):
        w = pixels ** alpha
        print(f"{'pixels^' + str(alpha):>14} {weighted_ks(r['density'], w, count, one):13.3f} "
              f"{weighted_ks(r['median_area'], w, r['median_area'], one):18.3f} "
              f"{weighted_ks(r['median_area'], w * r['density'], r['median_area'], count):22.3f} "
              f"{weighted_ks(r['density'], w, r['density'], one):14.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
