"""``stardist``: a folder in StarDist layout, ``images/X`` with ``masks/X`` (same file names)."""

from __future__ import annotations

import os
from typing import Any

from nucgan.plugin_api import InputSettings, TilesDataset, TrainingPair, read_pair, stardist_pairs


def stardist(folder: "str | os.PathLike[str]", *, input: InputSettings | None = None, region: Any = None,
             randomize: int = 10, views: str = "d4", seed: int | None = 0) -> TilesDataset:
    """A tiles dataset from ``folder/images`` and ``folder/masks``; every image needs its mask and vice versa."""
    sources = [TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab))
               for img, lab in stardist_pairs(folder)]
    return TilesDataset(sources, input=input, region=region, randomize=randomize, views=views, seed=seed)
