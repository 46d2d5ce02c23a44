"""``cellpose``: a folder in Cellpose layout, ``X.tif`` beside ``X_masks.tif`` (suffixes may differ)."""

from __future__ import annotations

import os
from typing import Any, Sequence

from nucgan.plugin_api import InputSettings, TilesDataset, cellpose_pairs

from .files import folder_dataset


def cellpose(folder: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]", *,
             input: InputSettings | None = None, region: Any = None,
             randomize: int = 10, views: str = "d4", seed: int | None = 0) -> TilesDataset:
    """A tiles dataset from the ``X`` / ``X_masks`` pairs in ``folder`` (or several folders); an unpaired file is an error."""
    return folder_dataset(folder, cellpose_pairs, input=input, region=region, randomize=randomize, views=views, seed=seed)
