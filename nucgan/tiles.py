"""The lazy tiles dataset that dataset plugins return: tiles x layerings x views, each computed on demand.

Per source it keeps the image as read (its own dtype), the instance labels renumbered compactly
(uint16 for up to 65,535 nuclei) and, per layering, one small table of each nucleus's channel,
computed once at construction. Sample ``i`` is cut, normalised and layered when asked for, so
memory is about 3 bytes per pixel of an 8-bit folder and never grows with the number of samples.
Tiles are drawn in proportion to each image's area: every real pixel is equally likely to be seen,
whatever the size of the image it is in.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
import warnings
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

from nucgan.errors import InputError, LayeringError
from nucgan.interfaces import Dataset
from nucgan.inputs import FIELDS, InputSettings, representative, split_settings
from nucgan.labelids import compact_labels, smallest_dtype, split_pieces
from nucgan.layering import check_labels, layer
from nucgan.normalize import Normalization
from nucgan.style import StyleRecord, measure_style
from nucgan.regions import Region

#: view name -> (number of 90-degree turns, transpose first?) per view
VIEWS: dict[str, tuple[tuple[int, bool], ...]] = {
    "none": ((0, False),),
    "paper5": ((0, False), (0, True), (1, False), (2, False), (3, False)),  # identity, transpose, rot90 x3
    "d4": tuple((k, t) for t in (False, True) for k in range(4)),  # all 8 symmetries of the square
}



@dataclass(frozen=True, eq=False)
class TrainingPair:
    """One training pair: a 2-D image and its instance labels; ``name`` (the image file) and ``labels_name``
    (the labels file, default ``name``) say where they came from in messages."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    labels_name: str | None = None


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A source cut to its region: the image as read, compact labels, one channel table per layering, tile grid."""

    name: str
    labels_name: str
    box: tuple[int, int, int, int]
    image: np.ndarray  # (h, w) as read (bool becomes uint8); normalised per tile by ``norm``
    labels: np.ndarray  # (h, w) compact ids 0..n, smallest unsigned dtype
    channel_of: np.ndarray  # uint8 (randomize, n + 1): 0 background, c + 1 for channel c
    norm: Normalization
    ny: int
    nx: int
    slots: int  # tiles drawn from this source: its area at the densest source's tiles per pixel
    instances: int
    cut: int
    style: StyleRecord | None = None  # the image's measured style (when the model takes one)
    style_values: np.ndarray | None = None  # float32 (len(style),): the constant style channels

    @property
    def positions(self) -> int:
        """Distinct tile corners in this source."""
        return self.ny * self.nx


def clip_to_region(labels: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, int]:
    """Labels inside ``box``; an instance cut by the box border keeps its inside part, each piece its own id.

    Returns the cropped labels and how many instances the border cut. Nothing outside the box is kept,
    so the two halves of a split never share a pixel.
    """
    r0, r1, c0, c1 = box
    crop = labels[r0:r1, c0:c1]
    inside = np.zeros(labels.shape, dtype=bool)
    inside[r0:r1, c0:c1] = True
    cut = np.intersect1d(np.unique(labels[~inside & (labels != 0)]), np.unique(crop[crop != 0]))
    if not cut.size:
        return crop, 0
    from skimage.measure import label as label_pieces

    on_cut = np.isin(crop, cut)
    pieces = label_pieces(np.where(on_cut, crop, 0), background=0, connectivity=2)
    out = crop.astype(np.int64)
    top = int(labels.max())
    out[on_cut] = top + pieces[on_cut]  # fresh ids: every piece of a cut instance becomes one instance
    return out, int(cut.size)


class TilesDataset(Dataset):
    """(conditioning, target) pairs: ``tile`` px squares every ``stride`` px inside ``region`` of each source,
    times ``randomize`` layerings per source, times the ``views`` of each tile.

    Sample ``i`` is (tile ``i // (randomize * views)``, layering, view) in that order. Conditioning is
    ``in_channels`` = ``channels`` (+1 merged, first) mask channels at -1 / +1; target is the image
    normalised per source by :class:`Normalization` (percentiles measured inside the region only).
    """

    def __init__(self, sources: Iterable[TrainingPair], *, input: InputSettings | None = None, region: Any = None,
                 randomize: int = 10, views: str = "d4", seed: int | None = 0, **settings: Any) -> None:
        """``input``: how the model sees its input (tile, stride, channels, gap, merged, layerer,
        percentiles); keywords named like its fields (``tile=32``) replace those fields. ``region``,
        ``randomize``, ``views`` and ``seed`` say which samples are drawn."""
        given, unknown = split_settings(settings)
        if unknown:
            raise InputError(f"unknown dataset option(s): {', '.join(sorted(unknown))}; input settings are "
                             f"{', '.join(sorted(FIELDS))}")
        self._input = (input or InputSettings()).replace(**given)
        if isinstance(randomize, bool) or not isinstance(randomize, (int, np.integer)) or randomize < 1:
            raise InputError(f"randomize must be an integer >= 1, got {randomize!r}")
        if views not in VIEWS:
            raise InputError(f"views must be one of {', '.join(VIEWS)}, got {views!r}")
        s = self._input
        self.randomize, self.views = int(randomize), views
        self.region = Region.parse(region)
        self.seed = seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self._views = VIEWS[views]
        self._levels = np.arange(1, s.channels + 1, dtype=np.uint8 if s.channels < 255 else np.uint16)[:, None, None]
        # one source at a time: a reader may pass a generator, so only one raw image is held at once
        self._sources = [self._prepare(k, src) for k, src in enumerate(sources)]
        if not self._sources:
            raise InputError("no sources: a tiles dataset needs at least one image and its labels")
        self._weigh_by_area()
        self._starts = np.concatenate([[0], np.cumsum([p.slots for p in self._sources])]).tolist()
        self.tiles = sum(p.positions for p in self._sources)  # distinct tile corners
        self.slots = self._starts[-1]  # tiles drawn per layering and view (area-weighted)
        self._per_tile = self.randomize * len(self._views)
        if s.normalization is None:  # the mapping generation returns to: measured here, unless one was given
            self._input = s.replace(normalization=representative(self.normalizations))
        if s.style:  # each image's style, standardised over these images, as constant channels of its tiles
            self._input = self._input.replace(styles=tuple(p.style for p in self._sources))
            self._sources = [dataclasses.replace(p, style_values=self._input.style_values(p.style))
                             for p in self._sources]

    @property
    def input(self) -> InputSettings:
        """The settings these samples follow, with the intensity mapping measured on the sources."""
        return self._input

    # the settings' fields, read where the samples are cut (one record, no copies to keep in step)
    tile = property(lambda self: self._input.tile)
    stride = property(lambda self: self._input.stride)
    channels = property(lambda self: self._input.channels)
    gap = property(lambda self: self._input.gap)
    merged = property(lambda self: self._input.merged)
    layerer = property(lambda self: self._input.layerer)
    percentiles = property(lambda self: self._input.percentiles)

    # -- construction ---------------------------------------------------------------------------------
    def _prepare(self, k: int, source: TrainingPair) -> _Prepared:
        name = source.name
        image = np.asarray(source.image)
        if image.ndim != 2 or image.dtype.kind not in "biuf" or image.size == 0:
            raise InputError(f"{name}: expected a non-empty 2-D numeric image, got {image.dtype} {image.shape}")
        labels_name = source.labels_name or name
        labels = check_labels(source.labels, what=labels_name)
        if labels.shape != image.shape:
            raise InputError(f"{labels_name}: labels are {labels.shape[0]} x {labels.shape[1]} but the image "
                             f"{name} is {image.shape[0]} x {image.shape[1]}")
        box = self.region.box(image.shape, name) if self.region else (0, image.shape[0], 0, image.shape[1])
        r0, r1, c0, c1 = box
        if r1 - r0 < self.tile or c1 - c0 < self.tile:
            raise InputError(f"{name}: the {r1 - r0} x {c1 - c0} region is smaller than one {self.tile} px tile")
        crop, cut = clip_to_region(labels, box)
        crop, split = split_pieces(crop)
        if split:  # annotations drawn in pieces (overlaps in hand labelling): each piece trains as a nucleus
            shown = ", ".join(map(str, split[:5])) + (" ..." if len(split) > 5 else "")
            warnings.warn(f"{labels_name}: {len(split)} instance(s) in disconnected pieces (ids {shown}); each "
                          f"piece trains as its own nucleus", stacklevel=4)
        compact, ids = compact_labels(crop)
        n_inst = int(ids.size - 1)
        compact = compact.astype(smallest_dtype(n_inst))
        pixels = image[r0:r1, c0:c1]
        norm = Normalization.fit(pixels, self.percentiles, what=name)
        channel_of = np.zeros((self.randomize, n_inst + 1), dtype=self._levels.dtype)
        for r in range(self.randomize):
            seed = int(np.random.SeedSequence([self.seed, k, r]).generate_state(1)[0])
            try:
                layers = layer(crop, channels=self.channels, gap=self.gap, seed=seed, method=self.layerer)
            except LayeringError as exc:
                raise exc.named(labels_name) from None
            for c in range(self.channels):
                channel_of[r, compact[layers[c]]] = c + 1
            if n_inst and not channel_of[r, 1:].all():  # a layerer must place every nucleus
                raise LayeringError(f"{labels_name}: layering {r} left {int((channel_of[r, 1:] == 0).sum())} "
                                    f"nucleus(es) on no channel")
        ny, nx = (r1 - r0 - self.tile) // self.stride + 1, (c1 - c0 - self.tile) // self.stride + 1
        style = StyleRecord(measure_style(pixels, norm, name), norm, name) if self._input.style else None
        return _Prepared(name=name, labels_name=labels_name, box=box, style=style,
                         image=np.ascontiguousarray(pixels, dtype=np.uint8 if pixels.dtype == bool else pixels.dtype),
                         labels=compact, channel_of=channel_of, norm=norm, ny=ny, nx=nx, slots=ny * nx,
                         instances=n_inst, cut=cut)

    def _weigh_by_area(self) -> None:
        """Give each source tile slots in proportion to its area (the densest source keeps one slot a corner).

        Small images have fewer tile corners per pixel than large ones (a 256 px image has 33 x 33
        corners for 128 px tiles at stride 4, a 1040 x 1388 one 7x more per pixel); without this,
        training would see the pixels of large images more often than those of small ones.
        """
        areas = [(p.box[1] - p.box[0]) * (p.box[3] - p.box[2]) for p in self._sources]
        density = max(p.positions / a for p, a in zip(self._sources, areas))
        self._sources = [dataclasses.replace(p, slots=max(p.positions, int(round(a * density))))
                         for p, a in zip(self._sources, areas)]

    # -- the Dataset protocol --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.slots * self._per_tile

    def locate(self, index: int) -> dict[str, Any]:
        """Where sample ``index`` comes from: source, tile corner (in source pixels), layering, view."""
        i = operator.index(index)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"sample {index} out of range for {n} samples")
        t, rest = divmod(i, self._per_tile)
        r, v = divmod(rest, len(self._views))
        s = bisect.bisect_right(self._starts, t) - 1
        src = self._sources[s]
        iy, ix = divmod((t - self._starts[s]) % src.positions, src.nx)
        return {"source": s, "name": src.name, "y": src.box[0] + iy * self.stride, "x": src.box[2] + ix * self.stride,
                "layering": r, "view": self._views[v]}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        where = self.locate(index)
        src = self._sources[where["source"]]
        y, x = where["y"] - src.box[0], where["x"] - src.box[2]
        cmap = src.channel_of[where["layering"]][src.labels[y:y + self.tile, x:x + self.tile]]
        hot = cmap[None] == self._levels
        if self.merged:
            hot = np.concatenate([(cmap != 0)[None], hot])
        cond = hot.astype(np.float32)
        cond *= 2
        cond -= 1
        if src.style_values is not None:
            planes = np.broadcast_to(src.style_values[:, None, None], (len(src.style_values), *cmap.shape))
            cond = np.concatenate([cond, planes])
        target = src.norm.forward(src.image[None, y:y + self.tile, x:x + self.tile])
        turns, transpose = where["view"]
        if transpose:
            cond, target = cond.swapaxes(1, 2), target.swapaxes(1, 2)
        if turns:
            cond, target = np.rot90(cond, turns, axes=(1, 2)), np.rot90(target, turns, axes=(1, 2))
        # copies: a consumer that edits a sample in place must not edit the dataset
        return torch.from_numpy(np.ascontiguousarray(cond)), torch.from_numpy(np.array(target, order="C"))

    # -- descriptions ------------------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Bytes held by the dataset's arrays (images, compact labels, channel tables); independent of ``len``."""
        return sum(s.image.nbytes + s.labels.nbytes + s.channel_of.nbytes for s in self._sources)

    @property
    def normalizations(self) -> list[Normalization]:
        """The normalisation of each source, in order."""
        return [s.norm for s in self._sources]

    def settings(self) -> dict[str, Any]:
        """A JSON-able record of which samples were drawn from which sources, stored with a model's training record."""
        return {
            "region": None if self.region is None else str(self.region), "randomize": self.randomize,
            "views": self.views, "seed": self.seed,
            "normalization_scope": "per image, inside the region",
            "region_border": "clip: cut nuclei keep their inside part",
            "tiles": self.tiles, "tile_slots": self.slots, "samples": len(self),
            "tile_weighting": "by area: each source's tiles in proportion to its region's pixels",
            "sources": [{"name": s.name, "labels": s.labels_name, "box": list(s.box), "instances": s.instances,
                         "cut_instances": s.cut,
                         "tiles": s.positions, "tile_slots": s.slots, "normalization": s.norm.to_json()}
                        for s in self._sources],
        }

    def __repr__(self) -> str:
        return (f"TilesDataset({len(self._sources)} source(s), {self.slots} area-weighted tiles ({self.tiles} corners) "
                f"x {self.randomize} layerings x {len(self._views)} views = {len(self)} samples, "
                f"in_channels={self.in_channels})")


def __getattr__(name: str) -> Any:
    if name == "Source":  # renamed in 0.2: zoo sources are the other "Source"
        import warnings

        warnings.warn("nucgan.tiles.Source is deprecated; use nucgan.TrainingPair (removed in 0.3)",
                      DeprecationWarning, stacklevel=2)
        return TrainingPair
    raise AttributeError(f"module 'nucgan.tiles' has no attribute {name!r}")


__all__ = ["TilesDataset", "TrainingPair", "Region", "VIEWS", "clip_to_region"]
