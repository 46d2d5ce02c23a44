"""``cellpose``: a folder in Cellpose layout, ``X.tif`` beside ``X_masks.tif`` (suffixes may differ)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from nucgan.plugin_api import InputError, TilesDataset, TrainingPair, image_files, read_pair
from nucgan_builtins.datasets.pairing import pair_up

MASK_SUFFIX = "_masks"
IGNORED = ("_flows",)  # Cellpose's own outputs that sit beside the images


def cellpose(folder: "str | os.PathLike[str]", *, region: Any = None, tile: int = 128, stride: int = 4,
             randomize: int = 10, views: str = "d4", merged: bool = False, channels: int = 4, gap: int = 2,
             layerer: str = "coloring", seed: int | None = 0,
             percentiles: Sequence[float] = (1.0, 99.8)) -> TilesDataset:
    """A tiles dataset from the ``X`` / ``X_masks`` pairs in ``folder``; an unpaired file is an error."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    files = [p for p in image_files(root) if not p.stem.endswith(IGNORED)]
    masks = {p.name: p for p in files if p.stem.endswith(MASK_SUFFIX)}
    images = {p.name: p for p in files if not p.stem.endswith(MASK_SUFFIX)}
    if not masks and not images:
        raise InputError(f"{root}: no image files (expected X.tif beside X_masks.tif)")

    def candidates(name: str) -> list[str]:
        stem = Path(name).stem + MASK_SUFFIX
        return sorted(m for m in masks if Path(m).stem == stem)

    pairs = pair_up(root, images, masks, candidates, f"a *{MASK_SUFFIX} file")
    sources = [TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab)) for img, lab in pairs]
    return TilesDataset(sources, region=region, tile=tile, stride=stride, randomize=randomize, views=views,
                        merged=merged, channels=channels, gap=gap, layerer=layerer, seed=seed,
                        percentiles=percentiles)
