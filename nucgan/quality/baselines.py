"""The non-learned baselines every model must beat: ``painter`` (blurred, noisy masks) and ``flat``.

``flat`` fills each nucleus with one fitted nucleus level on one fitted background level: no blur,
no noise, no per-nucleus variation. It is the floor a realism test must see through (a classifier
tells it from real patches at once) and the image any paired metric (MAE, SSIM) likes best, which
is why it is always scored beside a model. Both are fitted on training data only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy import ndimage as ndi

from nucgan.errors import InputError
from nucgan.labelids import compact_labels
from nucgan.quality.painter import Painter, fit_painter

BASELINES = ("painter", "flat")


@dataclass(frozen=True)
class Flat:
    """Two levels: every nucleus pixel at ``nucleus``, every other pixel at ``background``."""

    nucleus: float
    background: float
    dtype: str

    def to_json(self) -> dict[str, float | str]:
        return {"baseline": "flat", **asdict(self)}

    def paint(self, labels: np.ndarray, seed: int = 0) -> np.ndarray:
        """The two-level image of ``labels`` (``seed`` is accepted and unused: nothing is random)."""
        img = np.where(np.asarray(labels) > 0, self.nucleus, self.background)
        dtype = np.dtype(self.dtype)
        return img.round().astype(dtype) if dtype.kind in "iu" else img.astype(dtype)


def _stack(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """All pairs as one long row of pixels (labels renumbered so ids stay distinct across images)."""
    if not pairs:
        raise InputError("baseline: no training images to fit on")
    images, labels, offset = [], [], 0
    for image, lab in pairs:
        lab = compact_labels(lab)[0]  # ids of any magnitude; renumbered 1..n per image, then offset
        if np.asarray(image).shape != lab.shape:
            raise InputError(f"baseline: image {np.asarray(image).shape} and labels {lab.shape} differ in shape")
        images.append(np.asarray(image, dtype=np.float64).ravel())
        labels.append(np.where(lab > 0, lab + offset, 0).ravel())
        offset += int(lab.max()) if lab.size else 0
    return np.concatenate(images)[None], np.concatenate(labels)[None]


def fit_flat(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Flat:
    """The median per-nucleus mean intensity and the median background of real (image, labels) pairs."""
    image, labels = _stack(pairs)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        raise InputError("baseline flat: no nuclei in the training labels to fit on")
    nucleus = float(np.median(ndi.mean(image, labels, ids)))
    background = float(np.median(image[labels == 0])) if (labels == 0).any() else 0.0
    return Flat(nucleus, background, str(np.asarray(pairs[0][0]).dtype))


def fit_painter_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Painter:
    """The painter fitted on several images: intensities pooled over all nuclei, blur and noise per image, then median."""
    if not pairs:
        raise InputError("baseline: no training images to fit on")
    fits = [fit_painter(im, lb) for im, lb in pairs if np.any(np.asarray(lb) > 0)]
    if not fits:
        raise InputError("baseline painter: no nuclei in the training labels to fit on")
    image, labels = _stack(pairs)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    logs = np.log(np.maximum(ndi.mean(image, labels, ids), 1e-6))
    return Painter(float(np.mean(logs)), float(np.std(logs)),
                   float(np.median([f.background for f in fits])), float(np.median([f.noise for f in fits])),
                   float(np.median([f.sigma for f in fits])), fits[0].dtype,
                   float(min(f.low for f in fits)), float(max(f.high for f in fits)))


def fit_baseline(name: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Any:
    """The baseline ``name`` (``painter`` or ``flat``) fitted on real (image, labels) pairs; has ``paint(labels, seed)``."""
    if name == "flat":
        return fit_flat(pairs)
    if name == "painter":
        return fit_painter_pairs(pairs)
    raise InputError(f"unknown baseline {name!r}; baselines: {', '.join(BASELINES)}")


def is_baseline(model: Any) -> bool:
    """True for the name of a baseline (a string), whatever else ``model`` could be."""
    return isinstance(model, str) and model in BASELINES
