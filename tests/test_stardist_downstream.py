"""The StarDist downstream test: config, validation split, the missing-dependency message, a tiny real run."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import numpy as np
import pytest

from nucgan.errors import InputError
from nucgan.io import read_pair
from nucgan.quality import stardist_downstream as sd

from tests.conftest import DATA

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),  # TensorFlow, numpy 2
              pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")]  # Keras on StarDist's generator


def test_missing_stardist_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "stardist", None)  # makes `import stardist` raise ImportError
    with pytest.raises(InputError) as info:
        sd.require_stardist()
    assert str(info.value) == sd.MISSING == "StarDist is not installed: pip install 'nucgan[stardist]'"
    pair = (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint16))
    with pytest.raises(InputError, match="StarDist is not installed") as info:
        sd.train_and_score([pair, pair], [pair], seed=0)
    assert "\n" not in str(info.value)


def test_config_is_frozen_json_and_checked():
    config = sd.StarDistConfig()
    assert json.loads(json.dumps(asdict(config))) == config.to_json()
    assert (config.n_rays, tuple(config.grid), config.patch) == (32, (2, 2), 128)
    with pytest.raises(AttributeError):
        config.epochs = 1  # type: ignore[misc]
    with pytest.raises(InputError, match="patch"):
        sd.StarDistConfig(patch=100).validate()
    with pytest.raises(InputError, match="val_fraction"):
        sd.StarDistConfig(val_fraction=0.0).validate()


def test_validation_split_is_seeded_disjoint_and_at_least_one():
    train, val = sd.split_validation(405, 0.15, 2018)
    assert len(val) == 61 and len(train) == 344 and not set(train) & set(val)
    assert sd.split_validation(405, 0.15, 2018) == (train, val)
    assert len(sd.split_validation(3, 0.15, 0)[1]) == 1
    with pytest.raises(InputError, match="at least 2"):
        sd.split_validation(1, 0.15, 0)


def _quadrants() -> tuple[list, list]:
    """Train: the two 256 px quadrants of the real crop's train half; test: one of its test half."""
    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    quad = lambda r, c: (image[r:r + 256, c:c + 256], labels[r:r + 256, c:c + 256])  # noqa: E731
    return [quad(0, 0), quad(0, 256)], [quad(256, 0)]


def _tiny(epochs: int) -> sd.StarDistConfig:
    """A real StarDist config with a budget of ``epochs`` x 2 steps: seconds, not minutes."""
    return sd.StarDistConfig(epochs=epochs, steps_per_epoch=2, batch_size=2, nms_threshs=(0.4,), iou_threshs=(0.5,))


def test_train_and_score_tiny_budget(tmp_path):
    pytest.importorskip("stardist")
    train, test = _quadrants()
    config = _tiny(2)
    result = sd.train_and_score(train, test, config, seed=0, workdir=tmp_path)
    for key in sd.SCORE_KEYS:
        assert 0.0 <= result[key] <= 1.0, key
    assert 0.0 <= result["thresholds"]["prob"] <= 1.0 and result["thresholds"]["nms"] == 0.4
    assert (result["n_train"], result["n_val"], result["n_test"]) == (1, 1, 1)
    assert result["config"] == config.to_json() and result["seconds"]["total"] > 0
    assert (tmp_path / "stardist-seed0" / "weights_best.h5").exists()  # weights stay in the workdir


def test_explicit_validation_pairs_train_on_every_train_pair(tmp_path):
    """--validation real: all the given train pairs train, and the thresholds come from the given validation pairs."""
    pytest.importorskip("stardist")
    train, test = _quadrants()
    config = _tiny(1)
    result = sd.train_and_score(train, test, config, seed=0, workdir=tmp_path, val_pairs=test)
    assert (result["n_train"], result["n_val"], result["n_test"]) == (2, 1, 1)
    with pytest.raises(InputError, match="at least 1 train and 1 validation pair"):
        sd.train_and_score(train, test, config, seed=0, workdir=tmp_path, val_pairs=[])


def test_a_pretrained_run_spends_the_same_budget_in_two_phases(tmp_path):
    """synthetic-then-real: the first epochs on the pretrain pairs, the rest on the train pairs, one budget in all."""
    pytest.importorskip("stardist")
    train, test = _quadrants()
    config = _tiny(3)
    result = sd.train_and_score(train, test, config, seed=0, workdir=tmp_path, pretrain_pairs=test, pretrain_epochs=1)
    assert result["pretrain"]["n"] == 1 and result["pretrain"]["epochs"] == 1 and len(result["pretrain"]["val_loss"]) == 1
    assert len(result["val_loss"]) == 2  # the second phase: the 2 epochs left
    assert result["best_val_loss"] == pytest.approx(min(result["val_loss"] + result["pretrain"]["val_loss"]), abs=1e-4)
    assert (result["n_train"], result["n_val"]) == (1, 1) and 0.0 <= result["f1_50"] <= 1.0
    for epochs, pairs in ((0, test), (3, test), (1, [])):
        with pytest.raises(InputError, match="1 <= pretrain_epochs < epochs"):
            sd.train_and_score(train, test, config, seed=0, workdir=tmp_path, pretrain_pairs=pairs, pretrain_epochs=epochs)
