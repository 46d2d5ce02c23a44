"""``patchgan-k3``: a PatchGAN of 3 x 3 stride-2 convolutions, built to see texture and noise.

Measured with ``benchmarks/d_probe.py`` (a fresh discriminator trained alone against the frozen
generalist): the paper's kernel-2 PatchGAN stayed at chance (D loss ~log 4, AUC ~0.57) while the
realism classifier's small 3 x 3 network told the same tiles apart at AUC ~1.0. This is that
network as a conditional PatchGAN: ``layers`` blocks of conv3x3 (stride 2, pad 1, no bias) +
BatchNorm + LeakyReLU 0.2 with widths F, 2F, 4F, 4F, ..., one stride-1 block at the deepest width,
then a 1 x 1 convolution to one logit per patch. A 3 x 3 kernel at stride 2 reads every pixel, so
pixel noise and blur stay visible. ``conditional=False`` ignores the masks (an appearance-only judge);
``pool=True`` averages the last features over the image first, so one logit judges the whole tile
(as the realism classifier does). 128 px with 3 layers -> 16 x 16 logits, receptive field 31 px.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nucgan.plugin_api import Discriminator
from nucgan_builtins.discriminators._common import check_min_size, spectral_norm_all
from nucgan_builtins.generators._layers import check_int


class PatchGANK3(Discriminator):
    """3 x 3 stride-2 PatchGAN; inputs a multiple of 2^layers px, logits (B, 1, H / 2^layers, W / 2^layers)."""

    def __init__(self, in_channels: int = 4, filters: int = 32, layers: int = 3, conditional: bool = True,
                 pool: bool = False, spectral_norm: bool = False) -> None:
        super().__init__()
        self.in_channels = check_int("patchgan-k3", "in_channels", in_channels, 1)
        self.filters = check_int("patchgan-k3", "filters", filters, 1)
        self.layers_count = check_int("patchgan-k3", "layers", layers, 1)
        self.conditional = bool(conditional)
        self.pool = bool(pool)
        self.spectral_norm = bool(spectral_norm)
        self.size_multiple = 2 ** self.layers_count
        self.min_size = 2 ** self.layers_count
        f = self.filters
        width = (self.in_channels if self.conditional else 0) + 1
        blocks: list[nn.Module] = []
        for n in range(self.layers_count + 1):  # layers stride-2 blocks, then one at stride 1
            out = f * min(2 ** n, 4) if n < self.layers_count else width
            blocks += [nn.Conv2d(width, out, 3, stride=2 if n < self.layers_count else 1, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.LeakyReLU(0.2, inplace=True)]
            width = out
        if self.pool:
            blocks.append(nn.AdaptiveAvgPool2d(1))
        blocks.append(nn.Conv2d(width, 1, 1))
        self.layers = nn.Sequential(*blocks)
        if self.spectral_norm:
            spectral_norm_all(self)

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this discriminator through ``create_discriminator``."""
        return {"in_channels": self.in_channels, "filters": self.filters, "layers": self.layers_count,
                "conditional": self.conditional, "pool": self.pool, "spectral_norm": self.spectral_norm}

    def forward(self, conditioning: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks and (B, 1, H, W) image -> (B, 1, H / 2^layers, W / 2^layers) logits
        ((B, 1, 1, 1) with ``pool``)."""
        self.check_inputs(conditioning, image)
        check_min_size(type(self).__name__, image, self.min_size)
        x = torch.cat([conditioning, image], dim=1) if self.conditional else image
        return self.layers(x)
