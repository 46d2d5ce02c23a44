"""The CLI's shared behaviour: version, help everywhere, one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import nucgan
from nucgan.cli.app import app

runner = CliRunner()


def _commands(group, prefix=()):
    """Every command path of the typer app, e.g. ('models', 'list')."""
    import typer.main

    click_group = typer.main.get_command(group)
    stack = [(prefix, click_group)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append((path + (name,), sub))


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"nucgan {nucgan.__version__}"


@pytest.mark.parametrize("path", list(_commands(app)), ids=lambda p: " ".join(p) or "nucgan")
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_models_list_json_matches_the_registry():
    import json

    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["name"], r["package"]) for r in json.loads(result.output)}
    expected = {("generator", p.name, p.package) for p in nucgan.list_generators()}
    expected |= {("discriminator", p.name, p.package) for p in nucgan.list_discriminators()}
    assert rows == expected


def _run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "nucgan", *args], capture_output=True, text=True, **kw)


def test_usage_error_exits_2_without_traceback():
    result = _run("plugins", "--no-such-option")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_nucgan_error_is_one_line_exit_2(fake_plugins):
    fake_plugins("brokenplug", "raise RuntimeError('boom')")
    import os

    result = _run("plugins", env={**os.environ, "PYTHONPATH": sys.path[0], "NUCGAN_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: plugin 'brokenplug'") and "boom" in lines[0]
