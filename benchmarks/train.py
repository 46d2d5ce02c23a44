"""Training speed: samples/s of a full GAN step (D and G updates), of forward+backward alone, peak memory.

    python benchmarks/train.py                          # the paper's 3x k5 4-level 5-channel model
    python benchmarks/train.py --kernel 7 --batch 8 --threads 2 --steps 5
    python benchmarks/train.py --data                   # also time real data loading (DSB train half)
    python benchmarks/train.py --generator unet --kernel 3 --in-channels 10 --batch 8 --gen-arg upsample=bilinear \
        --gen-arg activation=tanh --channels-last on [--amp]   # the generalist's recipe

Figures go to stdout; nothing is asserted. The "data" line compares a step fed by the real tiles
dataset with one fed by a pre-built batch: a ratio near 1.0 means loading never starves the model.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

import nucgan
from nucgan.training.distributed import World
from nucgan.training.step import GanStep


def timed(fn, steps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="chain3")
    ap.add_argument("--kernel", type=int, default=5)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--in-channels", type=int, default=5)
    ap.add_argument("--gen-arg", action="append", default=[], metavar="K=V",
                    help="a generator keyword, e.g. upsample=bilinear or activation=tanh (repeatable)")
    ap.add_argument("--discriminator", default="patchgan-paper")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true", help="bfloat16 autocast")
    ap.add_argument("--channels-last", choices=("on", "off", "both"), default="both")
    ap.add_argument("--data", nargs="?", const="crop", default=None, metavar="FOLDER",
                    help="also measure with real data: the DSB crop's train half, or a StarDist/Cellpose FOLDER")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for --data (0: in the main process)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from nucgan.devices import describe_machine

    print(f"machine: {describe_machine(args.threads)}", flush=True)  # figures compare on one machine only
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {args.threads} threads, device {device}; {args.generator} k{args.kernel} "
          f"L{args.levels} F{args.filters} C{args.in_channels} vs {args.discriminator}, batch {args.batch}, "
          f"{args.tile} px{', bf16 autocast' if args.amp else ''}{', ' + ' '.join(args.gen_arg) if args.gen_arg else ''}")
    layouts = {"on": [True], "off": [False], "both": [False, True]}[args.channels_last]
    for channels_last in layouts:
        torch.manual_seed(0)
        kwargs = {"in_channels": args.in_channels, "kernel_size": args.kernel, "levels": args.levels,
                  "filters": args.filters, **dict(kv.split("=", 1) for kv in args.gen_arg)}
        g = nucgan.create_generator(args.generator, **kwargs)
        d = nucgan.create_discriminator(args.discriminator, in_channels=args.in_channels)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        g.to(device, memory_format=fmt).train()
        d.to(device, memory_format=fmt).train()
        cond = (torch.rand(args.batch, args.in_channels, args.tile, args.tile, device=device) > 0.7).float() * 2 - 1
        real = torch.rand(args.batch, 1, args.tile, args.tile, device=device) * 2 - 1
        cond, real = cond.contiguous(memory_format=fmt), real.contiguous(memory_format=fmt)
        opt_g = torch.optim.Adam(g.parameters(), 1e-4)
        opt_d = torch.optim.Adam(d.parameters(), 1e-4)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if args.amp else None
        step = GanStep(g, d, opt_g, opt_d, gan_loss="bce", lambda_l1=100.0, world=World(), autocast=autocast)

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize()

        def fwd() -> None:
            with torch.no_grad():
                g(cond)
            sync()

        def fwd_bwd() -> None:
            g.zero_grad(set_to_none=True)
            (g(cond) - real).abs().mean().backward()
            sync()

        def full() -> None:
            step(cond, real)
            sync()

        t_f, t_fb, t_step = timed(fwd, args.steps), timed(fwd_bwd, args.steps), timed(full, args.steps)
        tag = "channels-last" if channels_last else "contiguous"
        print(f"[{tag:13}] G forward {t_f * 1e3:7.1f} ms | G forward+backward {t_fb * 1e3:7.1f} ms "
              f"({args.batch / t_fb:5.1f} samples/s) | full GAN step {t_step * 1e3:7.1f} ms "
              f"({args.batch / t_step:5.1f} samples/s; the paper's {PAPER_EPOCH:,}-sample epoch in "
              f"{PAPER_EPOCH * t_step / args.batch / 60:.1f} min, theirs 1-25 min on a V100)")
        if args.data:
            measure_data(step, args, fmt, t_step, device, sync)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB" + (f", peak CUDA {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"
                                        if device.type == "cuda" else ""))


#: samples in one epoch of the paper's training (its 1 to 25 min per epoch on a V100)
PAPER_EPOCH = 205_500


def measure_data(step: GanStep, args: argparse.Namespace, fmt: torch.memory_format, t_step: float,
                 device: torch.device, sync) -> None:  # noqa: ANN001 - sync: the device barrier of main()
    """Time the same step fed by the real DSB tiles dataset through a DataLoader (batches moved to ``device``)."""
    from pathlib import Path

    from torch.utils.data import DataLoader

    from nucgan.training.order import StepBatches

    import warnings

    from nucgan.folders import detect_layout

    settings = nucgan.InputSettings(tile=args.tile, merged=args.in_channels == 5)
    if args.data == "crop":
        data = Path(__file__).resolve().parents[2] / "shared" / "data" / "dsb2018"
        if not data.is_dir():  # a checkout without ../shared (a device machine): the copy the tests carry
            data = Path(__file__).resolve().parents[1] / "tests" / "data" / "dsb2018"
        ds = nucgan.create_dataset("files", image=str(data / "image.tif"), labels=str(data / "labels.tif"),
                                   input=settings, region="train", randomize=10, views="d4", seed=0)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a few annotations in pieces: each piece is a nucleus
            ds = nucgan.create_dataset(detect_layout(args.data), folder=args.data, input=settings, randomize=10,
                                       views="d4", seed=0)
    print(f"    data: {ds!r}")
    batches = StepBatches(len(ds), args.batch, 0, 0, args.steps + 2)
    cuda = device.type == "cuda"
    loader = iter(DataLoader(ds, batch_sampler=batches, generator=torch.Generator(), num_workers=args.workers,
                             pin_memory=cuda))

    def fed() -> None:
        cond, real = next(loader)
        cond, real = cond.to(device, non_blocking=cuda), real.to(device, non_blocking=cuda)
        step(cond.contiguous(memory_format=fmt), real.contiguous(memory_format=fmt))
        sync()

    t = timed(fed, args.steps)
    print(f"    with real data loading: {t * 1e3:7.1f} ms/step ({args.batch / t:5.1f} samples/s), "
          f"{t / t_step:.3f} x the pre-built-batch step")


if __name__ == "__main__":
    main()
