"""``nucgan evaluate --data``: a model beside both baselines on a real folder, pooled, over seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from nucgan.errors import InputError
from nucgan.io import read_pair
from nucgan.quality.folder import METRICS, FolderEvalConfig, evaluate_folder, spread
from nucgan.quality.realism import RealismConfig

QUICK = RealismConfig(train_patches=128, test_patches=64, steps=40, batch=32)


def quadrants(image: np.ndarray, labels: np.ndarray, rows: slice) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(image[rows, c:c + 256], labels[rows, c:c + 256]) for c in (0, 256)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, ) -> Path:
    """The DSB crop as a train/ + test/ folder in StarDist layout: two 256 px quadrants each."""
    from tests.conftest import DATA

    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    root = tmp_path_factory.mktemp("dsb")
    for split, rows in (("train", slice(0, 256)), ("test", slice(256, 512))):
        for sub in ("images", "masks"):
            (root / split / sub).mkdir(parents=True)
        for i, (im, lb) in enumerate(quadrants(image, labels, rows)):
            tifffile.imwrite(root / split / "images" / f"q{i}.tif", im)
            tifffile.imwrite(root / split / "masks" / f"q{i}.tif", lb)
    return root


@pytest.fixture(scope="module")
def result(folder: Path, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("ev") / "out"
    config = FolderEvalConfig(seeds=(0, 1), realism=QUICK)
    return evaluate_folder("dsb2018-1x-k3", folder, config=config, out=out), out


def test_every_source_has_every_figure_as_mean_and_sd(result) -> None:
    res, out = result
    assert set(res["results"]) == {"model", "painter", "flat", "real"}
    for name in ("model", "painter", "flat"):
        for metric in ("mae", "ssim", "realism_auc", "grid_peak", "nucleus_w1"):
            figure = res["results"][name][metric]
            assert set(figure) == {"mean", "sd"} and np.isfinite(figure["mean"]), (name, metric)
    assert set(res["results"]["real"]) == {"realism_auc", "grid_peak"}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["results"] == json.loads(json.dumps(res["results"]))
    assert saved["settings"]["seeds"] == [0, 1] and saved["settings"]["realism"]["steps"] == QUICK.steps
    assert (out / "figure.png").stat().st_size > 0
    assert res["images"] == 2 and res["train_images"] == 2
    assert res["nuclei"] == sum(len(np.unique(lb)) - 1 for lb in _test_labels(res["data"]))


def _test_labels(folder: str) -> list[np.ndarray]:
    return [tifffile.imread(p) for p in sorted(Path(folder, "masks").iterdir())]


def test_flat_is_the_same_for_every_seed_and_the_painter_is_not(result) -> None:
    res, _ = result
    assert res["results"]["flat"]["mae"]["sd"] == 0
    assert res["results"]["painter"]["mae"]["sd"] > 0
    runs = res["per_seed"]["painter"]
    assert [r["seed"] for r in runs] == [0, 1]


def test_the_flat_baseline_is_told_apart_from_real_and_has_no_grid(result) -> None:
    res, _ = result
    # the quick test budget separates less than the default one (tests/test_realism.py checks >= 0.9 there)
    assert res["results"]["flat"]["realism_auc"]["mean"] > res["results"]["real"]["realism_auc"]["mean"] + 0.2
    assert res["results"]["real"]["grid_peak"]["mean"] < 5
    assert res["results"]["painter"]["grid_peak"]["mean"] < 5


def test_pooling_weights_images_by_their_nuclei(folder: Path, tmp_path) -> None:
    """One seed, the flat baseline: the pooled MAE is the nucleus-weighted mean of the per-image MAEs."""
    from nucgan.quality.baselines import fit_flat
    from nucgan.quality.fidelity import paired

    res = evaluate_folder("flat", folder, config=FolderEvalConfig(seeds=(0,), realism=QUICK, consistency=False))
    assert set(res["results"]) == {"painter", "flat", "real"}
    train = [read_pair(folder / "train/images" / f"q{i}.tif", folder / "train/masks" / f"q{i}.tif") for i in (0, 1)]
    flat = fit_flat(train)
    maes, weights = [], []
    for i in (0, 1):
        image, labels = read_pair(folder / "test/images" / f"q{i}.tif", folder / "test/masks" / f"q{i}.tif")
        maes.append(paired(image, flat.paint(labels), labels)["mae_all"])
        weights.append(len(np.unique(labels)) - 1)
    assert res["results"]["flat"]["mae"]["mean"] == pytest.approx(np.average(maes, weights=weights))


def test_max_images_scores_an_even_spread() -> None:
    assert spread(list(range(10)), 3) == [0, 4, 9]
    assert spread(list(range(3)), 5) == [0, 1, 2]
    assert spread(list(range(4)), None) == [0, 1, 2, 3]


def test_bad_settings_and_folders_are_refused_before_any_output(folder: Path, tmp_path) -> None:
    with pytest.raises(InputError, match="at least one seed"):
        FolderEvalConfig(seeds=()).validate()
    with pytest.raises(InputError, match="--max-images must be >= 1"):
        FolderEvalConfig(max_images=0).validate()
    out = tmp_path / "deep" / "out"
    with pytest.raises(InputError, match="give --train-data"):
        evaluate_folder("flat", folder / "test", out=out, config=FolderEvalConfig(seeds=(0,), realism=QUICK))
    assert not (tmp_path / "deep").exists()
    empty = tmp_path / "empty"
    for sub in ("images", "masks"):
        (empty / sub).mkdir(parents=True)
    tifffile.imwrite(empty / "images" / "a.tif", np.zeros((64, 64), np.uint8))
    tifffile.imwrite(empty / "masks" / "a.tif", np.zeros((64, 64), np.uint16))
    with pytest.raises(InputError, match="a.tif: empty label image"):
        evaluate_folder("flat", empty, train_data=folder / "train", out=out)
    assert not (tmp_path / "deep").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_read_only_output_is_refused_at_once(folder: Path, tmp_path) -> None:
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(InputError, match="cannot write there"):
            evaluate_folder("flat", folder, out=locked / "out")
    finally:
        locked.chmod(0o700)


def test_metrics_are_the_documented_ones() -> None:
    assert {"mae", "ssim", "realism_auc", "grid_peak", "nucleus_w1"} <= set(METRICS)
