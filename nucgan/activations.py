"""Activations by name, resolved in one place so every generator and the CLI accept the same names.

The names follow timm's activation registry (``silu``, ``gelu_tanh``, ``hard_swish``, ...) plus the
Keras names the paper's script used (``linear``, ``softplus``, ``softsign``). Semantics are PyTorch's:
``gelu`` is the exact (erf) GELU, as Keras' default; ``leaky_relu`` uses the paper's Keras slope 0.3.
"""

from __future__ import annotations

import difflib
from typing import Callable

from torch import nn

from nucgan.errors import InputError

#: canonical name -> constructor of a fresh module
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leaky_relu": lambda: nn.LeakyReLU(0.3),
    "elu": nn.ELU,
    "celu": nn.CELU,
    "selu": nn.SELU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
    "softsign": nn.Softsign,
    "hard_tanh": nn.Hardtanh,
    "hard_sigmoid": nn.Hardsigmoid,
    "hard_swish": nn.Hardswish,
    "tanhshrink": nn.Tanhshrink,
}

#: alternative spellings users bring from Keras, timm or PyTorch -> canonical name
_ALIASES: dict[str, str] = {
    "linear": "identity", "none": "identity", "swish": "silu", "hardtanh": "hard_tanh",
    "hardsigmoid": "hard_sigmoid", "hardswish": "hard_swish", "hard_silu": "hard_swish",
    "leakyrelu": "leaky_relu", "lrelu": "leaky_relu", "gelu_approximate": "gelu_tanh",
}


def _canonical(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    return _ALIASES.get(key, key)


def list_activations() -> list[str]:
    """The canonical activation names (aliases such as ``linear`` or ``swish`` are accepted too)."""
    return sorted(_ACTIVATIONS)


def check_activation(name: object) -> str:
    """Return the canonical spelling of ``name``, or raise InputError listing the known names."""
    if not isinstance(name, str):
        raise InputError(f"activation must be a name (a string), got {name!r}; known: {', '.join(list_activations())}")
    canonical = _canonical(name)
    if canonical not in _ACTIVATIONS:
        close = difflib.get_close_matches(canonical, [*_ACTIVATIONS, *_ALIASES], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise InputError(f"unknown activation {name!r}{hint} known: {', '.join(list_activations())}")
    return canonical


def create_activation(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (e.g. ``"tanh"``, ``"gelu"``, ``"linear"``)."""
    return _ACTIVATIONS[check_activation(name)]()


__all__ = ["create_activation", "check_activation", "list_activations"]
