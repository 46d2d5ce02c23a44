"""benchmarks/select_stardist.py keeps every candidate's row: a later selection run does not erase an earlier one."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "select_stardist.py"


def load_script():
    spec = importlib.util.spec_from_file_location("select_stardist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_selection_run_merges_its_rows_and_each_row_keeps_its_own_command(tmp_path):
    write_selection = load_script().write_selection
    path = tmp_path / "selection.json"
    write_selection(path, [("a", {"f1_50": 0.7})], "run-a")
    write_selection(path, [("b", {"f1_50": 0.8})], "run-b")
    write_selection(path, [("a", {"f1_50": 0.75})], "run-a-again")
    saved = json.loads(path.read_text())
    assert dict((name, row) for name, row in saved["rows"]) == {
        "b": {"command": "run-b", "f1_50": 0.8},
        "a": {"command": "run-a-again", "f1_50": 0.75},
    }
    assert saved["command"] == "run-a-again"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
