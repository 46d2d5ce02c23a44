"""Model references for every command that takes a model: a file, a run folder, a zoo entry folder or a zoo id."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from nucgan.errors import InputError
from nucgan.zoo.errors import ChecksumError, ZooError

if TYPE_CHECKING:
    from nucgan.inputs import InputSettings
    from nucgan.interfaces import Generator
    from nucgan.modelfile import ModelInfo

_PATH_HINTS = (".safetensors", ".pt", ".pth", ".ckpt", ".bin", ".h5")


@dataclass
class ZooModel:
    """A ready generator (eval mode) with what its file says and, for zoo entries, its manifest."""

    generator: "Generator"
    info: "ModelInfo"
    manifest: dict[str, Any] | None
    path: Path

    @cached_property
    def input(self) -> "InputSettings":
        """How inputs must be prepared (layering, tile) and output mapped back to intensities: the model's settings.

        Parsed once: a generalist's manifest lists every training image's style and percentiles.
        """
        from nucgan.inputs import InputSettings

        if self.manifest:
            return InputSettings.from_json(self.manifest["input"], f"{self.name}: manifest input")
        return self.info.input

    @property
    def name(self) -> str:
        """``id@version`` for zoo entries, else the file's path."""
        return f"{self.manifest['id']}@{self.manifest['version']}" if self.manifest else str(self.path)


def resolve_model(ref: str | os.PathLike[str], zoos: Sequence[str] | None = None) -> Path:
    """The generator file ``ref`` designates, pulling a zoo id into the cache if needed.

    ``ref`` is a ``.safetensors`` file, a training run folder (holding ``generator.safetensors``),
    a zoo entry folder (holding ``manifest.json``) or a zoo ``id[@version]``. An existing path wins
    over an id of the same spelling.
    """
    return _resolve(ref, zoos)[0]


def load(ref: str | os.PathLike[str], zoos: Sequence[str] | None = None, device: str = "cpu") -> ZooModel:
    """Load a generator by zoo id (pulled and cached on first use, offline afterwards) or by path."""
    from nucgan.modelfile import load_generator

    path, manifest = _resolve(ref, zoos)
    generator, info = load_generator(path, device=device)
    if manifest is not None:
        expected = manifest["weights"]["sha256"]
        if info.sha256 != expected:
            raise ChecksumError(f"{path}: sha256 {info.sha256} differs from the manifest's {expected} (the file "
                                f"changed after it was verified); run `nucgan zoo cache clear {manifest['id']}` "
                                f"and pull it again")
        if info.name != manifest["generator"]["name"] or info.config != manifest["generator"]["config"]:
            raise ZooError(f"{path}: the weights hold generator {info.name!r} with another config than "
                           f"{manifest['id']}'s manifest declares")
    return ZooModel(generator, info, manifest, path)


def _resolve(ref: str | os.PathLike[str], zoos: Sequence[str] | None) -> tuple[Path, dict[str, Any] | None]:
    from nucgan.modelfile import RUN_WEIGHTS
    from nucgan.zoo.pulling import pull

    text = os.fspath(ref)
    path = Path(text).expanduser()
    if path.is_file():
        return path, None
    if path.is_dir():
        if (path / "manifest.json").is_file():
            return _entry_folder(path)
        if (path / RUN_WEIGHTS).is_file():
            return path / RUN_WEIGHTS, None
        raise InputError(f"{path}: a folder without {RUN_WEIGHTS} (not a training run) nor manifest.json "
                         f"(not a zoo entry)")
    looks_like_path = (not isinstance(ref, str) or "/" in text or os.sep in text or text.startswith((".", "~"))
                       or text.lower().endswith(_PATH_HINTS))
    if looks_like_path:
        raise InputError(f"{text}: no such file or folder")
    try:
        pulled = pull(text, zoos, prefer_cache=True)
    except ZooError as exc:
        if "invalid id" in str(exc):
            raise InputError(f"{text!r}: no such file or folder, and not a zoo id ({exc})") from None
        raise
    return pulled.weights, pulled.manifest


def _entry_folder(folder: Path) -> tuple[Path, dict[str, Any]]:
    """A zoo entry folder used in place (e.g. a published entry before upload)."""
    from nucgan.zoo.manifest import parse_json, validate_manifest
    from nucgan.zoo.pulling import placeholder_error

    where = str(folder / "manifest.json")
    manifest = validate_manifest(parse_json((folder / "manifest.json").read_bytes(), where), where)
    if manifest["kind"] != "model":
        raise placeholder_error(manifest)
    return folder / manifest["weights"]["file"], manifest
