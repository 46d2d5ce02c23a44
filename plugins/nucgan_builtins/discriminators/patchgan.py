"""``patchgan``: pix2pix's PatchGAN (Isola et al. 2017), 70 x 70 receptive field with ``n_layers=3``.

As pytorch-CycleGAN-and-pix2pix's ``NLayerDiscriminator`` with BatchNorm: 4 x 4 convolutions,
C64 (stride 2, bias, no norm) then ``n_layers - 1`` stride-2 and one stride-1 convolution (no bias,
BatchNorm, widths doubling up to 8F), LeakyReLU 0.2 throughout, then a stride-1 convolution to one
channel of logits; weights N(0, 0.02), BatchNorm scales N(1, 0.02). Input: masks and image
concatenated (masks first). 256 px -> 30 x 30 logits, 128 px -> 14 x 14.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nucgan.plugin_api import Discriminator
from nucgan_builtins.discriminators._common import check_min_size, spectral_norm_all
from nucgan_builtins.generators._layers import check_int


def _pix2pix_init_(module: nn.Module) -> None:
    """pix2pix's 'normal' init: conv weights N(0, 0.02), zero biases, BatchNorm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class PatchGAN(Discriminator):
    """pix2pix's N-layer PatchGAN; inputs a multiple of 2^n_layers and at least 3 * 2^n_layers px."""

    def __init__(self, in_channels: int = 4, filters: int = 64, n_layers: int = 3,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.in_channels = check_int("patchgan", "in_channels", in_channels, 1)
        self.filters = check_int("patchgan", "filters", filters, 1)
        self.n_layers = check_int("patchgan", "n_layers", n_layers, 1)
        self.spectral_norm = bool(spectral_norm)
        self.size_multiple = 2 ** self.n_layers
        self.min_size = 3 * 2 ** self.n_layers  # the smallest input that leaves a 1 x 1 logit map
        f = self.filters
        layers: list[nn.Module] = [nn.Conv2d(self.in_channels + 1, f, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, inplace=True)]
        width = f
        for n in range(1, self.n_layers + 1):
            out = f * min(2 ** n, 8)
            stride = 2 if n < self.n_layers else 1
            layers += [nn.Conv2d(width, out, 4, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.LeakyReLU(0.2, inplace=True)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.layers = nn.Sequential(*layers)
        _pix2pix_init_(self)
        if self.spectral_norm:
            spectral_norm_all(self)

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this discriminator through ``create_discriminator``."""
        return {"in_channels": self.in_channels, "filters": self.filters, "n_layers": self.n_layers,
                "spectral_norm": self.spectral_norm}

    def forward(self, conditioning: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks and (B, 1, H, W) image -> (B, 1, H/2^n - 2, W/2^n - 2) logits."""
        self.check_inputs(conditioning, image)
        check_min_size(type(self).__name__, image, self.min_size)
        return self.layers(torch.cat([conditioning, image], dim=1))
