"""Atomic file writing: write to a temp file beside the target, fsync, then rename into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename) to disk where the platform allows it."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_file(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Flush a complete temp file, rename it over ``target`` and flush the folder: the one commit sequence."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    fsync_dir(Path(target).parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path in ``target``'s folder; on success it replaces ``target``, on error it is removed.

    Readers see either the old file or the complete new one, never a partial write, even after
    ``kill -9``: the rename is atomic on POSIX and Windows when both paths share a file system.
    """
    target = check_output_file(target)
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        from nucgan.errors import InputError

        _remove_empty(made)  # no empty folder left behind by a write that never happened
        raise InputError(f"{target}: cannot write there ({exc.strerror or exc})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 (and writers may replace the file)
        commit_file(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        _remove_empty(made)
        raise


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or InputError if no file can be written there: a folder, a file as a parent, read-only.

    Commands call it before their work, so a wrong ``-o`` fails at once instead of after it.
    """
    from nucgan.errors import InputError

    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target}: is a folder; give a file name for the output")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{target}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise InputError(f"{target}: cannot write into {parent} (permission denied)")
            break
    return target


@contextlib.contextmanager
def output_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A folder checked writable before the work starts; if the work fails, a folder made here is removed again.

    So a long run refuses a file given as ``--out`` or a read-only place at once, and a failed
    run leaves no empty folder behind (files are written atomically, so none is partial).
    """
    from nucgan.errors import InputError

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder; give a folder for the output")
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".nucgan-write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        _remove_empty(made)
        raise InputError(f"{folder}: cannot write there ({exc.strerror or exc})") from None
    try:
        yield folder
    except BaseException:
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (deepest first) that this process made, where still empty."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return
