"""``stardist``: a folder in StarDist layout, ``images/X`` with ``masks/X`` (same file names)."""

from __future__ import annotations

import os
from typing import Any, Sequence

from nucgan.plugin_api import TilesDataset, TrainingPair, read_pair, stardist_pairs


def stardist(folder: "str | os.PathLike[str]", *, region: Any = None, tile: int = 128, stride: int = 4,
             randomize: int = 10, views: str = "d4", merged: bool = True, channels: int = 4, gap: int = 2,
             layerer: str = "coloring", seed: int | None = 0,
             percentiles: Sequence[float] = (1.0, 99.8)) -> TilesDataset:
    """A tiles dataset from ``folder/images`` and ``folder/masks``; every image needs its mask and vice versa."""
    sources = [TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab))
               for img, lab in stardist_pairs(folder)]
    return TilesDataset(sources, region=region, tile=tile, stride=stride, randomize=randomize, views=views,
                        merged=merged, channels=channels, gap=gap, layerer=layerer, seed=seed,
                        percentiles=percentiles)
