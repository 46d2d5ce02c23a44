"""``nucgan downstream``: arms built from a real folder, runs resumable by key, pooled scores, clear refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from nucgan.cli import main
from nucgan.io import read_pair
from nucgan.quality import arms as arms_mod
from nucgan.quality.downstream import DownstreamConfig, pooled_scores, train_and_score
from nucgan.errors import InputError
from nucgan.folders import folder_pairs
from nucgan.quality.downstream_table import check_python, run_key, segmenter_config
from nucgan.quality.stardist_downstream import split_validation

from tests.conftest import DATA

QUADS = {"train": [(0, 0), (0, 256)], "test": [(256, 0)]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A StarDist-layout folder with train/ (two 256 px quadrants of the crop's top half) and test/ (one below)."""
    root = tmp_path_factory.mktemp("fluo")
    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    for split, quads in QUADS.items():
        for r, c in quads:
            for sub, array in (("images", image), ("masks", labels)):
                path = root / split / sub / f"q{r}_{c}.tif"
                path.parent.mkdir(parents=True, exist_ok=True)
                tifffile.imwrite(path, array[r:r + 256, c:c + 256])
    return root


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["nucgan", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def test_pooled_scores_weigh_every_nucleus_the_same():
    truth = np.zeros((40, 40), np.int32)
    truth[2:10, 2:10], truth[20:30, 20:30] = 1, 2
    perfect = pooled_scores([truth, truth], [truth, truth])
    assert perfect["f1_50"] == perfect["f1_70"] == perfect["pq_50"] == 1.0
    half = truth.copy()
    half[20:30, 20:30] = 0  # one image misses one of its two nuclei; the other image is perfect
    s = pooled_scores([truth, truth], [truth, half])
    assert (s["n_true"], s["n_pred"]) == (4, 3)
    assert s["f1_50"] == pytest.approx(2 * 3 / (4 + 3)) and s["recall_50"] == pytest.approx(0.75)
    assert s["precision_50"] == 1.0 and s["pq_50"] == pytest.approx(3 / 3.5)
    shifted = np.roll(truth, 3, axis=1)  # IoU 5/11 for the small one, 7/13 for the big one
    s = pooled_scores([truth], [shifted])
    assert s["f1_50"] == pytest.approx(0.5) and s["f1_70"] == 0.0


def test_builtin_segmenter_learns_from_real_pairs():
    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    quad = lambda r, c: (image[r:r + 256, c:c + 256], labels[r:r + 256, c:c + 256])  # noqa: E731
    result = train_and_score([quad(0, 0), quad(0, 256)], [quad(256, 0), quad(256, 256)],
                             DownstreamConfig(steps=100), seed=0)
    assert result["f1_50"] > 0.2, result  # 0.39 measured; an untrained net scores 0
    assert result["f1_70"] <= result["f1_50"] and 0 < result["pq_50"] <= result["f1_50"]
    assert (result["n_train"], result["n_test"]) == (2, 2) and result["config"]["steps"] == 100


def test_arm_helpers_are_seeded_and_keep_whole_nuclei():
    pairs = [(f"i{k}", f"m{k}") for k in range(50)]
    few = arms_mod.seeded_subset(pairs, 5, 10)
    assert few == arms_mod.seeded_subset(pairs, 5, 10) and len(few) == 5 and few == sorted(few, key=pairs.index)
    lab = np.zeros((20, 20), np.uint16)
    lab[0:4, 5:9], lab[8:12, 8:13], lab[15:20, 2:6] = 1, 2, 3  # 1 and 3 touch the border
    bank = arms_mod.bank_image([lab])
    assert set(np.unique(bank)) == {0, 1} and np.count_nonzero(bank) == 20  # only nucleus 2 (4 x 5)
    assert arms_mod.density_per_512([lab]) == (3 / 400 * 512 * 512, 3, 400)


def test_stardist_keys_are_those_of_the_runs_already_made():
    """StarDist results computed before the runner moved into the package stay valid (no 5-hour rerun)."""
    config = segmenter_config("stardist")
    assert run_key("stardist", config, [("a", "b")], [("c", "d")], 0) == arms_mod.digest(
        {"config": config.to_json(), "train": [("a", "b")], "test": [("c", "d")], "seed": 0})
    builtin = segmenter_config("builtin")
    assert run_key("builtin", builtin, [("a", "b")], [("c", "d")], 0) != run_key(
        "builtin", builtin, [("a", "b")], [("c", "d")], 1)
    with_val = run_key("stardist", config, [("a", "b")], [("c", "d")], 0, val=[("e", "f")])
    assert with_val != run_key("stardist", config, [("a", "b")], [("c", "d")], 0)  # explicit validation: a new run
    quick = segmenter_config("stardist", steps=120)
    assert (quick.epochs, quick.steps_per_epoch) == (3, 50)


def test_real_validation_takes_the_real_arms_split_and_keeps_every_synthetic_pair():
    real = [(f"r{k}", f"rm{k}") for k in range(20)]
    synth = [(f"s{k}", f"sm{k}") for k in range(7)]
    train, val = arms_mod.real_validation(real + synth, arms_mod.real_count("real+synthetic", 20), 0.15, 2018)
    tr_idx, va_idx = split_validation(20, 0.15, 2018)  # the split StarDist makes of the real arm alone
    assert val == [real[i] for i in va_idx] and train == [real[i] for i in tr_idx] + synth
    assert arms_mod.real_count("few-real+synthetic", 20) == 2 and arms_mod.real_count("painter", 20) == 0
    with pytest.raises(InputError, match="at least 2 real pairs"):
        arms_mod.real_validation(real[:1] + synth, 1, 0.15, 2018)


def test_validation_real_reaches_the_runs_of_arms_with_real_pairs(folder, tmp_path, monkeypatch):
    """run_table hands real + synthetic its real validation pairs; the real and synthetic arms keep their own."""
    from nucgan.quality import downstream_table as dt

    seen = {}

    def fake_launch(out, python, segmenter, arm, seed, train, test, config, data, log, val=None, pretrain=None):
        seen[arm] = (train, val)
        return {"seed": seed, "train_images": len(train) + len(val or ()), "f1_50": 0.5, "f1_70": 0.3,
                "pq_50": 0.4, "seconds": {"total": 1.0}}, False

    monkeypatch.setattr(dt, "launch", fake_launch)
    monkeypatch.setattr(dt, "check_python", lambda python, segmenter: None)
    result = dt.run_table(folder / "train", folder / "test", "dsb2018-1x-k3", tmp_path / "ds", segmenter="stardist",
                          arms=["real", "synthetic", "real+synthetic"], seeds=[0], synth_size=128, synth_count=3,
                          validation="real", log=lambda m: None)
    real = [(str(i), str(m)) for i, m in folder_pairs(folder / "train")]
    tr_idx, va_idx = split_validation(len(real), 0.15, 2018)
    assert seen["real"] == (real, None) and seen["synthetic"][1] is None and len(seen["synthetic"][0]) == 3
    assert seen["real+synthetic"] == ([real[i] for i in tr_idx] + seen["synthetic"][0], [real[i] for i in va_idx])
    assert result["validation"] == "real" and result["summary"]["real+synthetic"]["train_images"] == 5
    few = tmp_path / "few"  # 2 real train pairs keep 1 for few-real+synthetic: refused before any data is made
    with pytest.raises(InputError, match="at least 2 real pairs in few-real\\+synthetic, which keeps 1 of 2"):
        dt.run_table(folder / "train", folder / "test", "dsb2018-1x-k3", few, segmenter="stardist",
                     arms=["few-real+synthetic"], seeds=[0], validation="real", log=lambda m: None)
    assert not few.exists()


def test_the_pretrained_arm_gets_the_real_pairs_and_the_synthetic_ones_as_its_first_phase(folder, tmp_path, monkeypatch):
    """synthetic-then-real: real pairs (split as the real arm's, under either validation) + every synthetic pair first."""
    from nucgan.quality import downstream_table as dt

    seen = {}

    def fake_launch(out, python, segmenter, arm, seed, train, test, config, data, log, val=None, pretrain=None):
        seen[arm] = (train, val, pretrain)
        return {"seed": seed, "train_images": len(train) + len(pretrain[0] if pretrain else ()), "f1_50": 0.5,
                "f1_70": 0.3, "pq_50": 0.4, "seconds": {"total": 1.0}}, False

    monkeypatch.setattr(dt, "launch", fake_launch)
    monkeypatch.setattr(dt, "check_python", lambda python, segmenter: None)
    real = [(str(i), str(m)) for i, m in folder_pairs(folder / "train")]
    for validation in ("own", "real"):
        dt.run_table(folder / "train", folder / "test", "dsb2018-1x-k3", tmp_path / validation, segmenter="stardist",
                     arms=["synthetic", "synthetic-then-real"], seeds=[0], synth_size=128, synth_count=3,
                     validation=validation, log=lambda m: None)
        train, val, (synthetic, epochs) = seen["synthetic-then-real"]
        assert train == real and val is None and synthetic == seen["synthetic"][0] and len(synthetic) == 3
        assert epochs == 10  # half of StarDist's 20 epochs
    config = segmenter_config("stardist")
    keys = {run_key("stardist", config, real, real, 0), run_key("stardist", config, real, real, 0, None, (synthetic, 10)),
            run_key("stardist", config, real, real, 0, None, (synthetic, 9))}
    assert len(keys) == 3  # the first phase is part of the key; a run without one keeps its old key
    for kwargs, words in (({"segmenter": "builtin"}, "only the stardist segmenter does"),
                          ({"segmenter": "stardist", "steps": 40}, "at least 2 epochs")):
        with pytest.raises(InputError, match=words):
            dt.run_table(folder / "train", folder / "test", "dsb2018-1x-k3", tmp_path / "no", arms=["synthetic-then-real"],
                         seeds=[0], log=lambda m: None, **kwargs)
    assert not (tmp_path / "no").exists()


def test_downstream_runs_every_arm_then_resumes(folder, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ds"
    args = ["downstream", "--data", str(folder), "-o", str(out), "--arms", "real,flat", "--seeds", "0",
            "--steps", "3", "--synth-size", "128", "--synth-count", "2"]
    code, stdout, stderr = cli(monkeypatch, capsys, *args)
    assert code == 0, stderr
    assert "flat" in stdout and "real" in stdout and "[2/2] flat seed 0" in stderr
    result = json.loads((out / "results.json").read_text())
    assert result["format"] == "nucgan-downstream/1" and result["segmenter"] == "builtin"
    assert set(result["summary"]) == {"real", "flat"} and result["failed"] == []
    assert result["summary"]["real"]["train_images"] == 2 and result["summary"]["flat"]["train_images"] == 2
    assert result["data"]["synthetic"]["count"] == 2 and "-m nucgan synth" in result["data"]["synthetic"]["command"]
    assert "| flat | 1 | 2 |" in (out / "table.md").read_text()
    first = (out / "per_run" / "real_seed0.json").read_text()
    # a rerun finds both results and runs nothing; another budget runs again
    code, _, stderr = cli(monkeypatch, capsys, *args)
    assert code == 0 and stderr.count("(done before)") == 2 and "generating" not in stderr
    assert (out / "per_run" / "real_seed0.json").read_text() == first
    code, _, stderr = cli(monkeypatch, capsys, "downstream", "--data", str(folder), "-o", str(out), "--arms", "real",
                          "--seeds", "0", "--steps", "4", "--synth-size", "128", "--synth-count", "2")
    assert code == 0 and "(done before)" not in stderr
    assert json.loads((out / "per_run" / "real_seed0.json").read_text())["config"]["steps"] == 4


@pytest.mark.parametrize(("extra", "words"), [
    (["--arms", "real,bogus"], "unknown arm(s) bogus"),
    (["--segmenter", "cellpose"], "unknown segmenter 'cellpose'"),
    (["--seeds", "1,1"], "distinct"),
    (["--steps", "0"], "--steps 0"),
    (["--max-train-images", "1"], "at least 2"),
    (["--python", "/no/such/python"], "/no/such/python: cannot run it"),
    (["--validation", "mixed"], "--validation must be one of own, real"),
    (["--validation", "real"], "--validation real cannot apply to the builtin segmenter"),
])
def test_downstream_refuses_before_any_work(folder, tmp_path, monkeypatch, capsys, extra, words):
    out = tmp_path / "ds"
    code, stdout, stderr = cli(monkeypatch, capsys, "downstream", "--data", str(folder), "-o", str(out), *extra)
    assert code == 2 and stdout == "" and len(stderr.splitlines()) == 1 and words in stderr, stderr
    assert not out.exists()


def test_downstream_refuses_a_file_or_a_foreign_folder(folder, tmp_path, monkeypatch, capsys):
    (tmp_path / "a.txt").write_text("mine\n")
    for target, words in ((tmp_path / "a.txt", "is a file"), (tmp_path, "not a nucgan downstream folder")):
        code, _, stderr = cli(monkeypatch, capsys, "downstream", "--data", str(folder), "-o", str(target))
        assert code == 2 and words in stderr and len(stderr.splitlines()) == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_missing_stardist_is_named_before_any_work(tmp_path, monkeypatch):
    """An interpreter without StarDist is refused with the install line, not after hours of other arms."""
    shadow = tmp_path / "shadow" / "stardist"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'stardist'\")\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    from nucgan.errors import InputError

    with pytest.raises(InputError, match=r"StarDist is not installed: pip install 'nucgan\[stardist\]'"):
        check_python(sys.executable, "stardist")
    check_python(sys.executable, "builtin")  # the built-in segmenter needs only torch


def test_the_cli_default_arms_are_the_published_tables():
    import inspect

    from nucgan.cli.downstream import downstream_command

    option = inspect.signature(downstream_command).parameters["arms"].default
    assert tuple(option.default.split(",")) == arms_mod.ARMS  # the extra arms run only when asked, and are named
    assert all(arm in option.help for arm in arms_mod.EXTRA_ARMS)


@pytest.mark.parametrize("user, child", [(None, "1"), ("0", "0")])
def test_each_stardist_run_gets_tensorflows_onednn_kernels_unless_the_user_chose(folder, tmp_path, monkeypatch, user, child):
    """TensorFlow leaves oneDNN off on AVX2-only CPUs, where StarDist then trains about 2x slower; a user's setting wins."""
    from nucgan.quality import downstream_table as dt
    from nucgan.quality.stardist_downstream import StarDistConfig

    fake = tmp_path / "python"  # stands in for the StarDist interpreter: records the variable, then fails
    fake.write_text(f"#!/bin/sh\necho \"onednn=${{TF_ENABLE_ONEDNN_OPTS-unset}}\" > {tmp_path / 'env.txt'}\nexit 3\n")
    fake.chmod(0o755)
    if user is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", user)
    pairs = [(str(i), str(m)) for i, m in folder_pairs(folder / "train")]
    logged: list[str] = []
    result, found = dt.launch(tmp_path / "out", str(fake), "stardist", "real", 0, pairs, pairs[:1],
                              StarDistConfig(), {}, logged.append)
    assert (result, found) == (None, False) and "FAILED (exit 3)" in logged[-1]  # a failed run is said, not hidden
    assert (tmp_path / "env.txt").read_text().strip() == f"onednn={child}"
