"""How many CPU threads torch may use here, and OpenMP threads that sleep instead of spin when they wait.

On a shared machine PyTorch's default (one thread per core, OpenMP threads spinning while they wait)
collapses when another process holds a core: measured on this project's 2-core machine with other
training running, a GAN step fell to 1.0-1.4 samples/s with spinning threads and ran at 3.9-8.3 with
``OMP_WAIT_POLICY=PASSIVE`` (``docs/training.md``). The thread count respects ``--threads``, then
``OMP_NUM_THREADS``, then the CPUs this process may run on (affinity mask) and its cgroup CPU quota.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from nucgan.errors import InputError

#: cgroup v2 and v1 files that hold a CPU quota (containers, batch schedulers)
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def passive_openmp() -> None:
    """Make OpenMP threads sleep while they wait (unless the user chose a policy); call before torch is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cgroup_cpus(v2: Path | None = None, v1: tuple[Path, Path] | None = None) -> float | None:
    """The CPU quota of this process's cgroup, in CPUs (None: no quota, or none readable)."""
    v2, v1 = v2 or CGROUP_V2, v1 or CGROUP_V1
    try:
        quota, period = v2.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota, period = (int(p.read_text()) for p in v1)
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by its cgroup quota (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def busy_cpus(window: float = 0.25, stat: Path = Path("/proc/stat")) -> float:
    """CPUs kept busy by other work right now: the machine's non-idle share over ``window`` seconds, in CPUs.

    Measured before this process starts computing, so it counts other processes only (0 where
    ``/proc/stat`` cannot be read).
    """
    import time

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = total1 - total0
    if ticks <= 0:
        return 0.0
    return (1 - (idle1 - idle0) / ticks) * (os.cpu_count() or 1)


def pick_threads(requested: int = 0) -> tuple[int, str]:
    """(threads, why): ``requested`` if > 0, else a valid ``OMP_NUM_THREADS``, else the CPUs this process may
    use that other work does not keep busy (:func:`available_cpus` minus :func:`busy_cpus`, at least 1).

    On the 2-core machine with one CPU-bound process beside it, 2 threads ran a GAN step at 8-10 samples/s
    (spinning waits) or 16-17 (passive), 1 thread at 19-20, against 32-35 idle with 2 (docs/training.md).
    """
    if requested < 0:
        raise InputError(f"--threads must be >= 0 (0: choose), got {requested}")
    if requested:
        return requested, "--threads"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env:
        try:
            value = int(env.split(",")[0])
        except ValueError:
            value = 0
        if value >= 1:
            return value, "OMP_NUM_THREADS"
    cpus = available_cpus()
    free = max(1, min(cpus, round(cpus - busy_cpus())))
    if free < cpus:
        return free, f"{cpus - free} of {cpus} CPU(s) busy with other work"
    return cpus, "the CPUs this process may use"


def set_threads(requested: int = 0) -> int:
    """Set torch's intra-op thread count by :func:`pick_threads`; returns it."""
    import torch

    threads, _ = pick_threads(requested)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


__all__ = ["passive_openmp", "cgroup_cpus", "available_cpus", "pick_threads", "set_threads"]
