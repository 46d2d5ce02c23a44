"""Per-image appearance statistics measured with the masks, and the distance between two sets of images.

The style-fidelity measure of issue 14: for each image, in its own intensity units, the background
level, the nucleus brightness and its spread over the nuclei, the noise and the edge sharpness; a
set of generated images is compared with a set of real ones statistic by statistic (Wasserstein-1
distance between the per-image values, in units of the real values' standard deviation).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nucgan.style import fine_noise, outline_gradient

STATISTICS = ("background", "nucleus_brightness", "nucleus_spread", "noise", "edge_sharpness")


def image_statistics(image: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The :data:`STATISTICS` of one image (intensities as they are), using its instance ``labels``.

    background: median outside every nucleus (2 px dilated away); nucleus_brightness: median of
    the per-nucleus mean intensities; nucleus_spread: their standard deviation over the median;
    noise: robust sd (1.4826 MAD) of the background's fine residual (minus a 1 px Gaussian blur);
    edge_sharpness: mean gradient on the nuclei's outlines over the nucleus-background contrast.
    """
    from scipy import ndimage as ndi

    x = np.asarray(image, dtype=np.float64)
    fg = np.asarray(labels) > 0
    bg = ~ndi.binary_dilation(fg, iterations=2)
    if not fg.any() or not bg.any():
        raise ValueError("image_statistics needs nuclei and background")
    ids, inverse = np.unique(np.asarray(labels)[fg], return_inverse=True)
    means = np.bincount(inverse, weights=x[fg]) / np.bincount(inverse)
    background, brightness = float(np.median(x[bg])), float(np.median(means))
    contrast = max(abs(brightness - background), 1e-6)
    return {"background": background, "nucleus_brightness": brightness,
            "nucleus_spread": float(means.std() / max(abs(brightness), 1e-6)), "noise": fine_noise(x, bg),
            "edge_sharpness": outline_gradient(x, fg) / contrast}


def set_distance(real: Sequence[dict[str, float]], other: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per statistic, W1(real, other) over the images divided by the real values' sd; and their mean."""
    from scipy.stats import wasserstein_distance

    out = {}
    for name in STATISTICS:
        a, b = np.array([r[name] for r in real]), np.array([o[name] for o in other])
        out[name] = float(wasserstein_distance(a, b) / max(a.std(), 1e-12))
    out["mean"] = float(np.mean([out[n] for n in STATISTICS]))
    return out


__all__ = ["STATISTICS", "image_statistics", "set_distance"]
