"""The realism C2ST on the real DSB crop: it sees flat, binary and dimmed images, not real against real."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from nucgan.errors import InputError
from nucgan.io import read_pair
from nucgan.quality.baselines import fit_baseline
from nucgan.quality.realism import (
    RealismConfig,
    build_classifier,
    classifier_auc,
    cut_patches,
    image_scale,
    patch_positions,
    real_vs_real_auc,
    realism_auc,
    roc_auc,
)

#: The default architecture and patch size on a smaller budget (1-5 s a run on two busy cores).
#: Real against real with it, seeds 0..9 on the crop: 0.445..0.551 (mean 0.506, sd 0.030).
SMALL = RealismConfig(train_patches=256, test_patches=256, steps=100, batch=32)
#: For checks that do not need a trained classifier, only a run.
TINY = RealismConfig(train_patches=32, test_patches=32, steps=5, batch=8)


@pytest.fixture(scope="module")
def halves():
    """The crop's official split: (image, labels) of the top (train) and bottom (test) halves."""
    from tests.conftest import DATA

    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    return (image[:256], labels[:256]), (image[256:], labels[256:])


def triples(halves, paint):
    """[(real, paint(labels), labels)] for the train and for the test half."""
    return [[(im, paint(im, lb), lb)] for im, lb in halves]


# -- the test can fail -------------------------------------------------------------------------------
def test_flat_baseline_is_told_apart(halves) -> None:
    flat = fit_baseline("flat", [halves[0]])
    res = realism_auc(*triples(halves, lambda im, lb: flat.paint(lb)), SMALL, seed=0)
    assert res["auc"] >= 0.9


def test_binary_masks_are_told_apart(halves) -> None:
    res = realism_auc(*triples(halves, lambda im, lb: ((lb > 0) * 255).astype(im.dtype)), SMALL, seed=0)
    assert res["auc"] >= 0.9


def test_a_dimmer_copy_is_told_apart(halves) -> None:
    """Generated images share the real scale: half the brightness stays visible (own scaling would hide it)."""
    res = realism_auc(*triples(halves, lambda im, lb: np.round(im * 0.5).astype(im.dtype)), SMALL, seed=0)
    assert res["auc"] >= 0.9


@pytest.mark.parametrize("seed", [0, 3])
def test_real_against_real_is_near_chance(halves, seed: int) -> None:
    """Measured 0.445..0.551 over seeds 0..9 (sd 0.03); 0.15 is about 4.5 sd."""
    res = real_vs_real_auc([halves[0]], [halves[1]], SMALL, seed=seed)
    assert abs(res["auc"] - 0.5) <= 0.15


def test_an_exact_copy_scores_exactly_one_half(halves) -> None:
    """Same masks, same positions, same pixels: every test patch has its twin in the other class."""
    res = realism_auc(*triples(halves, lambda im, lb: im.copy()), TINY, seed=0)
    assert res["auc"] == 0.5


# -- reproducible, tidy, reported -------------------------------------------------------------------
def test_same_seed_same_auc_and_state_restored(halves) -> None:
    pairs = ([halves[0]], [halves[1]])
    before_threads, before_rng = torch.get_num_threads(), torch.get_rng_state()
    first = real_vs_real_auc(*pairs, TINY, seed=7)
    assert torch.get_num_threads() == before_threads and torch.equal(torch.get_rng_state(), before_rng)
    assert real_vs_real_auc(*pairs, TINY, seed=7)["auc"] == first["auc"]
    assert set(first) == {"auc", "train_patches", "test_patches", "config", "seconds"}
    assert first["config"] == dataclasses.asdict(TINY) and json.loads(json.dumps(first["config"])) == first["config"]
    assert (first["train_patches"], first["test_patches"]) == (32, 32) and first["seconds"] > 0


def test_the_architecture_is_the_documented_one() -> None:
    model = build_classifier()
    assert sum(p.numel() for p in model.parameters()) == 60_465
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 64] and [c.stride for c in convs][-1] == (1, 1)
    assert model(torch.zeros(3, 1, 48, 48)).shape == (3, 1)


# -- patches -----------------------------------------------------------------------------------------
def test_patches_sit_on_nuclei_inside_the_image() -> None:
    labels = np.zeros((100, 120), np.int32)
    labels[0:6, 110:120] = 1  # a corner nucleus: its patches must be clipped
    labels[50:60, 50:60] = 2
    empty = np.zeros((100, 100), np.int32)
    small = np.ones((20, 20), np.int32)  # smaller than the patch: skipped, though all nucleus
    pos = patch_positions([empty, labels, small], 400, 32, seed=0)
    assert len(pos) == 400 and {i for i, _, _ in pos} == {1}
    for _, y, x in pos:
        assert 0 <= y <= 100 - 32 and 0 <= x <= 120 - 32 and labels[y:y + 32, x:x + 32].any()
    assert pos == patch_positions([empty, labels, small], 400, 32, seed=0)
    assert pos != patch_positions([empty, labels, small], 400, 32, seed=1)


def test_images_are_picked_by_nucleus_area() -> None:
    big, little = np.zeros((64, 64), np.int32), np.zeros((64, 64), np.int32)
    big[10:40, 10:40] = 1     # 900 px
    little[10:20, 10:19] = 1  # 90 px
    pos = patch_positions([big, little], 2000, 16, seed=0)
    share = sum(i == 0 for i, _, _ in pos) / len(pos)
    assert abs(share - 900 / 990) < 0.03


def test_patches_are_scaled_not_clipped() -> None:
    image = np.arange(100, dtype=np.uint16).reshape(10, 10)
    lo, hi = image_scale(image)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(image, [1, 99.8])))
    out = cut_patches([image], [(10.0, 20.0)], [(0, 0, 0), (0, 6, 6)], 4)
    assert out.dtype == np.float32 and out.shape == (2, 1, 4, 4)
    assert out[0, 0, 0, 0] == -1.0 and out[1, 0, -1, -1] == pytest.approx((99 - 10) / 10)  # outside [0, 1]
    assert image_scale(np.full((5, 5), 7)) == (7.0, 8.0)


# -- AUC ---------------------------------------------------------------------------------------------
def test_auc_of_hand_made_scores() -> None:
    assert roc_auc(np.array([0.0, 1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert roc_auc(np.array([3.0, 4.0]), np.array([0.0, 1.0, 2.0])) == 0.0
    assert roc_auc(np.full(4, 2.0), np.full(3, 2.0)) == 0.5
    # pairs: (1 vs 0) win, (1 vs 1) tie, (1 vs 2) loss, (3 vs all) three wins -> (1 + 0.5 + 3) / 6
    assert roc_auc(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(4.5 / 6)
    with pytest.raises(InputError):
        roc_auc(np.array([]), np.array([1.0]))


# -- user mistakes -----------------------------------------------------------------------------------
def test_a_patch_larger_than_every_image_is_refused(halves) -> None:
    with pytest.raises(InputError, match="smaller than the 300 px patch"):
        patch_positions([halves[0][1], halves[1][1]], 4, 300, seed=0)
    big = dataclasses.replace(TINY, patch=300)
    with pytest.raises(InputError):
        real_vs_real_auc([halves[0]], [halves[1]], big)
    with pytest.raises(InputError, match="no nucleus pixels"):
        patch_positions([np.zeros((64, 64), np.int32)], 4, 32, seed=0)


@pytest.mark.parametrize("change", [{"patch": 8}, {"train_patches": 0}, {"test_patches": 0}, {"steps": 0},
                                    {"batch": 1}, {"threads": 0}, {"lr": 0.0}, {"lr": math.nan},
                                    {"steps": 2.5}, {"patch": True}])
def test_impossible_settings_are_refused(change: dict) -> None:
    with pytest.raises(InputError, match="realism: "):
        dataclasses.replace(RealismConfig(), **change).validate()


def test_mismatched_inputs_are_refused(halves) -> None:
    im, lb = halves[0]
    with pytest.raises(InputError, match="differ in shape"):
        realism_auc([(im, im[:100], lb)], [(im, im, lb)], TINY)
    with pytest.raises(InputError, match="no train images"):
        realism_auc([], [(im, im, lb)], TINY)
    good = np.zeros((4, 1, 48, 48), np.float32)
    with pytest.raises(InputError, match="train_b must be"):
        classifier_auc(good, good[:, :, :32, :32], good, good, TINY, seed=0)
    with pytest.raises(InputError, match="NaN"):
        classifier_auc(good, good, good, np.full_like(good, np.nan), TINY, seed=0)
    assert RealismConfig().validate() == RealismConfig()
