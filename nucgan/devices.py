"""Device names (``auto``, ``cpu``, ``cuda[:N]``, ``mps``, checked before any work starts) and what a device does natively."""

from __future__ import annotations

import functools
import re

import torch

from nucgan.errors import InputError

_NAME = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def pick_device(name: str) -> torch.device:
    """Resolve ``auto`` to cuda, then mps, then cpu; refuse a name torch does not know or a device this
    machine lacks, with one line that says which (the CLI turns it into exit code 2)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"device must be auto, cpu, cuda, cuda:N or mps, got {name!r}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} asked for, but torch sees no CUDA device here")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise InputError(f"device {name!r} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)")
    if name == "mps" and not _mps_available():
        raise InputError("device 'mps' asked for, but this machine has no MPS backend")
    return torch.device(name)


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


#: /proc/cpuinfo flags of a CPU that computes in bfloat16 natively (x86: AVX512-BF16 or AMX; Arm: BF16)
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (empty where there is none, as on macOS or Windows)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _cpu_flags() -> set[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``)."""
    info = _cpuinfo()
    return set((info.get("flags") or info.get("Features") or "").split())


def native_bf16(device: "str | torch.device") -> bool:
    """Whether ``device`` computes in bfloat16 natively; without it bf16 is emulated and slower than fp32.

    CUDA: compute capability 8.0 or newer (Ampere on; a V100 emulates). CPU: AVX512-BF16 or AMX (x86),
    or the BF16 extension (Arm). Measured on a 2-core AVX2-only AMD EPYC: bf16 paints 6x slower.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    if device.type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    return bool(_cpu_flags() & set(BF16_FLAGS))


def cpu_name() -> str:
    """The CPU's model name (``platform.processor()`` where /proc/cpuinfo has none)."""
    import platform

    return _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown CPU"


def _cpu_model_numbers() -> str:
    """x86 ``family F, model M`` (empty elsewhere): one brand name covers several generations."""
    info = _cpuinfo()
    return f"family {info['cpu family']}, model {info['model']}" if "cpu family" in info and "model" in info else ""


def describe_machine(threads: int | None = None) -> str:
    """One line naming what a speed figure depends on: CPU, cores, torch's kernel level, native bf16."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    level = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "?"
    bf16 = "native bf16" if native_bf16("cpu") else "no native bf16"
    used = f", {threads} threads" if threads else ""
    numbers = _cpu_model_numbers()
    name = f"{cpu_name()} ({numbers})" if numbers else cpu_name()
    return f"{name}, {cores} cores{used}, torch {torch.__version__} ({level}), {bf16}"


def bf16_slow_warning(device: "str | torch.device", what: str) -> str | None:
    """The one-line warning for bf16 asked for on ``device`` without native bf16 (None where it is native)."""
    device = torch.device(device)
    if native_bf16(device):
        return None
    if device.type == "cpu":
        where = cpu_name()
    elif device.type == "cuda" and torch.cuda.is_available():
        where = torch.cuda.get_device_name(device)
    else:
        where = f"device {device.type!r}"
    return (f"{what}: {where} has no native bfloat16, so bf16 is emulated and runs slower than fp32 here "
            f"(on an AVX2-only AMD EPYC: painting 6x, a training step 14x slower); fp32 is the faster choice on this machine")
