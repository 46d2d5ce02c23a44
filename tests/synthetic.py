"""Label images with known geometry, shared by the metric and downstream tests."""

from __future__ import annotations

import numpy as np


def disks(shape: tuple[int, int], centres: list[tuple[int, int]], radius: int) -> np.ndarray:
    """int32 labels 1..N: a disk of ``radius`` at each centre."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    out = np.zeros(shape, np.int32)
    for i, (r, c) in enumerate(centres, start=1):
        out[(yy - r) ** 2 + (xx - c) ** 2 <= radius ** 2] = i
    return out
