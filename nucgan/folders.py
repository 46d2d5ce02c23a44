"""Image / mask file pairs of a data folder in StarDist (images/, masks/) or Cellpose (X, X_masks) layout.

One place lists and matches the files, so training (the ``stardist`` / ``cellpose`` datasets) and
``nucgan evaluate --data`` read a folder the same way and refuse the same mistakes: an image
without a mask, a mask without an image, a mask matching two images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from nucgan.errors import InputError
from nucgan.io import image_files

MASK_SUFFIX = "_masks"
IGNORED = ("_flows",)  # Cellpose's own outputs that sit beside the images
LAYOUTS = ("stardist", "cellpose")


def detect_layout(folder: str | os.PathLike[str]) -> str:
    """``stardist`` for images/ + masks/ subfolders, ``cellpose`` for X + X_masks files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (give a data folder in StarDist or Cellpose layout)")
    if (folder / "images").is_dir() and (folder / "masks").is_dir():
        return "stardist"
    if any(p.stem.endswith(MASK_SUFFIX) for p in folder.iterdir()):
        return "cellpose"
    raise InputError(f"{folder}: neither StarDist layout (images/, masks/) nor Cellpose layout (X.tif + X_masks.tif)")


def folder_pairs(folder: str | os.PathLike[str], layout: str | None = None) -> list[tuple[Path, Path]]:
    """(image, mask) paths of ``folder``, sorted by image name; the layout is detected unless given."""
    layout = layout or detect_layout(folder)
    if layout == "stardist":
        return stardist_pairs(folder)
    if layout == "cellpose":
        return cellpose_pairs(folder)
    raise InputError(f"{folder}: unknown layout {layout!r}; layouts: {', '.join(LAYOUTS)}")


def stardist_pairs(folder: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """``images/X`` with ``masks/X`` (or ``masks/`` a file of the same stem); every image needs its mask and vice versa."""
    root = Path(folder)
    missing = [f"{sub}/" for sub in ("images", "masks") if not (root / sub).is_dir()]
    if missing:
        raise InputError(f"{root}: not a StarDist folder, {' and '.join(missing)} missing (expected images/ and "
                         "masks/ holding files of the same names)")
    images = {p.name: p for p in image_files(root / "images")}
    masks = {p.name: p for p in image_files(root / "masks")}

    def candidates(name: str) -> list[str]:
        stem = Path(name).stem
        return [name, *sorted(m for m in masks if Path(m).stem == stem and m != name)]

    return pair_up(root, images, masks, candidates, "masks/")


def cellpose_pairs(folder: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """``X.tif`` beside ``X_masks.tif`` (suffixes may differ); Cellpose's ``_flows`` files are left alone."""
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

    return pair_up(root, images, masks, candidates, f"a *{MASK_SUFFIX} file")


def pair_up(root: Path, images: dict[str, Path], masks: dict[str, Path],
            candidates: Callable[[str], list[str]], where: str) -> list[tuple[Path, Path]]:
    """(image, mask) pairs sorted by image name; ``candidates(image_name)`` lists mask names in preference order."""
    if not images:
        raise InputError(f"{root}: no image files found")
    pairs, missing, used = [], [], set()
    for name in sorted(images):
        found = [m for m in candidates(name) if m in masks]
        if not found:
            missing.append(name)
            continue
        if found[0] in used:
            raise InputError(f"{root}: mask {found[0]} matches more than one image; rename the images")
        used.add(found[0])
        pairs.append((images[name], masks[found[0]]))
    if missing:
        raise InputError(f"{root}: no mask in {where} for {len(missing)} image(s): {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}")
    extra = sorted(set(masks) - used)
    if extra:
        raise InputError(f"{root}: {len(extra)} mask file(s) without an image: {', '.join(extra[:5])}"
                         f"{' ...' if len(extra) > 5 else ''}")
    return pairs
