"""Nucleus shapes: cut them out of label images, measure them, and compare sampled shapes with real ones.

A *shape* is a 2-D bool array holding one connected, non-empty nucleus cropped to its bounding box
(the :class:`nucgan.Sampler` contract). Real shapes come from a label image with
:func:`instance_shapes`; :func:`sampler_report` says how close a sampler's shapes are to them:
area, eccentricity and solidity distributions (normalised Wasserstein-1 and Kolmogorov-Smirnov
distances) and the nearest-real-shape IoU (are the samples novel shapes or copies?).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np
from scipy import ndimage as ndi

from nucgan.errors import InputError

FOUR = ndi.generate_binary_structure(2, 1)  # 4-connectivity: every shape nucgan makes is one 4-connected piece
STATS = ("area", "eccentricity", "solidity")
_IOU_CANVAS = 64  # shapes are centred on a canvas this size to compare them (DSB nuclei span <= 45 px)


# -- reading ------------------------------------------------------------------------------------------
def read_label_image(source: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    """A 2-D non-negative integer label image from an array or a file (read by :func:`nucgan.io.read_labels`)."""
    if isinstance(source, np.ndarray):
        return _checked_labels(source, "labels array")
    from nucgan.io import read_labels

    return _checked_labels(read_labels(source), str(source))


def _checked_labels(arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.squeeze(arr)
    if arr.dtype == bool or arr.dtype.kind not in "iu":
        raise InputError(f"{what}: instance labels need integer ids (0 = background), got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InputError(f"{what}: expected a 2-D label image, got shape {arr.shape}")
    if arr.size == 0 or not arr.any():
        raise InputError(f"{what}: the label image holds no instance (all background)")
    if arr.dtype.kind == "i" and arr.min() < 0:
        raise InputError(f"{what}: negative ids (minimum {arr.min()}); 0 is background and instances are positive")
    return arr


# -- shapes of a label image --------------------------------------------------------------------------
def crop_to_content(mask: np.ndarray) -> np.ndarray:
    """``mask`` without its all-background border rows and columns."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not rows.size:
        return mask[:0, :0]
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected piece of ``mask`` with its holes filled, cropped to its bounding box."""
    lab, n = ndi.label(mask, structure=FOUR)
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        mask = lab == int(np.argmax(sizes))
    elif n == 0:
        return np.zeros((0, 0), dtype=bool)
    return crop_to_content(ndi.binary_fill_holes(mask))


def instance_shapes(labels: str | os.PathLike[str] | np.ndarray, region: str | None = None,
                    keep_cut: bool = False, min_area: int = 1) -> list[np.ndarray]:
    """Every whole nucleus of a label image as a cropped bool shape, in id order.

    ``region`` (``"train"``, ``"test"``, ``"r0:r1,c0:c1"`` or None for all) keeps the nuclei with
    most of their pixels inside it, as nucgan's evaluation counts a nucleus cut by the split, and
    takes their whole shape. Nuclei touching the image border are truncated, not real shapes, and
    are left out unless ``keep_cut``. A nucleus in several pieces keeps its largest piece (with a
    warning); holes are filled. Raises InputError when nothing is left.
    """
    from nucgan.regions import majority_inside, parse_region

    what = str(labels) if not isinstance(labels, np.ndarray) else "labels array"
    arr = read_label_image(labels)
    if int(arr.max()) > 4 * arr.size:  # huge sparse ids: renumber so find_objects stays small
        arr = np.unique(np.concatenate([[0], arr.ravel()]), return_inverse=True)[1][1:].reshape(arr.shape)
    ids = majority_inside(arr, parse_region(region, arr.shape))
    boxes = ndi.find_objects(arr)
    h, w = arr.shape
    shapes, cut, split, small = [], 0, 0, 0
    for i in ids.tolist():
        rs, cs = boxes[i - 1]
        if not keep_cut and (rs.start == 0 or cs.start == 0 or rs.stop == h or cs.stop == w):
            cut += 1
            continue
        mask = arr[rs, cs] == i
        if ndi.label(mask, structure=FOUR)[1] > 1:
            split += 1
        shape = largest_component(mask)
        if shape.sum() < min_area:
            small += 1
            continue
        shapes.append(shape)
    if split:
        warnings.warn(f"{what}: {split} nuclei are in several pieces; kept the largest piece of each", stacklevel=2)
    if not shapes:
        raise InputError(f"{what}: no usable nucleus in region {region or 'all'} ({len(ids)} nuclei there, "
                         f"{cut} cut by the image border, {small} smaller than {min_area} px)")
    return shapes


# -- statistics ---------------------------------------------------------------------------------------
def shape_stats(shapes: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Area (px), eccentricity and solidity of each shape (skimage regionprops), as float arrays."""
    from skimage.measure import regionprops

    out: dict[str, list[float]] = {k: [] for k in STATS}
    for k, shape in enumerate(shapes):
        shape = np.asarray(shape)
        if shape.ndim != 2 or not shape.any():
            raise InputError(f"shape {k}: expected a non-empty 2-D mask, got shape {shape.shape}")
        props = regionprops(shape.astype(np.uint8))[0]
        for key in STATS:
            out[key].append(float(getattr(props, key)))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def distribution_distance(real: np.ndarray, sampled: np.ndarray) -> dict[str, float]:
    """How far ``sampled`` values lie from ``real`` ones: Wasserstein-1, W1 / std(real), and the KS statistic."""
    from scipy.stats import ks_2samp, wasserstein_distance

    real, sampled = np.asarray(real, float), np.asarray(sampled, float)
    if not real.size or not sampled.size:
        raise InputError("distribution_distance needs at least one real and one sampled value")
    w1 = float(wasserstein_distance(real, sampled))
    scale = float(real.std())
    return {"w1": w1, "w1_norm": w1 / scale if scale > 0 else float("inf") * (w1 > 0),
            "ks": float(ks_2samp(real, sampled).statistic)}


def _summary(values: np.ndarray) -> dict[str, float]:
    q = np.percentile(values, [10, 50, 90]) if values.size else [float("nan")] * 3
    return {"mean": float(values.mean()) if values.size else float("nan"), "p10": float(q[0]),
            "median": float(q[1]), "p90": float(q[2])}


# -- resampling ---------------------------------------------------------------------------------------
_SMOOTH, _LEVEL = 1.0, -0.1  # sigma of the signed-distance smoothing and the level kept (area-neutral)


def _signed_distance(shape: np.ndarray, pad: int) -> np.ndarray:
    """Smoothed signed distance to the boundary of ``shape`` (padded), positive inside, in pixels."""
    m = np.pad(np.asarray(shape, bool), pad)
    d = ndi.distance_transform_edt(m) - ndi.distance_transform_edt(~m)
    return ndi.gaussian_filter(d.astype(np.float32), _SMOOTH)


def _resample(shape: np.ndarray, angle: float, scale: float, out_shape: tuple[int, int],
              centre: str = "box", sdf: np.ndarray | None = None) -> np.ndarray:
    """``shape`` rotated by ``angle`` radians and scaled about its centre onto a grid of ``out_shape``.

    The smoothed signed distance is interpolated bilinearly and cut at an area-neutral level, so a
    rotated nucleus keeps its area, eccentricity and solidity (interpolating the 0/1 mask would add
    staircase bumps that lower solidity). ``centre`` ``"box"`` or ``"centroid"`` (sub-pixel) lands
    on the output's centre; ``sdf`` is ``_signed_distance(shape, 3)`` when already computed.
    """
    pad = 3
    if sdf is None:
        sdf = _signed_distance(shape, pad)
    if centre == "centroid":
        ys, xs = np.nonzero(shape)
        c_in = np.array([ys.mean() + pad, xs.mean() + pad])
    else:
        c_in = np.array([(shape.shape[0] - 1) / 2 + pad, (shape.shape[1] - 1) / 2 + pad])
    cos, sin = np.cos(angle), np.sin(angle)
    inverse = np.array([[cos, sin], [-sin, cos]]) / scale  # output offset from centre -> input offset
    c_out = np.array([(out_shape[0] - 1) / 2, (out_shape[1] - 1) / 2])
    out = ndi.affine_transform(sdf, inverse, offset=c_in - inverse @ c_out, output_shape=out_shape, order=1,
                               mode="constant", cval=-100.0)
    return out > _LEVEL


def transform_shape(shape: np.ndarray, angle: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """``shape`` rotated by ``angle`` radians (counter-clockwise) and scaled, as one cropped 4-connected piece.

    The identity returns ``shape`` unchanged; otherwise see :func:`_resample`. The result may be
    empty when a tiny shape is shrunk.
    """
    shape = np.asarray(shape, bool)
    if angle % (2 * np.pi) == 0.0 and scale == 1.0:
        return shape
    if scale <= 0:
        raise InputError(f"scale must be > 0, got {scale}")
    h, w = shape.shape
    cos, sin = abs(np.cos(angle)), abs(np.sin(angle))
    out_shape = (int(np.ceil(scale * (h * cos + w * sin))) + 6, int(np.ceil(scale * (h * sin + w * cos))) + 6)
    return largest_component(_resample(shape, angle, scale, out_shape))


# -- nearest real shape -------------------------------------------------------------------------------
def _centred(shape: np.ndarray, canvas: int, angle: float = 0.0, sdf: np.ndarray | None = None) -> np.ndarray:
    """``shape`` rotated by ``angle`` on a ``canvas`` x ``canvas`` grid, its centroid at the centre (sub-pixel)."""
    return _resample(np.asarray(shape, bool), angle, 1.0, (canvas, canvas), centre="centroid", sdf=sdf)


def nearest_real_iou(sampled: Sequence[np.ndarray], real: Sequence[np.ndarray], angles: int = 60,
                     mirror: bool = True, exclude_self: bool = False) -> np.ndarray:
    """For each sampled shape, the best IoU with any real shape after centring, over rotations and mirroring.

    Real shapes are tried at ``angles`` rotations evenly spaced over 360 degrees (and mirrored when
    ``mirror``), so a rotated or flipped copy of a real nucleus scores close to 1 while a novel shape
    scores like two different real nuclei do. ``exclude_self`` (sampled is real, same order) skips
    each shape's own variants: the leave-one-out baseline of how alike distinct real nuclei are.
    """
    if angles < 1:
        raise InputError(f"angles must be >= 1, got {angles}")
    if exclude_self and len(sampled) != len(real):
        raise InputError("exclude_self needs the sampled shapes to be the real shapes, in the same order")
    if not len(real) or not len(sampled):
        raise InputError("nearest_real_iou needs at least one real and one sampled shape")
    n = _IOU_CANVAS * _IOU_CANVAS
    variants, owner = [], []
    for k, shape in enumerate(real):
        for flip in ((False, True) if mirror else (False,)):
            base = np.asarray(shape[:, ::-1] if flip else shape, bool)
            sdf = _signed_distance(base, 3)
            for a in range(angles):
                variants.append(_centred(base, _IOU_CANVAS, 2 * np.pi * a / angles, sdf).reshape(n))
                owner.append(k)
    real_mat = np.asarray(variants, dtype=np.float32)
    real_area = real_mat.sum(1)
    owner_arr = np.asarray(owner)
    best = np.zeros(len(sampled))
    chunk = 256
    for start in range(0, len(sampled), chunk):
        part = sampled[start:start + chunk]
        mat = np.asarray([_centred(np.asarray(s, bool), _IOU_CANVAS).reshape(n) for s in part], dtype=np.float32)
        inter = mat @ real_mat.T
        iou = inter / (mat.sum(1)[:, None] + real_area[None, :] - inter)
        if exclude_self:
            rows = np.arange(start, start + len(part))
            iou[owner_arr[None, :] == rows[:, None]] = -1.0
        best[start:start + len(part)] = iou.max(1)
    return best


# -- the report ---------------------------------------------------------------------------------------
def sampler_report(sampled: Sequence[np.ndarray], real: Sequence[np.ndarray], angles: int = 60,
                   copy_iou: float = 0.95) -> dict[str, Any]:
    """JSON-able comparison of sampled with real shapes: per-statistic summaries and distances, nearest-real IoU.

    ``nearest_iou`` summarises :func:`nearest_real_iou` of the samples (``copies``: the fraction
    above ``copy_iou``, near-copies of one real nucleus); ``real_loo_iou`` is the same for each real
    shape against the other real ones: distinct real nuclei are alike too (smooth blobs), so this
    is the level a sampler of novel but realistic shapes should reach, and copies lie well above it.
    """
    real_stats, samp_stats = shape_stats(real), shape_stats(sampled)
    report: dict[str, Any] = {"n_real": len(real), "n_sampled": len(sampled), "stats": {}}
    for key in STATS:
        report["stats"][key] = {"real": _summary(real_stats[key]), "sampled": _summary(samp_stats[key]),
                                **distribution_distance(real_stats[key], samp_stats[key])}
    iou = nearest_real_iou(sampled, real, angles=angles)
    loo = nearest_real_iou(real, real, angles=angles, exclude_self=True) if len(real) > 1 else np.zeros(0)
    report["copy_iou"] = copy_iou
    report["nearest_iou"] = {**_summary(iou), "copies": float((iou > copy_iou).mean())}
    report["real_loo_iou"] = {**_summary(loo), "copies": float((loo > copy_iou).mean()) if loo.size else float("nan")}
    return report
