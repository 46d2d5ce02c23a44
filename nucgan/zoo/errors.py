"""Errors the zoo raises; all are NucganError, so the CLI prints one line and exits 2."""

from __future__ import annotations

from nucgan.errors import NucganError


class ZooError(NucganError):
    """A zoo, an entry or the cache is unusable as asked (bad id, bad manifest, unreachable zoo...)."""


class UnknownModelError(ZooError, LookupError):
    """No configured zoo (nor the cache) has the requested id or version."""


class ChecksumError(ZooError):
    """A file's sha256 or size differs from what its manifest promises; nothing was kept."""


class PlaceholderError(ZooError):
    """The entry exists only as a recipe (no weights): it has to be trained from the user's own images."""


class DownloadError(ZooError):
    """A transfer failed (network, server, truncated body); a partial download is kept for resuming."""
