"""The public API: every exported name resolves, and no submodule import shadows a function."""

from __future__ import annotations

import importlib
import pkgutil

import nucgan


def test_every_public_name_resolves():
    for name in nucgan.__all__:
        assert getattr(nucgan, name) is not None, name


def test_importing_every_submodule_keeps_functions_callable():
    for info in pkgutil.walk_packages(nucgan.__path__, "nucgan."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    for name in ("generate", "train", "evaluate", "layer", "unlayer", "synthesise", "place",
                 "create_generator", "list_generators"):
        assert callable(getattr(nucgan, name)), name
