"""A tiny hand-written validator for JSON documents: typed fields, nesting, one clear message per problem.

Kept dependency-free on purpose (jsonschema would be a new install for a dozen fields); each check
returns messages like ``weights.sha256: expected 64 lower-case hex characters, got 'abc'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

Check = Callable[[Any, str], list[str]]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def show(value: Any, limit: int = 60) -> str:
    """A user's value for a one-line message: its repr (control characters, surrogates escaped), cut to ``limit``."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int beyond str()'s digit limit, a deeply nested list
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _at(path: str) -> str:
    return path or "(top level)"


def _key(key: Any) -> str:
    """An object key for a field path: as is when short and printable, else escaped by :func:`show`."""
    return key if isinstance(key, str) and key.isprintable() and len(key) <= 60 else show(key)


def _encodable(text: str) -> bool:
    """True unless ``text`` holds a lone surrogate (JSON's ``\\ud800``), which cannot be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_errors(value: Any, path: str = "") -> list[str]:
    """Strings (object keys included) anywhere in ``value`` that cannot be printed or saved as UTF-8."""
    errors: list[str] = []
    seen: set[int] = set()
    stack = [(value, path)]  # iterative: a deeply nested document must not exhaust the recursion limit
    while stack:
        item, where = stack.pop()
        if isinstance(item, str) and not _encodable(item):
            errors.append(f"{_at(where)}: not valid Unicode text (a lone surrogate), got {show(item)}")
        elif isinstance(item, (dict, list)) and id(item) not in seen:
            seen.add(id(item))
            if isinstance(item, list):
                children = [(child, f"{where}[{i}]") for i, child in enumerate(item)]
            else:
                children = [(child, f"{where}.{_key(key)}" if where else _key(key)) for key, child in item.items()]
                errors += [f"{_at(inner)}: key is not valid Unicode text (a lone surrogate)"
                           for key, (_, inner) in zip(item, children) if isinstance(key, str) and not _encodable(key)]
            stack.extend(reversed(children))
    return errors


def string(*, empty: bool = False, pattern: re.Pattern[str] | None = None, what: str = "") -> Check:
    """A string, non-empty unless ``empty``; optionally matching ``pattern`` (described by ``what``)."""

    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{_at(path)}: expected a string, got {show(value)}"]
        if not empty and not value.strip():
            return [f"{_at(path)}: must not be empty"]
        if pattern is not None and not pattern.match(value):
            return [f"{_at(path)}: expected {what or pattern.pattern}, got {show(value)}"]
        return []

    return check


def const(expected: Any) -> Check:
    """Exactly ``expected``."""

    def check(value: Any, path: str) -> list[str]:
        return [] if value == expected else [f"{_at(path)}: expected {expected!r}, got {show(value)}"]

    return check


def one_of(*choices: Any) -> Check:
    """One of ``choices``."""

    def check(value: Any, path: str) -> list[str]:
        if value in choices:
            return []
        return [f"{_at(path)}: expected one of {', '.join(map(repr, choices))}, got {show(value)}"]

    return check


def integer(minimum: int | None = None) -> Check:
    """An int (not a bool), at least ``minimum``."""

    def check(value: Any, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{_at(path)}: expected an integer, got {show(value)}"]
        if minimum is not None and value < minimum:
            return [f"{_at(path)}: must be >= {minimum}, got {show(value)}"]
        return []

    return check


def number(positive: bool = False) -> Check:
    """An int or float (not a bool), > 0 if ``positive``."""

    def check(value: Any, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return [f"{_at(path)}: expected a number, got {show(value)}"]
        if positive and value <= 0:
            return [f"{_at(path)}: must be > 0, got {show(value)}"]
        return []

    return check


def boolean() -> Check:
    """true or false."""

    def check(value: Any, path: str) -> list[str]:
        return [] if isinstance(value, bool) else [f"{_at(path)}: expected true or false, got {show(value)}"]

    return check


def sha256() -> Check:
    """A sha256 hex digest."""
    return string(pattern=_HEX64, what="64 lower-case hex characters (a sha256)")


def any_json() -> Check:
    """Anything JSON can hold."""
    return lambda value, path: []


def nullable(inner: Check) -> Check:
    """``None`` or whatever ``inner`` accepts."""
    return lambda value, path: [] if value is None else inner(value, path)


def list_of(inner: Check, *, min_items: int = 0) -> Check:
    """A list whose items all pass ``inner``."""

    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{_at(path)}: expected a list, got {show(value)}"]
        if len(value) < min_items:
            return [f"{_at(path)}: needs at least {min_items} item(s)"]
        errors: list[str] = []
        for i, item in enumerate(value):
            errors += inner(item, f"{path}[{i}]")
        return errors

    return check


def free_object() -> Check:
    """A JSON object with any keys."""

    def check(value: Any, path: str) -> list[str]:
        return [] if isinstance(value, dict) else [f"{_at(path)}: expected an object, got {show(value)}"]

    return check


@dataclass
class Obj:
    """A JSON object with known fields; unknown keys are errors unless ``open``."""

    required: dict[str, Check]
    optional: dict[str, Check] = field(default_factory=dict)
    open: bool = False

    def __call__(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{_at(path)}: expected an object, got {show(value)}"]
        prefix = f"{path}." if path else ""
        errors = [f"{prefix}{key}: missing" for key in self.required if key not in value]
        for key, item in value.items():
            check = self.required.get(key) or self.optional.get(key)
            if check is not None:
                errors += check(item, prefix + key)
            elif not self.open:
                known = ", ".join([*self.required, *self.optional])
                errors.append(f"{prefix}{_key(key)}: unknown field (known: {known})")
        return errors


def summarize(errors: list[str], limit: int = 5) -> str:
    """Join the first ``limit`` problems into one line."""
    shown = "; ".join(errors[:limit])
    more = len(errors) - limit
    return shown + (f"; and {more} more problem(s)" if more > 0 else "")
