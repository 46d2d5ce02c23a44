"""Exceptions nucgan raises for problems a user can fix; the CLI turns them into one line and exit 2."""

from __future__ import annotations


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
    """A label image cannot be layered as asked (too few channels, split instances)."""
