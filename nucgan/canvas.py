"""The placement engine behind :func:`nucgan.place`: a growing label image and the tests a new mask must pass.

A :class:`Canvas` drops shapes one at a time at random valid anchors (top-left corners), then, when
random tries fail, searches every position. Three ways to place:

- *gap* (``gap >= 0``, ``overlap == 0``): a new mask keeps more than ``gap`` px (chessboard) from all;
- *overlap*: a mask may cover up to ``overlap`` of its area with earlier ones, each keeping enough of
  itself in one piece;
- *touching* (``touching`` a fraction): masks keep 1 px apart, except that, while fewer than that
  fraction of the placed masks touch another, the next one is put against a random earlier mask
  (its pixels 8-adjacent, never overlapping): distinct ids that touch, as in real tissue.

With ``inner`` (r0, r1, c0, c1), the canvas is padded around the image and a mask only needs one
pixel inside the image, so cropping to ``inner`` cuts masks at the border as a real crop does.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage as ndi

from nucgan.shapes import FOUR

_FIRST = 8  # random anchors tried one by one first (on an open canvas the first fits)
_BATCH = 256  # random anchors tried at once after that
_ROUNDS = 2  # random batches before the exact search over every position
_CHECKED = 64  # overlap mode: exact candidates checked for the earlier masks' conditions
_CONTACTS = 64  # touching: contact candidates tried per partner
_PARTNERS = 4  # touching: partners tried before placing the mask apart instead


class Canvas:
    """The growing layout: labels, the pixels a new mask may not cover, and per-mask bookkeeping."""

    def __init__(self, inside: np.ndarray, gap: int, overlap: float, rng: np.random.Generator,
                 inner: tuple[int, int, int, int] | None = None, touching: float | None = None) -> None:
        self.inside, self.overlap, self.rng = inside, overlap, rng
        self.touching = touching
        self.gap = 1 if touching is not None else gap
        H, W = inside.shape
        self.inner = inner if inner is not None else (0, H, 0, W)
        self.labels = np.zeros(inside.shape, dtype=np.int32)
        self.blocked = ~inside  # gap mode: also every pixel within `gap` of a placed mask
        self.occupied = ~inside if touching is not None else None  # touching: outside or covered
        self.free = int(inside.sum())
        self.boxes: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]  # per id: r0, r1, c0, c1
        self.areas: list[int] = [0]  # per id: area when placed
        self.touches: list[bool] = [False]  # per id: touches another (touching mode)
        self.n_touching = 0

    def place_all(self, shapes: list[np.ndarray]) -> int:
        """Place each shape where it fits; returns how many fitted nowhere."""
        failed = 0
        for shape in shapes:
            pos = self._where(shape)
            if pos is None:
                failed += 1
            else:
                self._paint(shape, *pos)
        return failed

    # -- choosing a position ------------------------------------------------------------------------
    def _where(self, shape: np.ndarray) -> tuple[int, int] | None:
        if self.touching is None:
            return self._find(shape, self.blocked)
        placed = len(self.areas) - 1
        if placed and self.n_touching < self.touching * (placed + 1):
            return self._attach(shape) or self._find(shape, self.blocked) or self._find(shape, self.occupied)
        return self._find(shape, self.blocked) or self._attach(shape) or self._find(shape, self.occupied)

    def _anchor_range(self, h: int, w: int) -> tuple[int, int, int, int] | None:
        """Rows r0..r1 and columns c0..c1 (inclusive) of anchors whose box meets the image."""
        H, W = self.labels.shape
        a0, a1, b0, b1 = self.inner
        r0, r1 = max(0, a0 - h + 1), min(H - h, a1 - 1)
        c0, c1 = max(0, b0 - w + 1), min(W - w, b1 - 1)
        return (r0, r1, c0, c1) if r0 <= r1 and c0 <= c1 else None

    def _meets_image(self, shape: np.ndarray, rs: np.ndarray, cs: np.ndarray) -> np.ndarray:
        """Whether the shape at anchors (rs, cs) has a pixel inside the image (all true without padding)."""
        a0, a1, b0, b1 = self.inner
        h, w = shape.shape
        out = (rs >= a0) & (rs + h <= a1) & (cs >= b0) & (cs + w <= b1)  # wholly inside: surely
        rest = np.flatnonzero(~out)
        if rest.size:
            sat = np.zeros((h + 1, w + 1), np.int64)
            sat[1:, 1:] = shape.cumsum(0).cumsum(1)
            r, c = rs[rest], cs[rest]
            y0, y1 = np.minimum(np.maximum(a0 - r, 0), h), np.minimum(np.maximum(a1 - r, 0), h)
            x0, x1 = np.minimum(np.maximum(b0 - c, 0), w), np.minimum(np.maximum(b1 - c, 0), w)
            out[rest] = (sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]) > 0
        return out

    def _find(self, shape: np.ndarray, blocked: np.ndarray) -> tuple[int, int] | None:
        """A uniformly random valid anchor for ``shape`` against ``blocked``, or None when none is found.

        Random anchors first (a few one by one, since on an open canvas the first fits, then in
        batches), only those whose probe pixel is free, a superset of the valid ones so the first
        valid hit stays uniform; then the exact search.
        """
        h, w = shape.shape
        bounds = self._anchor_range(h, w)
        if bounds is None:
            return None
        r0, r1, c0, c1 = bounds
        ys, xs = np.nonzero(shape)
        py, px = int(ys[len(ys) // 2]), int(xs[len(xs) // 2])  # one pixel of the shape, checked first
        if self.overlap == 0:  # one anchor at a time first: on an open canvas the first one fits
            a0, a1, b0, b1 = self.inner
            rows, cols = self.rng.integers(r0, r1 + 1, _FIRST).tolist(), self.rng.integers(c0, c1 + 1, _FIRST).tolist()
            for r, c in zip(rows, cols):
                if blocked[r + py, c + px] or (blocked[r:r + h, c:c + w] & shape).any():
                    continue
                if (r >= a0 and r + h <= a1 and c >= b0 and c + w <= b1) or \
                        self._meets_image(shape, np.array([r]), np.array([c]))[0]:
                    return r, c
        windows = sliding_window_view(blocked, (h, w))
        occ = sliding_window_view(self.labels, (h, w)) if self.overlap > 0 else None
        limit = int(np.floor(self.overlap * shape.sum()))
        for batch in ([_BATCH] * _ROUNDS):
            rs = self.rng.integers(r0, r1 + 1, batch)
            cs = self.rng.integers(c0, c1 + 1, batch)
            keep = ~blocked[rs + py, cs + px]
            rs, cs = rs[keep], cs[keep]
            if not rs.size:
                continue
            ok = ~(windows[rs, cs] & shape).any(axis=(1, 2)) & self._meets_image(shape, rs, cs)
            if occ is not None:
                cand = np.flatnonzero(ok)
                if cand.size:
                    ok[cand[((occ[rs[cand], cs[cand]] > 0) & shape).sum(axis=(1, 2)) > limit]] = False
            for k in np.flatnonzero(ok):
                if occ is None or self._overlap_ok(shape, int(rs[k]), int(cs[k])):
                    return int(rs[k]), int(cs[k])
        if self.overlap > 0:
            return self._exact(shape, limit, bounds)
        return self._exhaustive(shape, blocked, windows, bounds)

    def _exhaustive(self, shape: np.ndarray, blocked: np.ndarray, windows: np.ndarray,
                    bounds: tuple[int, int, int, int]) -> tuple[int, int] | None:
        """Gap mode: check every anchor whose probe pixels are all free, in random order (exact, uniform)."""
        r0, r1, c0, c1 = bounds
        free = ~blocked
        cand = np.ones((r1 - r0 + 1, c1 - c0 + 1), dtype=bool)
        for y, x in _probes(shape):
            cand &= free[r0 + y:r1 + 1 + y, c0 + x:c1 + 1 + x]
        flat = np.flatnonzero(cand)
        if not flat.size:
            return None
        flat = flat[self.rng.permutation(flat.size)]
        h, w = shape.shape
        chunk = max(64, 2_000_000 // (h * w))
        for start in range(0, flat.size, chunk):
            rs, cs = np.divmod(flat[start:start + chunk], c1 - c0 + 1)
            rs, cs = rs + r0, cs + c0
            ok = np.flatnonzero(~(windows[rs, cs] & shape).any(axis=(1, 2)) & self._meets_image(shape, rs, cs))
            if ok.size:
                return int(rs[ok[0]]), int(cs[ok[0]])
        return None

    def _attach(self, shape: np.ndarray) -> tuple[int, int] | None:
        """Touching mode: an anchor that puts ``shape`` against a random earlier mask, covering nothing."""
        placed = len(self.areas) - 1
        if not placed:
            return None
        h, w = shape.shape
        bounds = self._anchor_range(h, w)
        if bounds is None:
            return None
        r_lo, r_hi, c_lo, c_hi = bounds
        ey, ex = np.nonzero(shape & ~_erode4(shape))
        windows = sliding_window_view(self.occupied, (h, w))
        H, W = self.labels.shape
        for partner in self.rng.integers(1, placed + 1, _PARTNERS).tolist():
            r0, r1, c0, c1 = self.boxes[partner]
            a0, b0 = max(r0 - 1, 0), max(c0 - 1, 0)
            win = self.labels[a0:min(r1 + 1, H), b0:min(c1 + 1, W)]
            mine = win == partner
            ring = dilate(mine, 1)[1:-1, 1:-1] & ~self.occupied[a0:a0 + win.shape[0], b0:b0 + win.shape[1]]
            ry, rx = np.nonzero(ring)
            if not ry.size:
                continue
            i = self.rng.integers(ry.size, size=_CONTACTS)
            j = self.rng.integers(ey.size, size=_CONTACTS)
            rs, cs = ry[i] + a0 - ey[j], rx[i] + b0 - ex[j]
            keep = (rs >= r_lo) & (rs <= r_hi) & (cs >= c_lo) & (cs <= c_hi)
            rs, cs = rs[keep], cs[keep]
            if not rs.size:
                continue
            ok = np.flatnonzero(~(windows[rs, cs] & shape).any(axis=(1, 2)) & self._meets_image(shape, rs, cs))
            if ok.size:
                return int(rs[ok[0]]), int(cs[ok[0]])
        return None

    def _exact(self, shape: np.ndarray, limit: int, bounds: tuple[int, int, int, int]) -> tuple[int, int] | None:
        """Overlap mode: a random anchor among all that keep inside the region and under the overlap (FFT)."""
        from scipy.signal import fftconvolve

        r0, r1, c0, c1 = bounds
        kernel = shape[::-1, ::-1].astype(np.float32)
        hits = fftconvolve(self.blocked.astype(np.float32), kernel, mode="valid")
        covered = fftconvolve((self.labels > 0).astype(np.float32), kernel, mode="valid")
        valid = np.zeros_like(hits, dtype=bool)
        valid[r0:r1 + 1, c0:c1 + 1] = True
        valid &= (hits < 0.5) & (covered < limit + 0.5)
        flat = np.flatnonzero(valid)
        cols = valid.shape[1]
        for k in self.rng.permutation(flat.size)[:_CHECKED]:
            r, c = divmod(int(flat[k]), cols)
            if self._meets_image(shape, np.array([r]), np.array([c]))[0] and self._overlap_ok(shape, r, c):
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

    # -- painting -----------------------------------------------------------------------------------
    def _paint(self, shape: np.ndarray, r: int, c: int) -> None:
        h, w = shape.shape
        new_id = len(self.areas)
        self.labels[r:r + h, c:c + w][shape] = new_id
        self.boxes.append((r, r + h, c, c + w))
        self.areas.append(int(shape.sum()))
        if self.overlap > 0:
            return
        g = self.gap
        grown = dilate(shape, g)
        H, W = self.labels.shape
        r0, c0 = r - g, c - g
        a0, b0 = max(r0, 0), max(c0, 0)
        a1, b1 = min(r0 + grown.shape[0], H), min(c0 + grown.shape[1], W)
        cut = grown[a0 - r0:a1 - r0, b0 - c0:b1 - c0]
        if self.occupied is not None:
            self.occupied[r:r + h, c:c + w] |= shape
            near = self.labels[a0:a1, b0:b1][cut]  # gap is 1 here: the 8-neighbourhood
            near = near[(near > 0) & (near != new_id)]
            others = np.unique(near) if near.size else near
            self.touches.append(bool(others.size))
            if others.size:
                self.n_touching += 1
                for i in others.tolist():
                    if not self.touches[i]:
                        self.touches[i] = True
                        self.n_touching += 1
        self.blocked[a0:a1, b0:b1] |= cut


def dilate(mask: np.ndarray, g: int) -> np.ndarray:
    """``mask`` padded by ``g`` and dilated by a (2g + 1)^2 square: every pixel within chessboard distance g."""
    if g <= 0:
        return mask
    out = np.zeros((mask.shape[0] + 2 * g, mask.shape[1] + 2 * g), bool)
    out[g:-g, g:-g] = mask
    for axis in (0, 1):
        src = out.copy()
        n = out.shape[axis]
        for k in range(1, g + 1):
            if axis == 0:
                out[k:] |= src[:n - k]
                out[:n - k] |= src[k:]
            else:
                out[:, k:] |= src[:, :n - k]
                out[:, :n - k] |= src[:, k:]
    return out


def _erode4(mask: np.ndarray) -> np.ndarray:
    """``mask`` eroded by the 4-neighbourhood (pixels outside the array count as background)."""
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[0] = out[-1] = False
    out[:, 0] = out[:, -1] = False
    return out


def _probes(shape: np.ndarray, count: int = 24) -> list[tuple[int, int]]:
    """Up to ``count`` pixels of ``shape`` spread along its boundary, plus one inside: a quick necessary test."""
    edge = shape & ~ndi.binary_erosion(shape, structure=FOUR)
    ys, xs = np.nonzero(edge)
    order = np.argsort(np.arctan2(ys - ys.mean(), xs - xs.mean()), kind="stable")
    picked = order[np.linspace(0, len(order) - 1, min(count, len(order))).astype(int)]
    iy, ix = np.nonzero(shape)
    return [(int(ys[k]), int(xs[k])) for k in picked] + [(int(iy[len(iy) // 2]), int(ix[len(ix) // 2]))]
