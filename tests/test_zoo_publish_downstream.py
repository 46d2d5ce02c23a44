"""publish --downstream: the train-on-synthetic table of the published weights goes into manifest and card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nucgan.errors import InputError
from nucgan.modelfile import read_info
from nucgan.zoo.manifest import validate_manifest
from nucgan.zoo.publishing import publish
from zoo_server import make_run, tiny_plugin, zoo_env  # noqa: F401


def _score(mean: float) -> dict[str, float]:
    return {"mean": mean, "sd": 0.01}


def downstream_table(folder: Path, sha: str, *, failed: list[str] | None = None) -> Path:
    """A results.json as `nucgan downstream` writes it (two arms, 3 seeds), made with weights ``sha``."""
    arm = lambda f1: {"seeds": [0, 1, 2], "train_images": 220, "f1_50": _score(f1), "f1_70": _score(f1 / 2),  # noqa: E731
                      "pq_50": _score(f1 * 0.7), "per_seed_f1_50": [f1, f1, f1], "seconds_per_run": 400.0}
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "format": "nucgan-downstream/1", "segmenter": "stardist", "layout": "bank", "config": {"epochs": 20},
        "train_folder": "fluo/train", "test_folder": "fluo/test", "command": "nucgan downstream --data fluo",
        "data": {"synthetic": {"model_sha256": sha}}, "summary": {"synthetic": arm(0.71), "painter": arm(0.56)},
        "runs": {}, "failed": failed or []}))
    return folder


def test_the_table_of_the_published_weights_lands_in_manifest_and_card(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    run = make_run(tmp_path / "run")
    table = downstream_table(tmp_path / "ds", read_info(run / "generator.safetensors", with_sha256=True).sha256)
    report = publish(run, "tiny-test", tmp_path / "zoo", license="CC0-1.0", authors=["a"], downstream=table)
    manifest = validate_manifest(json.loads((report.folder / "manifest.json").read_text()), "m")
    record = manifest["downstream"]
    assert record["segmenter"] == "stardist" and record["test_folder"] == "fluo/test"
    assert record["arms"]["synthetic"]["f1_50"] == {"mean": 0.71, "sd": 0.01}
    assert set(record["arms"]) == {"synthetic", "painter"}
    card = (report.folder / "README.md").read_text()
    assert "| synthetic | 3 | 220 | 0.710 ± 0.010 | 0.355 ± 0.010 |" in card
    assert "| painter | 3 | 220 | 0.560 ± 0.010 |" in card


@pytest.mark.parametrize("problem, message", [
    ("other weights", "made with weights sha256 0+, not the published run's"),
    ("failed run", "1 run\\(s\\) failed \\(synthetic seed 2\\)"),
    ("not a table", "not a downstream table"),
    ("missing", "no such file"),
])
def test_a_table_that_does_not_describe_the_run_is_refused(tmp_path: Path, zoo_env, problem: str,  # noqa: F811
                                                            message: str) -> None:
    run = make_run(tmp_path / "run")
    sha = read_info(run / "generator.safetensors", with_sha256=True).sha256
    table = tmp_path / "ds"
    if problem == "other weights":
        downstream_table(table, "0" * 64)
    elif problem == "failed run":
        downstream_table(table, sha, failed=["synthetic seed 2"])
    elif problem == "not a table":
        table.mkdir()
        (table / "results.json").write_text('{"format": "something-else"}')
    with pytest.raises(InputError, match=message):
        publish(run, "tiny-test", tmp_path / "zoo", license="CC0-1.0", authors=["a"], downstream=table)
    assert not (tmp_path / "zoo" / "tiny-test").exists()


def test_half_is_refused_when_the_table_measured_float32_weights(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    run = make_run(tmp_path / "run")
    table = downstream_table(tmp_path / "ds", read_info(run / "generator.safetensors", with_sha256=True).sha256)
    with pytest.raises(InputError, match="measured these float32 weights; --half"):
        publish(run, "tiny-test", tmp_path / "zoo", half=True, license="CC0-1.0", authors=["a"], downstream=table)
