"""Named and explicit image regions: the DSB 2018 official split ("train"/"test") or "r0:r1,c0:c1"."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from nucgan.errors import InputError

Box = tuple[int, int, int, int]  # row0, row1, col0, col1 (half-open)
_SPAN = re.compile(r"^\s*(\d*)\s*:\s*(\d*)\s*$")


@dataclass(frozen=True)
class Region:
    """A box of rows and columns (half-open; None reaches the edge), or an official half of an image.

    ``Region.parse("train")`` / ``"test"`` are the top / bottom halves (rows ``0:H//2`` and ``H//2:H``,
    the DSB 2018 split); ``"r0:r1,c0:c1"`` is a box, either side may be empty (``"256:,:"``).
    """

    rows: tuple[int | None, int | None] = (None, None)
    cols: tuple[int | None, int | None] = (None, None)
    half: str | None = None

    @classmethod
    def parse(cls, spec: Any) -> Region | None:
        """A Region from a string, a (r0, r1, c0, c1) sequence, a Region or None."""
        if spec is None or isinstance(spec, Region):
            return spec
        if isinstance(spec, str):
            text = spec.strip().lower()
            if text in ("train", "test"):
                return cls(half=text)
            parts = text.split(",")
            spans = [_SPAN.match(p) for p in parts]
            if len(parts) > 2 or not all(spans):
                raise InputError(f"region {spec!r}: expected train, test or r0:r1,c0:c1 (e.g. 0:256,0:512)")
            bounds = [tuple(int(g) if g else None for g in m.groups()) for m in spans]  # type: ignore[union-attr]
            return cls(rows=bounds[0], cols=bounds[1] if len(bounds) > 1 else (None, None))
        try:
            r0, r1, c0, c1 = (None if v is None else operator.index(v) for v in spec)
        except (TypeError, ValueError):
            raise InputError(f"region {spec!r}: expected train, test, 'r0:r1,c0:c1' or (r0, r1, c0, c1)") from None
        return cls(rows=(r0, r1), cols=(c0, c1))

    def box(self, shape: tuple[int, int], what: str) -> tuple[int, int, int, int]:
        """(r0, r1, c0, c1) inside an image of ``shape``, or InputError naming ``what``."""
        h, w = shape
        if self.half:
            return (0, h // 2, 0, w) if self.half == "train" else (h // 2, h, 0, w)
        r0, r1 = self.rows[0] or 0, h if self.rows[1] is None else self.rows[1]
        c0, c1 = self.cols[0] or 0, w if self.cols[1] is None else self.cols[1]
        if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
            raise InputError(f"{what}: region {self} does not lie inside the {h} x {w} image")
        return r0, r1, c0, c1

    def __str__(self) -> str:
        if self.half:
            return self.half
        span = [f"{'' if a is None else a}:{'' if b is None else b}" for a, b in (self.rows, self.cols)]
        return ",".join(span)



def parse_region(text: "str | Region | None", shape: tuple[int, ...]) -> Box:
    """Resolve a region against an image of ``shape`` (H, W); ``None`` or ``"all"`` is the whole image.

    ``"train"`` is rows [0, H // 2) and ``"test"`` rows [H // 2, H), the official split of the DSB
    2018 image; ``"r0:r1,c0:c1"`` is an explicit box, each bound optional (``"256:,:"``).
    """
    h, w = int(shape[0]), int(shape[1])
    if text is None or text == "all":
        return 0, h, 0, w
    return Region.parse(text).box((h, w), "region")  # type: ignore[union-attr]


def crop(array: np.ndarray, box: Box) -> np.ndarray:
    """The part of a (..., H, W) array inside ``box``."""
    r0, r1, c0, c1 = box
    return array[..., r0:r1, c0:c1]


def majority_inside(labels: np.ndarray, box: Box) -> np.ndarray:
    """Ids of the instances with more than half of their pixels inside ``box``.

    The official split cuts six DSB nuclei; nucgan counts a cut nucleus in the half holding most
    of its pixels and ignores it in the other half.
    """
    ids, total = np.unique(labels, return_counts=True)
    inside_ids, inside = np.unique(crop(labels, box), return_counts=True)
    count = dict(zip(inside_ids.tolist(), inside.tolist()))
    return np.array([i for i, t in zip(ids.tolist(), total.tolist()) if i and count.get(i, 0) * 2 > t],
                    dtype=labels.dtype)
