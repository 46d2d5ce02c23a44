"""``timm-unet``: the paper's U-Net decoder over any timm ``features_only`` encoder, any input channels.

The encoder is ``timm.create_model(encoder, features_only=True, in_chans=in_channels)`` with random
init; nothing is downloaded. ``weights`` names a local ``.safetensors`` file of the timm model to start
from (never a pickle); timm adapts its first convolution to ``in_channels``.

Decoder, as in ``unet``: from the deepest feature, each step up is a 2x upsampling
(BatchNorm, dropout on the first two, LeakyReLU 0.3) concatenated with the encoder feature of that
size; a decoder feature at reduction r has ``filters * r / 2`` channels (the U-Net's widths). Encoders
whose first feature is coarser than 1/2 get more up steps; at full size the decoder output is
concatenated with the input masks (precise nucleus outlines) and a 'same' convolution with bias
maps it to ``out_channels`` before the output activation. ``upsample`` chooses every 2x step:
``bilinear`` (the default: bilinear resize then a convolution, no checkerboard), ``resize``
(nearest-neighbour), ``shuffle`` (PixelShuffle, ICNR init) or ``transpose`` (the paper's stride-2 transposed convolution; what a saved
config without ``upsample`` means).
"""

from __future__ import annotations

import difflib
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nucgan.plugin_api import Generator, InputError, check_activation, create_activation
from nucgan_builtins.generators._layers import (UPSAMPLE_MODES, batch_norm, check_choice, check_int, check_rate,
                                                keras_init_, leaky_relu, same_conv, upsample_conv)

#: how many decoder blocks (from the bottom) carry dropout, as in the paper's U-Net
DROPOUT_BLOCKS = 2
#: how new models double their size (chosen by benchmarks/decoder.py: the least grid, lower MAE than transpose)
DEFAULT_UPSAMPLE = "bilinear"


def _encoder(name: str, in_channels: int, weights: str | None) -> nn.Module:
    """A timm features_only model, randomly initialised or from a local file; InputError if impossible."""
    import timm

    if not isinstance(name, str) or not timm.is_model(name):
        known = timm.list_models()
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"timm-unet: unknown timm encoder {name!r}{hint} (see timm.list_models())")
    kwargs: dict[str, Any] = {"features_only": True, "in_chans": in_channels, "pretrained": False}
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise InputError(f"timm-unet: encoder weights file {str(path)!r} does not exist")
        if path.suffix != ".safetensors":
            raise InputError(f"timm-unet: encoder weights {str(path)!r} must be a .safetensors file; nucgan never "
                             "loads pickled checkpoints (convert with safetensors.torch.save_file)")
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    try:
        return timm.create_model(name, **kwargs)
    except (RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"timm-unet: cannot build encoder {name!r} with features_only: {exc}") from exc


class TimmUNet(Generator):
    """A U-Net decoder over a timm encoder; inputs a multiple of the encoder's deepest reduction."""

    legacy_defaults = {"upsample": "transpose"}  # configs saved before upsample existed were transposed

    def __init__(self, in_channels: int = 4, encoder: str = "resnet18", filters: int = 16, kernel_size: int = 3,
                 activation: str = "tanh", out_channels: int = 1, dropout: float = 0.5,
                 weights: str | None = None, upsample: str = DEFAULT_UPSAMPLE) -> None:
        super().__init__()
        name = "timm-unet"
        self.in_channels = check_int(name, "in_channels", in_channels, 1)
        self.filters = check_int(name, "filters", filters, 1)
        self.kernel_size = check_int(name, "kernel_size", kernel_size, 1)
        self.out_channels = check_int(name, "out_channels", out_channels, 1)
        self.dropout = check_rate(name, "dropout", dropout)
        self.activation_name = check_activation(activation)
        self.upsample = check_choice(name, "upsample", upsample, UPSAMPLE_MODES)
        self.encoder_name = encoder
        self.encoder = _encoder(encoder, self.in_channels, weights)

        reductions = [int(r) for r in self.encoder.feature_info.reduction()]
        channels = [int(c) for c in self.encoder.feature_info.channels()]
        steps = [1, *reductions]
        if any(b % a or (b // a) & (b // a - 1) for a, b in pairwise(steps)):
            raise InputError(f"timm-unet: encoder {encoder!r} has feature reductions {reductions}; "
                             "each must be a power-of-two multiple of the previous one")
        self.size_multiple = reductions[-1]

        k = self.kernel_size

        # self.up[s] takes the decoder state from reduction steps[s + 1] to steps[s]; then the skip at steps[s]
        built: list[nn.Sequential] = []
        cin = channels[-1]
        for s in range(len(reductions) - 1, -1, -1):
            layers: list[nn.Module] = []
            r = steps[s + 1]
            while True:
                r_next = max(r // 2, steps[s])
                cout = self.filters * max(r_next // 2, 1)
                first = not layers
                layers.append(upsample_conv(cin, cout, k, self.upsample) if r_next < r else same_conv(cin, cout, k))
                layers.append(batch_norm(cout))
                if first and len(built) < DROPOUT_BLOCKS and self.dropout > 0:
                    layers.append(nn.Dropout(self.dropout))
                layers.append(leaky_relu())
                cin, r = cout, r_next
                if r == steps[s]:
                    break
            built.append(nn.Sequential(*layers))
            cin += channels[s - 1] if s > 0 else self.in_channels
        self.up = nn.ModuleList(built[::-1])
        self.head = same_conv(cin, self.out_channels, k, bias=True)
        self.activation = create_activation(self.activation_name)
        keras_init_(self.up)
        keras_init_(self.head)

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this architecture (``weights`` is a starting point, not architecture)."""
        return {"in_channels": self.in_channels, "encoder": self.encoder_name, "filters": self.filters,
                "kernel_size": self.kernel_size, "activation": self.activation_name,
                "out_channels": self.out_channels, "dropout": self.dropout, "upsample": self.upsample}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks -> (B, out_channels, H, W) image."""
        self.check_input(x)
        skips = [x, *self.encoder(x)]
        y = skips[-1]
        for s in range(len(self.up) - 1, -1, -1):
            y = torch.cat([self.up[s](y), skips[s]], dim=1)
        return self.activation(self.head(y))
