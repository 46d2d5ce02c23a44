"""What the zoos offer: ``list_entries`` for ``nucgan zoo list`` and ``show`` for ``nucgan zoo show``."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from nucgan.zoo.cache import Cache
from nucgan.zoo.errors import ZooError
from nucgan.zoo.index import lookup, offline, unknown_error, iter_zoo_entries, zoo_locations
from nucgan.zoo.names import parse_ref, version_key


@dataclass(frozen=True)
class Listed:
    """One row of ``nucgan zoo list``."""

    id: str
    version: str
    kind: str
    description: str
    license: str
    zoo: str
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_entries(zoos: Sequence[str] | None = None, cache: Cache | None = None
                 ) -> tuple[list[Listed], list[str]]:
    """Entries of every reachable zoo (placeholders hidden where a real model has their id) plus cached ones.

    Returns the rows and the zoos that could not be read (listed, not fatal: the rest still shows).
    """
    cache = cache or Cache()
    cached = {(e.manifest["id"], e.manifest["version"]): e for e in cache.entries() if cache.complete(e)}
    rows, unreachable = iter_zoo_entries(zoo_locations(zoos), skip_remote=offline())
    real = {e["id"] for _, e in rows if e["kind"] == "model"} | {k[0] for k in cached}
    listed: list[Listed] = []
    seen: set[tuple[str, str]] = set()
    for zoo, e in rows:
        key = (e["id"], e["version"])
        if key in seen or (e["kind"] == "placeholder" and e["id"] in real):
            continue
        seen.add(key)
        listed.append(Listed(e["id"], e["version"], e["kind"], e["description"], e.get("license", ""),
                             zoo.location, key in cached))
    for key, entry in cached.items():
        if key not in seen:
            m = entry.manifest
            listed.append(Listed(m["id"], m["version"], m["kind"], m["description"], m["license"],
                                 f"cache (from {entry.source})", True))
    listed.sort(key=lambda r: (r.id, version_key(r.version)))
    return listed, unreachable


def show(ref: str, zoos: Sequence[str] | None = None, cache: Cache | None = None
         ) -> tuple[dict[str, Any], str | None, str]:
    """An entry's manifest, its model card text (None if unavailable) and where it was found."""
    wanted = parse_ref(ref)
    cache = cache or Cache()
    result = lookup(wanted, zoo_locations(zoos), skip_remote=offline())
    found = result.found or result.placeholder
    hit = cache.find(wanted)
    if found is None and hit is None:
        raise unknown_error(result, [e.manifest["id"] for e in cache.entries()])
    if found is None:
        assert hit is not None
        card = cache.files(hit).get("card")
        return hit.manifest, card.read_text("utf-8") if card else None, f"cache (from {hit.source})"
    manifest, card_text = found.manifest, None
    card_ref = manifest.get("card")
    if card_ref:
        if cache.has(card_ref["sha256"], card_ref["size"]):
            card_text = cache.blob(card_ref["sha256"]).read_text("utf-8")
        else:
            try:
                raw = found.zoo.source.read(found.zoo.file_rel(found.entry, card_ref["file"]))
                if hashlib.sha256(raw).hexdigest() == card_ref["sha256"]:
                    card_text = raw.decode("utf-8", errors="replace")
            except ZooError:
                card_text = None
    return manifest, card_text, found.zoo.location
