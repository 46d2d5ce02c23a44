"""Instance labels <-> binary mask channels: label checks, the gap graph, ``layer`` and ``unlayer``.

Two masks conflict when some pixel of one lies within chessboard distance ``gap`` of some pixel of
the other; masks sharing a channel must not conflict, so each channel keeps at least ``gap``
background pixels between its masks in every direction. A layerer plugin colours the *gap graph*
(one vertex per instance, one edge per conflicting pair) and paints the result with
:meth:`GapGraph.paint`; the graph is exact, so every layering built on it is lossless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage as ndi

from nucgan.errors import InputError, LayeringError

if TYPE_CHECKING:
    from nucgan.interfaces import Layerer

DEFAULT_METHOD = "coloring"
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity: the connectivity of an instance and of unlayer
_LISTED = 12  # ids named in one error message before "... and N more"


# -- checks -------------------------------------------------------------------------------------------
def check_labels(labels: Any, what: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 2-D array of non-negative integer ids, or raise InputError saying why not."""
    arr = np.asarray(labels)
    if arr.dtype == bool:
        raise InputError(f"{what}: got a bool mask, not instance labels; give each nucleus its own integer id "
                         "(e.g. skimage.measure.label(mask))")
    if arr.dtype.kind not in "iu":
        raise InputError(f"{what}: instance ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        rgb = arr.ndim == 3 and arr.shape[-1] in (3, 4)
        hint = " (an RGB picture? labels need one integer id per pixel)" if rgb else ""
        raise InputError(f"{what}: expected a 2-D label image, got shape {arr.shape}{hint}")
    if arr.size == 0:
        raise InputError(f"{what}: empty label image (shape {arr.shape})")
    if arr.dtype.kind == "i" and arr.min() < 0:
        raise InputError(f"{what}: negative ids (minimum {arr.min()}); 0 is background and instances are positive")
    return arr


def check_channels_gap(channels: Any, gap: Any) -> tuple[int, int]:
    """Validate the layering settings: ``channels >= 1`` and ``gap >= 1`` (integers)."""
    for name, value, low in (("channels", channels, 1), ("gap", gap, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            why = (" (with gap 0 two touching masks could share a channel and could not be told apart)"
                   if name == "gap" else "")
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}{why}")
    return int(channels), int(gap)


def check_gap_size(gap: int, shape: tuple[int, ...]) -> None:
    """Refuse, before allocating, a gap far past the image: at gap >= its longer side every pair of masks
    conflicts anyway, while the gap graph pads the image by ``gap`` per side ((h + 2 gap) x (w + 2 gap) px)
    and scans (2 gap + 1)^2 offsets. Small overshoots on small images stay allowed (cheap and harmless)."""
    if len(shape) != 2:
        return
    h, w = shape
    side = max(h, w)
    padded = (h + 2 * gap) * (w + 2 * gap)
    if side and gap >= side and padded > _MAX_PADDED:
        raise InputError(f"gap {gap} is not smaller than the {h} x {w} image's longer side ({side} px) and would "
                         f"need a {h + 2 * gap} x {w + 2 * gap} px working copy; the limit is gap <= {side - 1}")


_MAX_PADDED = 1 << 24  # px of the padded gap-graph copy tolerated for a gap past the image side


def _list_ids(ids: Any) -> str:
    ids = [int(i) for i in ids]
    shown = ", ".join(map(str, ids[:_LISTED]))
    return shown + (f" ... and {len(ids) - _LISTED} more" if len(ids) > _LISTED else "")


def _working(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A compact unsigned copy or view of ``arr``, plus the original ids when they had to be renumbered."""
    top = int(arr.max())
    if top > 4 * arr.size + 65536 or top >= 2 ** 32:  # huge, sparse ids: renumber so per-id tables stay small
        ids, inverse = np.unique(arr, return_inverse=True)
        if ids[0] != 0:
            ids, inverse = np.concatenate([[0], ids]), inverse + 1
        dtype = np.uint16 if len(ids) <= 65536 else np.uint32
        return inverse.reshape(arr.shape).astype(dtype), ids
    dtype = np.uint16 if top < 65536 else np.uint32
    return np.ascontiguousarray(arr, dtype=dtype), None


# -- the gap graph --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GapGraph:
    """Instances of a label image and which pairs lie within ``gap`` px of each other (chessboard).

    ``ids[v]`` is the label id of vertex ``v``; ``edges`` is an (m, 2) array of vertex pairs ``i < j``.
    Built by :func:`gap_graph`, which also guarantees every instance is one 8-connected piece.
    """

    ids: np.ndarray
    edges: np.ndarray
    gap: int
    shape: tuple[int, int]
    _work: np.ndarray = field(repr=False)
    _vertex_value: np.ndarray = field(repr=False)  # value of vertex v in _work
    _lut_size: int = field(repr=False, default=1)  # 1 + the largest value _work may hold

    def __len__(self) -> int:
        return len(self.ids)

    def adjacency(self) -> list[list[int]]:
        """Neighbour lists, one per vertex, for the colouring loops of layerer plugins."""
        n = len(self.ids)
        if not len(self.edges):
            return [[] for _ in range(n)]
        both = np.concatenate([self.edges, self.edges[:, ::-1]])
        both = both[np.lexsort((both[:, 1], both[:, 0]))]
        bounds = np.searchsorted(both[:, 0], np.arange(n + 1)).tolist()
        targets = both[:, 1].tolist()
        return [targets[bounds[v]:bounds[v + 1]] for v in range(n)]

    def degrees(self) -> np.ndarray:
        """Number of conflicting neighbours of each vertex."""
        return np.bincount(self.edges.ravel(), minlength=len(self.ids))

    def paint(self, channel_of: Any, channels: int) -> np.ndarray:
        """Bool layers ``(channels, H, W)`` with vertex ``v`` on channel ``channel_of[v]``; refuses conflicts."""
        ch = np.asarray(channel_of)
        n = len(self.ids)
        if ch.shape != (n,) or ch.dtype.kind not in "iu" or (n and (ch.min() < 0 or ch.max() >= channels)):
            raise LayeringError(f"a channel assignment needs {n} integers in [0, {channels}), got "
                                f"shape {ch.shape}, dtype {ch.dtype}")
        if len(self.edges):
            clash = ch[self.edges[:, 0]] == ch[self.edges[:, 1]]
            if clash.any():
                pairs = self.ids[self.edges[clash]]
                raise LayeringError(f"masks {int(pairs[0, 0])} and {int(pairs[0, 1])} are within {self.gap} px "
                                    f"of each other and may not share a channel ({int(clash.sum())} such pairs)")
        lut = np.zeros(self._lut_size, dtype=np.uint16 if channels >= 255 else np.uint8)
        lut[self._vertex_value] = ch + 1
        cmap = lut[self._work]
        layers = np.empty((channels, *self.shape), dtype=bool)
        for c in range(channels):
            np.equal(cmap, c + 1, out=layers[c])
        return layers

    def unplaced_error(self, vertices: Any, channels: int, note: str = "") -> LayeringError:
        """The error a layerer raises when ``vertices`` found no channel: names the masks and the ways out."""
        vertices = sorted(int(v) for v in vertices)
        ids = self.ids[vertices] if vertices else np.array([], int)
        adj = self.adjacency()
        first = vertices[0] if vertices else None
        near = f"; mask {int(self.ids[first])} lies within {self.gap} px of masks {_list_ids(self.ids[adj[first]])}" \
            if first is not None and adj[first] else ""
        return LayeringError(
            f"{len(vertices)} of {len(self.ids)} masks did not fit on {channels} channels with gap {self.gap}: "
            f"ids {_list_ids(ids)}{near}{'; ' + note if note else ''}; use more channels (e.g. {channels + 1}) "
            f"or a smaller gap", unplaced=ids.tolist())


def _extreme_pass(dst: np.ndarray, src: np.ndarray, radius: int, axis: int, op: Any) -> None:
    """``dst`` (a copy of ``src``) becomes ``op`` over a window of ``radius`` px along ``axis``, cut at the border."""
    for s in range(1, radius + 1):
        a, b = [slice(None)] * 2, [slice(None)] * 2
        a[axis], b[axis] = slice(s, None), slice(None, -s)
        op(dst[tuple(a)], src[tuple(b)], out=dst[tuple(a)])
        op(dst[tuple(b)], src[tuple(a)], out=dst[tuple(b)])


def _near_other(work: np.ndarray, gap: int) -> np.ndarray:
    """Flat indices of foreground pixels with another instance within ``gap`` px (chessboard).

    There the maximum label over the (2 gap + 1)^2 window differs from the minimum of (label - 1)
    plus one; background wraps round to the top value of (label - 1), so it never wins that minimum.
    Separable passes over three reused buffers keep this to a few sweeps of the image.
    """
    one = np.ones((), dtype=work.dtype)
    a, b = work.copy(), np.empty_like(work)
    _extreme_pass(a, work, gap, 1, np.maximum)
    np.copyto(b, a)
    _extreme_pass(b, a, gap, 0, np.maximum)  # b: window maximum
    np.subtract(work, one, out=a)
    c = a.copy()
    _extreme_pass(c, a, gap, 1, np.minimum)
    np.copyto(a, c)
    _extreme_pass(a, c, gap, 0, np.minimum)
    a += one  # a: window minimum of the labels, background left out
    idx = np.flatnonzero(b != a)
    return idx[work.ravel()[idx] != 0]


def _forward_offsets(gap: int) -> list[tuple[int, int]]:
    """Half of the (2g+1)^2 window: each unordered pixel pair within distance ``gap`` is seen once."""
    return [(0, dx) for dx in range(1, gap + 1)] + [(dy, dx) for dy in range(1, gap + 1) for dx in range(-gap, gap + 1)]


def _pair_codes(work: np.ndarray, contact: np.ndarray, gap: int) -> np.ndarray:
    """Unique codes ``(low << 32) | high`` of label pairs within ``gap`` px, seen from the ``contact`` pixels.

    The image is padded by ``gap`` so every forward offset is a plain positive shift of the flat array.
    """
    h, w = work.shape
    if not contact.size:
        return np.zeros(0, dtype=np.uint64)
    wide = w + 2 * gap
    padded = np.zeros((h + 2 * gap, wide), dtype=work.dtype)
    padded[gap:gap + h, gap:gap + w] = work
    flat = padded.ravel()
    at = contact + (contact // w) * (2 * gap) + (gap * wide + gap)
    mine = flat[at]
    codes = []
    for dy, dx in _forward_offsets(gap):
        other = flat[dy * wide + dx:][at]
        hit = np.flatnonzero((other != mine) & (other != 0))
        if hit.size:
            a, b = mine[hit], other[hit]
            code = np.minimum(a, b).astype(np.uint64) << np.uint64(32) | np.maximum(a, b)
            keep = np.ones(code.size, dtype=bool)
            keep[1:] = code[1:] != code[:-1]  # neighbouring pixels mostly repeat a pair: thin out before unique
            codes.append(code[keep])
    return np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.uint64)


def gap_graph(labels: Any, gap: int = 2, what: str = "labels") -> GapGraph:
    """The exact conflict graph of ``labels``; raises LayeringError for instances in disconnected pieces."""
    arr = check_labels(labels, what)
    _, gap = check_channels_gap(1, gap)
    check_gap_size(gap, arr.shape)
    work, renumbered = _working(arr)
    values, suspects, boxes = _scan(work)
    ids = renumbered[values] if renumbered is not None else values
    _check_connected(work, suspects, boxes, renumbered, what)
    base = int(values[-1]) + 1 if len(values) else 1
    vertex = np.full(base, -1, dtype=np.int64)
    vertex[values] = np.arange(len(values))
    codes = _pair_codes(work, _near_other(work, gap), gap)
    low, high = (codes >> np.uint64(32)).astype(np.int64), (codes & np.uint64(0xFFFFFFFF)).astype(np.int64)
    edges = np.stack([vertex[low], vertex[high]], axis=1)  # values ascend, so low < high as vertices too
    return GapGraph(ids=ids, edges=edges, gap=gap, shape=work.shape, _work=work,
                    _vertex_value=values.astype(work.dtype), _lut_size=base)


def _row_runs(work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the first and last pixel of every run of one label along a row, in raster order."""
    h, w = work.shape
    change = np.empty((h, w + 1), dtype=bool)  # change[y, x]: a run may start at x or end at x - 1
    change[:, 0] = work[:, 0] != 0
    change[:, w] = work[:, -1] != 0
    np.not_equal(work[:, 1:], work[:, :-1], out=change[:, 1:w])
    ty, tx = np.divmod(np.flatnonzero(change), w + 1)
    flat = work.ravel()
    start = ty[tx < w] * w + tx[tx < w]
    end = ty[tx > 0] * w + tx[tx > 0] - 1
    return start[flat[start] != 0], end[flat[end] != 0]


def _scan(work: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[slice, slice]]]:
    """Label values present, and those the run test cannot vouch for being one piece, with their boxes.

    An instance whose rows are consecutive, hold one run each and overlap (8-connectivity) from one
    row to the next is connected; only the others (rare for nuclei) need an exact piece count.
    """
    start, end = _row_runs(work)
    w = work.shape[1]
    lab = work.ravel()[start].astype(np.int64)
    order = np.argsort(lab, kind="stable")  # group runs by label, keeping raster order inside a group
    lab, start, end = lab[order], start[order], end[order]
    row = start // w
    c0, c1 = start - row * w, end - row * w
    new = np.ones(len(lab), dtype=bool)
    new[1:] = lab[1:] != lab[:-1]
    first = np.flatnonzero(new)
    values = lab[first]
    chained = (row[1:] == row[:-1] + 1) & (c0[1:] <= c1[:-1] + 1) & (c0[:-1] <= c1[1:] + 1)
    group = np.cumsum(new) - 1
    odd = np.unique(group[1:][~new[1:] & ~chained])
    if not odd.size:
        return values, values[:0], []
    last = np.r_[first[1:], len(lab)] - 1
    left, right = np.minimum.reduceat(c0, first)[odd], np.maximum.reduceat(c1, first)[odd]
    boxes = [(slice(int(row[first[g]]), int(row[last[g]]) + 1), slice(int(lo), int(hi) + 1))
             for g, lo, hi in zip(odd.tolist(), left.tolist(), right.tolist())]
    return values, values[odd], boxes


def _check_connected(work: np.ndarray, values: np.ndarray, boxes: list, renumbered: np.ndarray | None,
                     what: str) -> None:
    """Raise LayeringError naming every instance among ``values`` that is not one 8-connected piece."""
    pieces = _pieces(work, values, boxes)
    bad = np.flatnonzero(pieces > 1)
    if bad.size:
        ids = renumbered[values[bad]] if renumbered is not None else values[bad]
        names = [f"{int(i)} ({int(n)} pieces)" for i, n in zip(ids[:_LISTED], pieces[bad][:_LISTED])]
        more = f" ... and {bad.size - _LISTED} more" if bad.size > _LISTED else ""
        raise LayeringError(
            f"{what}: {bad.size} instance(s) made of disconnected pieces: {', '.join(names)}{more}; a channel "
            f"cannot keep the pieces of one instance together, so fix the labels or give each piece its own id "
            f"(skimage.measure.label(labels, connectivity=2))", disconnected=ids.tolist())


def _pieces(work: np.ndarray, values: np.ndarray, boxes: list) -> np.ndarray:
    """Number of 8-connected pieces of each instance in ``values`` (bounding boxes ``boxes``), labelled at once.

    Each instance's box crop goes into its own band of one tall canvas (a blank row between bands),
    so a single labelling pass numbers the pieces band by band, in raster order.
    """
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    crops = [work[box] == v for v, box in zip(values.tolist(), boxes)]
    heights = np.array([c.shape[0] for c in crops])
    width = max(c.shape[1] for c in crops)
    if (heights.sum() + len(crops)) * width > 2 * work.size + 4096:  # bands would outgrow the image
        from skimage.measure import label as label_equal

        comp = label_equal(work, background=0, connectivity=2)
        comp_value = np.zeros(int(comp.max()) + 1, dtype=np.int64)
        comp_value[comp.ravel()] = work.ravel()
        return np.bincount(comp_value[1:], minlength=int(values.max()) + 1)[values]
    starts = np.concatenate([[0], np.cumsum(heights + 1)[:-1]])
    canvas = np.zeros((int(starts[-1] + heights[-1]), width), dtype=bool)
    for crop, top in zip(crops, starts.tolist()):
        canvas[top:top + crop.shape[0], :crop.shape[1]] = crop
    comp = ndi.label(canvas, structure=_EIGHT)[0]
    seen = np.maximum.accumulate(comp.max(axis=1))  # the highest piece number up to each row
    before = np.where(starts > 0, seen[np.maximum(starts - 1, 0)], 0)
    return seen[starts + heights - 1] - before


# -- public entry points ------------------------------------------------------------------------------
def layer(labels: Any, channels: int = 4, gap: int = 2, merged: bool = False, seed: int | None = None,
          method: str | Layerer = DEFAULT_METHOD) -> np.ndarray:
    """Spread the instances of ``labels`` over ``channels`` bool layers (+ a merged union first if asked).

    Every instance lands whole on exactly one channel and masks on one channel keep more than ``gap``
    px apart (chessboard), so ``unlayer`` recovers the instances exactly. ``method`` names a layerer
    plugin (``coloring``: graph colouring, the default; ``first-fit``: the paper's) or is a Layerer.
    """
    from nucgan.interfaces import Layerer
    from nucgan.registry import create_layerer

    arr = check_labels(labels)
    channels, gap = check_channels_gap(channels, gap)
    check_gap_size(gap, arr.shape)
    layerer = method if isinstance(method, Layerer) else create_layerer(method)
    layers = layerer.layer(arr, channels=channels, gap=gap, seed=seed)
    _check_output(layers, arr, channels, method if isinstance(method, str) else type(method).__name__)
    if not merged:
        return layers
    out = np.empty((channels + 1, *arr.shape), dtype=bool)
    out[1:] = layers
    np.any(layers, axis=0, out=out[0])
    return out


def _check_output(layers: Any, labels: np.ndarray, channels: int, name: str) -> None:
    """Refuse a layerer result that lost, duplicated or invented foreground pixels."""
    if not isinstance(layers, np.ndarray) or layers.dtype != bool or layers.shape != (channels, *labels.shape):
        got = f"{type(layers).__name__} {getattr(layers, 'dtype', '')} {getattr(layers, 'shape', '')}"
        raise LayeringError(f"layerer {name!r} returned {got}, expected bool {(channels, *labels.shape)}")
    fg = labels != 0
    if np.count_nonzero(layers) != np.count_nonzero(fg) or not np.array_equal(layers.any(axis=0), fg):
        raise LayeringError(f"layerer {name!r} did not put every foreground pixel on exactly one channel")


def unlayer(layers: Any, merged: bool | None = None) -> np.ndarray:
    """Instance labels (int32, ids 1..n in raster order) from layers: each 8-connected piece of a channel.

    ``layers`` is ``(K, H, W)``, bool or numeric (foreground where > 0, so 0/255 and -1/+1 both work).
    ``merged=None`` detects a leading merged channel (the union of the others); True/False insists.
    """
    from skimage.measure import label as label_equal

    arr = np.asarray(layers)
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.dtype.kind not in "biuf":
        raise InputError(f"layers: expected a (channels, H, W) bool or numeric array, got {arr.dtype} {arr.shape}")
    on = arr if arr.dtype == bool else arr > 0
    if merged or (merged is None and len(on) > 1):
        if len(on) < 2:
            raise InputError("layers: merged=True needs at least two channels")
        union_matches = np.array_equal(on[0], on[1:].any(axis=0))
        if merged and not union_matches:
            raise InputError("layers: the first channel is not the union of the others, so it is not a merged channel")
        if merged or (union_matches and on[0].any()):  # a plain layering never repeats a mask on channel 0
            on = on[1:]
    count = on.sum(axis=0, dtype=np.int32) if len(on) > 1 else on[0].astype(np.int32)
    if len(on) > 1 and (count > 1).any():
        raise InputError(f"layers: {int((count > 1).sum())} pixels are on more than one channel; "
                         "not a layering (did you pass a merged channel with merged=False?)")
    cmap = np.zeros(on.shape[1:], dtype=np.int32)
    for c in range(len(on)):
        cmap[on[c]] = c + 1
    return label_equal(cmap, background=0, connectivity=2).astype(np.int32, copy=False)


__all__ = ["layer", "unlayer", "check_labels", "check_channels_gap", "gap_graph", "GapGraph", "DEFAULT_METHOD"]
