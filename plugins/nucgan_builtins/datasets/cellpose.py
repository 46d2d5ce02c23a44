"""``cellpose``: a folder in Cellpose layout, ``X.tif`` beside ``X_masks.tif`` (suffixes may differ)."""

from __future__ import annotations

import os
from typing import Any, Sequence

from nucgan.plugin_api import TilesDataset, TrainingPair, cellpose_pairs, read_pair


def cellpose(folder: "str | os.PathLike[str]", *, region: Any = None, tile: int = 128, stride: int = 4,
             randomize: int = 10, views: str = "d4", merged: bool = True, channels: int = 4, gap: int = 2,
             layerer: str = "coloring", seed: int | None = 0,
             percentiles: Sequence[float] = (1.0, 99.8)) -> TilesDataset:
    """A tiles dataset from the ``X`` / ``X_masks`` pairs in ``folder``; an unpaired file is an error."""
    sources = [TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab))
               for img, lab in cellpose_pairs(folder)]
    return TilesDataset(sources, region=region, tile=tile, stride=stride, randomize=randomize, views=views,
                        merged=merged, channels=channels, gap=gap, layerer=layerer, seed=seed,
                        percentiles=percentiles)
