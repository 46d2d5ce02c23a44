"""The body of one of several processes pulling the same zoo entry at once (kept light: no torch import)."""

from __future__ import annotations

import os
from typing import Any


def pull_worker(url: str, cache: str, ident: str, barrier: Any, results: Any) -> None:
    """Wait for the others, pull ``ident`` from ``url`` into ``cache``, report ("ok", path) or ("error", text)."""
    os.environ["NUCGAN_CACHE"] = cache
    os.environ.pop("NUCGAN_ZOO", None)
    import nucgan.zoo

    barrier.wait(timeout=60)
    try:
        pulled = nucgan.zoo.pull(ident, [url], quiet=True)
        results.put(("ok", str(pulled.weights)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", f"{type(exc).__name__}: {exc}"))
