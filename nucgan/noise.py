"""Noise sources of a generator: pix2pix's dropout, and per-pixel noise injection, both positional when painting."""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def dropout_noise(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Inside the block ``model`` is in eval mode except its dropout layers (when ``enabled``).

    Dropout makes one mask give several plausible images (pix2pix); BatchNorm on running
    statistics keeps the output independent of what else is in the batch, so tiled generation has
    no seams from per-tile statistics. The previous train/eval state is restored afterwards.
    """
    modes = {m: m.training for m in model.modules()}
    model.eval()
    if enabled:
        for m in model.modules():
            if isinstance(m, nn.modules.dropout._DropoutNd):
                m.train()
    try:
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode


_MASK32 = 0xFFFFFFFF
_INT32_MIN = -2 ** 31


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (lowbias32-style) on int64 tensors holding uint32 values; no overflow."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & _MASK32
    return x ^ (x >> 16)


def unit_interval(h: torch.Tensor) -> torch.Tensor:
    """uint32 hashes (in int64) -> float32 in [0, 1): the top 24 bits, which float32 holds exactly.

    ``h / 2**32`` in float32 rounds hashes within 2^7 of 2^32 up to exactly 1.0, and Box-Muller's
    log(1 - u) then gives -inf (NaN pixels in a painted image)."""
    return (h >> 8).to(torch.float32) / float(2 ** 24)


def _row_hashes(seed: int, layer: int, channels: int, rows: torch.Tensor) -> torch.Tensor:
    """(channel, row, 1) hashes of the seed, layer, channel and row: the small part of a positional hash."""
    h = _mix(torch.tensor((seed * 0x9E3779B1 + layer * 0x85EBCA77) & _MASK32, dtype=torch.int64))
    h = _mix(h ^ torch.arange(channels, dtype=torch.int64).view(-1, 1, 1))
    return _mix(h ^ rows.to(torch.int64).view(1, -1, 1))


def _col_keys(cols: torch.Tensor) -> torch.Tensor:
    """(1, 1, col) keys that the last hash round mixes in."""
    return cols.to(torch.int64).view(1, 1, -1) * 0x27D4EB2F & _MASK32


def hashed_uniform(seed: int, layer: int, channels: int, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) numbers for (channel, row, col), a pure function of the seed, layer and position."""
    return unit_interval(_mix(_row_hashes(seed, layer, channels, rows) ^ _col_keys(cols)))


def _to_int32(x: torch.Tensor) -> torch.Tensor:
    """uint32 values held in int64 -> the same 32 bits as int32 (two's complement)."""
    return (x - ((x >> 31) << 32)).to(torch.int32)


def _mix_int32(x: torch.Tensor) -> torch.Tensor:
    """:func:`_mix` on the int32 bit patterns of uint32 values: the same 32 bits, half the memory traffic.

    Products wrap modulo 2^32 as the masked int64 ones do; right shifts are arithmetic on int32, so
    each is masked back to a logical shift. tests/test_noise.py checks it against :func:`_mix`.
    """
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * 0x7FEB352D
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * 0x2C1B3C6D
    return x ^ ((x >> 16) & 0xFFFF)


def hashed_keep(seed: int, layer: int, channels: int, rows: torch.Tensor, cols: torch.Tensor, p: float) -> torch.Tensor:
    """Bool (channel, row, col) dropout keep-mask: exactly ``hashed_uniform(...) >= p``, about 3x faster.

    The last, full-size hash round runs in int32, and the comparison is made on the integers: the
    uniform is (h >> 8) / 2^24, exact in float32, so ``u >= p`` holds when h >= 256 ceil(p32 2^24)
    (p32: ``p`` in float32, as the tensor comparison reads it), compared as unsigned.
    """
    h = _mix_int32(_to_int32(_row_hashes(seed, layer, channels, rows)) ^ _to_int32(_col_keys(cols)))
    threshold = math.ceil(float(np.float32(p)) * 2 ** 24) << 8  # unsigned; 0 keeps all, >= 2^32 none
    if threshold <= 0:
        return torch.ones(h.shape, dtype=torch.bool)
    if threshold >= 2 ** 32:
        return torch.zeros(h.shape, dtype=torch.bool)
    return (h ^ _INT32_MIN) >= threshold - 2 ** 31  # flipping the sign bit orders uint32 as int32


def hashed_normal(seed: int, layer: int, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Standard normal numbers for (1, row, col) (Box-Muller of two hashed uniforms), a pure function of the position."""
    u1 = 1.0 - hashed_uniform(seed, 2 * layer + 1001, 1, rows, cols)  # (0, 1]: the log is finite
    u2 = hashed_uniform(seed, 2 * layer + 1002, 1, rows, cols)
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * torch.pi * u2)


class NoiseInjection(nn.Module):
    """Adds one map of per-pixel Gaussian noise times a learned per-channel scale (StyleGAN's noise inputs).

    A generator trained with L1 paints the conditional median, smooth where real nuclei carry a
    random chromatin texture; a noise input lets it paint a texture that is not tied to the mask.
    The scales start at 0, so a generator fine-tuned from one without noise starts painting as it
    did. Training draws fresh noise each call; in eval mode the module adds nothing unless
    :class:`PositionalDropout` (which :func:`nucgan.generation.paint` installs) supplies positional
    noise, so tiles agree and a seed reproduces an image.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(channels))
        self.positional: "Callable[[torch.Tensor], torch.Tensor] | None" = None  # set by PositionalDropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus scale[c] * n(row, col): fresh noise in training, positional noise when painting."""
        if self.training:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        elif self.positional is not None:
            noise = self.positional(x)
        else:
            return x
        return x + self.scale.view(1, -1, 1, 1).to(x.dtype) * noise


class PositionalDropout:
    """Dropout whose mask depends on the global pixel position, not on the tile, so tiles agree.

    Generating a large image tile by tile with ordinary dropout would draw a different noise for
    each tile and leave seams where tiles meet. Here every dropout layer of ``model`` keeps its
    input (eval mode) and a forward hook multiplies it by a mask hashed from (seed, layer, channel,
    position in the whole image), so overlapping tiles see the same noise where they overlap and a
    tiled image equals the whole-image one up to border effects. Set :attr:`offsets` (one (row,
    col) per batch item, in input pixels) and :attr:`tile` before each forward call.
    """

    def __init__(self, model: nn.Module, seed: int) -> None:
        self.seed = seed
        self.offsets: list[tuple[int, int]] = [(0, 0)]
        self.tile = (0, 0)
        self._layers = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self._layers)]
        self._injections = [m for m in model.modules() if isinstance(m, NoiseInjection)]
        for i, m in enumerate(self._injections):  # noise injection: the same positional rule, Gaussian
            m.positional = self._normal(i)

    def _normal(self, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def noise(x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[-2:]
            sy, sx = self.tile[0] // h, self.tile[1] // w
            maps = [hashed_normal(self.seed, index, torch.arange(h) + oy // sy, torch.arange(w) + ox // sx)
                    for oy, ox in self.offsets]
            return torch.stack(maps).to(device=x.device, dtype=x.dtype)
        return noise

    def _hook(self, index: int):  # noqa: ANN202
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
            x = inputs[0]
            p = float(module.p)
            if p <= 0:
                return output
            h, w = x.shape[-2:]
            sy, sx = self.tile[0] // h, self.tile[1] // w
            masks = []
            for oy, ox in self.offsets:
                rows = torch.arange(h) + oy // sy
                cols = torch.arange(w) + ox // sx
                masks.append(hashed_keep(self.seed, index, x.shape[1], rows, cols, p))
            mask = torch.stack(masks).to(device=x.device, dtype=x.dtype)
            return x * mask / (1 - p)
        return hook

    def remove(self) -> None:
        """Detach the hooks (the model's dropout and noise-injection layers behave as before)."""
        for handle in self._handles:
            handle.remove()
        for m in self._injections:
            m.positional = None
