"""De novo layouts: place sampled nucleus shapes on a canvas, at a count or density, with a gap, an overlap or touching.

:func:`place` draws shapes from a :class:`nucgan.Sampler` and drops them at uniformly random
positions (largest first, rejection sampling, then an exact search over all positions when random
tries fail; the engine is :mod:`nucgan.canvas`), inside the region, and

- with ``overlap == 0``: two masks keep more than ``gap`` px apart in chessboard distance, i.e. at
  least ``gap`` background pixels between them in every direction (the layering gap's sense);
- with ``overlap > 0``: a new mask may cover at most that fraction of its own area with earlier
  masks and paints over them, and every earlier mask keeps at least ``1 - overlap`` of its area
  in one 4-connected piece (none vanishes or splits);
- with a :class:`nucgan.SceneSampler` (a layout model) and no gap or overlap asked for: the scene's
  fraction of masks touch another (8-neighbourhood, distinct ids, no overlap), the rest keep 1 px
  apart, and masks may run off the image border (``border="cut"``) as in a real crop, each keeping
  at least one pixel and one 4-connected piece inside.

Every mask lies whole inside the canvas unless ``border="cut"``. It never returns fewer masks than
asked: when the layout is too crowded it raises InputError saying how many were placed and what to
change, and a count that cannot fit is refused before any shape is drawn.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage as ndi

from nucgan.errors import InputError, NucganError
from nucgan.shapes import FOUR

if TYPE_CHECKING:
    from nucgan.interfaces import Sampler

DENSITY_AREA = 512 * 512  # --density counts masks per 512 x 512 px of region


# -- regions ------------------------------------------------------------------------------------------
def read_placement_mask(path: str | os.PathLike[str], shape: tuple[int, int] | None = None,
                        resize: bool = False) -> np.ndarray:
    """A bool placement mask from an image file: non-zero pixels are where nuclei may go (transparent: not).

    ``shape`` (H, W) is the canvas it must match; a different size is an error unless ``resize``,
    which scales the drawing to the canvas (nearest neighbour) so a sketch drawn at any size works.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such region image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # image plugins warn about themselves while probing a bad file
            if path.suffix.lower() in (".tif", ".tiff"):
                import tifffile

                arr = np.asarray(tifffile.imread(str(path)))
            else:
                from skimage import io as skio

                arr = np.asarray(skio.imread(str(path)))
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable file
        raise InputError(f"{path}: cannot read region image: {type(exc).__name__}: {exc}") from None
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):  # grey + alpha or RGBA: transparent pixels are outside
        mask = arr[..., :-1].any(-1) & (arr[..., -1] > 0)
    elif arr.ndim == 3 and arr.shape[-1] == 3:
        mask = arr.any(-1)
    elif arr.ndim == 2:
        mask = arr != 0
    else:
        raise InputError(f"{path}: a region image must be 2-D (grey, RGB or RGBA), got shape {arr.shape}")
    if not mask.any():
        raise InputError(f"{path}: the region is empty (no non-zero, non-transparent pixel)")
    if shape is not None and mask.shape != tuple(shape):
        if not resize:
            raise InputError(f"{path}: region is {mask.shape[0]} x {mask.shape[1]} px but the canvas is "
                             f"{shape[0]} x {shape[1]}; draw it at the canvas size or ask to resize it")
        from skimage.transform import resize as sk_resize

        mask = sk_resize(mask, tuple(shape), order=0, anti_aliasing=False, preserve_range=True).astype(bool)
        if not mask.any():
            raise InputError(f"{path}: the region vanishes when scaled to {shape[0]} x {shape[1]} px")
    return mask


def _region(region: Any, shape: tuple[int, int]) -> np.ndarray:
    if region is None:
        return np.ones(shape, dtype=bool)
    if isinstance(region, (str, os.PathLike)):
        return read_placement_mask(region, shape)
    arr = np.asarray(region)
    if arr.shape != shape:
        raise InputError(f"region mask has shape {arr.shape}, the canvas is {shape}")
    if arr.dtype != bool:
        arr = arr != 0
    if not arr.any():
        raise InputError("region mask is empty")
    return arr


# -- placing ------------------------------------------------------------------------------------------
BORDERS = ("cut", "whole")


def place(sampler: "Sampler | str", size: int | tuple[int, int] = (512, 512), nuclei: int | None = None,
          density: float | None = None, gap: int | None = None, overlap: float = 0.0,
          placement_mask: Any = None, seed: int | None = None, redraws: int | None = None,
          border: str | None = None, region: Any = None) -> np.ndarray:
    """An int32 label image (ids 1..N in placement order, largest shape first) of sampled shapes.

    Give ``nuclei`` (N per image) or ``density`` (masks per 512 x 512 px of the region, or of the
    image); a :class:`nucgan.SceneSampler` (a layout model, e.g. ``tissue``) needs neither: it draws
    the image's density, size and touching fraction itself. ``gap`` or ``overlap`` as in the module
    doc; without either, a scene sampler's layout makes its scene's fraction of nuclei touch (the
    others keep 1 px apart), any other sampler keeps ``gap`` 2. ``border`` ``"cut"`` lets nuclei
    run off the image like a real crop's (the default for a scene sampler), ``"whole"`` keeps every
    one whole inside. ``placement_mask``: a bool mask of the canvas size or an image path; nuclei go
    only where it is non-zero (``region=`` is its deprecated name, removed in 0.3).
    A shape that fits nowhere is replaced by a fresh one at most ``redraws`` times (default
    max(10, N // 10)); past that, InputError. ``sampler`` may be a registered sampler name.
    """
    from nucgan.canvas import Canvas

    if region is not None:
        import warnings

        warnings.warn("place(region=...) is deprecated; use placement_mask=", DeprecationWarning, stacklevel=2)
        placement_mask = region if placement_mask is None else placement_mask
    region = placement_mask
    from nucgan.interfaces import SceneSampler

    h, w = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise InputError(f"canvas size must be positive, got {h} x {w}")
    if isinstance(sampler, str):
        from nucgan.registry import create_sampler

        sampler = create_sampler(sampler)
    scenes = isinstance(sampler, SceneSampler)
    if not 0.0 <= overlap < 1.0:
        raise InputError(f"overlap must be a fraction in [0, 1), got {overlap}")
    touching = scenes and gap is None and overlap == 0
    if gap is None:
        gap = 0 if overlap > 0 else (1 if touching else 2)
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise InputError(f"gap must be an integer >= 0, got {gap!r}")
    if overlap > 0 and gap > 0:
        raise InputError(f"give a gap or an overlap, not both (gap {gap}, overlap {overlap}): overlapping masks "
                         f"cannot keep a gap")
    border = border or ("cut" if scenes else "whole")
    if border not in BORDERS:
        raise InputError(f"border must be one of {', '.join(BORDERS)}, got {border!r}")
    inside = None if region is None else _region(region, (h, w))  # no canvas-sized array before the checks
    free = h * w if inside is None else int(inside.sum())
    where = "region" if region is not None else "canvas"
    min_area = max(1, int(getattr(sampler, "min_area", 1)))
    rng = np.random.default_rng(seed)
    scene = None
    if scenes:
        if nuclei is not None and density is not None:
            _count(nuclei, density, free, region is not None)  # the usual error
        asked = _count(nuclei, density, free, region is not None) if (nuclei, density) != (None, None) else None
        scene = sampler.scene(rng, density=None if asked is None else max(asked, 1) * DENSITY_AREA / free,
                              size=(h, w))
        n = asked if asked is not None else max(1, int(round(scene.density * free / DENSITY_AREA)))
    else:
        n = _count(nuclei, density, free, region is not None)
    check_capacity(n, h, w, 0 if touching else int(gap), float(overlap), free,
                   min_area=min_area if border == "whole" else 1)
    if scene is not None and n * scene.mean_area * (1 - overlap) > free * (1.5 if border == "cut" else 1.0):
        raise InputError(f"{_masks(n)} of about {scene.mean_area:.0f} px each would cover "
                         f"{n * scene.mean_area * (1 - overlap):.0f} px but the {h} x {w} {where} has only {free} px; "
                         f"{_advice(density, overlap)}")
    shapes = _draw(sampler, n, rng, scene)
    pad = max((max(s.shape) for s in shapes), default=1) if border == "cut" else 0
    if inside is None:
        padded = np.ones((h + 2 * pad, w + 2 * pad), dtype=bool)
    else:
        padded = np.pad(inside, pad, mode="edge") if pad else inside
    canvas = Canvas(padded, int(gap), float(overlap), rng, inner=(pad, pad + h, pad, pad + w),
                    touching=scene.touching if touching and scene is not None else None)
    total = sum(int(s.sum()) for s in shapes)
    room = canvas.free if border == "cut" else free
    if total * (1 - overlap) > room:
        raise InputError(f"{_masks(n)} cover {total} px but the {where} has "
                         f"only {room} px{' (with the border strip nuclei may run into)' if pad else ''}; "
                         f"{_advice(density, overlap)}")
    missing = canvas.place_all(shapes)
    budget = max(10, n // 10) if redraws is None else int(redraws)
    used = 0
    while missing and used < budget:
        extra = _draw(sampler, min(missing, budget - used), rng, scene)
        used += len(extra)
        missing = missing - len(extra) + canvas.place_all(extra)
    if missing:
        rule = f"overlap {overlap}" if overlap > 0 else ("touching layout" if canvas.touching is not None
                                                          else f"gap {gap}")
        raise InputError(f"placed {n - missing} of {_masks(n)} on the {h} x {w} {where} with {rule}; {missing} more "
                         f"did not fit after {used} replacement shapes; {_advice(density, overlap)}")
    if not pad:
        return canvas.labels
    return _crop(canvas.labels, canvas.boxes, pad, h, w)


def _crop(labels: np.ndarray, boxes: list[tuple[int, int, int, int]], pad: int, h: int, w: int) -> np.ndarray:
    """The image part of a padded layout; a nucleus the border cuts into pieces keeps its largest piece."""
    out = np.ascontiguousarray(labels[pad:pad + h, pad:pad + w])
    for i, (r0, r1, c0, c1) in enumerate(boxes[1:], start=1):
        a0, a1, b0, b1 = max(r0 - pad, 0), min(r1 - pad, h), max(c0 - pad, 0), min(c1 - pad, w)
        if (a0, b0) != (r0 - pad, c0 - pad) or (a1, b1) != (r1 - pad, c1 - pad):  # cut by the border
            win = out[a0:a1, b0:b1]
            lab, count = ndi.label(win == i, structure=FOUR)
            if count > 1:
                sizes = np.bincount(lab.ravel())
                sizes[0] = 0
                win[(lab > 0) & (lab != int(np.argmax(sizes)))] = 0
    return out


def capacity(h: int, w: int, gap: int, overlap: float, free: int | None = None, min_area: int = 1) -> int:
    """An upper bound on how many masks of at least ``min_area`` px fit on an h x w canvas (``free`` px usable).

    Gap mode: masks keep more than ``gap`` px apart (chessboard), so no two of their top-left pixels share a
    (gap + 1)^2 cell, and their pixels are disjoint; overlap mode: every mask keeps at least
    ``(1 - overlap) * min_area`` pixels of its own (and at least one).
    """
    free = h * w if free is None else int(free)
    own = max(1.0, (1 - overlap) * max(1, int(min_area)))
    limit = int(free // own)
    if overlap > 0 or gap == 0:
        return limit
    step = gap + 1
    return min(limit, -(-h // step) * -(-w // step))


def check_capacity(n: int, h: int, w: int, gap: int, overlap: float, free: int | None = None,
                   min_area: int = 1) -> None:
    """Refuse, before drawing any shape, a count that cannot fit on the canvas (masks of >= ``min_area`` px)."""
    limit = capacity(h, w, gap, overlap, free, min_area)
    if n > limit:
        rule = f"overlap {overlap}" if overlap > 0 else f"gap {gap}"
        size = "1 px" if min_area <= 1 else f"the sampler's smallest, {int(min_area)} px"
        raise InputError(f"{_masks(n)} cannot fit on a {h} x {w} canvas with {rule}: at most {limit} masks fit "
                         f"(even of {size} each); ask for fewer nuclei or a lower density, a smaller gap, "
                         f"or a larger canvas")


def _advice(density: float | None, overlap: float) -> str:
    fewer = "lower the density" if density is not None else "ask for fewer nuclei"
    spacing = "allow more overlap" if overlap > 0 else "use a smaller gap (or allow overlap)"
    return f"{fewer}, {spacing}, or a larger canvas or region"


def _masks(n: int) -> str:
    return f"{n} mask" if n == 1 else f"{n} masks"


def _count(nuclei: int | None, density: float | None, area: int, has_region: bool) -> int:
    if (nuclei is None) == (density is None):
        raise InputError("give either a number of nuclei or a density (masks per 512 x 512), not both or neither")
    if nuclei is not None:
        if isinstance(nuclei, bool) or not isinstance(nuclei, (int, np.integer)) or nuclei < 0:
            raise InputError(f"nuclei must be an integer >= 0, got {nuclei!r}")
        return int(nuclei)
    if not np.isfinite(density) or density <= 0:
        raise InputError(f"density must be a positive number of masks per 512 x 512 px, got {density!r}")
    n = int(round(density * area / DENSITY_AREA))
    if n == 0:
        where = "region" if has_region else "canvas"
        raise InputError(f"density {density} per 512 x 512 on a {where} of {area} px gives no mask at all; "
                         f"raise the density or ask for a number of nuclei")
    return n


def _draw(sampler: "Sampler", n: int, rng: np.random.Generator, scene: Any = None) -> list[np.ndarray]:
    """``n`` shapes from ``sampler`` (of ``scene``'s size), checked against the Sampler contract, largest first."""
    if not n:
        shapes = []
    else:
        shapes = sampler.shapes(n, rng, scene) if scene is not None else sampler.shapes(n, rng)
    name = type(sampler).__name__
    if len(shapes) != n:
        raise NucganError(f"sampler {name} returned {len(shapes)} shapes, {n} asked")
    out = []
    for k, s in enumerate(shapes):
        s = np.asarray(s)
        if s.ndim != 2 or s.dtype != bool or not s.any():
            raise NucganError(f"sampler {name}: shape {k} is not a non-empty 2-D bool mask "
                              f"(shape {s.shape}, dtype {s.dtype})")
        out.append(s)
    out.sort(key=lambda s: -int(s.sum()))
    return out
