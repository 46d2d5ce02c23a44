"""Training from folders of real images: several folders, area-weighted tiles, errors before any step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

import nucgan
from nucgan.cli.app import app
from nucgan.training.loop import sample_ids
from nucgan.training.order import EXPLICIT_MAX, KeyedPermutation, StepBatches

runner = CliRunner()
TINY = ["-g", "unet", "--filters", "4", "--levels", "2", "--kernel", "3", "-d", "patchgan", "--disc-arg", "filters=4",
        "--disc-arg", "n_layers=1", "--tile", "32", "--stride", "16", "--randomize", "1", "--steps", "2", "--batch", "2",
        "--device", "cpu", "--threads", "1", "--quiet"]


def nuclei(h: int, w: int, seed: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Square nuclei on a dark noisy background, brightness ``level``."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((h, w), np.uint16)
    for k in range(6):
        y, x = rng.integers(2, h - 10), rng.integers(2, w - 10)
        labels[y:y + 7, x:x + 7][labels[y:y + 7, x:x + 7] == 0] = k + 1
    image = np.clip(rng.normal(20, 3, (h, w)) + (labels > 0) * level, 0, 255).astype(np.uint8)
    return image, labels


def stardist_folder(root: Path, sizes: list[tuple[int, int]], level: float = 120) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k, (h, w) in enumerate(sizes):
        image, labels = nuclei(h, w, k, level + 30 * k)
        tifffile.imwrite(root / "images" / f"im{k}.tif", image)
        tifffile.imwrite(root / "masks" / f"im{k}.tif", labels)
    return root


def test_train_from_two_folders_weighs_tiles_by_area(tmp_path: Path) -> None:
    a = stardist_folder(tmp_path / "a", [(48, 48), (64, 96)])
    b = stardist_folder(tmp_path / "b", [(40, 56)], level=60)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(a), "--data", str(b), *TINY, "-o", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "stardist" and config["sources"] == {"folder": [str(a), str(b)]}
    _, info = nucgan.load_generator(out / "generator.safetensors")
    record = info.extra["training"]["samples"]
    assert [Path(s["name"]).parent.parent.name for s in record["sources"]] == ["a", "a", "b"]
    areas = [(s["box"][1] - s["box"][0]) * (s["box"][3] - s["box"][2]) for s in record["sources"]]
    slots = [s["tile_slots"] for s in record["sources"]]
    assert np.allclose(np.array(slots) / slots[1], np.array(areas) / areas[1], atol=0.05)
    highs = sorted(nucgan.Normalization.from_json(s["normalization"]).high for s in record["sources"])
    assert info.input.normalization.high == highs[1]  # the median image's range


def test_folders_of_two_layouts_and_bad_pairs_are_refused_before_training(tmp_path: Path) -> None:
    a = stardist_folder(tmp_path / "a", [(48, 48)])
    cp = tmp_path / "cp"
    cp.mkdir()
    image, labels = nuclei(48, 48, 0, 100)
    tifffile.imwrite(cp / "x.tif", image)
    tifffile.imwrite(cp / "x_masks.tif", labels)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(a), "--data", str(cp), *TINY, "-o", str(out)])
    assert isinstance(result.exception, nucgan.InputError)
    assert "different layouts" in str(result.exception) and f"{cp} (cellpose)" in str(result.exception)
    tifffile.imwrite(a / "masks" / "im0.tif", labels[:40])
    result = runner.invoke(app, ["train", "--data", str(a), *TINY, "-o", str(out)])
    assert isinstance(result.exception, nucgan.InputError)
    assert "masks/im0.tif: labels are 40 x 48 but image" in str(result.exception)
    assert not out.exists()


def test_large_epochs_are_permuted_without_an_array() -> None:
    for n in (1, 2, 3, 7, 64, 1000, 4099):
        perm = KeyedPermutation(n, (3, 0))
        assert sorted(perm[i] for i in range(n)) == list(range(n))
    assert [KeyedPermutation(1000, (3, 0))[i] for i in range(5)] != [KeyedPermutation(1000, (3, 1))[i] for i in range(5)]
    n = EXPLICIT_MAX * 13 + 5  # a folder's worth of samples; an explicit permutation would need 1.7 GB
    whole = StepBatches(n, 8, seed=1, start=0, stop=40)
    resumed = StepBatches(n, 8, seed=1, start=30, stop=40)
    batches = list(whole)
    assert batches[30:] == list(resumed) and all(0 <= i < n for b in batches for i in b)
    assert len({i for b in batches for i in b}) == 40 * 8  # no sample twice within an epoch
    assert whole._perm.__class__ is KeyedPermutation


def test_sample_grids_stay_in_range_for_huge_datasets() -> None:
    assert sample_ids(231_076_640) == [0, 77_025_546, 154_051_092, 231_076_639]
    assert sample_ids(3) == [0, 1, 2] and sample_ids(1) == [0]
