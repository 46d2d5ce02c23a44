"""Nucleus spread: the brightness differences between nuclei that a generator trained with an L1 loss evens out.

Real nuclei in one image differ in brightness (DNA content, cell-cycle phase, staining); a pix2pix
generator, painting close to the conditional median, makes them alike. On the 61 held-out train
images the coefficient of variation of the per-nucleus contrast (mean over a nucleus minus the
background) was 0.30 in the real images and 0.17 in the generalist's painting of the same masks
``--like`` each image (median ratio 0.58). :func:`spread_nuclei` multiplies each nucleus's contrast
by its own lognormal gain (mean 1), sized so that the expected coefficient of variation becomes
``factor`` times the painted one; the background is left as it is. Off by default (factor 1): at
1.8 it brought the statistic to the real one but lowered held-out StarDist and did not make the
images more realistic (docs/generation.md); an option for intensity augmentation.
"""

from __future__ import annotations

import numpy as np

from nucgan.errors import InputError

#: synth's factor for a model with a style input (``resolve_nucleus_spread``): see docs/results.md for its choice
DEFAULT_FACTOR = 1.0
#: how far (px) outside a nucleus its gain still applies: the painted halo is part of the nucleus's light
HALO = 3
#: a gain map's smoothing (px), so touching nuclei with different gains meet without a one-pixel step
GAIN_BLUR = 1.0
#: pixels farther than this from every nucleus keep their exact value (the halo plus the blur's 4-sigma reach)
REACH = HALO + 4 * int(np.ceil(GAIN_BLUR))
#: rows per band of the per-nucleus sums and the gain map, so a large image needs no full-size temporaries
BAND = 1024
#: the background level is a median over at most about this many pixels (a regular subsample of a large image)
LEVEL_PIXELS = 1 << 22


def background_level(x: np.ndarray, fg: np.ndarray) -> float:
    """Median of ``x`` more than 2 px from every nucleus (``fg``), on a regular subsample of a large image."""
    from scipy import ndimage as ndi

    step = max(1, int(np.sqrt(x.size / LEVEL_PIXELS)))
    xs, near = x[::step, ::step], ndi.binary_dilation(fg[::step, ::step], iterations=max(1, 2 // step))
    return float(np.median(xs[~near])) if (~near).any() else float(x.min())


def instance_labels(layers: np.ndarray) -> np.ndarray:
    """One instance label image from a layered stack (C, H, W) of binary or labelled channels.

    Nuclei on one channel are at least 2 px apart (the layering's rule), so each channel's connected
    components are its nuclei; ids are offset channel by channel so none is shared.
    """
    from scipy import ndimage as ndi

    out = np.zeros(layers.shape[1:], dtype=np.int32)
    offset = 0
    for channel in layers:
        components, count = ndi.label(channel > 0)
        out = np.where(components > 0, components + offset, out)
        offset += count
    return out


def spread_gain(contrasts: np.ndarray, factor: float) -> float:
    """The lognormal sigma that takes ``contrasts``' coefficient of variation to ``factor`` times it, in expectation.

    For independent gains g (E[g] = 1, var = e^{s^2} - 1): CV'^2 = (1 + CV^2) e^{s^2} - 1.
    """
    mean = float(contrasts.mean())
    cv = float(contrasts.std()) / mean
    return float(np.sqrt(np.log((1.0 + (factor * cv) ** 2) / (1.0 + cv ** 2))))


def spread_nuclei(image: np.ndarray, labels: np.ndarray, factor: float, seed: int) -> np.ndarray:
    """``image`` (float [-1, 1]) with each nucleus's contrast scaled by its own gain: spread ``factor`` x.

    ``labels`` is the image's instance label image (0 = background). With ``factor`` 1, or fewer than
    two nuclei brighter than the background (no spread to widen), the image is returned as it is.
    Deterministic in ``seed``; returns a new float32 array in [-1, 1].
    """
    from scipy import ndimage as ndi

    if not np.isfinite(factor) or factor < 1.0:
        raise InputError(f"nucleus spread factor must be a number >= 1 (1 = as painted), got {factor!r}")
    x = image.astype(np.float32, copy=True)
    labels = np.asarray(labels)
    fg = labels > 0
    if factor == 1.0 or not fg.any():
        return x
    background = background_level(x, fg)
    if labels.dtype.kind not in "ui" or labels.min() < 0:
        raise InputError(f"nucleus spread: labels must be integers >= 0 (0 = background), got {labels.dtype}")
    if labels.max() > 1 << 24:  # sparse huge ids: number them 1..n so the per-id tables stay small
        labels = np.unique(labels, return_inverse=True)[1].reshape(labels.shape)
    size = int(labels.max()) + 1
    areas, sums = np.zeros(size), np.zeros(size)
    for r in range(0, labels.shape[0], BAND):  # in row bands: no float64 copy of a large image
        band = labels[r:r + BAND].ravel()
        areas += np.bincount(band, minlength=size)
        sums += np.bincount(band, weights=x[r:r + BAND].ravel(), minlength=size)
    ids = np.flatnonzero(areas[1:]) + 1
    contrasts = sums[ids] / areas[ids] - background
    bright = contrasts > 0
    if bright.sum() < 2:
        return x
    sigma = spread_gain(contrasts[bright], factor)
    z = np.random.default_rng([seed, 0x5B3]).standard_normal(len(ids))
    table = np.ones(size, dtype=np.float32)
    table[ids] = np.exp(sigma * z - 0.5 * sigma ** 2)
    for r in range(0, labels.shape[0], BAND):  # each band with REACH rows of context: the same as all at once
        lo, hi = max(0, r - REACH), min(labels.shape[0], r + BAND + REACH)
        part = labels[lo:hi]
        # the HALO px around a nucleus take its gain (where two nuclei's halos meet, the larger id's)
        grown = np.where(part > 0, part, ndi.maximum_filter(part, size=2 * HALO + 1))
        change = table[grown] - np.float32(1.0)  # table[0] = 1: the background keeps its level
        change = ndi.gaussian_filter(change, GAIN_BLUR, truncate=4.0)[r - lo:r - lo + BAND]  # 0 stays exactly 0
        rows = x[r:r + BAND]
        touched = change != 0  # the rest stays bit for bit as painted
        rows[touched] += (rows[touched] - background) * change[touched]
    return np.clip(x, -1.0, 1.0, out=x)


__all__ = ["DEFAULT_FACTOR", "spread_nuclei", "spread_gain", "instance_labels", "HALO", "GAIN_BLUR", "REACH"]
