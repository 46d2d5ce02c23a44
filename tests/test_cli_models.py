"""``nucgan models table`` and ``nucgan models show``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import nucgan
from nucgan.cli.app import app
from nucgan.cli.models import parse_kwargs

runner = CliRunner()


def test_table_reproduces_all_84_entries():
    result = runner.invoke(app, ["models", "table"])
    assert result.exit_code == 0, result.output
    assert "84 of 84 entries equal the paper's Table 1" in result.output
    assert "1,232,794,305" in result.output and "3x b: chain3 (tanh,gelu,tanh)" in result.output


def test_table_json():
    result = runner.invoke(app, ["models", "table", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 84 and all(r["ok"] and r["ours"] == r["paper"] for r in rows)


def test_table_exits_1_on_a_mismatch(monkeypatch):
    from nucgan import modelinfo

    monkeypatch.setitem(modelinfo.PAPER_TABLE1, ("1x", 16, 3), (1, 884_017, 14_164_129, 14_164_273))
    result = runner.invoke(app, ["models", "table"])
    assert result.exit_code == 1 and "83 of 84" in result.output


def test_show_a_generator():
    result = runner.invoke(app, ["models", "show", "chain3", "in_channels=5", "kernel_size=7",
                                 "activations=tanh,gelu,tanh", "--size", "128"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "stages.0" in out and "stages.2" in out and "1 x 1 x 128 x 128" in out
    assert "trainable parameters: 14,398,563" in out
    assert "(Keras count, the paper's Table 1): 14,402,883" in out
    assert "GFLOPs" in out


def test_show_json_per_stage_sizes_and_flops():
    result = runner.invoke(app, ["models", "show", "unet", "in_channels=4", "filters=16", "kernel_size=3",
                                 "levels=4", "--size", "64x128", "--json"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.output)
    assert rep["counts"]["paper"] == 883_873 and rep["output"] == [1, 1, 64, 128]
    sizes = [tuple(s["output"][2:]) for s in rep["stages"]]
    assert sizes[:5] == [(32, 64), (16, 32), (8, 16), (4, 8), (2, 4)] and sizes[-1] == (64, 128)
    # encoder conv 0: 2 * (4 * 9) MACs per output element, 16 x 32 x 64 outputs
    assert rep["stages"][0]["flops"] == 2 * 4 * 9 * 16 * 32 * 64
    assert rep["flops"] == sum(s["flops"] for s in rep["stages"])


def test_show_a_discriminator_and_a_huge_model_costs_nothing():
    result = runner.invoke(app, ["models", "show", "patchgan-paper", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["output"] == [1, 1, 18, 18]
    result = runner.invoke(app, ["models", "show", "unet", "filters=64", "kernel_size=7", "levels=6", "--json"])
    assert json.loads(result.output)["counts"]["paper"] == 1_232_791_169


@pytest.mark.parametrize("args,error", [
    (["unet", "levels=4", "--size", "100"], "multiples of 32"),
    (["unet", "nope=1"], "takes no argument 'nope'"),
    (["unet", "levels"], "expected key=value"),
    (["chain3", "activations=tanh,gelu"], "3 stages need 3 activations"),
    (["no-such-model"], "unknown generator 'no-such-model'"),
])
def test_show_errors_are_clear(args, error):
    result = runner.invoke(app, ["models", "show", *args])
    assert isinstance(result.exception, nucgan.NucganError) and error in str(result.exception)


def test_show_error_is_one_line_exit_2():
    result = subprocess.run([sys.executable, "-m", "nucgan", "models", "show", "unet", "activation=tanhh"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        result.stderr.strip()] and "did you mean 'tanh'" in result.stderr


def test_parse_kwargs():
    assert parse_kwargs(["levels=6", "dropout=0.5", "activations=tanh,gelu,tanh", "encoder=resnet18",
                         "deep-supervision=true", "stage_kwargs={\"encoder\": \"x\"}", "weights=null"]) == {
        "levels": 6, "dropout": 0.5, "activations": ["tanh", "gelu", "tanh"], "encoder": "resnet18",
        "deep_supervision": True, "stage_kwargs": {"encoder": "x"}, "weights": None}


def test_describe_model_in_python():
    rep = nucgan.describe_model("unet", {"levels": 1, "filters": 2}, size=(8, 16), batch=3)
    assert rep.output == (3, 1, 8, 16) and rep.inputs == [(3, 4, 8, 16)] and rep.kind == "generator"
    assert [s.name for s in rep.stages] == ["encoder.0", "encoder.1", "decoder.0", "head", "activation"]
    rep = nucgan.describe_model("patchgan", {"in_channels": 5}, kind="discriminator", size=256)
    assert rep.inputs == [(1, 5, 256, 256), (1, 1, 256, 256)] and rep.output == (1, 1, 30, 30)
    with pytest.raises(nucgan.InputError, match="kind must be"):
        nucgan.describe_model("unet", kind="layerer")
