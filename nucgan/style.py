"""Image style: a few statistics of a whole image that a generator takes beside the masks.

DSB fluorescence spans microscopes: background level, nucleus brightness and its spread, noise and
edge sharpness differ from one imaging set-up to the next. A model trained across them would paint
their average; given the style of one image it paints in that image's style. The statistics are
measured the same way on a training image and on a user's unannotated reference (``--like``):
on the image normalised by its own percentiles, with nuclei told from background by Otsu's
threshold, so no annotation is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from nucgan.errors import InputError
from nucgan.normalize import Normalization

#: the style statistics, in the order of the style channels
FEATURES = ("background", "foreground", "foreground_spread", "noise", "sharpness")
#: standardised style values are clipped to this many standard deviations
CLIP_SD = 3.0


def measure_style(image: Any, norm: Normalization, what: str = "image") -> tuple[float, ...]:
    """The :data:`FEATURES` of ``image`` (2-D), measured on ``norm.forward(image)`` (values in [-1, 1]).

    background / foreground: median level below / above Otsu's threshold; foreground_spread: the
    standard deviation above it; noise: robust sd (1.4826 MAD) of the fine residual (image minus
    a 1 px Gaussian blur) over the background; sharpness: the mean gradient magnitude on the
    outline of the thresholded nuclei over the foreground-background contrast.
    """
    from skimage.filters import threshold_otsu

    arr = np.asarray(image)
    if arr.ndim != 2 or min(arr.shape) < 8:
        raise InputError(f"{what}: a style needs a 2-D image of at least 8 x 8 px, got shape {arr.shape}")
    x = norm.forward(arr).astype(np.float64)
    if float(x.max() - x.min()) <= 0:
        raise InputError(f"{what}: the image is constant after normalisation; it has no style to measure")
    t = float(threshold_otsu(x))
    fg, bg = x > t, x <= t
    if not fg.any() or not bg.any():
        raise InputError(f"{what}: cannot tell nuclei from background (Otsu's threshold leaves one side empty)")
    background, foreground = float(np.median(x[bg])), float(np.median(x[fg]))
    spread = float(x[fg].std())
    sharpness = outline_gradient(x, fg) / max(foreground - background, 1e-3)
    return background, foreground, spread, fine_noise(x, bg), sharpness


def fine_noise(x: np.ndarray, where: np.ndarray) -> float:
    """Robust sd (1.4826 MAD) over ``where`` of the fine residual: ``x`` minus a 1 px Gaussian blur of it."""
    from scipy import ndimage as ndi

    r = (x - ndi.gaussian_filter(x, 1.0))[where]
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def outline_gradient(x: np.ndarray, fg: np.ndarray) -> float:
    """Mean gradient magnitude (Sobel / 8) on the outline of the foreground ``fg``."""
    from scipy import ndimage as ndi

    gradient = np.hypot(ndi.sobel(x, 0), ndi.sobel(x, 1)) / 8.0
    return float(np.mean(gradient[fg & ~ndi.binary_erosion(fg)]))


@dataclass(frozen=True)
class StyleRecord:
    """One training image's style: its statistics (:data:`FEATURES`) and its intensity mapping."""

    values: tuple[float, ...]
    normalization: Normalization
    name: str = ""

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.values)
        if len(values) != len(FEATURES) or not all(np.isfinite(values)):
            raise InputError(f"style of {self.name or 'an image'}: expected {len(FEATURES)} finite values, got "
                             f"{self.values!r}")
        object.__setattr__(self, "values", values)

    def to_json(self) -> dict[str, Any]:
        """A JSON record (stored in a model's input settings)."""
        return {"name": self.name, "values": list(self.values), "normalization": self.normalization.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> "StyleRecord":
        """Rebuild from :meth:`to_json`."""
        if not isinstance(data, Mapping) or not {"values", "normalization"} <= set(data):
            raise InputError(f"style record must hold values and normalization, got {data!r}")
        return cls(tuple(data["values"]), Normalization.from_json(dict(data["normalization"])),
                   str(data.get("name", "")))


def measure_record(image: Any, percentiles: Sequence[float], name: str = "image") -> StyleRecord:
    """The style of an unannotated image (a ``--like`` reference): its own normalisation and statistics."""
    norm = Normalization.fit(image, percentiles, what=name)
    return StyleRecord(measure_style(image, norm, name), norm, name)


def standardise(values: Sequence[float], records: Sequence[StyleRecord]) -> np.ndarray:
    """``values`` as the style channels see them: standardised by the training styles, clipped to +-3 sd."""
    table = np.array([r.values for r in records], dtype=np.float64)
    mean, sd = table.mean(axis=0), table.std(axis=0)
    z = (np.asarray(values, dtype=np.float64) - mean) / np.where(sd > 1e-6, sd, 1.0)
    return np.clip(z, -CLIP_SD, CLIP_SD).astype(np.float32)


__all__ = ["FEATURES", "StyleRecord", "measure_style", "measure_record", "standardise", "fine_noise",
           "outline_gradient"]
