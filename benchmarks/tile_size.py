"""Painting speed per painted pixel for one tile of each size: does a bigger tile cost more per pixel?

    python benchmarks/tile_size.py [--sizes 512,640,768,896,1024] [--rounds 3] [--threads 2]

Paints one square tile of each size (``paint`` with ``tile`` equal to the image, so nothing overlaps)
with synth's default model in fp32 and bf16, sizes alternating round by round in one process, and
prints megapixels/s per painted pixel (the median over rounds of each round's median of 3). The tile
plan of ``nucgan.generation`` rests on this: with the per-pixel cost flat in the tile size, fewer,
bigger tiles paint less overlap.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import pin_threads, seeded_median  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="512,640,768,896,1024")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import numpy as np

    import nucgan
    from nucgan.generation import conditioning, paint
    from nucgan.synth import DEFAULT_MODEL

    pin_threads(args.threads)
    model = nucgan.zoo.load(DEFAULT_MODEL)
    sizes = [int(s) for s in args.sizes.split(",")]
    layers = conditioning(model, nucgan.place("ellipse", size=(max(sizes),) * 2, density=150, seed=0), seed=0)
    style = np.full(len(model.input.style), 0.3, np.float32) if model.input.style else None
    medians: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for precision in ("fp32", "bf16"):
            for size in sizes:
                tile = layers[:, :size, :size]
                seconds = seeded_median(lambda s: paint(model.generator, tile, seed=s, precision=precision,
                                                        style=style, tile=size), 3)
                medians.setdefault((precision, size), []).append(seconds)
    for (precision, size), values in medians.items():
        print(f"{model.name} {precision} one {size} x {size} tile: round medians {' '.join(f'{v * 1e3:.0f}' for v in values)} ms"
              f" -> {size * size / 1e6 / statistics.median(values):.2f} megapixels/s per painted pixel")


if __name__ == "__main__":
    main()
