"""``nucgan.generate`` of this checkout against an earlier commit's, alternating, in one process.

    python benchmarks/ab_generation.py --against 6b97a7d [--size 512] [--rounds 3] [--threads 2]

Speed levers inside generation.py / noise.py change the cost by a few percent, less than a shared
CPU drifts between runs; alternating both versions round by round in one process (the same model,
labels and seeds) compares them under the same conditions. The earlier commit's two modules are
read with ``git show`` and imported under other names; everything else is this checkout's. Prints
per-round medians (ms per --size x --size image), megapixels/s and whether both paint the same image.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import pin_threads, seeded_median  # noqa: E402


def earlier_modules(rev: str, folder: Path):  # noqa: ANN201 - a module object
    """generation.py of ``rev``, importing ``rev``'s noise.py (both written under ``folder``)."""
    for name in ("noise", "generation"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:nucgan/{name}.py"], check=True,
                              capture_output=True, text=True).stdout
        text = text.replace("from nucgan.noise import", "from earlier_noise import")
        (folder / f"earlier_{name}.py").write_text(text)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("earlier_generation", folder / "earlier_generation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--model", default=None, help="zoo id, run or file [synth's default]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=7, help="timed images per version and round (the median is kept)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--size", type=int, default=512, help="side of the painted image in px")
    args = ap.parse_args()
    import numpy as np

    import nucgan
    import nucgan.generation as current
    from nucgan.synth import DEFAULT_MODEL

    pin_threads(args.threads)
    model = nucgan.zoo.load(args.model or DEFAULT_MODEL)
    labels = nucgan.place("ellipse", size=(args.size, args.size), density=150, seed=0)
    side = f"{args.size} x {args.size}"
    with tempfile.TemporaryDirectory() as tmp:
        earlier = earlier_modules(args.against, Path(tmp))
        versions = ((args.against, earlier), ("this checkout", current))
        medians: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for precision in args.precisions.split(","):
                for name, module in versions:
                    seconds = seeded_median(lambda s: module.generate(model, labels, seed=s, precision=precision),
                                            args.repeat)
                    medians.setdefault((precision, name), []).append(seconds)
        for (precision, name), values in medians.items():
            mid = statistics.median(values)
            print(f"{model.name} {precision} {name}: round medians {' '.join(f'{v * 1e3:.1f}' for v in values)} ms"
                  f" per {side} image -> {args.size ** 2 / 1e6 / mid:.2f} megapixels/s")
        for precision in args.precisions.split(","):
            a = earlier.generate(model, labels, seed=4, precision=precision, output="float")
            b = current.generate(model, labels, seed=4, precision=precision, output="float")
            print(f"{precision}: the same image from both: {np.array_equal(a, b)}"
                  f" (largest difference {np.abs(a - b).max():.4f}, mean {np.abs(a - b).mean():.6f} of the [-1, 1] range)")


if __name__ == "__main__":
    main()
