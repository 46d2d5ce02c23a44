"""Validation of ids, versions and relative paths found in references, indexes and manifests."""

from __future__ import annotations

import re
from typing import NamedTuple

from nucgan.zoo.errors import ZooError
from nucgan.zoo.schema import show

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
MAX_ID = 100


class Ref(NamedTuple):
    """A parsed ``id[@version]``; ``version`` is None for "the newest"."""

    id: str
    version: str | None

    def __str__(self) -> str:
        return self.id if self.version is None else f"{self.id}@{self.version}"


def check_id(value: object, where: str = "model id") -> str:
    """Return ``value`` if it is a safe zoo id (no path tricks), else raise ZooError saying why."""
    if not isinstance(value, str) or not value:
        raise ZooError(f"{where}: expected a non-empty id, got {show(value, 120)}")
    if len(value) > MAX_ID or not ID_RE.match(value) or ".." in value:
        raise ZooError(
            f"{where}: invalid id {show(value, 120)}: ids are lower-case letters, digits, '.', '_' and '-', "
            f"start with a letter or digit, contain no '..' and no '/' (at most {MAX_ID} characters)"
        )
    return value


def check_version(value: object, where: str = "version") -> str:
    """Return ``value`` if it is a dotted number such as ``1`` or ``2.1.0``, else raise ZooError."""
    if not isinstance(value, str) or len(value) > 40 or not VERSION_RE.match(value):
        raise ZooError(f"{where}: invalid version {show(value, 120)}: use dotted numbers such as '1' or '1.2.0'")
    return value


def version_key(version: str) -> tuple[int, ...]:
    """Sort key so that ``1.10`` comes after ``1.9`` and ``2`` after ``1.99``."""
    return tuple(int(part) for part in version.split("."))


def parse_ref(text: str) -> Ref:
    """Split and validate ``id[@version]``."""
    if not isinstance(text, str):
        raise ZooError(f"model reference must be a string, got {type(text).__name__}")
    ident, sep, version = text.partition("@")
    check_id(ident)
    if sep:
        check_version(version, f"model {text!r}")
        return Ref(ident, version)
    return Ref(ident, None)


def check_relpath(value: object, where: str) -> str:
    """Return ``value`` if it is a plain relative path inside a zoo ('a/b.json'), else raise ZooError."""
    if not isinstance(value, str) or not value or len(value) > 300:
        raise ZooError(f"{where}: expected a relative path, got {show(value, 120)}")
    parts = value.split("/")
    if any(not _SEGMENT_RE.match(p) or p in {".", ".."} or ".." in p for p in parts):
        raise ZooError(
            f"{where}: unsafe path {show(value, 120)}: only relative paths of letters, digits, '.', '_' and '-' "
            f"separated by '/' are allowed (no '..', no absolute paths, no backslashes)"
        )
    return value
