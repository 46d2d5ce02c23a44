"""``files``: training pairs from explicit image and label files (``--image`` / ``--labels``)."""

from __future__ import annotations

import os
from typing import Any, Sequence, Union

from nucgan.plugin_api import InputSettings, InputError, TilesDataset, TrainingPair, read_pair

PathOrPaths = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]


def as_list(value: Any) -> list[str]:
    """One path or a list of paths, as a list of strings."""
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def files(image: PathOrPaths, labels: PathOrPaths, *, input: InputSettings | None = None, region: Any = None,
          randomize: int = 10, views: str = "d4", seed: int | None = 0) -> TilesDataset:
    """A tiles dataset from image file(s) and their label file(s), paired in order."""
    images, label_files = as_list(image), as_list(labels)
    if len(images) != len(label_files):
        raise InputError(f"{len(images)} image file(s) but {len(label_files)} label file(s); give one labels "
                         "file per image")
    sources = (TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab))
               for img, lab in zip(images, label_files))  # read one at a time
    return TilesDataset(sources, input=input, region=region, randomize=randomize, views=views, seed=seed)


def folder_dataset(folder: Any, pairs_of: Any, **options: Any) -> TilesDataset:
    """A tiles dataset from every (image, mask) pair ``pairs_of`` finds in each folder, all found before any is read."""
    pairs = [pair for one in as_list(folder) for pair in pairs_of(one)]
    sources = (TrainingPair(str(img), *read_pair(img, lab), labels_name=str(lab)) for img, lab in pairs)
    return TilesDataset(sources, **options)
