"""Readers refuse bad files with one line naming the file; writers are atomic (issue 4, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from nucgan import InputError, read_image, read_labels, read_pair, write_png, write_tiff
from nucgan.plugin_api import image_files


def labels_2d() -> np.ndarray:
    lab = np.zeros((20, 24), dtype=np.uint16)
    lab[2:6, 2:6], lab[10:15, 12:20] = 3, 9
    return lab


def one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("suffix", [".tif", ".tiff", ".png"])
def test_labels_round_trip_through_each_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"lab{suffix}"
    (write_tiff if "tif" in suffix else write_png)(path, labels_2d())
    assert np.array_equal(read_labels(path), labels_2d())


def test_image_round_trip_and_grey_saved_as_rgb(tmp_path: Path) -> None:
    img = np.arange(20 * 24, dtype=np.uint16).reshape(20, 24)
    write_tiff(tmp_path / "img.tif", img)
    assert read_image(tmp_path / "img.tif").dtype == np.uint16
    grey = (img % 256).astype(np.uint8)
    iio.imwrite(tmp_path / "rgba.png", np.dstack([grey, grey, grey, np.full_like(grey, 255)]))
    assert np.array_equal(read_image(tmp_path / "rgba.png"), grey)
    iio.imwrite(tmp_path / "photo.jpg", np.dstack([grey, grey, grey]), quality=100)
    assert read_image(tmp_path / "photo.jpg").shape == (20, 24)
    tifffile.imwrite(tmp_path / "page.tif", img[None])  # a one-page stack is a 2-D image
    assert read_image(tmp_path / "page.tif").shape == (20, 24)


def test_read_pair_refuses_a_size_mismatch(tmp_path: Path) -> None:
    write_tiff(tmp_path / "img.tif", np.zeros((20, 25), np.uint8) + np.arange(25, dtype=np.uint8))
    write_tiff(tmp_path / "lab.tif", labels_2d())
    with pytest.raises(InputError) as info:
        read_pair(tmp_path / "img.tif", tmp_path / "lab.tif")
    message = one_line_naming(info, tmp_path / "lab.tif")
    assert "20 x 24" in message and "20 x 25" in message


@pytest.mark.parametrize("name, content, words", [
    ("float.tif", np.full((8, 8), 0.5, np.float32), "whole numbers"),
    ("negative.tif", np.full((8, 8), -2, np.int16), "negative"),
    ("rgb.png", np.zeros((8, 8, 3), np.uint8) + 7, "RGB"),
    ("stack.tif", np.ones((3, 8, 8), np.uint16), "3-D stack"),
    ("empty.tif", np.zeros((8, 8), np.uint16), "empty label image"),
    ("binary.png", np.kron(np.eye(3, dtype=np.uint8)[::2], np.ones((4, 4), np.uint8)) * 255, "binary mask"),
])
def test_bad_labels_get_one_clear_line(tmp_path: Path, name: str, content: np.ndarray, words: str) -> None:
    path = tmp_path / name
    if name.endswith(".png"):
        iio.imwrite(path, content)
    else:
        tifffile.imwrite(path, content, photometric="minisblack")
    with pytest.raises(InputError) as info:
        read_labels(path)
    assert words in one_line_naming(info, path)


def test_whole_float_labels_are_accepted(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "f.tif", labels_2d().astype(np.float32))
    out = read_labels(tmp_path / "f.tif")
    assert out.dtype.kind == "u" and np.array_equal(out, labels_2d())


@pytest.mark.parametrize("name, data, words", [
    ("missing.tif", None, "no such file"),
    ("garbage.tif", b"not a tiff at all", "cannot read as TIFF"),
    ("garbage.png", b"\x89PNG broken", "cannot read as PNG"),
    ("image.bmp", b"BM", "unsupported file type"),
    ("labels.jpg", b"\xff\xd8", "JPEG"),
])
def test_unreadable_files_are_named(tmp_path: Path, name: str, data: bytes | None, words: str) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_labels(path)
    assert words in one_line_naming(info, path)


@pytest.mark.parametrize("data", [b"II*\x00" + bytes(40), b"MM\x00*" + b"\xff" * 30], ids=["zero-offset", "bad-offset"])
def test_tiff_magic_without_image_data_says_so(tmp_path: Path, data: bytes) -> None:
    """A TIFF header in front of garbage is 'no image data', not a puzzling '1-D array (0)'."""
    path = tmp_path / "garbage.tif"
    path.write_bytes(data)
    for read in (read_image, read_labels):
        with pytest.raises(InputError) as info:
            read(path)
        message = one_line_naming(info, path)
        assert "not a valid TIFF image" in message and "no image data" in message and "1-D" not in message


def test_tifffile_log_records_stay_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """tifffile's complaints about odd tags or offsets are not logged while nucgan reads (the error says it)."""
    import logging

    path = tmp_path / "garbage.tif"
    path.write_bytes(b"MM\x00*" + b"\xff" * 30)  # tifffile logs 'invalid offset to first page'
    with caplog.at_level(logging.DEBUG, logger="tifffile"), pytest.raises(InputError):
        read_labels(path)
    assert not [r for r in caplog.records if r.name.startswith("tifffile")]
    assert not logging.getLogger("tifffile").disabled  # restored afterwards


def test_bad_images_are_named(tmp_path: Path) -> None:
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 0] = 200
    iio.imwrite(tmp_path / "colour.png", colour)
    with pytest.raises(InputError, match="colour image"):
        read_image(tmp_path / "colour.png")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((4, 8, 8), np.uint16), photometric="minisblack")
    with pytest.raises(InputError, match="3-D stack"):
        read_image(tmp_path / "stack.tif")
    tifffile.imwrite(tmp_path / "nan.tif", np.full((8, 8), np.nan, np.float32))
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "nan.tif")
    with pytest.raises(InputError, match="folder"):
        read_image(tmp_path)


def test_writers_are_atomic_and_leave_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    write_png(target, np.zeros((4, 4), np.uint8))
    before = target.read_bytes()
    with pytest.raises(InputError):
        write_png(target, np.zeros((4, 4), np.float32))  # refused before anything is written
    with pytest.raises(Exception):
        write_tiff(tmp_path / "bad.tif", np.zeros((4, 4), dtype=object))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_image_files_lists_images_only(tmp_path: Path) -> None:
    for name in ("b.tif", "a.PNG", "c.jpeg", ".hidden.tif", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.tif").mkdir()
    assert [p.name for p in image_files(tmp_path)] == ["a.PNG", "b.tif", "c.jpeg"]
    with pytest.raises(InputError, match="no such folder"):
        image_files(tmp_path / "nope")
