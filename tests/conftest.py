"""Shared fixtures: real data paths, a clean plugin registry per test, fake installed plugins."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings

from nucgan import plugins

# Property tests draw the same examples on every run, so CI passes or fails on the code, not on the
# draw; HYPOTHESIS_PROFILE=explore draws fresh examples (and remembers failures) while developing.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The real DSB 2018 crop shipped with the tests (tests/data/dsb2018); NUCGAN_TEST_DATA overrides it.
DATA = Path(os.environ.get("NUCGAN_TEST_DATA") or Path(__file__).resolve().parent / "data" / "dsb2018")


@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch):
    """Each test sees plugins discovered afresh, with no NUCGAN_* plugin variables leaking in."""
    monkeypatch.delenv("NUCGAN_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("NUCGAN_STRICT_PLUGINS", raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def dsb_dir() -> Path:
    """The real DSB 2018 crop (image.tif, labels.tif), shipped in tests/data/dsb2018."""
    assert (DATA / "labels.tif").exists(), f"test data missing: {DATA} (set NUCGAN_TEST_DATA or restore tests/data)"
    return DATA


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Install fake distributions (dist-info + module) on sys.path: ``add(dist, module_source, ...)``."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def add(dist: str, source: str, *, module: str | None = None, entry: str | None = None,
            version: str = "1.0") -> str:
        module = module or dist.replace("-", "_") + "_mod"
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[nucgan]\n{entry or dist} = {module}\n")
        for name in (module, module.replace("_mod", "") + "_impl"):  # no stale module from an earlier test
            monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        plugins.reset()
        return module

    return add


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A tiny untrained unet saved as a zoo-loadable generator (5 input channels, uint8 0..200)."""
    import torch

    import nucgan
    from nucgan.normalize import Normalization

    torch.manual_seed(0)
    g = nucgan.create_generator("unet", in_channels=5, filters=4, levels=2, kernel_size=3)
    path = tmp_path_factory.mktemp("model") / "g.safetensors"
    nucgan.save_generator(path, g, name="unet", input={
        "channels": 4, "merged": True, "gap": 2, "layerer": "coloring",
        "normalization": Normalization(low=0.0, high=200.0, dtype="uint8").to_json()})
    return path


@pytest.fixture
def load_benchmark():
    """A loader of ``benchmarks/NAME.py`` as a module (benchmarks/ is not a package), so its helpers can be tested."""

    def load(name: str):
        import importlib.util

        spec = importlib.util.spec_from_file_location(f"nucgan_bench_{name}", Path(__file__).resolve().parents[1]
                                                      / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
