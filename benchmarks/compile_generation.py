"""Painting with ``torch.compile`` (inductor) against eager PyTorch: compile time and speed per 512 px tile.

    python benchmarks/compile_generation.py [--noise on|off] [--rounds 3] [--threads 2]

Measures ``nucgan.generation.paint`` of one 512 x 512 image with synth's default model, the eager
generator and a compiled copy alternating round by round in one process, fp32 and bf16; prints the
compile time (first call per precision), the largest difference from the eager image and the
per-round medians. The question it answers: does compiling pay for a generation job, whose tiles
number in the tens to hundreds?
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import pin_threads, seeded_median  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", choices=("on", "off"), default="on", help="positional dropout noise (generation's default: on)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import numpy as np
    import torch

    import nucgan
    from nucgan.generation import conditioning, paint
    from nucgan.synth import DEFAULT_MODEL

    pin_threads(args.threads)
    model = nucgan.zoo.load(DEFAULT_MODEL)
    layers = conditioning(model, nucgan.place("ellipse", size=(512, 512), density=150, seed=0), seed=0)
    style = np.full(len(model.input.style), 0.3, np.float32) if model.input.style else None
    noise = args.noise == "on"
    eager, compiled = model.generator, torch.compile(model.generator, dynamic=False)
    for precision in ("fp32", "bf16"):
        t = time.perf_counter()
        a = paint(compiled, layers, seed=2, precision=precision, style=style, noise=noise)
        first = time.perf_counter() - t
        b = paint(eager, layers, seed=2, precision=precision, style=style, noise=noise)
        print(f"{precision}: compile + first tile {first:.1f} s; largest difference from eager {np.abs(a - b).max():.4f}"
              f" (mean {np.abs(a - b).mean():.5f}) of the [-1, 1] range")
    medians: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for precision in ("fp32", "bf16"):
            for name, generator in (("eager", eager), ("compiled", compiled)):
                seconds = seeded_median(lambda s: paint(generator, layers, seed=s, precision=precision, style=style,
                                                        noise=noise), args.repeat)
                medians.setdefault((precision, name), []).append(seconds)
    for (precision, name), values in medians.items():
        mid = statistics.median(values)
        print(f"{model.name} {precision} {name} (noise {args.noise}): round medians"
              f" {' '.join(f'{v * 1e3:.1f}' for v in values)} ms per 512 x 512 tile -> {0.262144 / mid:.2f} megapixels/s")


if __name__ == "__main__":
    main()
