"""Named and explicit image regions: the DSB 2018 official split ("train"/"test") or "r0:r1,c0:c1"."""

from __future__ import annotations

import re

import numpy as np

from nucgan.errors import InputError

Box = tuple[int, int, int, int]  # row0, row1, col0, col1 (half-open)


def parse_region(text: str | None, shape: tuple[int, ...]) -> Box:
    """Resolve ``text`` against an image of ``shape`` (H, W).

    ``None`` or ``"all"``: the whole image; ``"train"``: rows [0, H // 2) and ``"test"``: rows
    [H // 2, H), the official split of the DSB 2018 image; ``"r0:r1,c0:c1"``: an explicit box, each
    bound optional (``"256:,:"`` is the bottom half).
    """
    h, w = int(shape[0]), int(shape[1])
    if text is None or text == "all":
        return 0, h, 0, w
    if text == "train":
        return 0, h // 2, 0, w
    if text == "test":
        return h // 2, h, 0, w
    m = re.fullmatch(r"\s*(\d*):(\d*)\s*,\s*(\d*):(\d*)\s*", text)
    if not m:
        raise InputError(f"region {text!r}: expected train, test, all or r0:r1,c0:c1 (e.g. 0:256,0:512)")
    r0, r1, c0, c1 = (int(v) if v else d for v, d in zip(m.groups(), (0, h, 0, w)))
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise InputError(f"region {text!r} is empty or outside the {h} x {w} image")
    return r0, r1, c0, c1


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
