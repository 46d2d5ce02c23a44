"""File helpers the zoo relies on: atomic writes (temp + fsync + rename), hashing, advisory locks."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path
from typing import Callable, Iterator

from nucgan.atomic import atomic_path as atomic_target  # noqa: F401 - re-exported for the zoo modules
from nucgan.atomic import fsync_dir  # noqa: F401 - re-exported for the zoo modules

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` so readers see the old file or the whole new one, never a part."""
    with atomic_target(target) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path``, a lock file or a folder (fcntl on POSIX; a no-op elsewhere).

    Locks only avoid duplicate work; correctness never depends on them (every writer uses its own
    temp file and an atomic rename), so a file system without working locks is still safe.
    """
    try:
        import fcntl
    except ImportError:  # Windows: rely on temp file + rename alone
        yield
        return
    if Path(path).is_dir():  # lock the folder itself: no lock file left behind
        fd = os.open(path, os.O_RDONLY)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.05)
        except OSError:  # a file system without flock support: proceed unlocked (still correct)
            pass
        yield
    finally:
        os.close(fd)  # releases the lock
