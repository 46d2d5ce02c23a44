"""``unet``: one U-Net stage exactly as the paper's script builds it (see shared/paper/NOTES.md).

Encoder: ``levels + 1`` stride-2 convolutions with F * 2^i channels, the first followed by LeakyReLU
only, the others by BatchNorm then LeakyReLU. Decoder: ``levels`` stride-2 transposed convolutions,
each followed by BatchNorm, dropout (the first two only) and LeakyReLU, then concatenated with the
encoder feature of the same size (decoder output first). Head: a transposed convolution with bias to
``out_channels``, then the output activation. No biases elsewhere; Keras defaults throughout.

``upsample`` (not the paper's) replaces every transposed convolution, the head's included, with
``bilinear`` or ``resize`` (bilinear or nearest-neighbour resize, then a convolution) or ``shuffle``
(PixelShuffle, ICNR init) or ``conv-bilinear`` (convolution, then bilinear resize: a quarter of
``bilinear``'s cost; its head carries 8 channels to full size), which leave no checkerboard. The default stays ``transpose``, so the paper's architecture and Table 1's
parameter counts hold; ``config()`` names ``upsample`` only when it is not ``transpose``, so the
paper models' configs are as they always were.

``noise_levels`` (not the paper's; default 0) adds per-pixel noise injection
(:class:`nucgan.noise.NoiseInjection`, scales starting at 0) after the BatchNorm of that many
decoder blocks, counted from the finest: a noise input the generator may turn into texture that
the masks do not determine. ``config()`` names it only when it is not 0.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nucgan.plugin_api import Generator, NoiseInjection, check_activation, create_activation
from nucgan_builtins.generators._layers import (UPSAMPLE_MODES, batch_norm, check_choice, check_int, check_rate,
                                                down_conv, keras_init_, leaky_relu, upsample_conv)

#: how many decoder blocks (from the bottom) carry dropout, as in the paper's script
DROPOUT_BLOCKS = 2


class UNet(Generator):
    """The paper's U-Net stage: ``levels`` skip connections, inputs a multiple of 2^(levels + 1)."""

    def __init__(self, in_channels: int = 4, filters: int = 16, kernel_size: int = 5, levels: int = 4,
                 activation: str = "tanh", out_channels: int = 1, dropout: float = 0.5,
                 upsample: str = "transpose", noise_levels: int = 0) -> None:
        super().__init__()
        name = "unet"
        self.in_channels = check_int(name, "in_channels", in_channels, 1)
        self.filters = check_int(name, "filters", filters, 1)
        self.kernel_size = check_int(name, "kernel_size", kernel_size, 1)
        self.levels = check_int(name, "levels", levels, 1, maximum=16)
        self.out_channels = check_int(name, "out_channels", out_channels, 1)
        self.dropout = check_rate(name, "dropout", dropout)
        self.activation_name = check_activation(activation)
        self.upsample = check_choice(name, "upsample", upsample, UPSAMPLE_MODES)
        self.noise_levels = check_int(name, "noise_levels", noise_levels, 0, maximum=self.levels)
        self.size_multiple = 2 ** (self.levels + 1)

        k, f, n = self.kernel_size, self.filters, self.levels
        widths = [f * 2 ** i for i in range(n + 1)]
        self.encoder = nn.ModuleList([nn.Sequential(down_conv(self.in_channels, widths[0], k), leaky_relu())])
        for i in range(1, n + 1):
            self.encoder.append(nn.Sequential(down_conv(widths[i - 1], widths[i], k), batch_norm(widths[i]),
                                              leaky_relu()))
        self.decoder = nn.ModuleList()
        for j, level in enumerate(range(n - 1, -1, -1)):
            cin = widths[n] if j == 0 else 2 * widths[level + 1]
            block: list[nn.Module] = [upsample_conv(cin, widths[level], k, self.upsample), batch_norm(widths[level])]
            if level < self.noise_levels:  # level 0 is the finest decoder block
                block.append(NoiseInjection(widths[level]))
            if j < DROPOUT_BLOCKS and self.dropout > 0:
                block.append(nn.Dropout(self.dropout))
            block.append(leaky_relu())
            self.decoder.append(nn.Sequential(*block))
        self.head = upsample_conv(2 * widths[0], self.out_channels, k, self.upsample, bias=True, head=True)
        self.activation = create_activation(self.activation_name)
        keras_init_(self)

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this architecture through ``create_generator("unet", ...)``."""
        cfg = {"in_channels": self.in_channels, "filters": self.filters, "kernel_size": self.kernel_size,
               "levels": self.levels, "activation": self.activation_name, "out_channels": self.out_channels,
               "dropout": self.dropout}
        if self.upsample != "transpose":
            cfg["upsample"] = self.upsample
        if self.noise_levels:
            cfg["noise_levels"] = self.noise_levels
        return cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks in [-1, 1] -> (B, out_channels, H, W) image."""
        self.check_input(x)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck is not a skip
        for block, skip in zip(self.decoder, reversed(skips)):
            x = torch.cat([block(x), skip], dim=1)
        return self.activation(self.head(x))
