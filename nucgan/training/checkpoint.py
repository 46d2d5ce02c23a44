"""Training checkpoints in safetensors: both models, both optimisers, the weight average, RNG state and the step; no pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from nucgan.errors import InputError
from nucgan.safetensors_meta import load_tensors, read_metadata, save_tensors
from nucgan.training.ema import WeightAverage

FORMAT = "nucgan-checkpoint/1"


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    state = opt.state_dict()
    tensors = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}/{index}/{key}"] = tensor.detach().cpu().contiguous()
    return tensors, json.dumps(state["param_groups"])


def _optimizer_state(prefix: str, tensors: dict[str, torch.Tensor], groups: str) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name.startswith(prefix + "/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = tensor
    return {"state": state, "param_groups": json.loads(groups)}


def save_checkpoint(path: str | Path, *, step: int, generator: torch.nn.Module, discriminator: torch.nn.Module,
                    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, config: dict[str, Any],
                    average: WeightAverage | None = None) -> None:
    """Write everything needed to continue exactly, atomically (a crash leaves the previous checkpoint)."""
    tensors: dict[str, torch.Tensor] = {}
    modules = [("G", generator), ("D", discriminator)] + ([("E", average.model)] if average is not None else [])
    for prefix, module in modules:
        for key, value in module.state_dict().items():
            tensors[f"{prefix}/{key}"] = value.detach().cpu().contiguous()
    opt_g_tensors, groups_g = _optimizer_tensors("optG", opt_g)
    opt_d_tensors, groups_d = _optimizer_tensors("optD", opt_d)
    tensors.update(opt_g_tensors)
    tensors.update(opt_d_tensors)
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    metadata = {"nucgan.format": FORMAT, "step": str(step), "config": json.dumps(config),
                "optG_groups": groups_g, "optD_groups": groups_d}
    if average is not None:
        metadata["ema_updates"] = str(average.updates)
    save_tensors(path, tensors, metadata)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` into plain state dicts."""
    path = Path(path)
    metadata = read_metadata(path)  # the header is checked before any tensor is read
    if metadata.get("nucgan.format") != FORMAT:
        raise InputError(f"{path}: not a nucgan checkpoint (format {metadata.get('nucgan.format')!r})")
    missing = [k for k in ("step", "config", "optG_groups", "optD_groups") if k not in metadata]
    if missing:
        raise InputError(f"{path}: nucgan checkpoint metadata lacks {', '.join(missing)}")
    tensors = load_tensors(path)
    try:
        return _unpack(tensors, metadata)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise InputError(f"{path}: broken nucgan checkpoint metadata ({type(exc).__name__}: {exc})") from None


def _unpack(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> dict[str, Any]:
    """The checkpoint's tensors and metadata as the plain state dicts :func:`load_checkpoint` returns."""
    return {
        "step": int(metadata["step"]),
        "config": json.loads(metadata["config"]),
        "G": {k[2:]: v for k, v in tensors.items() if k.startswith("G/")},
        "D": {k[2:]: v for k, v in tensors.items() if k.startswith("D/")},
        "E": {k[2:]: v for k, v in tensors.items() if k.startswith("E/")},  # the weight average (--ema)
        "ema_updates": int(metadata.get("ema_updates", 0)),
        "optG": _optimizer_state("optG", tensors, metadata["optG_groups"]),
        "optD": _optimizer_state("optD", tensors, metadata["optD_groups"]),
        "rng_torch": tensors["rng/torch"],
        "rng_cuda": [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng/cuda/"))],
    }
