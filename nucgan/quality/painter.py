"""The ``painter`` baseline: no learning, just blurred masks with intensities and noise fitted on real data.

Every generator must beat it. Fitted on a (train) image and its labels: per-nucleus mean
intensities (a log-normal, so no nucleus is darker than nothing), the background level and noise, and the blur that best matches
the real nucleus edges. Painting draws each nucleus's brightness from the fitted distribution,
blurs the mask picture and adds Gaussian noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi

from nucgan.labelids import compact_labels

SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0)


@dataclass(frozen=True)
class Painter:
    """Fitted painter parameters (JSON-able via ``asdict``)."""

    nucleus_log_mean: float
    nucleus_log_std: float
    background: float
    noise: float
    sigma: float
    dtype: str
    low: float
    high: float

    def to_json(self) -> dict[str, float | str]:
        return asdict(self)

    def paint(self, labels: np.ndarray, seed: int = 0) -> np.ndarray:
        """An image for instance ``labels`` in the fitted intensity range and dtype."""
        rng = np.random.default_rng(seed)
        compact, ids = compact_labels(labels)  # a level per present id, whatever its magnitude
        levels = np.zeros(ids.size)
        levels[1:] = np.exp(rng.normal(self.nucleus_log_mean, self.nucleus_log_std, size=ids.size - 1))
        flat = np.where(compact > 0, levels[compact], self.background)
        img = ndi.gaussian_filter(flat, self.sigma) + rng.normal(0, self.noise, size=labels.shape)
        img = np.clip(img, self.low, self.high)
        dtype = np.dtype(self.dtype)
        return img.round().astype(dtype) if dtype.kind in "iu" else img.astype(dtype)


def fit_painter(image: np.ndarray, labels: np.ndarray) -> Painter:
    """Fit intensities, noise and blur to a real image and its labels."""
    img = np.asarray(image, dtype=np.float64)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        raise ValueError("painter: no nuclei in the labels to fit")
    means = ndi.mean(img, labels, ids)
    inside = labels > 0
    far = ~ndi.binary_dilation(inside, iterations=3)
    bg = img[far] if far.any() else img[~inside]
    background, noise = float(np.median(bg)), float(bg.std())
    compact, present = compact_labels(labels)
    per_id = np.zeros(present.size)
    per_id[np.searchsorted(present, ids)] = means
    flat = np.where(inside, per_id[compact], background)
    sigma = min(SIGMAS, key=lambda s: float(np.abs(ndi.gaussian_filter(flat, s) - img).mean()))
    logs = np.log(np.maximum(means, 1e-6))
    return Painter(float(np.mean(logs)), float(np.std(logs)), background, noise, float(sigma),
                   str(np.asarray(image).dtype), float(img.min()), float(img.max()))


def fit_painter_on(image: np.ndarray, labels: np.ndarray, region: str = "train") -> Painter:
    """The painter fitted on one region of a real image (the train half by default)."""
    from nucgan.regions import crop, parse_region

    box = parse_region(region, labels.shape)
    return fit_painter(crop(image, box), crop(labels, box))
