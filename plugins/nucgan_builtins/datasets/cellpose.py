"""``cellpose``: a folder in Cellpose layout, ``X.tif`` beside ``X_masks.tif`` (suffixes may differ)."""

from __future__ import annotations

import os
from typing import Any, Sequence

from nucgan.plugin_api import InputSettings, TilesDataset, TrainingPair, cellpose_pairs, read_pair

from .files import as_list


def cellpose(folder: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]", *,
             input: InputSettings | None = None, region: Any = None,
             randomize: int = 10, views: str = "d4", seed: int | None = 0) -> TilesDataset:
    """A tiles dataset from the ``X`` / ``X_masks`` pairs in ``folder`` (or several folders); an unpaired file is an error."""
    pairs = [pair for one in as_list(folder) for pair in cellpose_pairs(one)]  # every pair found before any is read
    sources = (TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab)) for img, lab in pairs)
    return TilesDataset(sources, input=input, region=region, randomize=randomize, views=views, seed=seed)
