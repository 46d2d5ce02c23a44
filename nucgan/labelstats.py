"""Layout statistics of instance label images: what real tissue looks like, per nucleus and per image.

One function measures a label image (:func:`image_stats`) and one a folder (:func:`folder_stats`),
so the layout model learns from the same figures that ``nucgan masks report`` compares:

- per nucleus: ``touching`` (another id in its 8-neighbourhood), ``cut`` (a pixel on the image
  border), ``nn_distance`` (centroid to the nearest other centroid, px); and for nuclei not cut by
  the border: ``area`` (px), ``eccentricity``, ``solidity``;
- per image: ``height``, ``width``, ``nuclei``, ``density`` (nuclei per 512 x 512 px),
  ``median_area`` (of the whole nuclei), ``size_spread`` (standard deviation of log area of the
  whole nuclei, NaN under 3), ``touching`` and ``cut`` (fractions of its nuclei).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from nucgan.errors import InputError

DENSITY_AREA = 512 * 512  # densities count nuclei per 512 x 512 px, as --density does
NUCLEUS_STATS = ("area", "eccentricity", "solidity", "nn_distance")
IMAGE_STATS = ("nuclei", "density", "median_area", "size_spread", "touching", "cut")
_MIN_SPREAD = 3  # whole nuclei an image needs for a size spread


@dataclass
class ImageStats:
    """The layout statistics of one label image (see the module doc)."""

    height: int
    width: int
    nuclei: int
    touching: np.ndarray  # bool per nucleus
    cut: np.ndarray  # bool per nucleus
    nn_distance: np.ndarray  # float per nucleus (empty when the image holds one nucleus)
    area: np.ndarray  # whole nuclei only
    eccentricity: np.ndarray
    solidity: np.ndarray
    name: str = ""

    @property
    def density(self) -> float:
        return self.nuclei * DENSITY_AREA / (self.height * self.width)

    @property
    def median_area(self) -> float:
        return float(np.median(self.area)) if self.area.size else float("nan")

    @property
    def size_spread(self) -> float:
        return float(np.log(self.area).std()) if self.area.size >= _MIN_SPREAD else float("nan")

    @property
    def touching_fraction(self) -> float:
        return float(self.touching.mean()) if self.nuclei else 0.0

    @property
    def cut_fraction(self) -> float:
        return float(self.cut.mean()) if self.nuclei else 0.0

    def image_value(self, key: str) -> float:
        """One per-image statistic by name (``IMAGE_STATS``)."""
        if key == "touching":
            return self.touching_fraction
        if key == "cut":
            return self.cut_fraction
        return float(getattr(self, key))


def touching_ids(labels: np.ndarray) -> np.ndarray:
    """Sorted ids that have a pixel of another id in their 8-neighbourhood (distinct ids that touch)."""
    lab = np.asarray(labels)
    found = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each unordered neighbour pair once
        a = lab[max(dy, 0):lab.shape[0], max(dx, 0):lab.shape[1] + min(dx, 0)]
        b = lab[:lab.shape[0] - dy, max(-dx, 0):lab.shape[1] - max(dx, 0)]
        hit = (a != b) & (a > 0) & (b > 0)
        if hit.any():
            found.extend((a[hit], b[hit]))
    return np.unique(np.concatenate(found)) if found else np.zeros(0, lab.dtype)


def image_stats(labels: np.ndarray, name: str = "") -> ImageStats:
    """Measure one label image (0 = background; ids need not be consecutive)."""
    from scipy.spatial import cKDTree
    from skimage.measure import regionprops

    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.dtype.kind not in "iu":
        raise InputError(f"{name or 'labels'}: expected a 2-D integer label image, got {lab.dtype} {lab.shape}")
    h, w = lab.shape
    ids = np.unique(lab)
    ids = ids[ids > 0]
    if not ids.size:
        return ImageStats(h, w, 0, np.zeros(0, bool), np.zeros(0, bool), np.zeros(0), np.zeros(0), np.zeros(0),
                          np.zeros(0), name)
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    cut = np.isin(ids, edge)
    touching = np.isin(ids, touching_ids(lab))
    props = regionprops(lab)  # in id order, like ids
    centroids = np.array([p.centroid for p in props])
    if len(ids) > 1:
        nn = cKDTree(centroids).query(centroids, k=2)[0][:, 1]
    else:
        nn = np.zeros(0)
    whole = [p for p, c in zip(props, cut) if not c]
    area = np.array([p.area for p in whole], float)
    ecc = np.array([p.eccentricity for p in whole], float)
    sol = np.array([p.solidity for p in whole], float)
    return ImageStats(h, w, int(ids.size), touching, cut, nn, area, ecc, sol, name)


@dataclass
class FolderStats:
    """The statistics of every label image of a folder, and the pooled values per statistic."""

    folder: str
    images: list[ImageStats] = field(default_factory=list)

    def nucleus_values(self, key: str) -> np.ndarray:
        """One per-nucleus statistic pooled over all images."""
        parts = [getattr(s, key) for s in self.images]
        return np.concatenate(parts).astype(float) if parts else np.zeros(0)

    def image_values(self, key: str) -> np.ndarray:
        """One per-image statistic over the images that have it (NaN left out)."""
        vals = np.array([s.image_value(key) for s in self.images if s.nuclei], float)
        return vals[np.isfinite(vals)]

    @property
    def nuclei(self) -> int:
        return sum(s.nuclei for s in self.images)

    def fraction(self, key: str) -> float:
        """Pooled fraction of nuclei that are ``touching`` or ``cut``."""
        values = self.nucleus_values(key)
        return float(values.mean()) if values.size else float("nan")


def label_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The label images of ``folder``: its ``masks/`` (StarDist layout), its ``*_masks`` files (Cellpose),
    its ``*_labels`` files (synth's plain format), or else every image file in it."""
    from nucgan.folders import MASK_SUFFIX
    from nucgan.io import image_files

    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (give a folder of label images, or one with masks/)")
    if (root / "masks").is_dir():
        files = image_files(root / "masks")
    else:
        files = image_files(root)
        masks = [p for p in files if p.stem.endswith(MASK_SUFFIX)]
        plain = [p for p in files if p.stem.endswith("_labels")]
        files = masks or plain or files
    if not files:
        raise InputError(f"{root}: no label images (TIFF or PNG) in it or in its masks/")
    return files


def folder_stats(folder: str | os.PathLike[str], progress: Callable[[int, int], None] | None = None) -> FolderStats:
    """Measure every label image of ``folder`` (see :func:`label_files`); an unreadable file is an error."""
    from nucgan.io import read_labels

    files = label_files(folder)
    out = FolderStats(str(folder))
    for k, path in enumerate(files, start=1):
        out.images.append(image_stats(read_labels(path), path.name))
        if progress:
            progress(k, len(files))
    if not out.nuclei:
        raise InputError(f"{folder}: its {len(files)} label images hold no nucleus")
    return out

