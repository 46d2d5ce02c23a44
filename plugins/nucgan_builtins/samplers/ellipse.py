"""``ellipse``: parametric nucleus shapes, ellipses with random axes, orientation and boundary wobble."""

from __future__ import annotations

import numpy as np

from nucgan.plugin_api import InputError, Sampler


class EllipseSampler(Sampler):
    """Ellipses whose area and eccentricity follow simple, user-set distributions.

    ``area``: (median, spread) of the log-normal area in pixels; ``elongation``: maximum ratio of the
    axes; ``wobble``: relative amplitude of low-frequency boundary noise (0 = perfect ellipses).
    """

    def __init__(self, area: tuple[float, float] = (440.0, 0.45), elongation: float = 1.8,
                 wobble: float = 0.06, min_area: int = 20) -> None:
        median, spread = area
        if median <= 0 or spread < 0:
            raise InputError(f"ellipse sampler: area must be (median > 0, spread >= 0), got {area}")
        if elongation < 1:
            raise InputError(f"ellipse sampler: elongation must be >= 1, got {elongation}")
        if not 0 <= wobble < 0.5:
            raise InputError(f"ellipse sampler: wobble must be in [0, 0.5), got {wobble}")
        self.area = (float(median), float(spread))
        self.elongation = float(elongation)
        self.wobble = float(wobble)
        self.min_area = int(min_area)

    def shapes(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [self._one(rng) for _ in range(n)]

    def _one(self, rng: np.random.Generator) -> np.ndarray:
        while True:
            area = max(self.min_area, float(np.exp(np.log(self.area[0]) + self.area[1] * rng.standard_normal())))
            ratio = rng.uniform(1.0, self.elongation)
            a = np.sqrt(area * ratio / np.pi)  # semi-axes with pi * a * b = area
            b = area / (np.pi * a)
            theta = rng.uniform(0, np.pi)
            phases = rng.uniform(0, 2 * np.pi, size=3)
            amps = self.wobble * rng.uniform(0, 1, size=3)
            r = int(np.ceil(a * (1 + 3 * self.wobble))) + 2
            yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(float)
            u = xx * np.cos(theta) + yy * np.sin(theta)
            v = -xx * np.sin(theta) + yy * np.cos(theta)
            angle = np.arctan2(v, u)
            radius = 1 + sum(amp * np.cos((k + 2) * angle + ph) for k, (amp, ph) in enumerate(zip(amps, phases)))
            mask = (u / a) ** 2 + (v / b) ** 2 <= radius ** 2
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            if rows.size:
                return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
