"""grid_peak sees a faint lattice and not real nuclei; the flat and painter baselines fit what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from nucgan.errors import InputError
from nucgan.io import read_pair
from nucgan.quality.baselines import BASELINES, fit_baseline, fit_flat
from nucgan.quality.grid import WelchPower, grid_peak


@pytest.fixture
def crop(dsb_dir):
    return read_pair(dsb_dir / "image.tif", dsb_dir / "labels.tif")


def lattice(shape: tuple[int, int], period: int, amplitude: float) -> np.ndarray:
    """A lattice of one period in both axes (a checkerboard for period 2), no harmonics."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return amplitude * np.cos(2 * np.pi * yy / period) * np.cos(2 * np.pi * xx / period)


def test_a_real_image_has_no_grid_peak(crop) -> None:
    image, _ = crop
    assert grid_peak(image)["grid_peak"] < 5


@pytest.mark.parametrize("period", [2, 4, 8])
def test_a_faint_lattice_is_found_at_its_period(crop, period) -> None:
    image, _ = crop
    x = image.astype(np.float64)
    marked = x + lattice(x.shape, period, 0.05 * (x.max() - x.min()))
    peak = grid_peak(marked)
    assert peak["grid_peak"] > 20 * grid_peak(x)["grid_peak"]
    assert peak[f"grid_peak_{period}"] == peak["grid_peak"]


def test_pooled_power_matches_one_image_added_twice(crop) -> None:
    image, _ = crop
    one, two = WelchPower(), WelchPower()
    one.add(image)
    two.add(image)
    two.add(image)
    assert two.tiles == 2 * one.tiles
    assert two.grid_peak()["grid_peak"] == pytest.approx(one.grid_peak()["grid_peak"])


def test_an_image_smaller_than_a_tile_adds_nothing() -> None:
    welch = WelchPower()
    assert welch.add(np.zeros((32, 300))) == 0
    assert np.isnan(welch.grid_peak()["grid_peak"])


def test_flat_paints_two_levels_fitted_on_the_training_pairs(crop) -> None:
    image, labels = crop
    flat = fit_flat([(image, labels)])
    painted = flat.paint(labels, seed=3)
    assert painted.dtype == image.dtype
    assert set(np.unique(painted)) == {round(flat.nucleus), round(flat.background)}
    assert np.array_equal(painted > round(flat.background), labels > 0)
    assert abs(flat.background - np.median(image[labels == 0])) < 1e-9


def test_baselines_fit_on_several_images_and_refuse_none(crop) -> None:
    image, labels = crop
    halves = [(image[:256], labels[:256]), (image[256:], labels[256:])]
    for name in BASELINES:
        fitted = fit_baseline(name, halves)
        painted = fitted.paint(labels, seed=0)
        assert painted.shape == labels.shape and painted.dtype == image.dtype
        assert fitted.to_json()
    with pytest.raises(InputError, match="no training images"):
        fit_baseline("flat", [])
    with pytest.raises(InputError, match="no nuclei"):
        fit_baseline("flat", [(image, np.zeros_like(labels))])
    with pytest.raises(InputError, match="unknown baseline"):
        fit_baseline("blur", halves)


def test_painter_is_random_per_seed_and_flat_is_not(crop) -> None:
    image, labels = crop
    painter, flat = fit_baseline("painter", [(image, labels)]), fit_baseline("flat", [(image, labels)])
    assert not np.array_equal(painter.paint(labels, seed=0), painter.paint(labels, seed=1))
    assert np.array_equal(painter.paint(labels, seed=2), painter.paint(labels, seed=2))
    assert np.array_equal(flat.paint(labels, seed=0), flat.paint(labels, seed=1))
