"""Nucleus spread: nuclei painted alike get brightness differences; the background and the masks' layout stay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi
from typer.testing import CliRunner

import nucgan
from nucgan.cli.app import app
from nucgan.errors import InputError
from nucgan.nucleus_spread import REACH, instance_labels, spread_gain, spread_nuclei

ROOT = Path(__file__).resolve().parents[1]
GENERALIST = ROOT / "benchmarks" / "results" / "generalist" / "dsb2018-fluo-1x-k3"
DATA = Path(__file__).resolve().parent / "data" / "dsb2018"
runner = CliRunner()


def grid_of_nuclei(n: int = 8, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A [-1, 1] painting of n x n equal, blurred discs on a flat background, and their instance labels."""
    yy, xx = np.mgrid[0:size, 0:size]
    labels = np.zeros((size, size), np.int32)
    step = size // n
    for i in range(n):
        for j in range(n):
            cy, cx = step // 2 + i * step, step // 2 + j * step
            labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= (step // 3) ** 2] = i * n + j + 1
    image = ndi.gaussian_filter((labels > 0) * 1.0, 1.0) - 0.7  # contrast 1.0 over a -0.7 background
    return image.astype(np.float32), labels


def contrasts(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels[labels > 0])
    background = np.median(image[~ndi.binary_dilation(labels > 0, iterations=2)])
    return np.array(ndi.mean(image, labels, ids)) - background


def test_equal_nuclei_get_the_asked_spread_and_the_background_is_untouched():
    image, labels = grid_of_nuclei()
    before = contrasts(image, labels)
    out = spread_nuclei(image, labels, 1.8, seed=0)
    after = contrasts(out, labels)
    assert before.std() / before.mean() < 1e-3  # painted alike
    cv = after.std() / after.mean()
    # equal nuclei: CV 0 x 1.8 is still 0, so the gain is sized on the tiny painted CV -- nothing to widen
    assert cv < 0.01
    far = ~ndi.binary_dilation(labels > 0, structure=np.ones((3, 3)), iterations=REACH + 1)
    np.testing.assert_array_equal(out[far], image[far])


def test_the_spread_among_differing_nuclei_widens_by_the_factor_on_average():
    image, labels = grid_of_nuclei(n=10)
    rng = np.random.default_rng(1)
    base = 0.5 + 0.15 * rng.standard_normal(labels.max() + 1).clip(-2, 2)  # nuclei of CV ~0.3
    base[0] = 0.0
    painted = (ndi.gaussian_filter(base[labels], 1.0) - 0.7).astype(np.float32)
    c0 = contrasts(painted, labels)
    ratios = []
    for seed in range(20):
        c1 = contrasts(spread_nuclei(painted, labels, 1.8, seed=seed), labels)
        ratios.append((c1.std() / c1.mean()) / (c0.std() / c0.mean()))
    assert 1.55 < np.mean(ratios) < 2.05
    assert np.std(ratios) > 0  # gains are drawn: each seed its own


def test_spread_gain_matches_the_lognormal_formula():
    c = np.array([1.0, 1.2, 0.8, 1.1, 0.9])
    cv = c.std() / c.mean()
    s = spread_gain(c, 2.0)
    assert np.isclose((1 + cv ** 2) * np.exp(s ** 2) - 1, (2 * cv) ** 2)
    assert spread_gain(c, 1.0) == pytest.approx(0.0)


def test_deterministic_in_the_seed_and_factor_one_is_the_painting():
    image, labels = grid_of_nuclei()
    image = image + 0.05 * np.random.default_rng(0).standard_normal(image.shape).astype(np.float32)
    a, b = spread_nuclei(image, labels, 2.0, seed=3), spread_nuclei(image, labels, 2.0, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, spread_nuclei(image, labels, 2.0, seed=4))
    np.testing.assert_array_equal(spread_nuclei(image, labels, 1.0, seed=3), image)
    assert a.dtype == np.float32 and a.min() >= -1 and a.max() <= 1


def test_fewer_than_two_nuclei_are_left_as_painted():
    image, labels = grid_of_nuclei(n=1)
    np.testing.assert_array_equal(spread_nuclei(image, labels, 3.0, seed=0), image)
    empty = np.zeros_like(labels)
    np.testing.assert_array_equal(spread_nuclei(image, empty, 3.0, seed=0), image)


@pytest.mark.parametrize("factor", [0.5, float("nan"), float("inf")])
def test_a_factor_below_one_or_not_finite_is_refused(factor):
    image, labels = grid_of_nuclei(n=2)
    with pytest.raises(InputError, match="nucleus spread"):
        spread_nuclei(image, labels, factor, seed=0)


def test_instance_labels_from_a_layered_stack_give_each_nucleus_its_own_id():
    _, labels = grid_of_nuclei(n=4)
    stack = np.stack([(labels % 2 == 1), (labels % 2 == 0) & (labels > 0)])
    instances = instance_labels(stack)
    assert len(np.unique(instances[instances > 0])) == labels.max()
    np.testing.assert_array_equal(instances > 0, labels > 0)


def test_generate_applies_it_and_synth_records_it(tmp_path):
    labels = nucgan.io.read_labels(DATA / "labels.tif")[:128, :128]
    model = nucgan.load(GENERALIST)
    plain = nucgan.generate(model, labels, seed=0, output="float")
    wide = nucgan.generate(model, labels, seed=0, output="float", nucleus_spread=2.0)
    c0, c1 = contrasts(plain, labels), contrasts(wide, labels)
    assert c1.std() / c1.mean() > 1.3 * (c0.std() / c0.mean())
    far = ~ndi.binary_dilation(labels > 0, structure=np.ones((3, 3)), iterations=REACH + 1)
    np.testing.assert_array_equal(wide[far], plain[far])
    out = tmp_path / "s"
    result = runner.invoke(app, ["synth", "--model", str(GENERALIST), "--count", "1", "--size", "128",
                                 "--nucleus-spread", "1.5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["nucleus_spread"] == 1.5


def test_the_cli_refuses_a_bad_factor_before_any_work(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["synth", "--model", str(GENERALIST), "--count", "1", "--size", "128",
                                 "--nucleus-spread", "0.5", "--out", str(out)])
    assert isinstance(result.exception, InputError)
    assert "nucleus spread must be a number >= 1" in str(result.exception)
    assert not out.exists()
    target = tmp_path / "g.tif"
    result = runner.invoke(app, ["generate", "--model", str(GENERALIST), "--labels", str(DATA / "labels.tif"),
                                 "--nucleus-spread", "nan", "-o", str(target)])
    assert isinstance(result.exception, InputError) and "nucleus spread" in str(result.exception)
    assert not target.exists()


def test_row_bands_give_the_same_image_as_one_pass(monkeypatch):
    import nucgan.nucleus_spread as ns

    image, labels = grid_of_nuclei(n=6, size=200)
    image = image + 0.1 * np.random.default_rng(2).standard_normal(image.shape).astype(np.float32)
    whole = spread_nuclei(image, labels, 2.0, seed=5)
    monkeypatch.setattr(ns, "BAND", 7)  # bands cut through every nucleus and halo
    np.testing.assert_array_equal(spread_nuclei(image, labels, 2.0, seed=5), whole)
