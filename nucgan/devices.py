"""Device names: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``, checked before any work starts."""

from __future__ import annotations

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
