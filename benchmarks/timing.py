"""Timing helper of the generation benchmarks: one warm-up call, then the median of seeded calls."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def seeded_median(call: Callable[[int], object], repeat: int) -> float:
    """Median seconds of ``call(seed)`` for seeds 0..repeat-1, after one warm-up call with seed 1.

    oneDNN builds its kernels per input shape, so the first call at a shape is not timed.
    """
    call(1)
    times = []
    for seed in range(repeat):
        t = time.perf_counter()
        call(seed)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def pin_threads(threads: int) -> None:
    """Set torch's thread count and print the host line first (figures compare on one host only)."""
    import torch

    from nucgan.devices import describe_machine

    torch.set_num_threads(threads)
    print(f"machine: {describe_machine(threads)}", flush=True)
