"""Sensor noise: the camera's grain that a generator trained with an L1 loss does not paint.

A pix2pix generator learns close to the conditional median of an image given its masks, so its
background comes out smooth where a real one is grainy: on 13 held-out train images the real
background's fine noise (``style.fine_noise``, grey levels of the uint8 images) was 0.25-0.74, the generalist's painting
of the same masks ``--like`` each image 0-0.32 (median 0). :func:`add_sensor_noise` adds white
Gaussian noise to a painted image, in the style's normalised units, scaled so that the fine noise
over the background (after rounding to the output's integer type, as the real image was) reaches
the style's ``noise`` value: what the reference image (``--like``) or the drawn training image had.
Where the painting is already that noisy, nothing is added.
"""

from __future__ import annotations

import numpy as np

from nucgan.style import FEATURES, StyleRecord, fine_noise

#: the largest centred window the noise level is calibrated on (the whole image where it holds too little
#: background); the figures in docs/results.md were measured with these settings
CALIBRATION_WINDOW = 1024
#: background pixels a calibration needs; with fewer in the whole image the first guess is used as it is
MIN_BACKGROUND = 256
#: doublings of the first guess at most, then bisections: rounding makes the level steep near one grey level
CALIBRATION_STEPS = 8
BISECTIONS = 10


def residual_gain() -> float:
    """The fine-noise level that unit white noise measures at: the L2 norm of (identity - 1 px Gaussian blur)."""
    from scipy import ndimage as ndi

    delta = np.zeros((17, 17))
    delta[8, 8] = 1.0
    return float(np.sqrt(((delta - ndi.gaussian_filter(delta, 1.0)) ** 2).sum()))


def add_sensor_noise(image: np.ndarray, record: StyleRecord, nuclei: np.ndarray, seed: int) -> np.ndarray:
    """``image`` (float [-1, 1], the generator's output) plus white noise to the fine-noise level of ``record``.

    ``nuclei`` (bool, the image's shape) marks the nuclei; the level is measured on the background
    more than 2 px away from them. Deterministic in ``seed``; returns a new float32 array in [-1, 1].
    """
    from scipy import ndimage as ndi

    target = record.values[FEATURES.index("noise")]
    if target <= 0:
        return image.astype(np.float32, copy=True)
    background = ~ndi.binary_dilation(nuclei, iterations=2)
    unit = np.random.default_rng([seed, 0x5E5]).standard_normal(image.shape, dtype=np.float32)
    starts = [max(0, (n - CALIBRATION_WINDOW) // 2) for n in image.shape]
    window = tuple(slice(s, s + CALIBRATION_WINDOW) for s in starts)
    if background[window].sum() < MIN_BACKGROUND:
        window = (slice(None), slice(None))
    patch, noise, where = image[window].astype(np.float64), unit[window], background[window]
    norm = record.normalization
    rounds = np.dtype(norm.dtype).kind in "ui"

    def level(sd: float) -> float:
        y = np.clip(patch + sd * noise, -1.0, 1.0)
        if rounds:  # what the written image holds: the level the reference was measured at includes rounding
            y = norm.forward(norm.inverse(y)).astype(np.float64)
        return fine_noise(y, where)

    calibrate = where.sum() >= MIN_BACKGROUND  # nuclei cover (nearly) everything: no background to measure on
    painted = level(0.0) if calibrate else 0.0
    if painted >= target:
        return image.astype(np.float32, copy=True)
    low, high = 0.0, float(np.sqrt(target ** 2 - painted ** 2)) / residual_gain()
    for _ in range(CALIBRATION_STEPS if calibrate else 0):  # rounding can swallow a first guess: widen until it is reached
        if level(high) >= target:
            break
        low, high = high, 2.0 * high
    for _ in range(BISECTIONS if calibrate else 0):  # the measured level is steep near one grey level: bisect, do not extrapolate
        middle = 0.5 * (low + high)
        low, high = (middle, high) if level(middle) < target else (low, middle)
    sd = 0.5 * (low + high) if calibrate else high
    out = unit
    out *= sd
    out += image
    return np.clip(out, -1.0, 1.0, out=out)


__all__ = ["add_sensor_noise", "residual_gain"]
