"""Zoos and their indexes: where the zoos are, what each holds, and which entry an ``id[@version]`` means."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from nucgan.zoo.errors import UnknownModelError, ZooError
from nucgan.zoo.fetch import NotFound, Source, Unreachable, open_source
from nucgan.zoo.manifest import parse_json, validate_index, validate_manifest
from nucgan.zoo.names import Ref, version_key

INDEX_FILE = "index.json"
MANIFEST_FILE = "manifest.json"


def shipped_zoo() -> Path:
    """The zoo shipped with nucgan: ``zoo/`` of a source checkout, else the installed data package ``nucgan_zoo``."""
    import importlib.util

    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "zoo" / INDEX_FILE).is_file():
        return checkout / "zoo"  # editable install or a checkout on sys.path: always the live folder
    try:
        spec = importlib.util.find_spec("nucgan_zoo")  # pyproject maps zoo/ to this data-only package
    except (ImportError, ValueError):
        spec = None
    for base in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(base) / INDEX_FILE).is_file():
            return Path(base)
    return checkout / "zoo"


def zoo_locations(extra: Sequence[str] | None = None) -> list[str]:
    """Zoos searched in order: the shipped one, then ``extra`` (``--zoo``), then ``NUCGAN_ZOO`` (comma-separated)."""
    locations = [str(shipped_zoo())]
    env = [part.strip() for part in re.split(r"[,\n]", os.environ.get("NUCGAN_ZOO", "")) if part.strip()]
    for location in [*(extra or []), *env]:
        if location not in locations:
            locations.append(location)
    return locations


def offline() -> bool:
    """True when ``NUCGAN_OFFLINE`` asks never to touch the network (folder zoos and the cache still work)."""
    return os.environ.get("NUCGAN_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class Zoo:
    """One zoo location with its (validated, memoised) index."""

    def __init__(self, location: str, source: Source | None = None) -> None:
        self.location = location
        self.source = source or open_source(location)
        self._index: dict[str, Any] | None = None

    def index(self) -> dict[str, Any]:
        """The validated index; Unreachable if the zoo cannot be contacted."""
        if self._index is None:
            try:
                raw = self.source.read(INDEX_FILE)
            except NotFound as exc:
                raise Unreachable(f"zoo {self.location}: no {INDEX_FILE} ({exc})") from None
            self._index = validate_index(parse_json(raw, self.source.where(INDEX_FILE)), self.source.where(INDEX_FILE))
        return self._index

    def entries(self) -> list[dict[str, Any]]:
        """Index entries (id, version, kind, path, manifest_sha256, description)."""
        return list(self.index()["entries"])

    def manifest(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The entry's manifest, checked against the index's hash and its own schema."""
        rel = f"{entry['path']}/{MANIFEST_FILE}"
        where = self.source.where(rel)
        raw = self.source.read(rel)
        digest = hashlib.sha256(raw).hexdigest()
        if digest != entry["manifest_sha256"]:
            raise ZooError(f"{where}: sha256 mismatch: the index says {entry['manifest_sha256']}, the manifest has "
                           f"{digest} (an edited manifest needs `nucgan zoo reindex`)")
        manifest = validate_manifest(parse_json(raw, where), where)
        for key in ("id", "version", "kind"):
            if manifest[key] != entry[key]:
                raise ZooError(f"{where}: {key} {manifest[key]!r} differs from the index's {entry[key]!r}")
        return manifest

    def file_rel(self, entry: dict[str, Any], file: str) -> str:
        """Path of an entry's file relative to the zoo root."""
        return f"{entry['path']}/{file}"


@dataclass
class Found:
    """An index entry in a zoo, with its manifest."""

    zoo: Zoo
    entry: dict[str, Any]
    manifest: dict[str, Any]


@dataclass
class Lookup:
    """The outcome of searching the zoos for one reference."""

    ref: Ref
    found: Found | None = None
    placeholder: Found | None = None
    unreachable: list[str] = field(default_factory=list)
    known: set[str] = field(default_factory=set)
    versions: list[str] = field(default_factory=list)


def lookup(ref: Ref, locations: Sequence[str], *, skip_remote: bool = False) -> Lookup:
    """Search zoos in order: the first that has a real entry (newest version unless one is asked) wins.

    A placeholder (recipe only, no weights) is returned only when no zoo has a real entry for the id,
    so a model you publish under a placeholder's id takes over from it.
    """
    result = Lookup(ref)
    for location in locations:
        zoo = Zoo(location)
        if skip_remote and zoo.source.is_remote:
            result.unreachable.append(f"{location} (offline)")
            continue
        try:
            entries = zoo.entries()
        except Unreachable as exc:
            result.unreachable.append(f"{location} ({exc})")
            continue
        result.known.update(e["id"] for e in entries)
        same = [e for e in entries if e["id"] == ref.id]
        result.versions.extend(e["version"] for e in same)
        if ref.version is not None:  # a version asked for is never answered with another, placeholders included
            same = [e for e in same if e["version"] == ref.version]
        models = [e for e in same if e["kind"] == "model"]
        if models:
            best = max(models, key=lambda e: version_key(e["version"]))
            result.found = Found(zoo, best, zoo.manifest(best))
            return result
        holders = [e for e in same if e["kind"] == "placeholder"]
        if holders and result.placeholder is None:
            best = max(holders, key=lambda e: version_key(e["version"]))
            result.placeholder = Found(zoo, best, zoo.manifest(best))
    return result


def unknown_error(result: Lookup, cached: Sequence[str] = ()) -> UnknownModelError:
    """The error for an id (or version) no zoo has: known ids, the closest one, unreachable zoos."""
    ref = result.ref
    known = sorted(result.known | set(cached))
    if result.versions or (ref.version is not None and ref.id in known):
        versions = sorted(set(result.versions), key=version_key)
        text = f"{ref.id} has no version {ref.version}; available: {', '.join(versions) or 'none'}"
    else:
        close = difflib.get_close_matches(ref.id, known, n=1, cutoff=0.4)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        text = f"unknown model {ref.id!r}{hint or ';'} known: {', '.join(known) or '(none)'}"
    if result.unreachable:
        text += f"; zoos not reachable: {', '.join(result.unreachable)}"
    return UnknownModelError(text)


def iter_zoo_entries(locations: Sequence[str], *, skip_remote: bool = False
                     ) -> tuple[list[tuple[Zoo, dict[str, Any]]], list[str]]:
    """Every index entry of every reachable zoo, in search order, and the zoos that could not be read."""
    rows: list[tuple[Zoo, dict[str, Any]]] = []
    unreachable = []
    for location in locations:
        zoo = Zoo(location)
        if skip_remote and zoo.source.is_remote:
            unreachable.append(f"{location} (offline)")
            continue
        try:
            rows.extend((zoo, e) for e in zoo.entries())
        except Unreachable as exc:
            unreachable.append(f"{location} ({exc})")
    return rows, unreachable
