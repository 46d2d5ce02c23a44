"""The built-in plugin's hook implementations: one per kind, each returning that kind's catalog."""

from __future__ import annotations

from nucgan.plugin_api import hookimpl
from nucgan_builtins import catalog


@hookimpl
def register_generators():
    return catalog.GENERATORS


@hookimpl
def register_discriminators():
    return catalog.DISCRIMINATORS


@hookimpl
def register_layerers():
    return catalog.LAYERERS


@hookimpl
def register_datasets():
    return catalog.DATASETS


@hookimpl
def register_samplers():
    return catalog.SAMPLERS
