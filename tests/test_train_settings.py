"""Training settings: presets applied or refused, each rank its own device, resume never ignores a flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import subprocess
import sys

from nucgan.cli.app import app
from nucgan.errors import InputError
from nucgan.training import TrainConfig
from nucgan.training.distributed import World
from nucgan.training.loop import device_for_rank

runner = CliRunner()


def test_preset_is_applied_by_the_python_api():
    config = TrainConfig(preset="paper").validate()
    assert (config.lr, config.betas, config.batch, config.views, config.randomize) == (1e-4, (0.9, 0.999), 20,
                                                                                        "paper5", 10)
    assert TrainConfig(preset="paper", lr=3e-4).lr == 3e-4  # an explicit setting wins over the preset


def test_unknown_preset_is_refused():
    with pytest.raises(InputError, match="unknown preset 'no-such'; known: paper"):
        TrainConfig(preset="no-such")
    result = subprocess.run([sys.executable, "-m", "nucgan", "train", "--preset", "no-such", "--image", "a.tif",
                             "--labels", "b.tif"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown preset 'no-such'")


def test_a_saved_config_keeps_its_values_and_preset():
    saved = TrainConfig(preset="paper").to_json()
    saved["batch"] = 8  # the user overrode the preset's batch; reading the run back must not undo that
    again = TrainConfig.from_json(saved)
    assert again.batch == 8 and again.preset == "paper" and again.lr == 1e-4


def test_each_rank_takes_the_accelerator_of_its_local_rank():
    two = [World(rank=r, size=2, local_rank=r) for r in range(2)]
    assert [str(device_for_rank(torch.device("cuda"), w)) for w in two] == ["cuda:0", "cuda:1"]
    assert str(device_for_rank(torch.device("cuda:1"), two[0])) == "cuda:1"  # an explicit index is kept
    assert str(device_for_rank(torch.device("cuda"), World())) == "cuda:0"
    assert device_for_rank(torch.device("cpu"), two[1]).type == "cpu"


def _train(dsb_dir: Path, out: Path, *extra: str):
    args = ["train", "--image", str(dsb_dir / "image.tif"), "--labels", str(dsb_dir / "labels.tif"),
            "--region", "0:96,0:96", "--tile", "32", "--stride", "32", "--randomize", "2", "-g", "unet",
            "--filters", "4", "--levels", "2", "--kernel", "3", "-d", "patchgan", "--disc-arg", "filters=4",
            "--disc-arg", "n_layers=1", "--batch", "2", "--device", "cpu", "--threads", "1",
            "--checkpoint-every", "1", "--sample-every", "100", "--out", str(out), "--quiet", *extra]
    return runner.invoke(app, args)


def test_cli_preset_matches_the_api_and_flags_override_it(dsb_dir, tmp_path):
    result = _train(dsb_dir, tmp_path / "run", "--preset", "paper", "--steps", "1")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["lr"], config["betas"], config["views"], config["preset"]) == (1e-4, [0.9, 0.999], "paper5", "paper")
    assert config["batch"] == 2 and config["input"]["tile"] == 32  # explicit flags win


def test_resume_refuses_conflicts_and_applies_what_may_change(dsb_dir, tmp_path):
    out = tmp_path / "run"
    assert _train(dsb_dir, out, "--steps", "2").exit_code == 0
    resume = ["train", "--resume", "--out", str(out), "--quiet"]

    def refused(*args: str) -> str:
        result = runner.invoke(app, [*resume, *args])
        assert isinstance(result.exception, InputError), result.output
        return str(result.exception)

    assert "generator 'chain2' (the run has 'unet')" in refused("-g", "chain2", "--steps", "3")
    assert "generator-kwargs" in refused("--filters", "8", "--levels", "2", "--kernel", "3", "-g", "unet")
    assert "sources" in refused("--image", str(dsb_dir / "labels.tif"), "--labels", str(dsb_dir / "labels.tif"))
    done = runner.invoke(app, [*resume, "--steps", "2"])
    assert done.exit_code == 0 and "no step runs" in done.output
    more = runner.invoke(app, [*resume, "--steps", "3", "--checkpoint-every", "1"])
    assert more.exit_code == 0, more.output
    config = json.loads((out / "config.json").read_text())
    assert config["steps"] == 3  # --steps applied on resume; the rest is the run's own config
    assert [(r["from_step"], r["steps"]) for r in config["resumed"]] == [(2, 3)]  # the recipe records the resume
    assert config["resumed"][0]["command"].startswith("nucgan")


def test_training_blames_a_generator_with_a_wrong_output_before_the_first_step(dsb_dir, tmp_path, monkeypatch):
    from nucgan.errors import PluginError
    from nucgan.training import loop, train
    from tests.test_generate_checks import Faulty

    monkeypatch.setattr(loop, "create_generator", lambda name, **kw: Faulty("half-size"))
    from tests.test_training import tiny

    with pytest.raises(PluginError, match=r"generator 'unet'.*returned \(1, 1, 16, 16\) for a \(1, 5, 32, 32\)"):
        train(tiny(dsb_dir, tmp_path / "run"))
    assert not (tmp_path / "run").exists()  # refused before anything was written
