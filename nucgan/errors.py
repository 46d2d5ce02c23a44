"""Exceptions nucgan raises for problems a user can fix; the CLI turns them into one line and exit 2."""

from __future__ import annotations

from typing import Sequence


class NucganError(Exception):
    """Base of every error caused by bad input, configuration or environment (not by a nucgan bug)."""


class UnknownNameError(NucganError, KeyError):
    """A registry name (generator, layerer, ...) that no active plugin provides."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousNameError(NucganError, LookupError):
    """A bare name that two third-party plugins provide; use ``package:name``."""


class PluginError(NucganError):
    """A plugin failed to import, to validate or to register."""


class InputError(NucganError, ValueError):
    """Bad input data: wrong shape, dtype, value range, unreadable file."""


class LayeringError(InputError):
    """A label image cannot be layered as asked (too few channels, split instances).

    ``unplaced``: ids of the masks no channel could take; ``disconnected``: ids of instances made of
    several pieces. :meth:`named` prefixes the message with a file name and keeps both.
    """

    def __init__(self, message: str, *, unplaced: "Sequence[int]" = (), disconnected: "Sequence[int]" = ()) -> None:
        super().__init__(message)
        self.unplaced = [int(i) for i in unplaced]
        self.disconnected = [int(i) for i in disconnected]

    def named(self, what: str) -> "LayeringError":
        """The same error, its message starting with ``what`` (the labels file it is about) instead of "labels"."""
        text = str(self)
        text = text[len("labels: "):] if text.startswith("labels: ") else text
        return LayeringError(f"{what}: {text}", unplaced=self.unplaced, disconnected=self.disconnected)
