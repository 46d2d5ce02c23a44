"""nucgan.safetensors_meta: the one safe reader and writer of safetensors files with JSON metadata."""

from __future__ import annotations

import json
import pickle
import struct
import time
import zipfile
from pathlib import Path

import pytest
import torch

from nucgan.errors import InputError
from nucgan.safetensors_meta import (MAX_HEADER, check_shapes, header_from_bytes, load_tensors, load_tensors_bytes,
                                     read_header, read_metadata, save_tensors)


def test_header_metadata_and_shapes_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    tensors = {"a": torch.zeros(2, 3), "b": torch.arange(5, dtype=torch.int64), "c": torch.ones(4, dtype=torch.float16)}
    metadata = {"nucgan.format": "test/1", "config": json.dumps({"x": [1, 2]})}
    save_tensors(path, tensors, metadata)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temp file left behind
    header = read_header(path)
    assert header.metadata == metadata == read_metadata(path)
    assert header.shapes == {"a": (2, 3), "b": (5,), "c": (4,)}
    assert header.dtypes == {"a": "F32", "b": "I64", "c": "F16"}
    assert header_from_bytes(path.read_bytes(), "mem") == header
    loaded = load_tensors(path)
    assert set(loaded) == set(tensors) and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert set(load_tensors_bytes(path.read_bytes(), "mem")) == set(tensors)


def test_huge_header_length_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}" + b"\0" * 16)
    start = time.perf_counter()
    with pytest.raises(InputError, match="implausible header length") as info:
        read_header(path)
    assert time.perf_counter() - start < 1.0
    assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(InputError, match="mem: not a safetensors file"):
        header_from_bytes(path.read_bytes(), "mem")
    # within MAX_HEADER but longer than the file: refused before reading it
    path.write_bytes(struct.pack("<Q", MAX_HEADER) + b"{}")
    with pytest.raises(InputError, match="truncated"):
        read_header(path)


@pytest.mark.parametrize("make", [
    lambda p: torch.save({"w": torch.zeros(3)}, p),  # a zip file
    lambda p: p.write_bytes(pickle.dumps({"w": 1}, protocol=4)),
    lambda p: zipfile.ZipFile(p, "w").writestr("x", "y"),
], ids=["torch-save", "pickle", "zip"])
def test_pickle_or_zip_renamed_safetensors_is_refused(tmp_path: Path, make) -> None:  # noqa: ANN001
    path = tmp_path / "weights.safetensors"
    make(path)
    for action in (read_header, load_tensors):
        with pytest.raises(InputError, match="not a safetensors file.*pickle") as info:
            action(path)
        assert str(info.value).startswith(f"{path}: ")


def test_missing_directory_and_corrupt_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_header(tmp_path / "none.safetensors")
    with pytest.raises(InputError, match="is a directory"):
        read_header(tmp_path)
    path = tmp_path / "t.safetensors"
    save_tensors(path, {"a": torch.zeros(8)}, {})
    data = path.read_bytes()
    path.write_bytes(data[:-4])
    with pytest.raises(InputError, match="truncated") as info:
        load_tensors(path)
    assert str(path) in str(info.value)
    with pytest.raises(InputError, match="metadata must map strings to strings"):
        save_tensors(path, {"a": torch.zeros(1)}, {"n": 1})  # type: ignore[dict-item]


def test_shapes_are_checked_against_the_header_before_allocation(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    save_tensors(path, {"w": torch.zeros(3, 4), "extra": torch.zeros(1)}, {})
    with torch.device("meta"):  # the expected side costs no memory either
        model = torch.nn.Linear(4, 5, bias=True)
    with pytest.raises(InputError) as info:
        check_shapes({"w": model.weight, "b": model.bias}, read_header(path).shapes, f"{path}: does not fit")
    message = str(info.value)
    assert message.startswith(f"{path}: does not fit")
    assert "1 missing: b" in message and "1 unexpected: extra" in message and "w (3, 4) vs (5, 4)" in message
    check_shapes({"w": (3, 4), "extra": (1,)}, read_header(path).shapes, "fits")  # no error


def test_hostile_shape_in_header_is_refused_without_allocating(tmp_path: Path) -> None:
    """A header claiming an enormous tensor is refused by the file-size check, never allocated."""
    raw = json.dumps({"w": {"dtype": "F32", "shape": [1 << 30, 1 << 30], "data_offsets": [0, 1 << 62]}}).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    with pytest.raises(InputError, match="truncated"):
        read_header(path)
