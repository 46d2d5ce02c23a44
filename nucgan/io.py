"""Reading images and instance labels with one clear error per bad file; atomic TIFF and PNG writers.

TIFF goes through tifffile, PNG and JPEG through scikit-image. Every refusal is an InputError whose
message starts with the file name and fits on one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from nucgan.atomic import atomic_path
from nucgan.errors import InputError

TIFF_SUFFIXES = (".tif", ".tiff")
OTHER_SUFFIXES = (".png", ".jpg", ".jpeg")
SUFFIXES = TIFF_SUFFIXES + OTHER_SUFFIXES


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


@contextlib.contextmanager
def _quiet_tifffile() -> Iterator[None]:
    """Keep tifffile's log records (odd tags, bad offsets) off the terminal; real failures still raise."""
    logger = logging.getLogger("tifffile")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def _load(path: Path) -> np.ndarray:
    """The pixel array of one file, or InputError naming the file and what went wrong."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: unsupported file type {path.suffix!r} (use {', '.join(SUFFIXES)})")
    kind = "TIFF" if suffix in TIFF_SUFFIXES else suffix[1:].upper()
    try:
        with warnings.catch_warnings(), _quiet_tifffile():
            warnings.simplefilter("ignore")
            if suffix in TIFF_SUFFIXES:
                import tifffile

                arr = np.asarray(tifffile.imread(path))
            else:
                from skimage.io import imread

                arr = np.asarray(imread(path))
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is unreadable
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: cannot read as {kind}: {reason}") from None
    if arr.size == 0:  # tifffile answers a file without a readable page with an empty array
        raise InputError(f"{path}: not a valid {kind} image: the file holds no image data")
    return arr


def _squeeze(arr: np.ndarray, path: Path) -> np.ndarray:
    """Drop singleton axes (a 1-page stack, a 1-channel picture); keep anything else as is."""
    if arr.ndim > 2:
        arr = arr.reshape([n for n in arr.shape if n != 1] or [1, 1])
    if arr.ndim == 1:
        raise InputError(f"{path}: a 1-D array ({_shape(arr.shape)}) where a 2-D image is expected")
    return arr


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """A 2-D intensity image (its own dtype); grey saved as RGB(A) is accepted, true colour is refused."""
    path = Path(path)
    arr = _squeeze(_load(path), path)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        rgb = arr[..., :3]
        alpha_flat = arr.shape[-1] == 3 or np.all(arr[..., 3] == arr[..., 3].flat[0])
        if not (alpha_flat and np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise InputError(f"{path}: a colour image ({_shape(arr.shape)}); nucgan models one channel, so "
                             "convert it to grayscale or save the nuclear channel alone")
        arr = np.ascontiguousarray(rgb[..., 0])
    if arr.ndim != 2:
        raise InputError(f"{path}: a {arr.ndim}-D stack ({_shape(arr.shape)}) where a 2-D image is expected; "
                         "save one plane")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: unsupported pixel type {arr.dtype}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"{path}: contains NaN or infinite pixels")
    return arr


def read_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """A 2-D instance label image: non-negative integer ids, 0 = background, at least one instance."""
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        raise InputError(f"{path}: labels cannot be stored as JPEG (lossy compression changes the ids); "
                         "save them as TIFF or PNG")
    arr = _squeeze(_load(path), path)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        raise InputError(f"{path}: labels look like an RGB picture ({_shape(arr.shape)}); labels need one "
                         "integer id per pixel (0 = background)")
    if arr.ndim != 2:
        raise InputError(f"{path}: a {arr.ndim}-D stack ({_shape(arr.shape)}) where 2-D labels are expected; "
                         "save one plane")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr).all() and np.array_equal(arr, np.round(arr))
        if not whole:
            raise InputError(f"{path}: labels must be whole numbers, found non-integer values "
                             f"(dtype {arr.dtype}: an intensity image rather than labels?)")
        if arr.size and (arr.min() < 0 or arr.max() >= 2 ** 32):
            raise InputError(f"{path}: label ids must lie in 0 .. 2^32 - 1, found {arr.min():g} .. {arr.max():g}")
        arr = arr.astype(np.uint32)
    if arr.dtype.kind not in "iu":
        raise InputError(f"{path}: labels must be integers, got {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise InputError(f"{path}: negative label ids (minimum {arr.min()}); 0 is background, instances positive")
    if not arr.any():
        raise InputError(f"{path}: empty label image, no instances (every pixel is 0)")
    _refuse_binary_mask(arr, path)
    return arr


def _refuse_binary_mask(arr: np.ndarray, path: Path) -> None:
    """A 0/1 or 0/255 image with several separate blobs is a foreground mask, not instance labels."""
    if arr.dtype.itemsize != 1:
        return
    top = arr.max()
    if top not in (1, 255) or np.any((arr != 0) & (arr != top)):
        return
    from scipy import ndimage as ndi

    if ndi.label(arr != 0, structure=np.ones((3, 3), bool))[1] > 1:
        raise InputError(f"{path}: a binary mask (values 0 and {int(top)}) rather than instance labels; "
                         "give each nucleus its own id (e.g. skimage.measure.label(mask))")


def read_pair(image: str | os.PathLike[str], labels: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """An image and its labels, refusing a pair whose sizes differ."""
    img, lab = read_image(image), read_labels(labels)
    if img.shape != lab.shape:
        raise InputError(f"{labels}: labels are {_shape(lab.shape)} but image {image} is {_shape(img.shape)}")
    return img, lab


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files (TIFF, PNG, JPEG) directly in ``folder``, sorted by name; hidden files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


def write_tiff(path: str | os.PathLike[str], array: Any, axes: str | None = None) -> Path:
    """Write ``array`` as a TIFF atomically (temp file beside it, then rename); ``axes`` e.g. "CYX", "YXS" (RGB)."""
    import tifffile

    path = Path(path)
    arr = np.asarray(array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    photometric = "rgb" if axes == "YXS" else "minisblack"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, arr, photometric=photometric, metadata={"axes": axes} if axes else None)
        _usual_mode(tmp)
    return path


def write_png(path: str | os.PathLike[str], array: Any) -> Path:
    """Write a grey (H, W) or colour (H, W, 3|4) uint8/uint16 array as PNG atomically; returns the path."""
    import imageio.v3 as iio  # scikit-image's own image I/O backend

    path = Path(path)
    arr = np.asarray(array)
    if arr.dtype not in (np.uint8, np.uint16) or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (3, 4))):
        raise InputError(f"{path}: PNG needs uint8/uint16 (H, W) or (H, W, 3|4), got {arr.dtype} {arr.shape}")
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, arr, extension=".png")
        _usual_mode(tmp)
    return path


def _usual_mode(path: Path) -> None:
    """Give a temp file (created 0600) the mode a plain new file would get under the current umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


__all__ = ["read_image", "read_labels", "read_pair", "image_files", "write_tiff", "write_png", "SUFFIXES"]
