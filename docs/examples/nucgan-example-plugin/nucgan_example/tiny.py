"""``example-tiny``: a two-level encoder-decoder, the smallest useful nucgan generator."""

from __future__ import annotations

import torch
from torch import nn

from nucgan.plugin_api import Generator


class TinyGenerator(Generator):
    """Conv down twice, up twice, with one skip; tanh output in [-1, 1]."""

    def __init__(self, in_channels: int = 5, filters: int = 8) -> None:
        super().__init__()
        self.in_channels, self.filters = in_channels, filters
        self.size_multiple = 4
        self.down1 = nn.Sequential(nn.Conv2d(in_channels, filters, 4, 2, 1), nn.LeakyReLU(0.2))
        self.down2 = nn.Sequential(nn.Conv2d(filters, 2 * filters, 4, 2, 1), nn.LeakyReLU(0.2))
        self.up1 = nn.Sequential(nn.ConvTranspose2d(2 * filters, filters, 4, 2, 1), nn.ReLU())
        self.up2 = nn.ConvTranspose2d(2 * filters, 1, 4, 2, 1)

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "filters": self.filters}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        d1 = self.down1(x)
        u1 = self.up1(self.down2(d1))
        return torch.tanh(self.up2(torch.cat([u1, d1], dim=1)))
