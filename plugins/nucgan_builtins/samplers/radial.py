"""Star-convex nucleus outlines as radial profiles: measure them on real masks, model them, draw them fast.

A nucleus is described by its radius from the centroid at ``K`` evenly spaced angles (the outermost
boundary crossing along each ray, as StarDist's star-convex polygons), divided by the square root of
the polygon's area, so a profile holds only the *shape*; the size is a separate number. Profiles
are modelled in log space by principal components (a point distribution model); drawing a shape
perturbs a real nucleus's components, turns and mirrors it, sets its area and rasterises it: pixel
centres within the profile's radius at their angle are inside.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

K = 64  # angles per profile
_FINE = 256  # angles a profile is resampled at before rasterising
_STEP = 0.25  # px between samples along a ray
_LEVEL = -0.1  # the smoothed signed distance's area-neutral level (nucgan.shapes uses the same)
_GRIDS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # half-size -> pixel-centre tables, see _grid


def profile(shape: np.ndarray) -> tuple[np.ndarray, float]:
    """The unit-area radial profile (``K`` radii) of one bool shape, and the shape's area in px."""
    m = np.pad(np.asarray(shape, bool), 3)
    sdf = ndi.distance_transform_edt(m) - ndi.distance_transform_edt(~m)
    sdf = ndi.gaussian_filter(sdf.astype(np.float32), 1.0)
    ys, xs = np.nonzero(m)
    cy, cx = ys.mean(), xs.mean()
    reach = float(np.hypot(*m.shape)) / 2 + 2
    t = np.arange(0.0, reach, _STEP)
    angles = 2 * np.pi * np.arange(K) / K
    py = cy - np.sin(angles)[:, None] * t[None, :]  # angle counter-clockwise, rows grow downwards
    px = cx + np.cos(angles)[:, None] * t[None, :]
    vals = ndi.map_coordinates(sdf, [py.ravel(), px.ravel()], order=1, cval=-100.0).reshape(K, t.size)
    inside = vals > _LEVEL
    last = np.where(inside.any(1), t.size - 1 - np.argmax(inside[:, ::-1], axis=1), 0)
    # sub-sample crossing: interpolate between the last inside and the first outside sample
    v0 = vals[np.arange(K), last]
    v1 = vals[np.arange(K), np.minimum(last + 1, t.size - 1)]
    frac = np.clip((v0 - _LEVEL) / np.maximum(v0 - v1, 1e-6), 0, 1)
    radii = np.maximum(t[last] + frac * _STEP, 0.5)
    return radii / np.sqrt(polygon_area(radii)), float(np.asarray(shape, bool).sum())


def polygon_area(radii: np.ndarray) -> np.ndarray:
    """Area of the star polygon(s) with these radii at ``K`` evenly spaced angles (last axis)."""
    r = np.asarray(radii, float)
    return 0.5 * np.sin(2 * np.pi / r.shape[-1]) * (r * np.roll(r, -1, axis=-1)).sum(-1)


def fit_components(log_profiles: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, the first ``n`` principal directions (n, K) and each profile's coefficients (N, n), of log profiles."""
    mean = log_profiles.mean(0)
    centred = log_profiles - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:n]
    return mean, comps, centred @ comps.T


def _grid(half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a (2 half + 1)^2 grid of pixel centres: angle bin (of ``_FINE`` per turn), radius, and the flat
    index of each pixel's parent, its 4-neighbour one step towards the centre (the centre is its own)."""
    if half not in _GRIDS:
        yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
        ang = np.arctan2(-yy, xx) % (2 * np.pi)
        py = np.where(np.abs(yy) >= np.abs(xx), yy - np.sign(yy), yy)
        px = np.where(np.abs(yy) >= np.abs(xx), xx, xx - np.sign(xx))
        parent = ((py + half) * (2 * half + 1) + (px + half)).ravel()
        bins = np.round(ang * (_FINE / (2 * np.pi))).astype(np.intp).ravel() % _FINE
        _GRIDS[half] = (bins, np.hypot(yy, xx).astype(np.float32).ravel(), parent)
    return _GRIDS[half]


def fine_profiles(radii: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """Profiles (B, K) resampled at ``_FINE`` angles and turned by ``turns`` (in units of K bins), linearly."""
    r = np.asarray(radii, np.float32)
    pos = (np.arange(_FINE, dtype=np.float32)[None, :] * (K / _FINE) - np.asarray(turns, np.float32)[:, None]) % K
    k0 = pos.astype(np.intp)
    f = pos - k0
    k0 %= K
    rows = np.arange(len(r))[:, None]
    return r[rows, k0] * (1 - f) + r[rows, (k0 + 1) % K] * f


def rasterise(radii: np.ndarray, areas: np.ndarray, turns: np.ndarray) -> list[np.ndarray]:
    """Bool shapes of unit-area profiles ``radii`` (B, K) scaled to ``areas`` px and turned by ``turns`` bins.

    Each is cropped to its bounding box and is one 4-connected piece: a pixel counts only when its
    chain of parents (4-steps towards the centre) is inside too, which trims thin spikes. Shapes of
    the same grid size are drawn together, so thousands take milliseconds.
    """
    r = fine_profiles(radii, turns) * np.sqrt(np.asarray(areas, np.float32))[:, None]
    halves = np.ceil(r.max(1)).astype(int) + 1
    out: list[np.ndarray] = [np.zeros((0, 0), bool)] * len(r)
    for half in np.unique(halves).tolist():
        idx = np.flatnonzero(halves == half)
        bins, dist, parent = _grid(half)
        side = 2 * half + 1
        step = max(1, 2_000_000 // (side * side))
        for start in range(0, idx.size, step):
            part = idx[start:start + step]
            mask = dist[None, :] <= r[part][:, bins]
            mask[:, half * side + half] = True
            for _ in range(2 * half):  # a chain is at most 2 half steps long
                pruned = mask & mask[:, parent]
                if np.array_equal(pruned, mask):
                    break
                mask = pruned
            mask = mask.reshape(-1, side, side)
            rows, cols = mask.any(2), mask.any(1)
            r0, c0 = rows.argmax(1), cols.argmax(1)
            r1, c1 = side - rows[:, ::-1].argmax(1), side - cols[:, ::-1].argmax(1)
            for k, j in enumerate(part.tolist()):
                out[j] = mask[k, r0[k]:r1[k], c0[k]:c1[k]]
    return out
