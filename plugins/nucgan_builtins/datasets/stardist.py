"""``stardist``: a folder in StarDist layout, ``images/X`` with ``masks/X`` (same file names)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from nucgan.plugin_api import InputError, TilesDataset, TrainingPair, image_files, read_pair
from nucgan_builtins.datasets.pairing import pair_up


def stardist(folder: "str | os.PathLike[str]", *, region: Any = None, tile: int = 128, stride: int = 4,
             randomize: int = 10, views: str = "d4", merged: bool = False, channels: int = 4, gap: int = 2,
             layerer: str = "coloring", seed: int | None = 0,
             percentiles: Sequence[float] = (1.0, 99.8)) -> TilesDataset:
    """A tiles dataset from ``folder/images`` and ``folder/masks``; every image needs its mask and vice versa."""
    root = Path(folder)
    missing = [f"{sub}/" for sub in ("images", "masks") if not (root / sub).is_dir()]
    if missing:
        raise InputError(f"{root}: not a StarDist folder, {' and '.join(missing)} missing (expected images/ and "
                         "masks/ holding files of the same names)")
    images = {p.name: p for p in image_files(root / "images")}
    masks = {p.name: p for p in image_files(root / "masks")}
    pairs = pair_up(root, images, masks, lambda name: [name, *_same_stem(name, masks)], "masks/")
    sources = [TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab)) for img, lab in pairs]
    return TilesDataset(sources, region=region, tile=tile, stride=stride, randomize=randomize, views=views,
                        merged=merged, channels=channels, gap=gap, layerer=layerer, seed=seed,
                        percentiles=percentiles)


def _same_stem(name: str, masks: dict[str, Path]) -> list[str]:
    """Mask names with the image's stem and another suffix (images/a.png with masks/a.tif)."""
    stem = Path(name).stem
    return sorted(m for m in masks if Path(m).stem == stem and m != name)
