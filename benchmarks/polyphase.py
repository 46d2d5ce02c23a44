"""The polyphase bilinear head against resize-then-convolve, alternating, on one model: generation and training.

    python benchmarks/polyphase.py                    # the shipped generalist, 2 threads, 10 rounds
    python benchmarks/polyphase.py --model RUN --rounds 6 --threads 2

A bilinear ``ResizeConv`` that narrows 8-fold or more (a decoder's head) runs as one convolution to
4 x its output channels and a PixelShuffle (``bilinear_conv_polyphase``), never writing the wide 2x
input. Prints, for that path on and off (the same weights, switched per round): megapixels/s of
``nucgan.generate`` at 512 and 2048 px (median over rounds), ms of one training forward+backward
(batch 8, 256 px, train mode), and the largest output difference. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="benchmarks/results/generalist/dsb2018-fluo-1x-k3",
                    help="zoo id, run or file with a bilinear decoder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    import torch

    import nucgan
    from nucgan.memory import keep_freed_memory
    from nucgan_builtins.generators._layers import ResizeConv

    torch.set_num_threads(args.threads)
    keep_freed_memory()
    model = nucgan.zoo.load(args.model)
    steps = [m for m in model.generator.modules() if isinstance(m, ResizeConv) and m.polyphase]
    if not steps:
        raise SystemExit(f"error: {args.model}: no bilinear step narrows 8-fold; nothing to compare")

    def use(on: bool) -> None:
        for m in steps:
            m.polyphase = on

    sizes = {512: nucgan.place("ellipse", size=(512, 512), density=150, seed=0),
             2048: nucgan.place("ellipse", size=(2048, 2048), density=150, seed=0)}
    paint: dict[tuple[int, bool], list[float]] = {(s, on): [] for s in sizes for on in (True, False)}
    diff = 0.0
    for on in (True, False):  # warm-up at every timed shape
        use(on)
        for labels in sizes.values():
            nucgan.generate(model, labels, seed=99)
    for r in range(args.rounds):
        for size, labels in sizes.items():
            outs = {}
            for on in (True, False):
                use(on)
                t = time.perf_counter()
                outs[on] = nucgan.generate(model, labels, seed=r, output="float")
                paint[size, on].append(time.perf_counter() - t)
            diff = max(diff, float(abs(outs[True] - outs[False]).max()))

    g = model.generator.train().to(memory_format=torch.channels_last)
    x = torch.randn(8, g.encoder[0][0].in_channels, 256, 256).contiguous(memory_format=torch.channels_last)
    train: dict[bool, list[float]] = {True: [], False: []}
    for r in range(max(3, args.rounds // 2) + 1):
        for on in (True, False):
            use(on)
            torch.manual_seed(r)
            t = time.perf_counter()
            g.zero_grad()
            g(x).mean().backward()
            if r:  # the first round warms up
                train[on].append(time.perf_counter() - t)
    use(True)

    print(f"{model.name}: {len(steps)} polyphase step(s), {args.threads} threads, {args.rounds} alternating rounds")
    for size in sizes:
        mpx = {on: size * size / 1e6 / statistics.median(paint[size, on]) for on in (True, False)}
        print(f"  generate {size} x {size}: polyphase {mpx[True]:.2f} megapixels/s, resize-then-convolve "
              f"{mpx[False]:.2f} ({mpx[True] / mpx[False]:.2f}x)")
    ms = {on: statistics.median(train[on]) * 1e3 for on in (True, False)}
    print(f"  training forward+backward, batch 8, 256 px: polyphase {ms[True]:.0f} ms, resize-then-convolve "
          f"{ms[False]:.0f} ms ({ms[False] / ms[True]:.2f}x)")
    print(f"  largest output difference: {diff:.2e} of the [-1, 1] range")


if __name__ == "__main__":
    main()
