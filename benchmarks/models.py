"""Speed of the paper's generators: parameters, forward and forward+backward time per batch, samples/s.

Runs the paper's grid (Table 1: 1x F16/32/64, 2x and 3x F16; K 3/5/7; 4 and 6 levels; 4 and 5 input
channels) at 128 px, batch 20, in training mode (dropout and batch statistics on, as when training or
sampling), on CPU and on CUDA when present, with channels-last off and on. Prints one line per run as
it finishes. Never part of the test suite.

    python benchmarks/models.py                          # the whole grid (slow on CPU: hours)
    python benchmarks/models.py --only "3x K5 L4 C5"     # regex over the row labels
    python benchmarks/models.py --max-params 20e6 --device cpu --repeat 3
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any, Callable

import torch

import nucgan
from nucgan.modelinfo import PAPER_TABLE1, TABLE1_COLUMNS


def grid() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, generator, kwargs) for every distinct architecture of Table 1 (activations: tanh ... tanh)."""
    rows = []
    for (model, f, k) in PAPER_TABLE1:
        for levels, channels in TABLE1_COLUMNS:
            kwargs: dict[str, Any] = {"in_channels": channels, "filters": f, "kernel_size": k, "levels": levels}
            if model == "1x":
                rows.append((f"1x F{f} K{k} L{levels} C{channels}", "unet", kwargs))
            else:
                stages = int(model[0])
                acts = ["tanh", "gelu", "tanh"] if stages == 3 else ["gelu", "tanh"]  # the "b" variants
                rows.append((f"{model} F{f} K{k} L{levels} C{channels}", f"chain{stages}",
                             {**kwargs, "activations": acts}))
    return rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], None], device: torch.device, warmup: int, repeat: int) -> float:
    """Best (minimum) seconds of ``fn`` over ``repeat`` runs after ``warmup`` runs.

    The minimum, as timeit advises: on a shared machine other load only ever adds time.
    """
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(name: str, kwargs: dict[str, Any], device: torch.device, channels_last: bool, size: int, batch: int,
          warmup: int, repeat: int) -> tuple[float, float]:
    """(forward seconds, forward+backward seconds) per batch of ``name`` in training mode."""
    torch.manual_seed(0)
    model = nucgan.create_generator(name, **kwargs).to(device).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = (torch.rand(batch, model.in_channels, size, size, device=device) * 2 - 1).to(memory_format=fmt)
    target = torch.rand(batch, 1, size, size, device=device).to(memory_format=fmt)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        (model(x) - target).abs().mean().backward()

    return _time(forward, device, warmup, repeat), _time(step, device, warmup, repeat)


def main() -> None:
    """Parse options, run the selected grid rows and print a table row per run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="regex over row labels such as '3x F16 K5 L4 C5'")
    ap.add_argument("--max-params", type=float, default=float("inf"), help="skip models with more parameters")
    ap.add_argument("--device", choices=("all", "cpu", "cuda"), default="all")
    ap.add_argument("--channels-last", choices=("both", "on", "off"), default="both")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    devices = [torch.device("cpu")] if args.device in ("all", "cpu") else []
    if args.device in ("all", "cuda"):
        if torch.cuda.is_available():
            devices.append(torch.device("cuda"))
        elif args.device == "cuda":
            raise SystemExit("no CUDA device")
    layouts = {"both": (False, True), "on": (True,), "off": (False,)}[args.channels_last]
    names = {d: torch.cuda.get_device_name(d) if d.type == "cuda" else f"cpu x{torch.get_num_threads()}"
             for d in devices}
    print(f"torch {torch.__version__}; {args.size} px, batch {args.batch}, training mode; best of "
          f"{args.repeat} after {args.warmup} warm-up; devices: {', '.join(names.values())}")
    print(f"{'model':<22} {'params':>14} {'device':<6} {'ch-last':<7} {'fwd s':>8} {'fwd+bwd s':>10} "
          f"{'fwd smp/s':>10} {'train smp/s':>11}")
    for label, name, kwargs in grid():
        if args.only and not re.search(args.only, label):
            continue
        params = nucgan.count_parameters(nucgan.modelinfo.build_on_meta(name, "generator", **kwargs))
        if params.trainable > args.max_params:
            continue
        for device in devices:
            for cl in layouts:
                try:
                    fwd, step = bench(name, kwargs, device, cl, args.size, args.batch, args.warmup, args.repeat)
                except torch.OutOfMemoryError:
                    print(f"{label:<22} {params.trainable:>14,} {device.type:<6} {'on' if cl else 'off':<7} "
                          "out of memory")
                    continue
                finally:
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                print(f"{label:<22} {params.trainable:>14,} {device.type:<6} {'on' if cl else 'off':<7} "
                      f"{fwd:>8.3f} {step:>10.3f} {args.batch / fwd:>10.1f} {args.batch / step:>11.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
