"""Sample grids written during training: one row per sample, mask | real | generated, as PNG."""

from __future__ import annotations

import numpy as np
import torch

from nucgan.pictures import colour_layers


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[-1, 1] float -> uint8 grey."""
    return np.clip((image + 1) * 127.5, 0, 255).round().astype(np.uint8)


def grid(cond: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, merged: bool, gap: int = 4) -> np.ndarray:
    """An RGB uint8 picture: one row per sample, columns mask | real | generated, white gaps between."""
    rows = []
    for c, r, f in zip(cond.float().cpu().numpy(), real.float().cpu().numpy(), fake.float().cpu().numpy()):
        layers = c[1:] > 0 if merged else c > 0
        grey = [np.repeat(to_uint8(x[0])[..., None], 3, axis=2) for x in (r, f)]
        tiles = [colour_layers(layers), *grey]
        spacer = np.full((tiles[0].shape[0], gap, 3), 255, np.uint8)
        rows.append(np.concatenate([tiles[0], spacer, tiles[1], spacer, tiles[2]], axis=1))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)
