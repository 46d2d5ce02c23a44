"""benchmarks/recipe_draws.py groups held-out rows into recipes by training seed and refuses a draw measured twice."""

from __future__ import annotations

import json

import pytest


def row(f1: float) -> dict:
    return {"f1_50": {"mean": f1, "sd": 0.01}, "f1_70": {"mean": f1 / 2, "sd": 0.01}}


def write(path: Path, rows: list) -> Path:
    path.write_text(json.dumps({"command": "x", "rows": rows}))
    return path


def test_draws_of_a_recipe_are_grouped_and_a_fine_tune_keeps_its_recorded_seed(tmp_path, capsys, load_benchmark):
    models = tmp_path / "models"
    (models / "m-ft").mkdir(parents=True)
    (models / "m-ft" / "config.json").write_text(json.dumps({"seed": 1}))
    a = write(tmp_path / "a.json", [["m-L", row(0.8)], ["painter (baseline)", row(0.5)]])
    b = write(tmp_path / "b.json", [["m-s1-L", row(0.7)], ["m-ft-L", row(0.6)]])
    script = load_benchmark("recipe_draws")
    table = script.draws([a, b], "-L", models)
    assert {recipe: sorted(seeds) for recipe, seeds in table.items()} == {"m": [0, 1], "m-ft": [1]}
    assert script.main([str(a), str(b), "--suffix=-L", "--models", str(models)]) == 0
    out = capsys.readouterr().out
    assert "| m | 2 (0,1) | 0.750 ± 0.071 (0.800, 0.700) |" in out
    assert "| m-ft | 1 (1) | 0.600 (one draw) |" in out


def test_a_draw_measured_in_two_files_is_an_error_naming_the_file(tmp_path, load_benchmark):
    a = write(tmp_path / "a.json", [["m-s2-L", row(0.8)]])
    b = write(tmp_path / "b.json", [["m-s2-L", row(0.7)]])
    with pytest.raises(SystemExit, match="b.json: m-s2-L is a second measurement of m seed 2"):
        load_benchmark("recipe_draws").draws([a, b], "-L", tmp_path)
