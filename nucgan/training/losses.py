"""Adversarial losses on discriminator logits: BCE (the paper, pix2pix) and least squares (LSGAN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adversarial(logits: torch.Tensor, real: bool, kind: str) -> torch.Tensor:
    """Mean loss pushing ``logits`` towards "real" (True) or "fake" (False)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown GAN loss {kind!r}")
