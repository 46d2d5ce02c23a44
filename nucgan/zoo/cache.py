"""The local cache: files keyed by sha256, entered only after their hash matched, plus pulled manifests.

Layout under ``cache_dir()``::

    blobs/sha256/<hex>          verified files (weights, tests, cards, covers), shared between entries
    entries/<id>/<version>.json the manifest of a pulled entry and where it came from
    partial/<hex>.part          an interrupted download, resumed by the next pull
    tmp/                        per-process temp files (renamed into blobs/ only after the hash check)
    locks/<hex>.lock            one downloader per file; the others wait, then find the file in place
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from nucgan.zoo.errors import ChecksumError, ZooError
from nucgan.zoo.fetch import Progress, Source
from nucgan.atomic import commit_file
from nucgan.zoo.fsutil import atomic_write_bytes, file_lock, sha256_file
from nucgan.zoo.manifest import dumps, files_of, validate_manifest
from nucgan.zoo.names import Ref, check_id, check_version, version_key


def cache_dir() -> Path:
    """``NUCGAN_CACHE`` if set, else the platform's user cache folder (``~/.cache/nucgan`` on Linux)."""
    env = os.environ.get("NUCGAN_CACHE", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "nucgan" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "nucgan"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "nucgan"


@dataclass(frozen=True)
class CachedEntry:
    """An entry in the cache (what ``pull`` returns too): its manifest, the zoo it came from, when it
    was pulled, its record file, its files by role and whether this pull was served from the cache."""

    manifest: dict[str, Any]
    source: str
    pulled: str
    record: Path
    files: dict[str, Path] = field(default_factory=dict)
    from_cache: bool = True

    @property
    def ref(self) -> Ref:
        return Ref(self.manifest["id"], self.manifest["version"])

    @property
    def weights(self) -> Path:
        """The cached weights file."""
        return self.files["weights"]


class Cache:
    """Content-addressed storage of zoo files with a per-file lock and resumable partial downloads."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else cache_dir()

    # -- blobs ----------------------------------------------------------------------------------
    def blob(self, sha256: str) -> Path:
        """Where the file with this sha256 lives once cached."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ZooError(f"invalid sha256 {sha256!r}")
        return self.root / "blobs" / "sha256" / sha256

    def has(self, sha256: str, size: int) -> bool:
        """True if the file is cached with the expected size (its hash was checked on entry)."""
        try:
            return self.blob(sha256).stat().st_size == size
        except FileNotFoundError:
            return False

    def fetch(self, sha256: str, size: int, source: Source, rel: str,
              progress: Callable[[str, int], Progress | None] | None = None,
              on_wait: Callable[[], None] | None = None) -> Path:
        """Return the cached file, downloading it first if needed; only a hash-verified file enters the cache."""
        final = self.blob(sha256)
        if self.has(sha256, size):
            return final
        for folder in ("blobs/sha256", "partial", "tmp", "locks"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / "locks" / f"{sha256}.lock", on_wait=on_wait):
            if self.has(sha256, size):  # another process finished it while we waited
                return final
            own = self.root / "tmp" / f"{sha256}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.part"
            self._claim_partial(sha256, own)
            try:
                source.download(rel, own, size, progress(rel, size) if progress else None)
                self._admit(own, final, sha256, size, source.where(rel))
            except ChecksumError:
                own.unlink(missing_ok=True)
                raise
            except BaseException:
                self._keep_partial(own, sha256, size)
                raise
        return final

    def _admit(self, tmp: Path, final: Path, sha256: str, size: int, where: str) -> None:
        actual_size = tmp.stat().st_size
        if actual_size != size:
            raise ChecksumError(f"{where}: got {actual_size} bytes, the manifest says {size}; nothing was cached")
        digest = sha256_file(tmp)
        if digest != sha256:
            raise ChecksumError(f"{where}: sha256 mismatch: the manifest says {sha256}, the file has {digest}; "
                                f"nothing was cached")
        commit_file(tmp, final)

    def _claim_partial(self, sha256: str, own: Path) -> None:
        """Take over an interrupted download of this file: ours to extend, nobody else's."""
        candidates = [self.root / "partial" / f"{sha256}.part"]
        host = _host()
        for tmp in (self.root / "tmp").glob(f"{sha256}.*.part"):  # left by a killed process on this host
            parts = tmp.name.split(".")
            if len(parts) == 5 and parts[1] == host and parts[2].isdigit() and not _alive(int(parts[2])):
                candidates.append(tmp)
        best = None
        for path in candidates:
            try:
                claimed = own.with_suffix(f".{secrets.token_hex(2)}.claim")
                os.replace(path, claimed)  # atomic: only one process can win a given file
            except FileNotFoundError:
                continue
            if best is None or claimed.stat().st_size > best.stat().st_size:
                if best is not None:
                    best.unlink(missing_ok=True)
                best = claimed
            else:
                claimed.unlink(missing_ok=True)
        if best is not None:
            os.replace(best, own)

    def _keep_partial(self, own: Path, sha256: str, size: int) -> None:
        try:
            have = own.stat().st_size
        except FileNotFoundError:
            return
        if 0 < have < size:
            os.replace(own, self.root / "partial" / f"{sha256}.part")
        else:
            own.unlink(missing_ok=True)

    # -- entries --------------------------------------------------------------------------------
    def _record_path(self, ident: str, version: str) -> Path:
        return self.root / "entries" / check_id(ident) / f"{check_version(version)}.json"

    def save_entry(self, manifest: dict[str, Any], source: str) -> CachedEntry:
        """Remember a pulled entry (after all its files are cached), atomically."""
        record = self._record_path(manifest["id"], manifest["version"])
        pulled = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write_bytes(record, dumps({"source": source, "pulled": pulled, "manifest": manifest}))
        return CachedEntry(manifest, source, pulled, record, self._files(manifest), from_cache=False)

    def entries(self) -> list[CachedEntry]:
        """Every pulled entry, sorted by id then version (unreadable records are skipped)."""
        found = []
        for record in sorted((self.root / "entries").glob("*/*.json")):
            entry = self._read_record(record)
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: (e.manifest["id"], version_key(e.manifest["version"])))

    def _read_record(self, record: Path) -> CachedEntry | None:
        try:
            data = json.loads(record.read_text("utf-8"))
            manifest = validate_manifest(data["manifest"], str(record))
            return CachedEntry(manifest, str(data["source"]), str(data.get("pulled", "")), record, self._files(manifest))
        except (OSError, ValueError, KeyError, TypeError, RecursionError, ZooError):
            return None

    def find(self, ref: Ref) -> CachedEntry | None:
        """The cached entry for ``ref`` (the newest cached version if none is given) whose files are all present."""
        matches = [e for e in self.entries() if e.manifest["id"] == ref.id
                   and (ref.version is None or e.manifest["version"] == ref.version) and self.complete(e)]
        return matches[-1] if matches else None

    def complete(self, entry: CachedEntry) -> bool:
        """True if every file of the entry is cached."""
        return all(self.has(f["sha256"], f["size"]) for f in files_of(entry.manifest).values())

    def files(self, entry: CachedEntry) -> dict[str, Path]:
        """Cached path of each file of an entry, by role (weights, test, card, cover)."""
        return self._files(entry.manifest)

    def _files(self, manifest: dict[str, Any]) -> dict[str, Path]:
        return {role: self.blob(f["sha256"]) for role, f in files_of(manifest).items()}

    # -- housekeeping ---------------------------------------------------------------------------
    def remove(self, ref: Ref | None = None) -> tuple[int, int]:
        """Forget matching entries (all if ``ref`` is None) and delete files no remaining entry uses.

        Returns (entries removed, bytes freed).
        """
        if ref is None:
            freed = _tree_size(self.root)
            count = len(self.entries())
            for folder in ("entries", "blobs", "partial", "tmp"):
                shutil.rmtree(self.root / folder, ignore_errors=True)
            return count, freed
        removed = [e for e in self.entries() if e.manifest["id"] == ref.id
                   and (ref.version is None or e.manifest["version"] == ref.version)]
        for entry in removed:
            entry.record.unlink(missing_ok=True)
        keep = {f["sha256"] for e in self.entries() for f in files_of(e.manifest).values()}
        freed = 0
        for entry in removed:
            for f in files_of(entry.manifest).values():
                blob = self.blob(f["sha256"])
                if f["sha256"] not in keep and blob.exists():
                    freed += blob.stat().st_size
                    blob.unlink(missing_ok=True)
        return len(removed), freed

    def usage(self) -> dict[str, int]:
        """Bytes in verified files, partial downloads and temp files."""
        return {name: _tree_size(self.root / folder)
                for name, folder in (("blobs", "blobs"), ("partial", "partial"), ("tmp", "tmp"))}


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _host() -> str:
    return "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_")[:40] or "host"


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
