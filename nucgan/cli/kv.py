"""One ``key=value`` parser for every CLI flag that passes kwargs (``--gen-arg``, ``--sampler-arg``, ``models show``)."""

from __future__ import annotations

import json
from typing import Any

from nucgan.errors import InputError


def parse_kv(items: list[str], flag: str = "argument") -> dict[str, Any]:
    """``["levels=6", "activations=tanh,gelu,tanh"]`` -> kwargs: JSON values, comma lists, else strings.

    Keys may use ``-`` for ``_``; a key that is not an identifier, or an item without ``=``, is refused
    naming ``flag``.
    """
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise InputError(f"{flag} {item!r}: expected key=value (e.g. kernel_size=7)")
        kwargs[key] = _value(raw.strip())
    return kwargs


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        pass
    if "," in raw:
        return [_value(part.strip()) for part in raw.split(",")]
    return raw
