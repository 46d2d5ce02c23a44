"""Regenerate the pictures in docs/img from the shipped model and the real DSB 2018 image.

    python docs/make_pictures.py [--model dsb2018-1x-k3] [--run runs/dsb-1x-k3] [--data ../shared/data/dsb2018]

Writes docs/img/overview.png (masks | generated | real, a crop of the test half), layers.png (the
labels spread over 4 channels), judge.png (the judge's outlines on real and generated) and, when a
run directory is given, training.png (its last sample grid).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

import nucgan
from nucgan.io import read_pair, write_png
from nucgan.pictures import colour_labels, colour_layers, side_by_side, stretch

HERE = Path(__file__).resolve().parent
CROP = (slice(256, 512), slice(0, 256))  # a 256 x 256 corner of the test half


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="dsb2018-1x-k3")
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data" / "dsb2018")
    args = ap.parse_args()
    out = HERE / "img"
    image, labels = read_pair(args.data / "image.tif", args.data / "labels.tif")
    real, lab = image[CROP], labels[CROP]
    fake = nucgan.generate(args.model, lab, seed=0)
    lo, hi = np.percentile(real, (0.5, 99.8))
    write_png(out / "overview.png", side_by_side([colour_labels(lab), stretch(fake, lo, hi), stretch(real, lo, hi)]))
    write_png(out / "layers.png", colour_layers(nucgan.layer(lab, channels=4, gap=2, seed=0)))
    from nucgan.quality.judge import judge_segment
    from skimage.segmentation import find_boundaries

    panels = []
    for x in (real, fake):
        rgb = np.repeat(stretch(x, lo, hi)[..., None], 3, axis=2)
        rgb[find_boundaries(judge_segment(x), mode="inner")] = (255, 200, 0)
        panels.append(rgb)
    write_png(out / "judge.png", side_by_side(panels))
    if args.run:
        grids = sorted((args.run / "samples").glob("*.png"))
        if grids:
            shutil.copyfile(grids[-1], out / "training.png")
    print(f"wrote pictures to {out}")


if __name__ == "__main__":
    main()
