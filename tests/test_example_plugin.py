"""The example plugin package installs with pip and nucgan sees it, end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "nucgan-example-plugin"


def test_pip_installed_example_plugin_is_seen(tmp_path):
    target = tmp_path / "target"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(EXAMPLE)]
    if importlib.util.find_spec("setuptools") is not None:
        cmd.insert(4, "--no-build-isolation")  # no index access needed when setuptools is at hand
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert list(target.glob("nucgan_example_plugin-0.1.0.dist-info/entry_points.txt"))
    env = {**os.environ, "PYTHONPATH": str(target)}

    listed = subprocess.run([sys.executable, "-m", "nucgan", "models", "list", "--json"],
                            capture_output=True, text=True, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {"kind": "generator", "name": "example-tiny", "package": "nucgan-example-plugin"}.items() <= next(
        r for r in rows if r["name"] == "example-tiny").items()

    code = (
        "import torch, nucgan\n"
        "g = nucgan.create_generator('example-tiny', in_channels=5)\n"
        "y = g(torch.zeros(2, 5, 16, 16))\n"
        "print(type(g).__module__, tuple(y.shape))\n"
    )
    made = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == ["nucgan_example.tiny", "(2,", "1,", "16,", "16)"]
