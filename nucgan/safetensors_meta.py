"""Safetensors files with JSON string metadata, read safely: one helper for nucgan and its plugins.

Every nucgan file format that holds tensors (generator files, training checkpoints, mask GANs) is a
plain safetensors file (no pickle, so loading it cannot run code) whose ``__metadata__`` holds
strings, typically JSON. This module owns the parts they share:

- :func:`read_header` / :func:`header_from_bytes`: parse and check the header ourselves (8-byte
  length, bounded size, JSON object, valid shapes, dtypes and offsets, file long enough) without
  loading any tensor, refusing pickles, zip and HDF5 files with a clear message;
- :func:`check_shapes`: compare expected shapes with the header's before any memory is allocated;
- :func:`save_tensors`: write tensors and metadata atomically (temp file, fsync, rename);
- :func:`load_tensors` / :func:`load_tensors_bytes`: load the tensors.

Every failure is an :class:`~nucgan.errors.InputError` whose message starts with the file's name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from nucgan.atomic import atomic_path
from nucgan.errors import InputError

if TYPE_CHECKING:
    import torch

MAX_HEADER = 100 * 1024 * 1024  # a header is JSON of names, shapes and metadata: never anywhere near this
_SHOWN = 4


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it (its data is not read)."""

    dtype: str
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]


@dataclass(frozen=True)
class Header:
    """A checked safetensors header: the string metadata and each tensor's dtype and shape."""

    metadata: dict[str, str]
    tensors: dict[str, TensorInfo]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each tensor's shape."""
        return {key: info.shape for key, info in self.tensors.items()}

    @property
    def dtypes(self) -> dict[str, str]:
        """Each tensor's safetensors dtype (``"F32"``, ``"F16"``, ``"I64"``...)."""
        return {key: info.dtype for key, info in self.tensors.items()}


def read_header(path: str | os.PathLike[str]) -> Header:
    """Read and check the header of the safetensors file ``path`` (no tensor data is read).

    The header length is checked against :data:`MAX_HEADER` and the file's size before anything is
    allocated, so a hostile length (say 2**40) costs nothing.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(9)  # 8-byte header length, then the header's "{"
            return _parse(head, size, lambda n: _read_at(fh, n), str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a .safetensors file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def header_from_bytes(data: bytes, what: str) -> Header:
    """:func:`read_header` for a file already in memory; ``what`` names it in errors."""
    view = memoryview(data)
    return _parse(bytes(view[:9]), len(view), lambda n: bytes(view[8:8 + n]), what)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string metadata of the safetensors file ``path`` (``{}`` where it has none)."""
    return read_header(path).metadata


def _read_at(fh: Any, length: int) -> bytes:
    fh.seek(8)
    return fh.read(length)


def _parse(head: bytes, size: int, read: Callable[[int], bytes], what: str) -> Header:
    _refuse_other_formats(head, what)
    length = int.from_bytes(head[:8], "little")
    if length < 2 or length > MAX_HEADER:
        raise InputError(f"{what}: not a safetensors file (implausible header length {length})")
    if length > size - 8:
        raise InputError(f"{what}: truncated or not a safetensors file: {size} bytes, "
                         f"its header alone should take {8 + length}")
    raw = read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deeply, an integer too long
        raise InputError(f"{what}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{what}: not a safetensors file (its header is not a JSON object)")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InputError(f"{what}: not a safetensors file (metadata is not an object of strings)")
    tensors = {}
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        tensors[key] = info = _tensor_info(key, entry, what)
        end = max(end, info.data_offsets[1])
    if 8 + length + end > size:
        raise InputError(f"{what}: truncated: {size} bytes, its header describes {8 + length + end}")
    return Header(metadata=dict(metadata), tensors=tensors)


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor_info(key: str, entry: Any, what: str) -> TensorInfo:
    entry = entry if isinstance(entry, dict) else {}
    offsets = entry.get("data_offsets")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_size(n) for n in offsets)
            and offsets[0] <= offsets[1]):
        raise InputError(f"{what}: not a safetensors file (tensor {key!r} has no valid data offsets)")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(_is_size(n) for n in shape):
        raise InputError(f"{what}: not a safetensors file (tensor {key!r} has no valid shape)")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str):
        raise InputError(f"{what}: not a safetensors file (tensor {key!r} has no valid dtype)")
    return TensorInfo(dtype=dtype, shape=tuple(shape), data_offsets=(offsets[0], offsets[1]))


def _refuse_other_formats(head: bytes, what: str) -> None:
    if len(head) < 8:
        raise InputError(f"{what}: not a safetensors file (only {len(head)} bytes)")
    # a safetensors header length may itself start with 0x80: only a file without the header's "{" is a pickle
    if head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[8:9] != b"{"):
        raise InputError(f"{what}: not a safetensors file: it looks like a PyTorch pickle (torch.save) or zip; "
                         f"nucgan never loads pickles because loading one can run arbitrary code: re-save the "
                         f"weights with nucgan (e.g. nucgan.modelfile.save_generator)")
    if head.startswith(b"\x89HDF"):
        raise InputError(f"{what}: not a safetensors file: an HDF5 (Keras) file; nucgan loads only safetensors")


def check_shapes(expected: Mapping[str, "torch.Tensor | tuple[int, ...]"],
                 found: Mapping[str, "torch.Tensor | tuple[int, ...]"], what: str) -> None:
    """Raise InputError unless ``found`` has exactly the keys and shapes of ``expected`` (tensors or shapes).

    Pass ``Header.shapes`` as ``found`` and a meta-device ``state_dict()`` as ``expected`` to check
    a file against an architecture before allocating either.
    """
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k} {_dims(found[k])} vs {_dims(v)}" for k, v in expected.items()
              if k in found and _dims(found[k]) != _dims(v)]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch (file vs model)", shapes)):
        if items:
            more = f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:_SHOWN])}{more}")
    if problems:
        raise InputError(f"{what}: {'; '.join(problems)}")


def _dims(value: "torch.Tensor | tuple[int, ...]") -> tuple[int, ...]:
    """A tensor's shape, or a shape as is, as a tuple."""
    return tuple(value.shape) if hasattr(value, "shape") else tuple(value)


def save_tensors(path: str | os.PathLike[str], tensors: Mapping[str, "torch.Tensor"],
                 metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` with string ``metadata`` to ``path`` atomically (readers never see a partial file)."""
    from safetensors.torch import save_file

    path = Path(path)
    bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise InputError(f"{path}: safetensors metadata must map strings to strings; not so for {bad[:_SHOWN]}")
    with atomic_path(path) as tmp:
        save_file(dict(tensors), str(tmp), metadata=dict(metadata))


def load_tensors(path: str | os.PathLike[str], device: str = "cpu") -> dict[str, "torch.Tensor"]:
    """All tensors of the safetensors file ``path``; the header is checked first (:func:`read_header`)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    read_header(path)
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: unreadable safetensors file ({' '.join(str(exc).split())})") from None


def load_tensors_bytes(data: bytes, what: str) -> dict[str, "torch.Tensor"]:
    """:func:`load_tensors` for a file already in memory; ``what`` names it in errors."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    header_from_bytes(data, what)
    try:
        return load(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{what}: unreadable safetensors file ({' '.join(str(exc).split())})") from None


__all__ = ["MAX_HEADER", "Header", "TensorInfo", "read_header", "header_from_bytes", "read_metadata",
           "check_shapes", "save_tensors", "load_tensors", "load_tensors_bytes"]
