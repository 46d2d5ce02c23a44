"""``stardist``: a folder in StarDist layout, ``images/X`` with ``masks/X`` (same file names)."""

from __future__ import annotations

import os
from typing import Any, Sequence

from nucgan.plugin_api import InputSettings, TilesDataset, TrainingPair, read_pair, stardist_pairs

from .files import as_list


def stardist(folder: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]", *,
             input: InputSettings | None = None, region: Any = None,
             randomize: int = 10, views: str = "d4", seed: int | None = 0) -> TilesDataset:
    """A tiles dataset from ``folder/images`` and ``folder/masks`` (or several such folders); every image needs its mask and vice versa."""
    pairs = [pair for one in as_list(folder) for pair in stardist_pairs(one)]  # every pair found before any is read
    sources = (TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab)) for img, lab in pairs)
    return TilesDataset(sources, input=input, region=region, randomize=randomize, views=views, seed=seed)
