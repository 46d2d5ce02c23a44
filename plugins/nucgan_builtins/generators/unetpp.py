"""``unetpp``: UNet++ (Zhou et al. 2018), nested and densely connected skip pathways, in the paper's style.

Same kwargs and conventions as ``unet`` (stride-2 encoder X(i,0) with F * 2^i channels at H / 2^(i+1),
Keras defaults, He-normal init, LeakyReLU 0.3). Each nested node X(i,j), j >= 1, concatenates every
earlier node of its level, X(i,0..j-1), with an upsampled X(i+1,j-1) (2x upsampling, BatchNorm,
dropout on the two deepest levels, LeakyReLU) and fuses them with one 'same' convolution,
BatchNorm and LeakyReLU (UNet++ uses two 3 x 3 convolutions per node; one kernel_size convolution
keeps the paper's per-block budget). The head is a 2x upsampling with bias on X(0,levels)
then the output activation. ``upsample`` chooses every 2x step: ``bilinear`` (the default: bilinear
resize then a convolution, no checkerboard), ``resize`` (nearest-neighbour), ``shuffle`` (PixelShuffle,
ICNR init) or ``transpose`` (the paper's transposed convolution; what a saved config without
``upsample`` means). With ``deep_supervision`` every X(0,j) gets its own head, ``forward`` returns their mean (UNet++'s "accurate mode") and ``forward_heads`` returns them all for a loss.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nucgan.plugin_api import Generator, check_activation, create_activation
from nucgan_builtins.generators._layers import (UPSAMPLE_MODES, batch_norm, check_choice, check_int, check_rate,
                                                down_conv, keras_init_, leaky_relu, same_conv, upsample_conv)

#: how many of the deepest decoder levels carry dropout, as in the paper's U-Net
DROPOUT_LEVELS = 2
#: how new models double their size (chosen by benchmarks/decoder.py: the least grid, lower MAE than transpose)
DEFAULT_UPSAMPLE = "bilinear"


class UNetPP(Generator):
    """UNet++ with ``levels`` nested skip levels; inputs a multiple of 2^(levels + 1)."""

    legacy_defaults = {"upsample": "transpose"}  # configs saved before upsample existed were transposed

    def __init__(self, in_channels: int = 4, filters: int = 16, kernel_size: int = 5, levels: int = 4,
                 activation: str = "tanh", out_channels: int = 1, dropout: float = 0.5,
                 deep_supervision: bool = False, upsample: str = DEFAULT_UPSAMPLE) -> None:
        super().__init__()
        name = "unetpp"
        self.in_channels = check_int(name, "in_channels", in_channels, 1)
        self.filters = check_int(name, "filters", filters, 1)
        self.kernel_size = check_int(name, "kernel_size", kernel_size, 1)
        self.levels = check_int(name, "levels", levels, 1, maximum=16)
        self.out_channels = check_int(name, "out_channels", out_channels, 1)
        self.dropout = check_rate(name, "dropout", dropout)
        self.activation_name = check_activation(activation)
        self.deep_supervision = bool(deep_supervision)
        self.upsample = check_choice(name, "upsample", upsample, UPSAMPLE_MODES)
        self.size_multiple = 2 ** (self.levels + 1)

        k, n = self.kernel_size, self.levels
        widths = [self.filters * 2 ** i for i in range(n + 1)]
        self.encoder = nn.ModuleList([nn.Sequential(down_conv(self.in_channels, widths[0], k), leaky_relu())])
        for i in range(1, n + 1):
            self.encoder.append(nn.Sequential(down_conv(widths[i - 1], widths[i], k), batch_norm(widths[i]),
                                              leaky_relu()))
        self.up = nn.ModuleDict()
        self.node = nn.ModuleDict()
        for j in range(1, n + 1):
            for i in range(n - j + 1):
                block: list[nn.Module] = [upsample_conv(widths[i + 1], widths[i], k, self.upsample),
                                          batch_norm(widths[i])]
                if i >= n - DROPOUT_LEVELS and self.dropout > 0:
                    block.append(nn.Dropout(self.dropout))
                block.append(leaky_relu())
                self.up[f"{i}_{j}"] = nn.Sequential(*block)
                self.node[f"{i}_{j}"] = nn.Sequential(same_conv((j + 1) * widths[i], widths[i], k),
                                                      batch_norm(widths[i]), leaky_relu())
        n_heads = n if self.deep_supervision else 1
        self.heads = nn.ModuleList([upsample_conv(widths[0], self.out_channels, k, self.upsample, bias=True, head=True)
                                    for _ in range(n_heads)])
        self.activation = create_activation(self.activation_name)
        keras_init_(self)

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this architecture through ``create_generator("unetpp", ...)``."""
        return {"in_channels": self.in_channels, "filters": self.filters, "kernel_size": self.kernel_size,
                "levels": self.levels, "activation": self.activation_name, "out_channels": self.out_channels,
                "dropout": self.dropout, "deep_supervision": self.deep_supervision, "upsample": self.upsample}

    def forward_heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every head's image: X(0,1..levels) with deep supervision, else just X(0,levels)'s."""
        self.check_input(x)
        n = self.levels
        nodes: list[list[torch.Tensor]] = []
        for block in self.encoder:
            x = block(x)
            nodes.append([x])
        for j in range(1, n + 1):
            for i in range(n - j + 1):
                up = self.up[f"{i}_{j}"](nodes[i + 1][j - 1])
                nodes[i].append(self.node[f"{i}_{j}"](torch.cat([*nodes[i], up], dim=1)))
        tops = nodes[0][1:] if self.deep_supervision else nodes[0][-1:]
        return [self.activation(head(t)) for head, t in zip(self.heads, tops)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks -> (B, out_channels, H, W); the heads' mean with deep supervision."""
        outs = self.forward_heads(x)
        return outs[0] if len(outs) == 1 else torch.stack(outs).mean(dim=0)
