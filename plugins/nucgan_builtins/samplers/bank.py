"""``bank``: real nucleus shapes from a label image, randomly rotated, mirrored and optionally rescaled."""

from __future__ import annotations

import os

import numpy as np

from nucgan.plugin_api import InputError, Sampler, instance_shapes, transform_shape

_TRIES = 100  # redraws per shape before giving up (only reachable with tiny shapes and strong shrinking)


class BankSampler(Sampler):
    """Draws a real shape at random and transforms it: any rotation, a mirror, a scale factor.

    ``labels``: a label image (path or array); ``region``: ``"train"``, ``"test"``, ``"r0:r1,c0:c1"``
    or None, which nuclei to take (see :func:`nucgan.instance_shapes`; nuclei cut by the image border
    are left out). ``scale_jitter`` j draws a linear scale factor uniformly from [1 - j, 1 + j].
    Rotating and scaling go through :func:`nucgan.transform_shape` (binary, area- and solidity-faithful,
    largest 4-connected piece, holes filled); a result smaller than ``min_area`` px is redrawn.
    """

    def __init__(self, labels: str | os.PathLike[str] | np.ndarray, region: str | None = None,
                 rotate: bool = True, flip: bool = True, scale_jitter: float = 0.0, min_area: int = 20) -> None:
        if not 0.0 <= scale_jitter < 1.0:
            raise InputError(f"bank sampler: scale_jitter must be in [0, 1), got {scale_jitter}")
        if min_area < 1:
            raise InputError(f"bank sampler: min_area must be >= 1, got {min_area}")
        self.bank = instance_shapes(labels, region=region, min_area=min_area)
        self.rotate, self.flip = bool(rotate), bool(flip)
        self.scale_jitter, self.min_area = float(scale_jitter), int(min_area)

    def shapes(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [self._one(rng) for _ in range(n)]

    def _one(self, rng: np.random.Generator) -> np.ndarray:
        for _ in range(_TRIES):
            shape = self.bank[int(rng.integers(len(self.bank)))]
            if self.flip and rng.random() < 0.5:
                shape = shape[:, ::-1]
            if self.flip and not self.rotate and rng.random() < 0.5:
                shape = shape[::-1, :]
            angle = rng.uniform(0.0, 2 * np.pi) if self.rotate else 0.0
            scale = rng.uniform(1 - self.scale_jitter, 1 + self.scale_jitter) if self.scale_jitter else 1.0
            out = transform_shape(shape, angle, scale)
            if out.sum() >= self.min_area:
                return out
        raise InputError(f"bank sampler: no shape of at least {self.min_area} px after {_TRIES} draws; "
                         f"lower min_area or scale_jitter")

