"""The model zoo: published generators you pull by id, verified by sha256, cached, usable offline.

``nucgan.zoo.load("dsb2018-3x-k7")`` returns a ready generator with its manifest; see docs/zoo.md for
the manifest and index formats, hosting a zoo on any static file server, and publishing.
Importing this package is cheap; torch loads only when a model does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nucgan.zoo.errors import ChecksumError, DownloadError, PlaceholderError, UnknownModelError, ZooError

_LAZY = {
    "load": "nucgan.zoo.loading", "resolve_model": "nucgan.zoo.loading", "ZooModel": "nucgan.zoo.loading",
    "pull": "nucgan.zoo.pulling", "Pulled": "nucgan.zoo.pulling", "ZooWarning": "nucgan.zoo.pulling",
    "publish": "nucgan.zoo.publishing", "PublishReport": "nucgan.zoo.publishing", "reindex": "nucgan.zoo.publishing",
    "verify": "nucgan.zoo.check", "Verdict": "nucgan.zoo.check",
    "list_entries": "nucgan.zoo.catalog", "show": "nucgan.zoo.catalog",
    "Cache": "nucgan.zoo.cache", "cache_dir": "nucgan.zoo.cache",
    "shipped_zoo": "nucgan.zoo.index", "zoo_locations": "nucgan.zoo.index",
    "parse_ref": "nucgan.zoo.names",
}

__all__ = ["ZooError", "UnknownModelError", "ChecksumError", "PlaceholderError", "DownloadError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nucgan.zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load lazily
    from nucgan.zoo.cache import Cache, cache_dir  # noqa: F401
    from nucgan.zoo.catalog import list_entries, show  # noqa: F401
    from nucgan.zoo.check import Verdict, verify  # noqa: F401
    from nucgan.zoo.index import shipped_zoo, zoo_locations  # noqa: F401
    from nucgan.zoo.loading import ZooModel, load, resolve_model  # noqa: F401
    from nucgan.zoo.names import parse_ref  # noqa: F401
    from nucgan.zoo.publishing import PublishReport, publish, reindex  # noqa: F401
    from nucgan.zoo.pulling import Pulled, ZooWarning, pull  # noqa: F401
