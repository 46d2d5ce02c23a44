"""``stardist``: a folder in StarDist layout, ``images/X`` with ``masks/X`` (same file names)."""

from __future__ import annotations

import os
from typing import Any, Sequence

from nucgan.plugin_api import InputSettings, TilesDataset, stardist_pairs

from .files import folder_dataset


def stardist(folder: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]", *,
             input: InputSettings | None = None, region: Any = None,
             randomize: int = 10, views: str = "d4", seed: int | None = 0) -> TilesDataset:
    """A tiles dataset from ``folder/images`` and ``folder/masks`` (or several such folders); every image needs its mask and vice versa."""
    return folder_dataset(folder, stardist_pairs, input=input, region=region, randomize=randomize, views=views, seed=seed)
