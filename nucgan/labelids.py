"""Instance ids of any magnitude made compact (1..n) where a table indexed by id is built.

Label images may use any ids (uint64 above 2**32 is valid); a lookup table sized by the largest id
would then need terabytes. Renumbering keeps background 0 and the order of the ids.
"""

from __future__ import annotations

import numpy as np


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels renumbered 0, 1..n as int64, the original id of each new number); 0 stays background."""
    arr = np.asarray(labels)
    ids, inverse = np.unique(arr, return_inverse=True)
    inverse = inverse.reshape(arr.shape).astype(np.int64)
    if ids.size and ids[0] != 0:  # no background pixel: the smallest id must still become 1, not 0
        return inverse + 1, np.concatenate([np.zeros(1, ids.dtype), ids])
    return inverse, ids if ids.size else np.zeros(1, arr.dtype)


def split_pieces(labels: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(labels where every 8-connected piece of an instance has its own id, the original ids that were split).

    For scoring real annotations, where a rare instance drawn in two pieces would stop layering; the
    caller says which ids it split, so nothing changes silently. Ids are returned compact, in the
    smallest unsigned dtype that holds them.
    """
    from scipy import ndimage as ndi

    compact, ids = compact_labels(labels)
    out, split, next_id = compact.copy(), [], int(ids.size)
    eight = np.ones((3, 3), bool)
    for k, box in enumerate(ndi.find_objects(compact), start=1):
        if box is None:
            continue
        pieces, n = ndi.label(compact[box] == k, structure=eight)
        if n > 1:
            split.append(int(ids[k]))
            view = out[box]
            for piece in range(2, n + 1):
                view[pieces == piece] = next_id
                next_id += 1
    return out.astype(smallest_dtype(next_id - 1)), split


def smallest_dtype(largest: int) -> np.dtype:
    """uint16, uint32 or uint64: the smallest that holds ids up to ``largest``."""
    for dtype in (np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)
