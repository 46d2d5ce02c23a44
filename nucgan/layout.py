"""De novo layouts: place sampled nucleus shapes on a canvas, at a count or density, with a gap or an overlap.

:func:`place` draws shapes from a :class:`nucgan.Sampler` and drops them at uniformly random
positions (largest first, rejection sampling, then an exact search over all positions when random
tries fail), so that every mask lies whole inside the canvas and the region, and

- with ``overlap == 0``: two masks keep more than ``gap`` px apart in chessboard distance, i.e. at
  least ``gap`` background pixels between them in every direction (the layering gap's sense);
- with ``overlap > 0``: a new mask may cover at most that fraction of its own area with earlier
  masks and paints over them, and every earlier mask keeps at least ``1 - overlap`` of its area
  in one 4-connected piece (none vanishes or splits).

It never returns fewer masks than asked: when the layout is too crowded it raises InputError
saying how many were placed and what to change.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage as ndi

from nucgan.errors import InputError, NucganError
from nucgan.shapes import FOUR

if TYPE_CHECKING:
    from nucgan.interfaces import Sampler

DENSITY_AREA = 512 * 512  # --density counts masks per 512 x 512 px of region
_BATCH = 256  # random anchors tried at once
_ROUNDS = 2  # random batches before the exact search over every position
_CHECKED = 64  # overlap mode: exact candidates checked for the earlier masks' conditions


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
def place(sampler: "Sampler | str", size: int | tuple[int, int] = (512, 512), nuclei: int | None = None,
          density: float | None = None, gap: int | None = None, overlap: float = 0.0,
          region: Any = None, seed: int | None = None, redraws: int | None = None) -> np.ndarray:
    """An int32 label image (ids 1..N in placement order, largest shape first) of sampled shapes.

    Give ``nuclei`` (N per image) or ``density`` (masks per 512 x 512 px of the region, or of the
    image). ``gap`` (default 2; 0 when ``overlap`` > 0) or ``overlap`` as in the module doc; the two
    exclude each other. ``region``: bool mask of the canvas size or an image path (non-zero inside).
    A shape that fits nowhere is replaced by a fresh one at most ``redraws`` times (default
    max(10, N // 10)); past that, InputError. ``sampler`` may be a registered sampler name.
    """
    h, w = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise InputError(f"canvas size must be positive, got {h} x {w}")
    if isinstance(sampler, str):
        from nucgan.registry import create_sampler

        sampler = create_sampler(sampler)
    if not 0.0 <= overlap < 1.0:
        raise InputError(f"overlap must be a fraction in [0, 1), got {overlap}")
    if gap is None:
        gap = 0 if overlap > 0 else 2
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise InputError(f"gap must be an integer >= 0, got {gap!r}")
    if overlap > 0 and gap > 0:
        raise InputError(f"give a gap or an overlap, not both (gap {gap}, overlap {overlap}): overlapping masks "
                         f"cannot keep a gap")
    inside = _region(region, (h, w))
    n = _count(nuclei, density, int(inside.sum()), region is not None)
    check_capacity(n, h, w, int(gap), float(overlap), int(inside.sum()))
    rng = np.random.default_rng(seed)
    canvas = _Canvas(inside, int(gap), float(overlap), rng)
    shapes = _draw(sampler, n, rng)
    total = sum(int(s.sum()) for s in shapes)
    if total * (1 - overlap) > canvas.free:
        raise InputError(f"{_masks(n)} cover {total} px but the {'region' if region is not None else 'canvas'} has "
                         f"only {canvas.free} px; {_advice(density, overlap)}")
    missing = canvas.place_all(shapes)
    budget = max(10, n // 10) if redraws is None else int(redraws)
    used = 0
    while missing and used < budget:
        extra = _draw(sampler, min(missing, budget - used), rng)
        used += len(extra)
        missing = missing - len(extra) + canvas.place_all(extra)
    if missing:
        where = "region" if region is not None else "canvas"
        rule = f"overlap {overlap}" if overlap > 0 else f"gap {gap}"
        raise InputError(f"placed {n - missing} of {_masks(n)} on the {h} x {w} {where} with {rule}; {missing} more "
                         f"did not fit after {used} replacement shapes; {_advice(density, overlap)}")
    return canvas.labels


def capacity(h: int, w: int, gap: int, overlap: float, free: int | None = None) -> int:
    """An upper bound on how many masks fit on an h x w canvas (``free`` px usable), whatever their shapes.

    Gap mode: masks keep more than ``gap`` px apart (chessboard), so no two of their top-left pixels share a
    (gap + 1)^2 cell; overlap mode: every mask keeps at least one pixel of its own.
    """
    free = h * w if free is None else int(free)
    if overlap > 0 or gap == 0:
        return free
    step = gap + 1
    return min(free, -(-h // step) * -(-w // step))


def check_capacity(n: int, h: int, w: int, gap: int, overlap: float, free: int | None = None) -> None:
    """Refuse, before drawing any shape, a count that cannot fit on the canvas."""
    limit = capacity(h, w, gap, overlap, free)
    if n > limit:
        rule = f"overlap {overlap}" if overlap > 0 else f"gap {gap}"
        raise InputError(f"{_masks(n)} cannot fit on a {h} x {w} canvas with {rule}: at most {limit} masks fit "
                         f"(even of 1 px each); ask for fewer nuclei or a lower density, a smaller gap, "
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


def _draw(sampler: "Sampler", n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` shapes from ``sampler``, checked against the Sampler contract, largest first."""
    shapes = sampler.shapes(n, rng) if n else []
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


def _probes(shape: np.ndarray, count: int = 24) -> list[tuple[int, int]]:
    """Up to ``count`` pixels of ``shape`` spread along its boundary, plus one inside: a quick necessary test."""
    edge = shape & ~ndi.binary_erosion(shape, structure=FOUR)
    ys, xs = np.nonzero(edge)
    order = np.argsort(np.arctan2(ys - ys.mean(), xs - xs.mean()), kind="stable")
    picked = order[np.linspace(0, len(order) - 1, min(count, len(order))).astype(int)]
    iy, ix = np.nonzero(shape)
    return [(int(ys[k]), int(xs[k])) for k in picked] + [(int(iy[len(iy) // 2]), int(ix[len(ix) // 2]))]


class _Canvas:
    """The growing layout: labels, the pixels a new mask may not touch, and per-mask bookkeeping."""

    def __init__(self, inside: np.ndarray, gap: int, overlap: float, rng: np.random.Generator) -> None:
        self.inside, self.gap, self.overlap, self.rng = inside, gap, overlap, rng
        self.labels = np.zeros(inside.shape, dtype=np.int32)
        self.blocked = ~inside  # gap mode: also every pixel within `gap` of a placed mask
        self.free = int(inside.sum())
        self.boxes: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]  # per id: r0, r1, c0, c1
        self.areas: list[int] = [0]  # per id: area when placed

    def place_all(self, shapes: list[np.ndarray]) -> int:
        """Place each shape where it fits; returns how many fitted nowhere."""
        failed = 0
        for shape in shapes:
            pos = self._find(shape)
            if pos is None:
                failed += 1
            else:
                self._paint(shape, *pos)
        return failed

    def _find(self, shape: np.ndarray) -> tuple[int, int] | None:
        """A uniformly random valid anchor (top-left corner) for ``shape``, or None when none is found.

        Round 0 tries anchors anywhere; later rounds only anchors whose probe pixel is free (cheap to
        list, and a superset of the valid ones, so the first valid hit stays uniform); last comes
        the exact search.
        """
        h, w = shape.shape
        H, W = self.labels.shape
        if h > H or w > W:
            return None
        ys, xs = np.nonzero(shape)
        py, px = int(ys[len(ys) // 2]), int(xs[len(xs) // 2])  # one pixel of the shape, checked first
        windows = sliding_window_view(self.blocked, (h, w))
        occ = sliding_window_view(self.labels, (h, w)) if self.overlap > 0 else None
        limit = int(np.floor(self.overlap * shape.sum()))
        for _ in range(_ROUNDS):
            rs = self.rng.integers(0, H - h + 1, _BATCH)
            cs = self.rng.integers(0, W - w + 1, _BATCH)
            keep = ~self.blocked[rs + py, cs + px]
            rs, cs = rs[keep], cs[keep]
            if not rs.size:
                continue
            ok = ~(windows[rs, cs] & shape).any(axis=(1, 2))
            if occ is not None:
                cand = np.flatnonzero(ok)
                if cand.size:
                    ok[cand[((occ[rs[cand], cs[cand]] > 0) & shape).sum(axis=(1, 2)) > limit]] = False
            for k in np.flatnonzero(ok):
                if occ is None or self._overlap_ok(shape, int(rs[k]), int(cs[k])):
                    return int(rs[k]), int(cs[k])
        return self._exact(shape, limit) if self.overlap > 0 else self._exhaustive(shape, windows)

    def _exhaustive(self, shape: np.ndarray, windows: np.ndarray) -> tuple[int, int] | None:
        """Gap mode: check every anchor whose probe pixels are all free, in random order (exact, uniform)."""
        h, w = shape.shape
        H, W = self.labels.shape
        free = ~self.blocked
        cand = np.ones((H - h + 1, W - w + 1), dtype=bool)
        for y, x in _probes(shape):
            cand &= free[y:y + H - h + 1, x:x + W - w + 1]
        flat = np.flatnonzero(cand)
        if not flat.size:
            return None
        flat = flat[self.rng.permutation(flat.size)]
        chunk = max(64, 2_000_000 // (h * w))
        for start in range(0, flat.size, chunk):
            rs, cs = np.divmod(flat[start:start + chunk], W - w + 1)
            ok = np.flatnonzero(~(windows[rs, cs] & shape).any(axis=(1, 2)))
            if ok.size:
                return int(rs[ok[0]]), int(cs[ok[0]])
        return None

    def _exact(self, shape: np.ndarray, limit: int) -> tuple[int, int] | None:
        """Overlap mode: a random anchor among all that keep inside the region and under the overlap (FFT)."""
        from scipy.signal import fftconvolve

        kernel = shape[::-1, ::-1].astype(np.float32)
        hits = fftconvolve(self.blocked.astype(np.float32), kernel, mode="valid")
        valid = hits < 0.5
        if self.overlap > 0:
            covered = fftconvolve((self.labels > 0).astype(np.float32), kernel, mode="valid")
            valid &= covered < limit + 0.5
        flat = np.flatnonzero(valid)
        cols = valid.shape[1]
        for k in self.rng.permutation(flat.size)[:_CHECKED]:
            r, c = divmod(int(flat[k]), cols)
            if self._overlap_ok(shape, r, c):
                return r, c
        return None

    def _overlap_ok(self, shape: np.ndarray, r: int, c: int) -> bool:
        """Would painting ``shape`` at (r, c) leave every earlier mask big enough and in one piece?"""
        h, w = shape.shape
        under = self.labels[r:r + h, c:c + w][shape]
        ids, lost = np.unique(under[under > 0], return_counts=True)
        for i, n_lost in zip(ids.tolist(), lost.tolist()):
            r0, r1, c0, c1 = self.boxes[i]
            mine = self.labels[r0:r1, c0:c1] == i
            remaining = int(mine.sum()) - n_lost
            if remaining < (1 - self.overlap) * self.areas[i] or remaining < 1:
                return False
            cover = np.zeros_like(mine)
            a0, a1, b0, b1 = max(r, r0), min(r + h, r1), max(c, c0), min(c + w, c1)
            cover[a0 - r0:a1 - r0, b0 - c0:b1 - c0] = shape[a0 - r:a1 - r, b0 - c:b1 - c]
            if ndi.label(mine & ~cover, structure=FOUR)[1] != 1:
                return False
        return True

    def _paint(self, shape: np.ndarray, r: int, c: int) -> None:
        h, w = shape.shape
        new_id = len(self.areas)
        self.labels[r:r + h, c:c + w][shape] = new_id
        self.boxes.append((r, r + h, c, c + w))
        self.areas.append(int(shape.sum()))
        if self.overlap > 0:
            return
        g = self.gap
        grown = ndi.binary_dilation(np.pad(shape, g), structure=np.ones((2 * g + 1, 2 * g + 1), bool)) if g else shape
        H, W = self.labels.shape
        r0, c0 = r - g, c - g
        a0, b0 = max(r0, 0), max(c0, 0)
        a1, b1 = min(r0 + grown.shape[0], H), min(c0 + grown.shape[1], W)
        self.blocked[a0:a1, b0:b1] |= grown[a0 - r0:a1 - r0, b0 - c0:b1 - c0]
