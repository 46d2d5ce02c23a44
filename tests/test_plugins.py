"""The plugin host: discovery through real entry points, broken plugins, collisions, env switches."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

import nucgan
from nucgan import plugins
from nucgan.plugins import PluginWarning

GOOD = """
    from nucgan import GeneratorSpec, SamplerSpec, hookimpl

    @hookimpl
    def register_generators():
        return [GeneratorSpec("{name}", "{module}_impl:make", "a test generator")]
"""

IMPL = """
    import nucgan

    class G(nucgan.Generator):
        def __init__(self, in_channels=4):
            super().__init__()
            import torch
            self.in_channels = in_channels
            self.conv = torch.nn.Conv2d(in_channels, 1, 1)
        def config(self):
            return {{"in_channels": self.in_channels}}
        def forward(self, x):
            self.check_input(x)
            return self.conv(x).tanh()

    def make(in_channels=4):
        g = G(in_channels)
        g.tag = "{tag}"
        return g
"""


def _install_good(fake_plugins, dist, name, tag=None):
    module = fake_plugins(dist, GOOD.format(name=name, module=dist.replace("-", "_")))
    impl = module.replace("_mod", "") + "_impl"
    (__import__("pathlib").Path(sys.path[0]) / f"{impl}.py").write_text(
        __import__("textwrap").dedent(IMPL.format(tag=tag or dist)))
    return module


def _info(name):
    return next(i for i in plugins.plugin_infos() if i.name == name)


def test_builtins_come_through_the_entry_point_group():
    info = _info("builtins")
    assert info.package == "nucgan" and info.builtin and info.status == "active"
    assert "ellipse" in info.provides["samplers"]


def test_good_plugin_is_discovered_and_lazy(fake_plugins):
    _install_good(fake_plugins, "goodplug", "good-gen")
    names = {p.name: p.package for p in nucgan.list_generators()}
    assert names["good-gen"] == "goodplug"
    assert "goodplug_impl" not in sys.modules  # listing never imports the factory
    g = nucgan.create_generator("good-gen", in_channels=3)
    assert isinstance(g, nucgan.Generator) and g.in_channels == 3
    assert "goodplug_impl" in sys.modules


def test_plugin_that_raises_on_import_is_reported_and_skipped(fake_plugins):
    fake_plugins("brokenplug", "raise RuntimeError('boom at import')", version="2.3")
    _install_good(fake_plugins, "goodplug", "good-gen")
    with pytest.warns(PluginWarning, match=r"brokenplug.*brokenplug 2\.3.*boom at import"):
        infos = plugins.plugin_infos()
    broken = next(i for i in infos if i.name == "brokenplug")
    assert broken.status == "failed" and "RuntimeError: boom at import" in broken.error
    assert "\n" not in broken.error
    assert "good-gen" in {p.name for p in nucgan.list_generators()}  # everything else keeps working


def test_strict_mode_reraises(fake_plugins, monkeypatch):
    fake_plugins("brokenplug", "raise RuntimeError('boom at import')")
    monkeypatch.setenv("NUCGAN_STRICT_PLUGINS", "1")
    with pytest.raises(nucgan.PluginError, match="boom at import") as caught:
        plugins.plugin_infos()
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_misspelled_hook_is_an_error_for_that_plugin(fake_plugins):
    fake_plugins("typoplug", """
        from nucgan import GeneratorSpec, hookimpl

        @hookimpl
        def register_generator():
            return [GeneratorSpec("typo-gen", "x:y")]
    """)
    with pytest.warns(PluginWarning, match="unknown hook"):
        info = _info("typoplug")
    assert info.status == "failed" and "register_generator" in info.error
    assert "typo-gen" not in {p.name for p in nucgan.list_generators()}


def test_hook_returning_wrong_type_fails_that_plugin(fake_plugins):
    fake_plugins("wrongplug", """
        from nucgan import SamplerSpec, hookimpl

        @hookimpl
        def register_generators():
            return [SamplerSpec("oops", "x:y")]
    """)
    with pytest.warns(PluginWarning, match="expected GeneratorSpec"):
        assert _info("wrongplug").status == "failed"


def test_two_providers_of_one_name_stay_reachable_and_bare_name_errors(fake_plugins):
    _install_good(fake_plugins, "plug-a", "shared-gen", tag="A")
    _install_good(fake_plugins, "plug-b", "shared-gen", tag="B")
    with pytest.raises(nucgan.AmbiguousNameError, match="plug-a:shared-gen.*plug-b:shared-gen"):
        nucgan.create_generator("shared-gen")
    assert nucgan.create_generator("plug-a:shared-gen").tag == "A"
    assert nucgan.create_generator("plug-b:shared-gen").tag == "B"
    listed = {p.name for p in nucgan.list_generators()}
    assert {"plug-a:shared-gen", "plug-b:shared-gen"} <= listed and "shared-gen" not in listed


def test_builtin_names_are_reserved(fake_plugins):
    fake_plugins("shadowplug", """
        from nucgan import SamplerSpec, hookimpl

        @hookimpl
        def register_samplers():
            return [SamplerSpec("ellipse", "shadowplug_mod:Fake")]

        class Fake:
            pass
    """)
    with pytest.warns(PluginWarning, match="reserved.*shadowplug:ellipse"):
        plugins.registry()
    s = nucgan.create_sampler("ellipse")
    assert type(s).__module__.startswith("nucgan_builtins")
    with pytest.raises(nucgan.NucganError, match="not a nucgan.Sampler"):
        nucgan.create_sampler("shadowplug:ellipse")


def test_load_plugins_variable_limits_third_party(fake_plugins, monkeypatch):
    _install_good(fake_plugins, "plug-a", "gen-a")
    _install_good(fake_plugins, "plug-b", "gen-b")
    monkeypatch.setenv("NUCGAN_LOAD_PLUGINS", "")
    plugins.reset()
    assert {"gen-a", "gen-b"}.isdisjoint({p.name for p in nucgan.list_generators()})
    assert _info("plug-a").status == "disabled" and _info("builtins").status == "active"
    monkeypatch.setenv("NUCGAN_LOAD_PLUGINS", "plug-b")
    plugins.reset()
    names = {p.name for p in nucgan.list_generators()}
    assert "gen-b" in names and "gen-a" not in names


def test_unknown_name_lists_known_and_closest():
    with pytest.raises(nucgan.UnknownNameError) as caught:
        nucgan.create_sampler("elipse")
    message = str(caught.value)
    assert "did you mean 'ellipse'" in message and "known: " in message and "ellipse" in message


def test_wrong_kwarg_is_a_clear_error():
    with pytest.raises(nucgan.InputError, match="no argument 'aera'; did you mean 'area'"):
        nucgan.create_sampler("ellipse", aera=(100, 0.1))


def test_temporary_plugin_registers_an_object_for_one_block():
    class Obj:
        @nucgan.hookimpl
        def register_samplers(self):
            return [nucgan.SamplerSpec("temp-sampler", "nucgan_builtins.samplers.ellipse:EllipseSampler")]

    with plugins.temporary_plugin(Obj(), "temp"):
        assert "temp-sampler" in {p.name for p in nucgan.list_samplers()}
    assert "temp-sampler" not in {p.name for p in nucgan.list_samplers()}


def test_import_nucgan_loads_no_plugins_and_no_torch():
    code = ("import sys, nucgan; print(json.dumps([m in sys.modules for m in "
            "('torch', 'nucgan.plugins', 'nucgan_builtins', 'pluggy')]))")
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, False, False, False]


def test_invalid_spec_name_is_refused():
    with pytest.raises(nucgan.PluginError, match="invalid generator name"):
        nucgan.GeneratorSpec("Bad Name", "x:y")


def test_plugins_cli_reports_failures_as_json(fake_plugins, monkeypatch):
    fake_plugins("brokenplug", "raise ImportError('missing dependency foo')")
    env_path = sys.path[0]
    out = subprocess.run([sys.executable, "-m", "nucgan", "plugins", "--json"], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["brokenplug"]["status"] == "failed"
    assert "missing dependency foo" in rows["brokenplug"]["error"]
    assert rows["builtins"]["status"] == "active"
    warnings.simplefilter("default")


def test_builtins_load_without_installed_metadata():
    """A source tree on PYTHONPATH with no entry points visible still has the built-ins, listed once."""
    from pathlib import Path

    root = Path(nucgan.__file__).resolve().parents[1]
    code = (
        "import importlib.metadata as md, json\n"
        "md.entry_points = lambda **kw: md.EntryPoints(())\n"  # no installed metadata at all
        "import nucgan\n"
        "from nucgan import plugins\n"
        "g = nucgan.create_generator('unet', in_channels=5, filters=4, levels=2, kernel_size=3)\n"
        "names = [p.name for p in nucgan.list_generators()]\n"
        "infos = [(i.name, i.package, i.builtin, i.status, bool(i.version)) for i in plugins.plugin_infos()]\n"
        "print(json.dumps([type(g).__module__, names, infos]))\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": f"{root}{__import__('os').pathsep}{root / 'plugins'}"}
    env.pop("NUCGAN_LOAD_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env)
    assert out.returncode == 0, out.stderr
    module, names, infos = json.loads(out.stdout.strip().splitlines()[-1])
    assert module.startswith("nucgan_builtins")
    assert "unet" in names and len(names) == len(set(names))
    assert infos == [["builtins", "nucgan", True, "active", True]]


def test_builtins_with_their_entry_point_are_registered_once():
    """The installed entry point and the import of nucgan_builtins.hooks give one plugin, not two."""
    from importlib.metadata import entry_points

    assert any(ep.value == plugins.BUILTIN_MODULE for ep in entry_points(group=plugins.GROUP))
    builtins = [i for i in plugins.plugin_infos() if i.builtin]
    assert [(i.name, i.package, i.status) for i in builtins] == [("builtins", "nucgan", "active")]
    names = [p.name for p in nucgan.list_generators()]
    assert "unet" in names and len(names) == len(set(names))
    assert nucgan.create_generator("unet", in_channels=5, filters=4, levels=2, kernel_size=3) is not None
    samplers = [p.name for p in nucgan.list_samplers()]
    assert samplers.count("ellipse") == 1
