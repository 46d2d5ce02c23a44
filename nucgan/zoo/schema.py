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


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(path: str) -> str:
    return path or "(top level)"


def string(*, empty: bool = False, pattern: re.Pattern[str] | None = None, what: str = "") -> Check:
    """A string, non-empty unless ``empty``; optionally matching ``pattern`` (described by ``what``)."""

    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{_at(path)}: expected a string, got {_show(value)}"]
        if not empty and not value.strip():
            return [f"{_at(path)}: must not be empty"]
        if pattern is not None and not pattern.match(value):
            return [f"{_at(path)}: expected {what or pattern.pattern}, got {_show(value)}"]
        return []

    return check


def const(expected: Any) -> Check:
    """Exactly ``expected``."""

    def check(value: Any, path: str) -> list[str]:
        return [] if value == expected else [f"{_at(path)}: expected {expected!r}, got {_show(value)}"]

    return check


def one_of(*choices: Any) -> Check:
    """One of ``choices``."""

    def check(value: Any, path: str) -> list[str]:
        if value in choices:
            return []
        return [f"{_at(path)}: expected one of {', '.join(map(repr, choices))}, got {_show(value)}"]

    return check


def integer(minimum: int | None = None) -> Check:
    """An int (not a bool), at least ``minimum``."""

    def check(value: Any, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{_at(path)}: expected an integer, got {_show(value)}"]
        if minimum is not None and value < minimum:
            return [f"{_at(path)}: must be >= {minimum}, got {value}"]
        return []

    return check


def number(positive: bool = False) -> Check:
    """An int or float (not a bool), > 0 if ``positive``."""

    def check(value: Any, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return [f"{_at(path)}: expected a number, got {_show(value)}"]
        if positive and value <= 0:
            return [f"{_at(path)}: must be > 0, got {value}"]
        return []

    return check


def boolean() -> Check:
    """true or false."""

    def check(value: Any, path: str) -> list[str]:
        return [] if isinstance(value, bool) else [f"{_at(path)}: expected true or false, got {_show(value)}"]

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
            return [f"{_at(path)}: expected a list, got {_show(value)}"]
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
        return [] if isinstance(value, dict) else [f"{_at(path)}: expected an object, got {_show(value)}"]

    return check


@dataclass
class Obj:
    """A JSON object with known fields; unknown keys are errors unless ``open``."""

    required: dict[str, Check]
    optional: dict[str, Check] = field(default_factory=dict)
    open: bool = False

    def __call__(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{_at(path)}: expected an object, got {_show(value)}"]
        prefix = f"{path}." if path else ""
        errors = [f"{prefix}{key}: missing" for key in self.required if key not in value]
        for key, item in value.items():
            check = self.required.get(key) or self.optional.get(key)
            if check is not None:
                errors += check(item, prefix + key)
            elif not self.open:
                known = ", ".join([*self.required, *self.optional])
                errors.append(f"{prefix}{key}: unknown field (known: {known})")
        return errors


def summarize(errors: list[str], limit: int = 5) -> str:
    """Join the first ``limit`` problems into one line."""
    shown = "; ".join(errors[:limit])
    more = len(errors) - limit
    return shown + (f"; and {more} more problem(s)" if more > 0 else "")
