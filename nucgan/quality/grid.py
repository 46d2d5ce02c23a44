"""``grid_peak``: how much periodic (checkerboard) power an image has at periods of 2, 4 and 8 px.

Strided and transposed convolutions leave a faint lattice whose power sits exactly at the
frequencies k/p cycles/px (p = 2, 4, 8; the harmonics included). The spectrum is estimated the
Welch way: 64 x 64 tiles at half overlap, each mean-subtracted and Hann-windowed, periodograms
averaged, so that a lattice frequency falls on a bin (64 / 8 = 8) and noise averages out. Each
lattice bin's power is divided by the median power of its surrounding ring (bins 2 to 4 away,
other lattice bins left out): 1 means no peak. ``grid_peak`` is the largest of these ratios; a
clean real image is near 1-3, a model with a checkerboard hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TILE = 64
PERIODS = (2, 4, 8)
RING = (2.0, 4.0)  # inner and outer radius of the ring, in bins


def _window() -> np.ndarray:
    w = np.hanning(TILE)
    return np.outer(w, w)


@dataclass
class WelchPower:
    """Periodograms summed over the tiles of one or many images; ``add`` more, then ``grid_peak``."""

    total: np.ndarray = field(default_factory=lambda: np.zeros((TILE, TILE)))
    tiles: int = 0

    def add(self, image: np.ndarray, scale: tuple[float, float] | None = None) -> int:
        """Add the tiles of ``image`` (mapped by ``scale`` = (lo, hi) if given); returns how many (0 if smaller than a tile)."""
        x = np.asarray(image, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"grid_peak: expected a 2-D image, got shape {x.shape}")
        if scale is not None:
            x = (x - scale[0]) / max(scale[1] - scale[0], 1e-9)
        h, w = x.shape
        if h < TILE or w < TILE:
            return 0
        step = TILE // 2
        ys, xs = range(0, h - TILE + 1, step), range(0, w - TILE + 1, step)
        tiles = np.stack([x[y:y + TILE, c:c + TILE] for y in ys for c in xs])
        tiles = (tiles - tiles.mean(axis=(1, 2), keepdims=True)) * _window()
        self.total += (np.abs(np.fft.fft2(tiles)) ** 2).sum(axis=0)
        self.tiles += len(tiles)
        return len(tiles)

    def grid_peak(self) -> dict[str, float]:
        """The largest lattice-to-ring power ratio overall and per period (NaN when no tile was added)."""
        if not self.tiles:
            return {"grid_peak": float("nan"), **{f"grid_peak_{p}": float("nan") for p in PERIODS}}
        power = self.total / self.tiles
        out = {f"grid_peak_{p}": max(_ratio(power, ky, kx) for ky, kx in _lattice(p)) for p in PERIODS}
        return {"grid_peak": max(out.values()), **out}


def _lattice(period: int) -> list[tuple[int, int]]:
    """Bins of frequencies whose period is exactly ``period`` px (multiples of TILE/period, not of TILE/(period/2))."""
    step, coarser = TILE // period, TILE // (period // 2) if period > 2 else TILE
    ks = range(0, TILE, step)
    return [(a, b) for a in ks for b in ks if (a, b) != (0, 0) and not (a % coarser == 0 and b % coarser == 0)]


_ALL = {k for p in PERIODS for k in _lattice(p)}


def _ratio(power: np.ndarray, ky: int, kx: int) -> float:
    """Power at a lattice bin over the median of its ring (wrapping around, other lattice bins left out)."""
    offsets = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5) if RING[0] <= np.hypot(dy, dx) <= RING[1]]
    ring = [power[(ky + dy) % TILE, (kx + dx) % TILE] for dy, dx in offsets
            if ((ky + dy) % TILE, (kx + dx) % TILE) not in _ALL]
    return float(power[ky, kx] / max(float(np.median(ring)), 1e-30))


def grid_peak(image: np.ndarray) -> dict[str, float]:
    """``grid_peak`` (and per period) of one image; NaN if it is smaller than 64 px in a side."""
    welch = WelchPower()
    welch.add(image)
    return welch.grid_peak()
