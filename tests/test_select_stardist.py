"""benchmarks/select_stardist.py keeps every candidate's row: a later selection run does not erase an earlier one."""

from __future__ import annotations

import json


def test_a_selection_run_merges_its_rows_and_each_row_keeps_its_own_command(tmp_path, load_benchmark):
    write_selection = load_benchmark("select_stardist").write_selection
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


def test_the_rule_picks_the_smaller_of_tied_models_and_the_higher_mean_of_tied_equal_sizes(monkeypatch, load_benchmark):
    script = load_benchmark("select_stardist")
    sizes = {"big": 14_000_000, "a": 880_000, "b": 880_000}
    monkeypatch.setattr(script, "parameters", lambda candidate: sizes[candidate])

    def row(mean, sd):
        return {"f1_50": {"mean": mean, "sd": sd}, "seeds": [0, 1, 2]}

    pick = lambda models: script.choose(models, {n: n for n, _ in models})[0]  # noqa: E731
    assert pick([("big", row(0.82, 0.02)), ("a", row(0.80, 0.01))]) == "a"  # tied: the smaller wins
    assert pick([("big", row(0.85, 0.01)), ("a", row(0.80, 0.01))]) == "big"  # clear of one sd: the best wins
    assert pick([("a", row(0.807, 0.007)), ("b", row(0.819, 0.017))]) == "b"  # equal sizes: the higher mean
    assert pick([("b", row(0.819, 0.017)), ("a", row(0.807, 0.007))]) == "b"  # whatever the order
