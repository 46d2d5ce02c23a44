"""Reading files from a zoo location: a folder, a ``file://`` URL, or HTTP(S) with Range resume.

A zoo is plain static files, so any web server or object store that serves files by URL can host one.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

from nucgan.zoo.errors import ChecksumError, DownloadError, ZooError
from nucgan.zoo.names import check_relpath

CHUNK = 1 << 16
SMALL_LIMIT = 16 * 1024 * 1024  # index and manifest files are small; refuse anything bigger
RETRIES = 3  # consecutive failed attempts (no byte gained) before giving up and keeping the partial file
BACKOFF = 0.25  # seconds before the first retry; doubles each time
Progress = Callable[[int], None]  # called with the number of bytes present so far


class Unreachable(DownloadError):
    """The zoo could not be contacted at all (no network, folder not mounted, server down)."""


class NotFound(ZooError):
    """The zoo answered, but has no such file."""


def _timeout() -> float:
    try:
        return float(os.environ.get("NUCGAN_ZOO_TIMEOUT", "30"))
    except ValueError:
        raise ZooError(f"NUCGAN_ZOO_TIMEOUT must be a number of seconds, got {os.environ['NUCGAN_ZOO_TIMEOUT']!r}") \
            from None


class Source(ABC):
    """One zoo location; paths passed in are relative to its root and already validated."""

    location: str

    @abstractmethod
    def where(self, rel: str) -> str:
        """The URL or path of ``rel``, for messages."""

    @abstractmethod
    def read(self, rel: str) -> bytes:
        """The whole content of a small file (index, manifest)."""

    @abstractmethod
    def download(self, rel: str, dest: Path, size: int, progress: Progress | None = None) -> None:
        """Complete ``dest`` (possibly a partial earlier download) to ``size`` bytes from ``rel``."""

    @property
    def is_remote(self) -> bool:
        """True for network sources (skipped when NUCGAN_OFFLINE is set)."""
        return False


class FolderSource(Source):
    """A zoo in a local or mounted folder."""

    def __init__(self, root: Path, location: str | None = None) -> None:
        self.root = root
        self.location = location or str(root)

    def _path(self, rel: str) -> Path:
        return self.root.joinpath(*check_relpath(rel, f"zoo {self.location}").split("/"))

    def where(self, rel: str) -> str:
        return str(self._path(rel))

    def read(self, rel: str) -> bytes:
        path = self._path(rel)
        if not self.root.is_dir():
            raise Unreachable(f"zoo folder {self.root} does not exist or is not mounted")
        try:
            if path.stat().st_size > SMALL_LIMIT:
                raise ZooError(f"{path}: larger than {SMALL_LIMIT} bytes; not an index or manifest")
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{path}: no such file") from None
        except OSError as exc:
            raise Unreachable(f"{path}: cannot read ({exc.strerror or exc})") from None

    def download(self, rel: str, dest: Path, size: int, progress: Progress | None = None) -> None:
        path = self._path(rel)
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            raise NotFound(f"{path}: no such file") from None
        except OSError as exc:
            raise Unreachable(f"{path}: cannot read ({exc.strerror or exc})") from None
        if actual != size:
            raise ChecksumError(f"{path}: has {actual} bytes, its manifest says {size}: the file is truncated "
                                f"or not the one the manifest describes")
        have = dest.stat().st_size if dest.exists() else 0
        if have > size:
            have = 0
        with open(path, "rb") as src, open(dest, "r+b" if have else "wb") as out:
            src.seek(have)
            out.seek(have)
            out.truncate()
            done = have
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done)


class HttpSource(Source):
    """A zoo served over HTTP(S) as static files; downloads resume with Range requests."""

    def __init__(self, base: str) -> None:
        if base.endswith("/index.json"):
            base = base[: -len("index.json")]
        self.base = base if base.endswith("/") else base + "/"
        self.location = self.base

    @property
    def is_remote(self) -> bool:
        return True

    def where(self, rel: str) -> str:
        check_relpath(rel, f"zoo {self.location}")
        return self.base + urllib.parse.quote(rel)

    def _open(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        from nucgan import __version__

        request = urllib.request.Request(url, headers={"User-Agent": f"nucgan/{__version__}",
                                                       "Accept-Encoding": "identity", **headers})
        return urllib.request.urlopen(request, timeout=_timeout())  # noqa: S310 - http(s) only, checked above

    def read(self, rel: str) -> bytes:
        url = self.where(rel)
        try:
            with self._open(url, {}) as resp:
                data = resp.read(SMALL_LIMIT + 1)
                length = resp.headers.get("Content-Length")
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                raise NotFound(f"{url}: not found (HTTP {exc.code})") from None
            raise Unreachable(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"{url}: cannot connect ({_reason(exc)})") from None
        if len(data) > SMALL_LIMIT:
            raise ZooError(f"{url}: larger than {SMALL_LIMIT} bytes; not an index or manifest")
        if length is not None and length.isdigit() and int(length) != len(data):
            raise Unreachable(f"{url}: connection closed after {len(data)} of {length} bytes")
        return data

    def download(self, rel: str, dest: Path, size: int, progress: Progress | None = None) -> None:
        url = self.where(rel)
        failures = 0
        while True:
            have = dest.stat().st_size if dest.exists() else 0
            if have > size:
                dest.unlink()
                have = 0
            if have == size:
                return
            if progress:
                progress(have)
            try:
                gained = self._attempt(url, dest, have, size, progress)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    self._http_error(exc, url, dest, size)
                now = dest.stat().st_size if dest.exists() else 0
                if now > have:
                    failures = 0
                    continue
                failures += 1
                if failures > RETRIES:
                    kind = Unreachable if now == 0 else DownloadError
                    raise kind(f"{url}: download interrupted at {now} of {size} bytes ({_reason(exc)}); "
                               f"run the same command again to resume") from None
                time.sleep(BACKOFF * 2 ** (failures - 1))
                continue
            now = dest.stat().st_size if dest.exists() else 0
            if now < size:  # the server closed the connection early without an error
                failures = 0 if gained else failures + 1
                if failures > RETRIES:
                    raise DownloadError(f"{url}: server keeps closing the connection at {now} of {size} "
                                        f"bytes; run the same command again to resume")
                if failures:
                    time.sleep(BACKOFF * 2 ** (failures - 1))

    def _attempt(self, url: str, dest: Path, have: int, size: int, progress: Progress | None) -> int:
        """One GET (ranged if ``have``); returns the bytes appended."""
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._open(url, headers) as resp:
            if have and resp.status == 206:
                start, total = _content_range(resp.headers.get("Content-Range", ""))
                if start != have:
                    raise ChecksumError(f"{url}: asked for bytes from {have}, server sent from {start}")
                mode = "ab"
            else:  # 200: the whole file (a server without Range support): start over
                have, start, total = 0, 0, _int(resp.headers.get("Content-Length"))
                mode = "wb"
            if total is not None and total != size:
                dest.unlink(missing_ok=True)
                raise ChecksumError(f"{url}: the server has {total} bytes, the manifest says {size}: the hosted "
                                    f"file is truncated or not the one the manifest describes; nothing was kept")
            gained = 0
            with open(dest, mode) as out:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    if have + gained + len(block) > size:
                        out.close()
                        dest.unlink(missing_ok=True)
                        raise ChecksumError(f"{url}: server sent more than the {size} bytes the manifest says; "
                                            f"nothing was kept")
                    out.write(block)
                    gained += len(block)
                    if progress:
                        progress(have + gained)
            return gained

    def _http_error(self, exc: urllib.error.HTTPError, url: str, dest: Path, size: int) -> None:
        if exc.code in (404, 410):
            raise NotFound(f"{url}: not found (HTTP {exc.code})") from None
        if exc.code == 416:  # our partial file is at least as long as the server's file
            _, total = _content_range(exc.headers.get("Content-Range", "") if exc.headers else "")
            dest.unlink(missing_ok=True)
            if total is not None and total != size:
                raise ChecksumError(f"{url}: the server has {total} bytes, the manifest says {size}: the hosted "
                                    f"file is truncated or not the one the manifest describes; nothing was kept") \
                    from None
            return
        if 400 <= exc.code < 500:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _content_range(text: str) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); ``bytes */1000`` -> (None, 1000)."""
    match = re.match(r"^\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*$", text or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def open_source(location: str) -> Source:
    """A Source for a folder path, ``file://`` URL or ``http(s)://`` base URL."""
    location = location.strip()
    if not location:
        raise ZooError("empty zoo location")
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("http", "https"):
        return HttpSource(location)
    if parsed.scheme == "file":
        return FolderSource(Path(urllib.request.url2pathname(parsed.path)), location)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", location):
        raise ZooError(f"zoo {location!r}: unsupported scheme {parsed.scheme!r}; use a folder, file://, http:// or "
                       f"https://")
    return FolderSource(Path(location).expanduser().resolve(), location)
