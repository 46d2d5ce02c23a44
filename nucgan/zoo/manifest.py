"""The manifest and index schemas (see docs/zoo.md) and their validation with clear, located errors."""

from __future__ import annotations

import json
import re
from typing import Any

from nucgan.zoo import schema as s
from nucgan.zoo.errors import ZooError
from nucgan.zoo.names import ID_RE, VERSION_RE, check_id, check_relpath, check_version

MANIFEST_FORMAT = "nucgan-zoo-manifest/1"
INDEX_FORMAT = "nucgan-zoo-index/1"
KINDS = ("model", "placeholder")

_GENERATOR_NAME = re.compile(r"^([A-Za-z0-9_.-]+:)?[a-z0-9][a-z0-9._-]*$")


def _id() -> s.Check:
    def check(value: Any, path: str) -> list[str]:
        try:
            check_id(value, path)
        except ZooError as exc:
            return [str(exc)]
        return []

    return check


def _version() -> s.Check:
    return s.string(pattern=VERSION_RE, what="a dotted number such as '1' or '1.2.0'")


def _relpath() -> s.Check:
    def check(value: Any, path: str) -> list[str]:
        try:
            check_relpath(value, path)
        except ZooError as exc:
            return [str(exc)]
        return []

    return check


def _file(**more: s.Check) -> s.Obj:
    return s.Obj({"file": _relpath(), "sha256": s.sha256(), "size": s.integer(0), **more})


GENERATOR = s.Obj({"name": s.string(pattern=_GENERATOR_NAME, what="a registry name such as 'chain3'"),
                   "config": s.free_object()})

INPUT = s.Obj(
    required={"channels": s.integer(1), "merged": s.boolean(), "gap": s.integer(0),
              "normalization": s.free_object()},
    optional={"layerer": s.nullable(s.string()), "tile": s.nullable(s.integer(1)),
              "output": s.nullable(s.free_object())},
    open=True,
)

WEIGHTS = _file(format=s.const("safetensors"), dtype=s.one_of("float32", "float16"))

TRAINING = s.Obj(
    required={"data": s.any_json(), "split": s.nullable(s.string(empty=True)),
              "steps": s.nullable(s.integer(0)), "seed": s.nullable(s.integer()),
              "command": s.nullable(s.string(empty=True))},
    open=True,
)

METRICS = s.Obj({"source": s.string(), "split": s.nullable(s.string(empty=True)), "values": s.free_object()},
                open=True)

TEST = _file(atol=s.number(positive=True), mode=s.one_of("eval"))

RECIPE = s.Obj({"train": s.string(), "publish": s.string()}, {"notes": s.string(empty=True)})

_COMMON_REQUIRED: dict[str, s.Check] = {
    "format": s.const(MANIFEST_FORMAT), "kind": s.one_of(*KINDS), "id": _id(), "version": _version(),
    "description": s.string(), "license": s.string(), "authors": s.list_of(s.string(), min_items=1),
    "generator": GENERATOR, "input": INPUT,
}
_COMMON_OPTIONAL: dict[str, s.Check] = {
    "created": s.string(), "nucgan": s.string(), "reference": s.string(empty=True),
    "card": s.nullable(_file()), "cover": s.nullable(_file()), "extra": s.free_object(),
}

MODEL = s.Obj(
    required={**_COMMON_REQUIRED, "weights": WEIGHTS, "training": TRAINING, "metrics": s.nullable(METRICS),
              "test": TEST, "card": _file(), "cover": s.nullable(_file())},
    optional={**{k: v for k, v in _COMMON_OPTIONAL.items() if k not in {"card", "cover"}},
              "downstream": s.free_object()},
)

PLACEHOLDER = s.Obj(
    required={**_COMMON_REQUIRED, "reason": s.string(), "recipe": RECIPE},
    optional=_COMMON_OPTIONAL,
)

INDEX_ENTRY = s.Obj(
    required={"id": _id(), "version": _version(), "kind": s.one_of(*KINDS), "path": _relpath(),
              "manifest_sha256": s.sha256(), "description": s.string(empty=True)},
    optional={"license": s.string(empty=True)},
)

INDEX = s.Obj({"format": s.const(INDEX_FORMAT), "entries": s.list_of(INDEX_ENTRY)},
              {"name": s.string(empty=True), "description": s.string(empty=True)})


def parse_json(data: bytes, where: str) -> Any:
    """Decode UTF-8 JSON bytes, naming ``where`` on any failure (deep nesting and huge integers included)."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ZooError(f"{where}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # bad UTF-8, bad JSON, an integer beyond Python's digit limit
        raise ZooError(f"{where}: not valid JSON ({' '.join(str(exc).split())})") from None


def dumps(document: Any) -> bytes:
    """Stable, readable JSON bytes for manifests and indexes."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def validate_manifest(data: Any, where: str) -> dict[str, Any]:
    """Return ``data`` if it is a valid manifest, else raise ZooError listing the problems."""
    if not isinstance(data, dict):
        raise ZooError(f"{where}: invalid manifest: expected a JSON object")
    if data.get("format") != MANIFEST_FORMAT:
        raise ZooError(f"{where}: invalid manifest: format must be {MANIFEST_FORMAT!r}, "
                       f"got {s.show(data.get('format'))} (a newer nucgan may be needed)")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ZooError(f"{where}: invalid manifest: kind must be one of {', '.join(KINDS)}, got {s.show(kind)}")
    errors = s.text_errors(data) + (MODEL if kind == "model" else PLACEHOLDER)(data, "")
    if kind == "model" and isinstance(data.get("weights"), dict):
        file = data["weights"].get("file")
        if isinstance(file, str) and not file.endswith(".safetensors"):
            errors.append(f"weights.file: must be a .safetensors file, got {s.show(file)}")
    if errors:
        raise ZooError(f"{where}: invalid manifest: {s.summarize(errors)}")
    return data


def validate_index(data: Any, where: str) -> dict[str, Any]:
    """Return ``data`` if it is a valid index (no duplicate id@version), else raise ZooError."""
    if isinstance(data, dict) and data.get("format") not in (None, INDEX_FORMAT):
        raise ZooError(f"{where}: invalid index: format must be {INDEX_FORMAT!r}, "
                       f"got {s.show(data.get('format'))} (a newer nucgan may be needed)")
    errors = s.text_errors(data) + INDEX(data, "")
    if not errors:
        seen: set[tuple[str, str]] = set()
        for i, entry in enumerate(data["entries"]):
            key = (entry["id"], entry["version"])
            if key in seen:
                errors.append(f"entries[{i}]: duplicate {key[0]}@{key[1]}")
            seen.add(key)
    if errors:
        raise ZooError(f"{where}: invalid index: {s.summarize(errors)}")
    return data


def files_of(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The files an entry consists of, by role: weights, test, card, cover (those present)."""
    roles = {}
    for role in ("weights", "test", "card", "cover"):
        ref = manifest.get(role)
        if isinstance(ref, dict):
            roles[role] = ref
    return roles


__all__ = ["MANIFEST_FORMAT", "INDEX_FORMAT", "validate_manifest", "validate_index", "parse_json", "dumps",
           "files_of", "check_id", "check_version", "ID_RE"]
