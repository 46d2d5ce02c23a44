"""An entry's own test (a small input, its expected output, a tolerance) and the verification of entries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nucgan.errors import InputError
from nucgan.zoo.fsutil import sha256_file

if TYPE_CHECKING:
    from nucgan.interfaces import Generator
    from nucgan.zoo.cache import Cache

TEST_FORMAT = "zoo-test/1"
TEST_SIZE = 64  # pixels; rounded up to the generator's size multiple


def make_test_input(in_channels: int, merged: bool, size_multiple: int, seed: int = 0) -> np.ndarray:
    """A small deterministic conditioning array (1, C, S, S) in {-1, 1}: random disks spread over the layers."""
    size = size_multiple * max(1, math.ceil(TEST_SIZE / size_multiple))
    rng = np.random.default_rng(seed)
    layers = max(1, in_channels - int(merged))
    masks = np.zeros((layers, size, size), dtype=bool)
    yy, xx = np.mgrid[:size, :size]
    for i in range(max(6, size * size // 400)):
        r = rng.uniform(3, max(4.0, size / 10))
        cy, cx = rng.uniform(0, size, 2)
        masks[i % layers] |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    channels = [masks.any(axis=0)] if merged and in_channels > layers else []
    channels += list(masks)
    while len(channels) < in_channels:
        channels.append(masks[len(channels) % layers])
    x = np.stack(channels[:in_channels]).astype(np.float32) * 2 - 1
    return x[None]


def forward(generator: "Generator", x: np.ndarray) -> np.ndarray:
    """Run ``generator`` in eval mode on CPU without gradients; numpy in, numpy out."""
    import torch

    generator = generator.eval()
    device = next(iter(generator.parameters()), torch.empty(0)).device
    with torch.no_grad():
        y = generator(torch.from_numpy(np.ascontiguousarray(x)).to(device))
    return y.detach().float().cpu().numpy()


def write_test(path: Path, x: np.ndarray, expected: np.ndarray) -> str:
    """Write the test pair as safetensors; returns its sha256."""
    import torch
    from safetensors.torch import save_file

    from nucgan.zoo.fsutil import atomic_target

    with atomic_target(path) as tmp:
        save_file({"input": torch.from_numpy(x.copy()), "expected": torch.from_numpy(expected.copy())}, str(tmp),
                  metadata={"nucgan.format": TEST_FORMAT, "mode": "eval"})
    return sha256_file(path)


def read_test(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a test pair written by :func:`write_test` (safetensors only)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "np") as fh:
            if (fh.metadata() or {}).get("nucgan.format") != TEST_FORMAT:
                raise InputError(f"{path}: not a nucgan zoo test file")
            return fh.get_tensor("input"), fh.get_tensor("expected")
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: unreadable zoo test file ({exc})") from None


def run_test(generator: "Generator", test_file: Path, atol: float) -> float:
    """Run the entry's test; returns max |output - expected|, raising InputError if it exceeds ``atol``."""
    x, expected = read_test(test_file)
    y = forward(generator, x)
    if y.shape != expected.shape:
        raise InputError(f"{test_file}: test output has shape {y.shape}, expected {expected.shape}")
    diff = float(np.max(np.abs(y - expected))) if y.size else 0.0
    if not diff <= atol:
        raise InputError(f"{test_file}: entry test failed: max |output - expected| = {diff:.3g} > tolerance {atol:g}")
    return diff


@dataclass
class Verdict:
    """The result of verifying one entry."""

    id: str
    version: str
    kind: str
    where: str
    problems: list[str] = field(default_factory=list)
    max_diff: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "kind": self.kind, "where": self.where, "ok": self.ok,
                "problems": self.problems, "max_diff": self.max_diff}


def verify_files(manifest: dict[str, Any], files: dict[str, Path], where: str) -> Verdict:
    """Re-hash every file of an entry and run its test with its own weights."""
    from nucgan.errors import NucganError
    from nucgan.zoo.manifest import files_of

    verdict = Verdict(manifest["id"], manifest["version"], manifest["kind"], where)
    if manifest["kind"] != "model":
        return verdict
    for role, ref in files_of(manifest).items():
        path = files.get(role)
        if path is None or not path.is_file():
            verdict.problems.append(f"{role}: {ref['file']} missing")
            continue
        size = path.stat().st_size
        digest = sha256_file(path)
        if size != ref["size"] or digest != ref["sha256"]:
            verdict.problems.append(f"{role}: {path}: sha256 {digest} ({size} bytes) differs from the manifest's "
                                    f"{ref['sha256']} ({ref['size']} bytes)")
    if verdict.problems:
        return verdict
    try:
        generator = loadable_generator(manifest, files["weights"])
        verdict.max_diff = run_test(generator, files["test"], float(manifest["test"]["atol"]))
    except NucganError as exc:
        verdict.problems.append(str(exc))
    return verdict


def check_pulled(manifest: dict[str, Any], weights: Path) -> None:
    """At pull: the weights' header and metadata match the manifest and fit its architecture (on the meta device).

    So an entry whose checksums match but whose weights can never load (another architecture, wrong
    shapes, a broken header) fails at pull, not at first use. A generator from a plugin not installed
    here cannot be built: then only the header and metadata are checked, and a warning says so.
    """
    import warnings

    from nucgan.errors import NucganError, UnknownNameError
    from nucgan.modelfile import check_file, read_info
    from nucgan.registry import resolve
    from nucgan.zoo.errors import ZooError
    from nucgan.zoo.pulling import ZooWarning

    label = f"{manifest['id']}@{manifest['version']}"
    try:
        info = read_info(weights)
        _same_generator(label, info, manifest)
        try:
            resolve("generators", info.name)
        except UnknownNameError:
            warnings.warn(f"{label}: generator {info.name!r} is not installed here, so its weights' shapes are checked "
                          "at first use; install the plugin that provides it", ZooWarning, stacklevel=3)
            return
        check_file(weights)
    except ZooError:
        raise
    except NucganError as exc:
        raise ZooError(f"{label}: its weights cannot load: {exc}") from None


def _same_generator(label: str, info: Any, manifest: dict[str, Any]) -> None:
    from nucgan.zoo.errors import ZooError

    if info.name != manifest["generator"]["name"] or info.config != manifest["generator"]["config"]:
        raise ZooError(f"{label}: weights: the file's generator ({info.name}, {info.config}) differs from the "
                       f"manifest's ({manifest['generator']['name']}, {manifest['generator']['config']})")


def loadable_generator(manifest: dict[str, Any], weights: Path) -> Any:
    """The generator of an entry's weights file, built from its header; ZooError if it does not fit the manifest.

    ``zoo verify`` calls this; ``zoo pull`` calls :func:`check_pulled`, the same checks without the tensors.
    """
    from nucgan.errors import NucganError
    from nucgan.modelfile import load_generator
    from nucgan.zoo.errors import ZooError

    label = f"{manifest['id']}@{manifest['version']}"
    try:
        generator, info = load_generator(weights)
    except NucganError as exc:
        raise ZooError(f"{label}: its weights cannot load: {exc}") from None
    _same_generator(label, info, manifest)
    return generator


def verify(target: str | None = None, cache: "Cache | None" = None) -> list[Verdict]:
    """Re-hash and test cached entries (all, or one ``id[@version]``), or every entry of a folder zoo or entry folder."""
    from nucgan.zoo.cache import Cache
    from nucgan.zoo.errors import ZooError
    from nucgan.zoo.names import parse_ref

    if target is not None and Path(target).expanduser().is_dir():
        return _verify_folder(Path(target).expanduser().resolve())
    cache = cache or Cache()
    entries = cache.entries()
    if target is not None:
        wanted = parse_ref(target)
        entries = [e for e in entries if e.manifest["id"] == wanted.id
                   and (wanted.version is None or e.manifest["version"] == wanted.version)]
        if not entries:
            raise ZooError(f"{target} is not in the cache ({cache.root}); pull it first: nucgan zoo pull {target}")
    return [verify_files(e.manifest, cache.files(e), f"cache (from {e.source})") for e in entries]


def _verify_folder(folder: Path) -> list[Verdict]:
    from nucgan.errors import NucganError
    from nucgan.zoo.index import INDEX_FILE, MANIFEST_FILE, Zoo
    from nucgan.zoo.manifest import files_of, parse_json, validate_manifest

    if (folder / MANIFEST_FILE).is_file() and not (folder / INDEX_FILE).is_file():
        where = str(folder / MANIFEST_FILE)
        manifest = validate_manifest(parse_json((folder / MANIFEST_FILE).read_bytes(), where), where)
        files = {role: folder.joinpath(*ref["file"].split("/")) for role, ref in files_of(manifest).items()}
        return [verify_files(manifest, files, str(folder))]
    zoo = Zoo(str(folder))
    verdicts = []
    for entry in zoo.entries():
        base = folder.joinpath(*entry["path"].split("/"))
        try:
            manifest = zoo.manifest(entry)
        except NucganError as exc:
            verdicts.append(Verdict(entry["id"], entry["version"], entry["kind"], str(base), [str(exc)]))
            continue
        files = {role: base.joinpath(*ref["file"].split("/")) for role, ref in files_of(manifest).items()}
        verdicts.append(verify_files(manifest, files, str(base)))
    return verdicts
