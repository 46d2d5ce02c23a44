"""The docs stay true to the code: the CLI reference, the plugin guide and its example package (issue 9)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pluggy
import pytest
from typer.testing import CliRunner

from nucgan import hookspecs
from nucgan.cli.app import app

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLE = DOCS / "examples" / "nucgan-example-plugin"
SPEC_ATTR = f"{hookspecs.PROJECT}_spec"
IMPL_ATTR = f"{hookspecs.PROJECT}_impl"


def _gen_cli() -> ModuleType:
    """Import docs/gen_cli.py (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("nucgan_docs_gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hookspecs() -> dict[str, Callable[..., Any]]:
    """Every hook declared in nucgan/hookspecs.py, by name."""
    return {name: fn for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, SPEC_ATTR)}


def _signature(name: str, fn: Callable[..., Any]) -> str:
    """A hook's call signature as the guide writes it, e.g. ``register_generators()``."""
    return f"{name}({', '.join(inspect.signature(fn).parameters)})"


# --- CLI reference -----------------------------------------------------------------------------------


def test_cli_reference_is_current() -> None:
    """docs/cli.md equals what docs/gen_cli.py renders from the typer app right now."""
    gen = _gen_cli()
    expected = gen.render()
    current = gen.TARGET.read_text(encoding="utf-8") if gen.TARGET.exists() else ""
    assert current == expected, f"docs/cli.md is out of date; regenerate it with: {gen.COMMAND}"


def test_downstream_figures_in_the_docs_come_from_the_committed_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """README, results and shipped-models hold exactly what benchmarks/downstream.py renders from results.json."""
    bench = DOCS.parent / "benchmarks"
    monkeypatch.syspath_prepend(str(bench))
    spec = importlib.util.spec_from_file_location("nucgan_bench_downstream", bench / "downstream.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from docblocks import blocks

    expected = module.render()
    pages = {p: blocks(p.read_text()) for p in (DOCS.parent / "README.md", DOCS / "results.md",
                                                 DOCS / "shipped-models.md")}
    assert "downstream-headline" in pages[DOCS.parent / "README.md"]
    assert "downstream-tables" in pages[DOCS / "results.md"]
    for path, found in pages.items():
        for name, body in found.items():
            if name in expected:
                assert body == expected[name], f"{path.name}: section {name} is stale; run " \
                                               "python benchmarks/downstream.py --write-docs"


def test_cli_reference_covers_every_command_and_option() -> None:
    """Each visible command path and each option flag of the app has its place in docs/cli.md."""
    import typer.main

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    stack: list[tuple[str, Any]] = [("nucgan", typer.main.get_command(app))]
    seen = 0
    while stack:
        path, cmd = stack.pop()
        assert f"## `{path}`" in text, f"{path} missing from docs/cli.md"
        section = text.split(f"## `{path}`\n", 1)[1].split("\n## ", 1)[0]
        for param in cmd.params:
            for flag in getattr(param, "opts", []) if param.param_type_name == "option" else []:
                assert flag in section, f"{path} {flag} missing from docs/cli.md"
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                stack.append((f"{path} {name}", sub))
        seen += 1
    assert seen >= 10


def test_reference_renderer_is_width_independent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference is plain Markdown: no ANSI codes, no box drawing, same text at any terminal width."""
    gen = _gen_cli()
    monkeypatch.setenv("COLUMNS", "40")
    narrow = gen.render()
    monkeypatch.setenv("COLUMNS", "300")
    assert gen.render() == narrow
    assert "\x1b[" not in narrow and not re.search("[\u2500-\u257f]", narrow)


def _help_commands() -> list[tuple[str, ...]]:
    """Every command path of the app whose own options carry a bracketed note such as ``[chain3]``."""
    import typer.main

    found = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), typer.main.get_command(app))]
    while stack:
        path, cmd = stack.pop()
        if any(re.search(r"\[[^\[\]]+\]", getattr(p, "help", None) or "") for p in cmd.params):
            found.append(path)
        stack += [((*path, n), c) for n, c in getattr(cmd, "commands", {}).items()]
    return sorted(found)


@pytest.mark.parametrize("path", _help_commands(), ids=lambda p: " ".join(p))
def test_help_shows_bracketed_notes(path: tuple[str, ...]) -> None:
    """A note such as ``[chain3]`` in an option's help is visible in ``--help``, not eaten as rich markup."""
    import typer.main

    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    missing = [note for p in cmd.params for note in re.findall(r"\[[^\[\]]+\]", getattr(p, "help", None) or "")
               if note.replace("\\[", "[") not in shown]
    assert not missing, f"nucgan {' '.join(path)} --help drops {missing}"


# --- plugin guide --------------------------------------------------------------------------------------


def test_hookspecs_exist() -> None:
    """The spec module declares the five documented kinds (guards the checks below against an empty list)."""
    assert set(_hookspecs()) >= {"register_generators", "register_discriminators", "register_layerers",
                                 "register_datasets", "register_samplers"}


def test_every_hook_is_documented_with_its_signature() -> None:
    """docs/plugins.md writes every hookspec as its exact signature, e.g. ``register_generators()``."""
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    missing = [_signature(n, f) for n, f in _hookspecs().items() if f"`{_signature(n, f)}`" not in text]
    assert not missing, f"docs/plugins.md lacks these hooks (as `signature`): {missing}"


def test_every_hook_the_guide_names_exists() -> None:
    """Hook signatures and ``def`` lines in docs/plugins.md name real hooks with their real parameters."""
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    specs = {_signature(n, f) for n, f in _hookspecs().items()}
    written = set(re.findall(r"`(register_\w*\([^`]*\))`", text))
    written |= {f"{name}({params})" for name, params in re.findall(r"@hookimpl\s*\ndef (\w+)\(([^)]*)\)", text)}
    assert written, "docs/plugins.md names no hook in signature form"
    unknown = written - specs
    assert not unknown, f"docs/plugins.md names hooks that nucgan/hookspecs.py does not declare: {sorted(unknown)}"


@pytest.fixture
def example_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example plugin's hooks module, imported from the docs folder (nothing installed)."""
    for name in [m for m in sys.modules if m == "nucgan_example" or m.startswith("nucgan_example.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    module = importlib.import_module("nucgan_example.hooks")
    assert Path(module.__file__).resolve().is_relative_to(EXAMPLE.resolve())
    yield module
    for name in [m for m in sys.modules if m == "nucgan_example" or m.startswith("nucgan_example.")]:
        del sys.modules[name]


def test_example_plugin_implements_only_real_hooks(example_hooks: ModuleType) -> None:
    """Every hookimpl of the example plugin matches a spec by name and signature; pluggy agrees."""
    specs = _hookspecs()
    impls = {n: f for n, f in vars(example_hooks).items() if callable(f) and hasattr(f, IMPL_ATTR)}
    assert impls, "the example plugin implements no hook"
    unknown = sorted(set(impls) - set(specs))
    assert not unknown, f"example plugin implements hooks that do not exist: {unknown}"
    for name, fn in impls.items():
        assert _signature(name, fn) == _signature(name, specs[name])
    undecorated = [n for n, f in vars(example_hooks).items()
                   if n.startswith("register_") and callable(f) and n not in impls]
    assert not undecorated, f"functions named like hooks but missing @hookimpl: {undecorated}"
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(example_hooks, name="example")
    pm.check_pending()

