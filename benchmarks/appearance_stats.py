"""Inside the nuclei: how real and painted DSB images differ, measured with the masks (train/ parts only).

The constants of ``nucgan.sensor.SIGNAL_RATIO`` and the nucleus spread factor tried in issue 14 came
from here, on the fit part of train/ (the held-out part checks them). Per image, normalised by its
own 1st / 99.8th percentiles:

- spread: coefficient of variation (sd / median) of the per-nucleus contrast (mean over a nucleus
  minus the median background more than 2 px from every nucleus);
- signal: the fine noise (``nucgan.style.fine_noise``) inside the nuclei (2 px in from the outlines)
  beyond the background's (in quadrature), over the median inner contrast;
- texture: robust sd of a band-pass (1 px minus 4 px Gaussian blur) inside the nuclei (3 px in),
  over the contrast.

With ``--paint N`` every N-th image is also painted by ``--model`` ``--like`` itself with synth's
sensor noise, and the same statistics of the painting are printed beside the real ones.

    python benchmarks/appearance_stats.py --part fit [--paint 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from select_stardist import WORK, link_split  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def statistics(x: np.ndarray, labels: np.ndarray) -> dict[str, float] | None:
    """The spread, signal and texture ratios of ``x`` (normalised image) with its instance ``labels``; None
    when the image has fewer than 200 inner or background pixels or fewer than 2 brighter nuclei."""
    from scipy import ndimage as ndi

    from nucgan.style import fine_noise

    fg = labels > 0
    bg = ~ndi.binary_dilation(fg, iterations=2)
    inner2, inner3 = ndi.binary_erosion(fg, iterations=2), ndi.binary_erosion(fg, iterations=3)
    if min(inner3.sum(), bg.sum()) < 200:
        return None
    level = float(np.median(x[bg]))
    contrast = float(np.median(x[inner2])) - level
    ids = np.unique(labels[fg])
    per = np.asarray(ndi.mean(x, labels, ids)) - level
    per = per[per > 0]
    if len(per) < 2 or contrast <= 0:
        return None
    band = (ndi.gaussian_filter(x, 1.0) - ndi.gaussian_filter(x, 4.0))[inner3]
    return {"spread": float(per.std() / np.median(per)),
            "signal": float(np.sqrt(max(fine_noise(x, inner2) ** 2 - fine_noise(x, bg) ** 2, 0.0)) / contrast),
            "texture": float(1.4826 * np.median(np.abs(band - np.median(band))) / contrast)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("fit", "held-out"), default="fit")
    ap.add_argument("--paint", type=int, default=0, help="paint every N-th image too (0: real images only)")
    ap.add_argument("--model", default=str(ROOT / "benchmarks" / "results" / "generalist" / "dsb2018-fluo-1x-k3"))
    args = ap.parse_args()
    import nucgan
    from nucgan.io import read_image, read_labels
    from nucgan.labelids import split_pieces
    from nucgan.normalize import Normalization

    fit, held = link_split(WORK)
    folder = fit if args.part == "fit" else held
    model = nucgan.load(args.model) if args.paint else None
    real, painted, skipped, pieces = [], [], [], 0
    for k, path in enumerate(sorted((folder / "images").glob("*.tif"))):
        image, labels = read_image(path), read_labels(folder / "masks" / path.name)
        labels, split = split_pieces(labels)  # an annotation in pieces: each piece its own nucleus, as training does
        pieces += len(split)
        x = Normalization.fit(image, (1.0, 99.8)).forward(image).astype(np.float64)
        row = statistics(x, labels)
        if row is None:
            skipped.append(path.name)
            continue
        real.append(row)
        if args.paint and k % args.paint == 0:
            made = nucgan.generate(model, labels, seed=k, like=image, sensor_noise=True)
            mine = statistics(Normalization.fit(image, (1.0, 99.8)).forward(made).astype(np.float64), labels)
            if mine is not None:
                painted.append((row, mine))
    print(f"{args.part}: {len(real)} images ({len(skipped)} without 200 inner and background pixels or 2 nuclei: "
          f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}); {pieces} annotation(s) in pieces split")
    for name in ("spread", "signal", "texture"):
        values = np.array([r[name] for r in real])
        line = f"  {name}: real median {np.median(values):.4f} (quartiles {np.percentile(values, 25):.4f}-{np.percentile(values, 75):.4f})"
        if painted:
            ratio = np.array([a[name] / max(b[name], 1e-9) for a, b in painted])
            line += (f"; painted median {np.median([b[name] for _, b in painted]):.4f} over {len(painted)} images, "
                     f"median real/painted {np.median(ratio):.2f}")
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
