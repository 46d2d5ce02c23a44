"""Shared by the built-in discriminators: optional spectral norm and the minimum-size check."""

from __future__ import annotations

import torch
from torch import nn

from nucgan.plugin_api import InputError


def spectral_norm_all(module: nn.Module) -> None:
    """Put spectral normalisation on every convolution weight inside ``module`` (Miyato et al. 2018)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, nn.Conv2d):
            spectral_norm(m)


def check_min_size(owner: str, x: torch.Tensor, min_size: int) -> None:
    """Refuse inputs smaller than ``min_size`` px per side, where the patch map would be empty."""
    h, w = x.shape[-2:]
    if h < min_size or w < min_size:
        raise InputError(f"{owner}: inputs must be at least {min_size} x {min_size} px, got {h} x {w}")
