"""The quality metrics on cases whose answers are known by hand: matching, fidelity, spectra, painter, judge."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from nucgan.quality.fidelity import intensities, paired, radial_spectrum, spectrum
from nucgan.quality.judge import judge_segment
from nucgan.quality.matching import THRESHOLDS, iou_matrix, match, segmentation_scores
from nucgan.quality.painter import fit_painter
from tests.synthetic import disks


def squares(shape: tuple[int, int], corners: list[tuple[int, int]], side: int = 10) -> np.ndarray:
    """int32 labels 1..N: a ``side`` px square at each (row, col) corner."""
    out = np.zeros(shape, np.int32)
    for i, (r, c) in enumerate(corners, start=1):
        out[r:r + side, c:c + side] = i
    return out


CORNERS = [(5, 5), (5, 30), (30, 5), (30, 30)]


# -- matching ----------------------------------------------------------------------------------------
def test_identical_labels_score_perfectly() -> None:
    truth = squares((50, 50), CORNERS)
    pred = np.where(truth > 0, truth + 10, 0)  # other ids, same masks
    s = segmentation_scores(truth, pred)
    assert s["f1"] == s["precision"] == s["recall"] == 1.0
    assert s["mean_matched_iou"] == 1.0 and s["panoptic_quality"] == 1.0 and s["accuracy_50_95"] == 1.0
    assert (s["n_true"], s["n_pred"]) == (4, 4)


def test_one_missing_nucleus_gives_exact_counts() -> None:
    truth = squares((50, 50), CORNERS)
    pred = np.where(truth == 3, 0, truth)
    m = match(truth, pred, 0.5)
    assert (m.tp, m.fp, m.fn) == (3, 0, 1)
    assert m.precision == 1.0 and m.recall == 0.75
    assert m.f1 == pytest.approx(2 * 3 / (4 + 3)) and m.accuracy == pytest.approx(3 / 4)


def test_one_extra_nucleus_is_a_false_positive() -> None:
    truth = squares((50, 50), CORNERS[:3])
    pred = squares((50, 50), CORNERS)
    m = match(truth, pred, 0.5)
    assert (m.tp, m.fp, m.fn) == (3, 1, 0) and m.precision == 0.75 and m.recall == 1.0


@pytest.mark.parametrize("shift", [1, 2, 3, 4, 6])
def test_shifted_square_iou_and_threshold(shift: int) -> None:
    truth = squares((40, 40), [(10, 10)])
    pred = squares((40, 40), [(10, 10 + shift)])
    expected = (10 - shift) / (10 + shift)  # overlap (10 - s) x 10 over union (10 + s) x 10
    iou, t_ids, p_ids = iou_matrix(truth, pred)
    assert iou.shape == (1, 1) and iou[0, 0] == pytest.approx(expected)
    assert list(t_ids) == [1] and list(p_ids) == [1]
    for threshold in (0.3, 0.5, 0.7, 0.9):
        m = match(truth, pred, threshold)
        assert m.tp == int(expected >= threshold)
        assert m.f1 == float(expected >= threshold)
        assert m.mean_matched_iou == pytest.approx(expected if expected >= threshold else 0.0)


def test_accuracy_is_averaged_over_thresholds() -> None:
    truth = squares((40, 40), [(10, 10)])
    pred = squares((40, 40), [(10, 12)])  # IoU 8/12 = 0.667: matched at 0.50, 0.55, 0.60, 0.65 only
    s = segmentation_scores(truth, pred)
    assert len(THRESHOLDS) == 10
    assert s["accuracy_50_95"] == pytest.approx(4 / 10)
    assert s["f1"] == 1.0 and s["mean_matched_iou"] == pytest.approx(2 / 3)
    assert s["panoptic_quality"] == pytest.approx(2 / 3)


def test_empty_prediction_and_empty_truth() -> None:
    truth = squares((50, 50), CORNERS)
    s = segmentation_scores(truth, np.zeros_like(truth))
    assert s["f1"] == s["precision"] == s["recall"] == 0.0 and (s["n_true"], s["n_pred"]) == (4, 0)
    empty = segmentation_scores(np.zeros_like(truth), np.zeros_like(truth))
    assert empty["f1"] == 1.0 and empty["accuracy_50_95"] == 1.0
    only_pred = match(np.zeros_like(truth), truth, 0.5)
    assert (only_pred.tp, only_pred.fp, only_pred.fn, only_pred.f1) == (0, 4, 0, 0.0)


def test_hungarian_prefers_more_matches_over_one_better_match() -> None:
    # greedy best-IoU-first would take (T1, P1) at 0.8 and leave T2 unmatched; one-to-one matching finds two
    iou = np.array([[0.8, 0.6], [0.55, 0.2]])
    dummy = np.zeros((2, 2), np.int32)
    m = match(dummy, dummy, 0.5, iou=iou)
    assert (m.tp, m.fp, m.fn) == (2, 0, 0)
    assert m.mean_matched_iou == pytest.approx((0.6 + 0.55) / 2)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        iou_matrix(np.zeros((4, 4), int), np.zeros((4, 5), int))


# -- fidelity ----------------------------------------------------------------------------------------
def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    labels = disks((64, 64), [(16, 16), (16, 46), (46, 20), (44, 48)], 7)
    rng = np.random.default_rng(seed)
    image = np.where(labels > 0, 150.0, 20.0) + rng.normal(0, 5, labels.shape)
    return ndi.gaussian_filter(image, 1.0), labels


def test_identical_images_are_perfect() -> None:
    image, labels = _scene()
    p = paired(image, image.copy(), labels)
    assert p["mae_all"] == 0.0 and p["mae_inside"] == 0.0 and p["mae_outside"] == 0.0
    assert math.isinf(p["psnr_all"]) and math.isinf(p["psnr_inside"])
    assert p["ssim_all"] == pytest.approx(1.0) and p["ssim_inside"] == pytest.approx(1.0)


def test_constant_offset_gives_known_mae_and_psnr() -> None:
    image, labels = _scene()
    rng = image.max() - image.min()
    p = paired(image, image + 5.0, labels)
    assert p["mae_all"] == pytest.approx(5.0 / rng) and p["mae_inside"] == pytest.approx(5.0 / rng)
    assert p["psnr_all"] == pytest.approx(10 * np.log10(rng ** 2 / 25.0))
    assert p["ssim_all"] < 1.0


def test_paired_refuses_shape_mismatch() -> None:
    with pytest.raises(ValueError):
        paired(np.zeros((4, 4)), np.zeros((4, 5)), np.zeros((4, 4), int))


def test_intensities_known_per_nucleus_means() -> None:
    labels = squares((40, 40), [(5, 5), (20, 20)])
    real = np.where(labels == 1, 10.0, np.where(labels == 2, 20.0, 0.0))
    fake = np.where(labels == 1, 10.0, np.where(labels == 2, 30.0, 2.0))
    s = intensities(real, fake, labels)
    assert s["nucleus_mean_real"] == pytest.approx(15.0) and s["nucleus_mean_generated"] == pytest.approx(20.0)
    # W1 between {10, 20} and {10, 30}: (0 + 10) / 2 = 5, over the real range 20
    assert s["nucleus_w1"] == pytest.approx(5.0 / 20.0)
    assert s["nucleus_corr"] == pytest.approx(1.0)
    assert s["background_real"] == 0.0 and s["background_generated"] == 2.0
    assert intensities(real, real, labels)["nucleus_w1"] == 0.0
    with pytest.raises(ValueError):
        intensities(real, fake, np.zeros_like(labels))


def test_spectrum_of_identical_images_is_zero() -> None:
    image, _ = _scene()
    s = spectrum(image, image)
    assert s["spectrum_log_mae"] == 0.0 and s["high_freq_log_ratio"] == 0.0
    assert len(s["spectrum_real"]) == 32


def test_high_frequency_stripes_raise_the_top_quarter() -> None:
    smooth = ndi.gaussian_filter(np.random.default_rng(1).normal(size=(64, 64)), 2.0)
    stripes = np.cos(2 * np.pi * 28 * np.arange(64) / 64)[None, :] * np.ones((64, 1))  # 28 of 32 cycles: 0.875 Nyquist
    spec = radial_spectrum(stripes, bins=32)
    assert int(np.argmax(spec)) == 28  # the ring of radius 28 / 32
    assert spectrum(smooth, smooth + 0.5 * stripes)["high_freq_log_ratio"] > 0.1


def test_checkerboard_power_lands_in_the_last_bin() -> None:
    checker = (np.indices((64, 64)).sum(0) % 2) * 2.0 - 1.0
    spec = radial_spectrum(checker, bins=32)
    assert int(np.argmax(spec)) == 31 and spec[-1] > 0
    smooth = ndi.gaussian_filter(np.random.default_rng(1).normal(size=(64, 64)), 2.0)
    assert spectrum(smooth, smooth + 0.5 * checker)["high_freq_log_ratio"] > 0


# -- painter and judge --------------------------------------------------------------------------------
def test_painter_recovers_known_intensities() -> None:
    labels = disks((160, 160), [(40, 40), (40, 120), (120, 40), (120, 120)], 22)
    levels = np.array([0, 50.0, 200.0, 50.0, 200.0])
    image = np.where(labels > 0, levels[labels], 10.0)
    p = fit_painter(image, labels)
    assert math.exp(p.nucleus_log_mean) == pytest.approx(100.0)  # geometric mean of 50 and 200
    assert p.nucleus_log_std == pytest.approx(math.log(2.0))
    assert p.background == 10.0 and p.noise == 0.0 and p.sigma == 0.5  # no blur: the smallest candidate
    for sigma in (1.0, 2.0, 3.0):  # large nuclei, so edge blur barely biases their means
        assert fit_painter(ndi.gaussian_filter(image, sigma), labels).sigma == sigma
    a, b = p.paint(labels, seed=3), p.paint(labels, seed=3)
    assert np.array_equal(a, b) and a.dtype == image.dtype
    assert a[labels == 0].mean() == pytest.approx(10.0, abs=1.0)


def test_judge_segments_separated_disks_exactly() -> None:
    centres = [(16, 16), (16, 60), (16, 104), (60, 20), (60, 64), (60, 108), (104, 30), (104, 90)]
    labels = disks((128, 128), centres, 9)
    rng = np.random.default_rng(0)
    image = np.where(labels > 0, 180.0, 15.0) + rng.normal(0, 3, labels.shape)
    seg = judge_segment(image.astype(np.float32))
    s = segmentation_scores(labels, seg)
    assert s["f1"] == 1.0 and s["n_pred"] == len(centres)
    assert s["mean_matched_iou"] > 0.85
    assert np.array_equal(seg, judge_segment(image.astype(np.float32)))  # deterministic
    assert judge_segment(np.full((32, 32), 7.0)).max() == 0  # a flat image has no nuclei
