"""The generator file format: one safetensors file holding the weights and everything needed to rebuild them.

Layout: a plain safetensors file (no pickle, so loading it cannot run code) whose string metadata holds

- ``nucgan.format``  ``"generator/1"``
- ``nucgan.name``    the registry name (``create_generator(name, **config)`` rebuilds the architecture;
                     a config older than a setting gets the generator's ``legacy_defaults`` for it)
- ``nucgan.config``  JSON of ``generator.config()``
- ``nucgan.input``   JSON of the model's :class:`nucgan.inputs.InputSettings` (layering, tile, intensity mapping)
- ``nucgan.extra``   JSON of anything else (training information)
- ``nucgan.dtype``   ``float32`` or ``float16`` (the storage type of floating tensors)
- ``nucgan.version`` the nucgan version that wrote it

The tensors are the generator's full ``state_dict()`` (parameters and buffers such as BatchNorm
running statistics). Loading is strict: every key present, no extra key, every shape equal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nucgan.errors import InputError, UnknownNameError
from nucgan.inputs import InputSettings
from nucgan.safetensors_meta import check_shapes, load_tensors, read_header, read_metadata, save_tensors
from nucgan.zoo.fsutil import sha256_file

if TYPE_CHECKING:
    from nucgan.interfaces import Generator

FORMAT = "generator/1"
RUN_WEIGHTS = "generator.safetensors"  # the weights file inside a training run directory


@dataclass(frozen=True)
class ModelInfo:
    """What a generator file says about itself (everything but the tensors)."""

    name: str
    config: dict[str, Any]
    input: InputSettings
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str = ""
    dtype: str = "float32"
    nucgan_version: str = ""


def save_generator(path: str | os.PathLike[str], generator: "Generator", *, name: str,
                   input: "InputSettings | dict[str, Any]", extra: dict[str, Any] | None = None,
                   half: bool = False) -> str:
    """Write ``generator`` to a safetensors file atomically and return its sha256 (hex).

    ``input`` is the model's :class:`~nucgan.inputs.InputSettings` (a dict is read with
    ``InputSettings.from_json``); its ``in_channels`` must be the generator's.

    ``half=True`` stores floating tensors as float16 (half the size); :func:`load_generator` casts
    them back to the model's float32.
    """
    import torch

    from nucgan import __version__
    from nucgan.interfaces import Generator

    path = Path(path)
    if not isinstance(generator, Generator):
        raise InputError(f"{path}: can only save a nucgan.Generator, got {type(generator).__name__}")
    if not isinstance(name, str) or not name:
        raise InputError(f"{path}: a generator file needs the generator's registry name")
    if not isinstance(input, InputSettings):
        input = InputSettings.from_json(input, f"{path}: input")
    if input.in_channels != generator.in_channels:
        raise InputError(f"{path}: input settings give {input.in_channels} conditioning channel(s) but the generator "
                         f"takes {generator.in_channels}")
    if not isinstance(extra or {}, dict):
        raise InputError(f"{path}: extra must be a dict, got {type(extra).__name__}")
    config = generator.config()
    metadata = {
        "nucgan.format": FORMAT, "nucgan.name": name,
        "nucgan.config": _dumps(config, path, "generator.config()"),
        "nucgan.input": _dumps(input.to_json(), path, "input"),
        "nucgan.extra": _dumps(extra or {}, path, "extra"),
        "nucgan.dtype": "float16" if half else "float32",
        "nucgan.version": __version__,
    }
    tensors: dict[str, torch.Tensor] = {}
    for key, value in generator.state_dict().items():
        tensor = value.detach().to("cpu")
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float16 if half else torch.float32)
        tensors[key] = tensor.contiguous().clone()  # clone: safetensors refuses shared storage
    save_tensors(path, tensors, metadata)
    return sha256_file(path)


def load_generator(path: str | os.PathLike[str], device: str = "cpu") -> tuple["Generator", ModelInfo]:
    """Rebuild a generator from a file written by :func:`save_generator`, strictly, in eval mode.

    Refuses anything that is not a complete nucgan safetensors file (pickles included) with an
    InputError naming the file; fp16 weights come back as float32. The stored config is first built
    on the meta device and compared with the tensor shapes in the file's header, so a hostile config
    costs no memory: real memory is allocated only for an architecture the file's weights fit.
    """
    info = check_file(path, with_sha256=True)
    path = Path(path)
    generator = _build(info, path)
    tensors = load_tensors(path, device="cpu")
    try:
        generator.load_state_dict(tensors, strict=True)  # copies cast float16 back to the model's dtype
    except (ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: unreadable safetensors file ({' '.join(str(exc).split())})") from None
    return generator.to(device).eval(), info


def check_file(path: str | os.PathLike[str], with_sha256: bool = False) -> ModelInfo:
    """The file's ModelInfo once its stored config, built on the meta device, fits the tensor shapes in its header.

    No tensor is read and no real memory allocated, so a hostile config costs nothing; InputError names the file.
    """
    import torch

    info = read_info(path, with_sha256=with_sha256)
    path = Path(path)
    with torch.device("meta"):
        skeleton = _build(info, path)
    check_shapes(skeleton.state_dict(), read_header(path).shapes, f"{path}: weights do not fit generator {info.name!r}")
    return info


def _build(info: ModelInfo, path: Path) -> "Generator":
    """``create_generator(info.name, **config)`` of the upgraded stored config; failures are InputErrors naming the file.

    A config saved before a generator gained a setting lacks it; the generator's ``legacy_defaults``
    say what it meant then (``unetpp`` without ``upsample``: transposed convolutions), not today's default.
    """
    from nucgan.registry import create_generator, upgrade_generator_config

    try:
        return create_generator(info.name, **upgrade_generator_config(info.name, info.config))
    except UnknownNameError as exc:
        raise InputError(f"{path}: was saved from generator {info.name!r}, which no installed plugin provides "
                         f"({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a hostile config may fail anywhere in a plugin's constructor
        first = next((line for line in str(exc).splitlines() if line.strip()), "")  # torch appends a C++ trace
        reason = " ".join(first.split())[:300] or type(exc).__name__
        raise InputError(f"{path}: cannot rebuild generator {info.name!r} from its stored config: "
                         f"{reason}") from None


check_weights = check_shapes  # public name kept: see nucgan.safetensors_meta.check_shapes


def read_info(path: str | os.PathLike[str], with_sha256: bool = False) -> ModelInfo:
    """Read a generator file's metadata without building the model (cheap; no tensor is loaded)."""
    path = Path(path)
    metadata = read_metadata(path)
    fmt = metadata.get("nucgan.format")
    if fmt is None:
        raise InputError(f"{path}: a safetensors file without nucgan metadata: it does not say which generator "
                         f"it holds (write it with nucgan.modelfile.save_generator)")
    if fmt != FORMAT:
        raise InputError(f"{path}: format {fmt!r} is not a nucgan generator file ({FORMAT!r}); "
                         f"a training checkpoint or a newer nucgan's file?")
    missing = [k for k in ("nucgan.name", "nucgan.config", "nucgan.input") if k not in metadata]
    if missing:
        raise InputError(f"{path}: generator file metadata lacks {', '.join(missing)}")
    config = _loads(metadata, "nucgan.config", path)
    inputs = InputSettings.from_json(_loads(metadata, "nucgan.input", path), f"{path}: metadata nucgan.input")
    extra = _loads(metadata, "nucgan.extra", path) if "nucgan.extra" in metadata else {}
    return ModelInfo(
        name=metadata["nucgan.name"], config=config, input=inputs, extra=extra, path=path,
        sha256=sha256_file(path) if with_sha256 else "", dtype=metadata.get("nucgan.dtype", "float32"),
        nucgan_version=metadata.get("nucgan.version", ""),
    )


def _dumps(value: Any, path: Path, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: {what} is not JSON-able ({exc})") from None


def _loads(metadata: dict[str, str], key: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(metadata[key])
    except (TypeError, ValueError, RecursionError):  # ValueError: bad JSON or an integer beyond the digit limit
        raise InputError(f"{path}: metadata {key} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: metadata {key} must be a JSON object, got {type(value).__name__}")
    return value


__all__ = ["FORMAT", "RUN_WEIGHTS", "ModelInfo", "save_generator", "load_generator", "read_info", "check_weights"]
