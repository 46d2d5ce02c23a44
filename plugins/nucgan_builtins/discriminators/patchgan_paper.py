"""``patchgan-paper``: the paper's discriminator, from its script (see shared/paper/NOTES.md).

Input: the mask channels and an image, concatenated (masks first). Kernel-2 convolutions, He-normal
init, Keras BatchNorm and LeakyReLU 0.3: F (stride 2, no bias) + LeakyReLU; 2F and 4F (stride 2, no
bias, BatchNorm, LeakyReLU); zero-pad 1, 8F (stride 1, valid, no bias, BatchNorm, LeakyReLU);
zero-pad 1, 1 channel (stride 1, valid, bias). A 128 px input gives 18 x 18 patch logits
(H / 8 + 2 in general).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nucgan.plugin_api import Discriminator
from nucgan_builtins.discriminators._common import check_min_size, spectral_norm_all
from nucgan_builtins.generators._layers import batch_norm, check_int, keras_init_, leaky_relu


class PatchGANPaper(Discriminator):
    """The paper's PatchGAN (kernel 2); inputs a multiple of 8 px, logits (B, 1, H/8 + 2, W/8 + 2)."""

    size_multiple = 8
    min_size = 8

    def __init__(self, in_channels: int = 4, filters: int = 64, spectral_norm: bool = False) -> None:
        super().__init__()
        self.in_channels = check_int("patchgan-paper", "in_channels", in_channels, 1)
        self.filters = check_int("patchgan-paper", "filters", filters, 1)
        self.spectral_norm = bool(spectral_norm)
        f = self.filters
        self.layers = nn.Sequential(
            nn.Conv2d(self.in_channels + 1, f, 2, stride=2, bias=False), leaky_relu(),
            nn.Conv2d(f, 2 * f, 2, stride=2, bias=False), batch_norm(2 * f), leaky_relu(),
            nn.Conv2d(2 * f, 4 * f, 2, stride=2, bias=False), batch_norm(4 * f), leaky_relu(),
            nn.ZeroPad2d(1),
            nn.Conv2d(4 * f, 8 * f, 2, stride=1, bias=False), batch_norm(8 * f), leaky_relu(),
            nn.ZeroPad2d(1),
            nn.Conv2d(8 * f, 1, 2, stride=1, bias=True),
        )
        keras_init_(self)
        if self.spectral_norm:
            spectral_norm_all(self)

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this discriminator through ``create_discriminator``."""
        return {"in_channels": self.in_channels, "filters": self.filters, "spectral_norm": self.spectral_norm}

    def forward(self, conditioning: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks and (B, 1, H, W) image -> (B, 1, H/8 + 2, W/8 + 2) logits."""
        self.check_inputs(conditioning, image)
        check_min_size(type(self).__name__, image, self.min_size)
        return self.layers(torch.cat([conditioning, image], dim=1))
