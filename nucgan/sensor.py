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

from typing import Callable

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
#: with ``signal``: the fine noise inside nuclei beyond the background's, over the nuclei's contrast; median
#: over the 341 fit-part train images (0.0407, quartiles 0.033-0.050; 0.0406 on the held-out 61)
SIGNAL_RATIO = 0.0407


def residual_gain() -> float:
    """The fine-noise level that unit white noise measures at: the L2 norm of (identity - 1 px Gaussian blur)."""
    from scipy import ndimage as ndi

    delta = np.zeros((17, 17))
    delta[8, 8] = 1.0
    return float(np.sqrt(((delta - ndi.gaussian_filter(delta, 1.0)) ** 2).sum()))


def _bisect(level: "Callable[[float], float]", target: float, guess: float, calibrate: bool) -> float:
    """The scale at which ``level`` (rising in it) reaches ``target``: ``guess`` widened by doublings, then bisected."""
    low, high = 0.0, guess
    for _ in range(CALIBRATION_STEPS if calibrate else 0):  # rounding can swallow a first guess: widen until it is reached
        if level(high) >= target:
            break
        low, high = high, 2.0 * high
    for _ in range(BISECTIONS if calibrate else 0):  # the measured level is steep near one grey level: bisect, do not extrapolate
        middle = 0.5 * (low + high)
        low, high = (middle, high) if level(middle) < target else (low, middle)
    return 0.5 * (low + high) if calibrate else high


def add_sensor_noise(image: np.ndarray, record: StyleRecord, nuclei: np.ndarray, seed: int,
                     signal: bool = False) -> np.ndarray:
    """``image`` (float [-1, 1], the generator's output) plus white noise to the fine-noise level of ``record``.

    ``nuclei`` (bool, the image's shape) marks the nuclei; the level is measured on the background
    more than 2 px away from them. With ``signal`` the noise also grows with the signal above the
    background, as a camera's shot noise and a nucleus's fine texture do: inside the nuclei (2 px in
    from their outlines) the fine noise beyond the background's reaches :data:`SIGNAL_RATIO` of the
    painted contrast. Deterministic in ``seed``; returns a new float32 array in [-1, 1].
    """
    from scipy import ndimage as ndi

    target = record.values[FEATURES.index("noise")]
    if target <= 0 and not signal:
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

    def written(y: np.ndarray) -> np.ndarray:
        y = np.clip(y, -1.0, 1.0)
        if rounds:  # what the written image holds: the level the reference was measured at includes rounding
            y = norm.forward(norm.inverse(y)).astype(np.float64)
        return y

    calibrate = where.sum() >= MIN_BACKGROUND  # nuclei cover (nearly) everything: no background to measure on
    painted = fine_noise(written(patch), where) if calibrate else 0.0
    sd = 0.0
    if painted < target:
        sd = _bisect(lambda v: fine_noise(written(patch + v * noise), where), target,
                     float(np.sqrt(target ** 2 - painted ** 2)) / residual_gain(), calibrate)
    if not signal:
        if sd == 0.0:
            return image.astype(np.float32, copy=True)
        out = unit
        out *= sd
        out += image
        return np.clip(out, -1.0, 1.0, out=out)
    inner = ndi.binary_erosion(nuclei, iterations=2)[window]
    level = float(np.median(patch[where])) if where.any() else float(patch.min())
    above = np.maximum(patch - level, 0.0)
    contrast = float(np.median(patch[inner])) - level if inner.any() else 0.0
    beta = 0.0
    if contrast > 0:
        floor = fine_noise(written(patch + sd * noise), inner) if inner.sum() >= MIN_BACKGROUND else 0.0
        wanted = float(np.sqrt(max(target, 0.0) ** 2 + (SIGNAL_RATIO * contrast) ** 2))
        if floor < wanted:
            beta = _bisect(lambda b: fine_noise(written(patch + np.sqrt(sd ** 2 + (b * above) ** 2) * noise), inner),
                           wanted, SIGNAL_RATIO / residual_gain(), inner.sum() >= MIN_BACKGROUND)
    full_above = np.maximum(image.astype(np.float32) - np.float32(level), 0)
    full_above *= np.float32(beta)
    full_above **= 2
    full_above += np.float32(sd ** 2)
    out = unit
    out *= np.sqrt(full_above, out=full_above)
    out += image
    return np.clip(out, -1.0, 1.0, out=out)


__all__ = ["add_sensor_noise", "residual_gain", "SIGNAL_RATIO"]
