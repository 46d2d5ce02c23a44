"""``pull``: resolve ``id[@version]`` over the zoos and bring the entry's files into the cache, verified."""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Callable, Iterator, Sequence

from nucgan.zoo.cache import Cache, CachedEntry
from nucgan.zoo.errors import PlaceholderError
from nucgan.zoo.fetch import Progress
from nucgan.zoo.index import Found, lookup, offline, unknown_error, zoo_locations
from nucgan.zoo.manifest import files_of
from nucgan.zoo.names import Ref, parse_ref, version_key


class ZooWarning(UserWarning):
    """Something worth knowing that did not stop the zoo (an unreachable zoo, a cached copy used)."""


#: what ``pull`` returns: the cache's own record of the entry (one record, not two)
Pulled = CachedEntry


def pull(ref: str, zoos: Sequence[str] | None = None, *, prefer_cache: bool = False, quiet: bool | None = None,
         cache: Cache | None = None) -> Pulled:
    """Bring ``id[@version]`` into the cache and return it; no network is touched if ``prefer_cache`` and cached.

    Zoos are searched in order (shipped, ``zoos``, ``NUCGAN_ZOO``); when none of them answers for the id,
    a cached copy is used. Placeholders raise PlaceholderError with the commands that make the model.
    """
    wanted = parse_ref(ref)
    cache = cache or Cache()
    if prefer_cache:
        hit = cache.find(wanted)
        if hit is not None and not _superseded_locally(hit, wanted, zoos):
            return hit
    result = lookup(wanted, zoo_locations(zoos), skip_remote=offline())
    if result.found is not None:
        if result.unreachable:
            warnings.warn(f"zoos not reachable: {', '.join(result.unreachable)}; using {wanted} from "
                          f"{result.found.zoo.location}", ZooWarning, stacklevel=2)
        return _download(result.found, cache, quiet)
    hit = cache.find(wanted)
    if hit is not None:
        why = (f"zoos not reachable: {', '.join(result.unreachable)}" if result.unreachable
               else "no configured zoo lists it any more")
        warnings.warn(f"{hit.ref}: served from the cache ({why})", ZooWarning, stacklevel=2)
        return hit
    if result.placeholder is not None:
        raise placeholder_error(result.placeholder.manifest)
    raise unknown_error(result, [e.manifest["id"] for e in cache.entries()])


def _superseded_locally(hit: CachedEntry, wanted: Ref, zoos: Sequence[str] | None) -> bool:
    """A bare id whose cached version is older than one a zoo on this machine lists (the shipped zoo, a folder).

    Asked without a version, an id means its newest; a newer shipped version must not be hidden by an old cached
    copy. Only local zoos are read, so a cached model still loads without touching the network.
    """
    if wanted.version is not None:
        return False
    local = lookup(wanted, zoo_locations(zoos), skip_remote=True).found
    return local is not None and version_key(local.entry["version"]) > version_key(hit.manifest["version"])


def placeholder_error(manifest: dict[str, Any]) -> PlaceholderError:
    """The one-line explanation for an entry that ships as a recipe only, with the commands that make it."""
    recipe = manifest["recipe"]
    return PlaceholderError(
        f"{manifest['id']}: no trained weights ship with nucgan: {manifest['reason'].rstrip('.')}. "
        f"Make it from your own images with `{recipe['train']}` then `{recipe['publish']}`"
    )


def _download(found: Found, cache: Cache, quiet: bool | None) -> Pulled:
    manifest = found.manifest
    if manifest["kind"] != "model":
        raise placeholder_error(manifest)
    label = f"{manifest['id']}@{manifest['version']}"
    files = {}
    with _progress(quiet) as make:
        for role, ref in files_of(manifest).items():
            files[role] = cache.fetch(
                ref["sha256"], ref["size"], found.zoo.source, found.zoo.file_rel(found.entry, ref["file"]),
                progress=(lambda rel, size, role=role: make(f"{label} {role}", size)),
                on_wait=lambda role=role: _say(f"{label}: waiting for another process downloading its {role}"),
            )
    from nucgan.zoo.check import check_pulled

    check_pulled(manifest, files["weights"])  # checksums match; the header and shapes must fit too
    return cache.save_entry(manifest, found.zoo.location)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@contextlib.contextmanager
def _progress(quiet: bool | None) -> Iterator[Callable[[str, int], Progress | None]]:
    """A factory of per-file progress callbacks: a rich bar on a terminal's stderr, nothing otherwise."""
    from rich.console import Console

    err = Console(stderr=True)
    if quiet or (quiet is None and not err.is_terminal):
        yield lambda label, size: None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress as Bar, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Bar(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
             TimeRemainingColumn(), console=err, transient=False) as bar:

        def make(label: str, size: int) -> Progress:
            task = bar.add_task(label, total=size)
            return lambda done: bar.update(task, completed=done)

        yield make
