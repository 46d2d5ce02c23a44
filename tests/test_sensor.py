"""Sensor noise: a smooth painting gets the grain of the style it is painted in, and nothing else changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi
from typer.testing import CliRunner

import nucgan
from nucgan.cli.app import app
from nucgan.errors import InputError
from nucgan.normalize import Normalization
from nucgan.sensor import add_sensor_noise, residual_gain
from nucgan.style import FEATURES, StyleRecord, fine_noise, measure_record

ROOT = Path(__file__).resolve().parents[1]
GENERALIST = ROOT / "benchmarks" / "results" / "generalist" / "dsb2018-fluo-1x-k3"
DATA = Path(__file__).resolve().parent / "data" / "dsb2018"
runner = CliRunner()


def smooth_painting(size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A noiseless [-1, 1] image of blurred discs, and the nuclei mask."""
    yy, xx = np.mgrid[0:size, 0:size]
    nuclei = np.zeros((size, size), bool)
    for cy, cx in ((30, 30), (40, 110), (110, 50), (120, 120)):
        nuclei |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 15 ** 2
    return (ndi.gaussian_filter(nuclei * 1.4, 1.5) - 0.8).astype(np.float32), nuclei


def record(noise: float, dtype: str = "uint8") -> StyleRecord:
    return StyleRecord((-0.8, 0.6, 0.1, noise, 0.2), Normalization(10.0, 60.0, dtype))


def written_noise(image: np.ndarray, style: StyleRecord, nuclei: np.ndarray) -> float:
    """The fine noise of the image as it is written (source dtype), measured the way the style measures it."""
    back = style.normalization.forward(style.normalization.inverse(image)).astype(np.float64)
    return fine_noise(back, ~ndi.binary_dilation(nuclei, iterations=2))


@pytest.mark.parametrize("dtype,target", [("uint8", 0.02), ("uint8", 0.06), ("float32", 0.01)])
def test_a_smooth_painting_gets_the_styles_background_noise_after_rounding(dtype: str, target: float) -> None:
    image, nuclei = smooth_painting()
    style = record(target, dtype)
    assert written_noise(image, style, nuclei) < target / 3  # the painting is smooth: (almost) no grain
    noisy = add_sensor_noise(image, style, nuclei, seed=0)
    assert noisy.dtype == np.float32 and noisy.shape == image.shape and -1 <= noisy.min() and noisy.max() <= 1
    assert written_noise(noisy, style, nuclei) == pytest.approx(target, rel=0.1)
    assert abs(float(np.mean(noisy - image))) < 0.01  # zero-mean: levels and contrast stay where they were


def test_sensor_noise_is_seeded_and_adds_nothing_to_a_painting_that_is_already_as_noisy() -> None:
    image, nuclei = smooth_painting()
    style = record(0.03)
    a, b = (add_sensor_noise(image, style, nuclei, seed=s) for s in (1, 2))
    assert np.array_equal(a, add_sensor_noise(image, style, nuclei, seed=1)) and not np.array_equal(a, b)
    grainy = np.clip(image + np.random.default_rng(0).normal(0, 0.2, image.shape), -1, 1).astype(np.float32)
    assert np.array_equal(add_sensor_noise(grainy, style, nuclei, seed=0), grainy)
    assert np.array_equal(add_sensor_noise(image, record(0.0), nuclei, seed=0), image)


def test_the_residual_gain_is_what_white_noise_measures_at() -> None:
    white = np.random.default_rng(0).normal(0, 1, (256, 256))
    assert fine_noise(white, np.ones_like(white, bool)) == pytest.approx(residual_gain(), rel=0.03)


def test_generate_with_sensor_noise_reaches_the_references_noise_and_keeps_its_levels() -> None:
    model = nucgan.load(GENERALIST)
    image, labels = tifffile.imread(DATA / "image.tif"), tifffile.imread(DATA / "labels.tif")
    image, labels = image[:192, :192], labels[:192, :192]
    target = measure_record(image, model.input.percentiles).values[FEATURES.index("noise")]
    plain = nucgan.generate(model, labels, like=image, seed=3)
    noisy = nucgan.generate(model, labels, like=image, seed=3, sensor_noise=True)
    assert noisy.dtype == plain.dtype == image.dtype
    norm = Normalization.fit(image, model.input.percentiles)
    background = ~ndi.binary_dilation(labels > 0, iterations=2)
    level = {name: fine_noise(norm.forward(x).astype(np.float64), background) for name, x in
             (("plain", plain), ("noisy", noisy))}
    assert level["plain"] < 0.5 * target and level["noisy"] == pytest.approx(target, rel=0.25)
    assert abs(float(np.median(noisy[background])) - float(np.median(plain[background]))) <= 1  # same level
    drawn = nucgan.generate(model, labels, seed=4, sensor_noise=True)  # a drawn training style works as well
    assert not np.array_equal(drawn, nucgan.generate(model, labels, seed=4))


def test_sensor_noise_for_a_model_without_a_style_input_is_refused_before_any_work(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "labels.tif", tifffile.imread(DATA / "labels.tif")[:128, :128])
    result = runner.invoke(app, ["generate", "-m", "dsb2018-1x-k3", "-l", str(tmp_path / "labels.tif"),
                                 "--sensor-noise", "-o", str(tmp_path / "out.tif")])
    assert isinstance(result.exception, InputError)
    assert "--sensor-noise: dsb2018-1x-k3@1 takes no style input" in str(result.exception)
    assert not (tmp_path / "out.tif").exists()
    result = runner.invoke(app, ["synth", "-m", "dsb2018-1x-k3", "--count", "1", "--size", "64", "--nuclei", "3",
                                 "--sampler", "ellipse", "--sensor-noise", "-o", str(tmp_path / "synth")])
    assert isinstance(result.exception, InputError) and "--sensor-noise" in str(result.exception)
    assert not (tmp_path / "synth").exists()


def test_synth_adds_sensor_noise_by_default_for_a_style_model_and_records_it(tmp_path: Path) -> None:
    out = {}
    for flag in ("(default)", "--sensor-noise", "--no-sensor-noise"):
        out[flag] = tmp_path / flag.strip("-()")
        result = runner.invoke(app, ["synth", "-m", str(GENERALIST), "--count", "1", "--size", "128", "--nuclei", "6",
                                     "--sampler", "ellipse", *([flag] if flag.startswith("--") else []),
                                     "-o", str(out[flag])])
        assert result.exit_code == 0, result.output
    for flag in ("(default)", "--sensor-noise"):
        assert '"sensor_noise": true' in (out[flag] / "manifest.json").read_text()
    assert "sensor_noise" not in (out["--no-sensor-noise"] / "manifest.json").read_text()
    images = {f: tifffile.imread(sorted((o / "images").glob("*.tif"))[0]).astype(np.float64) for f, o in out.items()}
    assert np.array_equal(images["(default)"], images["--sensor-noise"])
    labels = tifffile.imread(sorted((out["--sensor-noise"] / "masks").glob("*.tif"))[0])
    background = ~ndi.binary_dilation(labels > 0, iterations=2)
    grain = {f: fine_noise(x, background) for f, x in images.items()}
    assert grain["--sensor-noise"] > 2 * grain["--no-sensor-noise"]


def test_synth_of_a_model_without_a_style_input_has_no_sensor_noise_by_default(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "-m", "dsb2018-1x-k3", "--count", "1", "--size", "64", "--nuclei", "3",
                                 "--sampler", "ellipse", "-o", str(tmp_path / "synth")])
    assert result.exit_code == 0, result.output
    assert "sensor_noise" not in (tmp_path / "synth" / "manifest.json").read_text()


def test_an_image_without_background_to_measure_on_still_gets_the_first_guess_of_noise() -> None:
    image = np.full((64, 64), 0.3, np.float32)
    nuclei = np.ones((64, 64), bool)  # packed: nothing to calibrate on
    noisy = add_sensor_noise(image, record(0.03, "float32"), nuclei, seed=0)
    assert float(np.std(noisy - image)) == pytest.approx(0.03 / residual_gain(), rel=0.05)


def test_signal_noise_grows_inside_the_nuclei_to_the_signal_ratio_and_leaves_the_background_as_it_was() -> None:
    from nucgan.sensor import SIGNAL_RATIO

    image, nuclei = smooth_painting(256)
    style = record(0.02)
    plain = add_sensor_noise(image, style, nuclei, seed=0)
    grown = add_sensor_noise(image, style, nuclei, seed=0, signal=True)
    inner = ndi.binary_erosion(nuclei, iterations=2)
    back = lambda y: style.normalization.forward(style.normalization.inverse(y)).astype(np.float64)  # noqa: E731
    contrast = float(np.median(image[inner]) - np.median(image[~ndi.binary_dilation(nuclei, iterations=2)]))
    wanted = np.hypot(0.02, SIGNAL_RATIO * contrast)
    assert fine_noise(back(plain), inner) < 0.8 * wanted  # background-level noise alone stays below it
    assert fine_noise(back(grown), inner) == pytest.approx(wanted, rel=0.1)
    assert written_noise(grown, style, nuclei) == pytest.approx(written_noise(plain, style, nuclei), rel=0.05)


def test_signal_noise_without_sensor_noise_cannot_apply_and_is_refused(tmp_path: Path) -> None:
    labels = tifffile.imread(DATA / "labels.tif")[:96, :96]
    with pytest.raises(InputError, match="--signal-noise shapes the sensor noise, which is off"):
        nucgan.generate(nucgan.load(GENERALIST), labels, signal_noise=True)
    out = tmp_path / "s"
    result = runner.invoke(app, ["synth", "-m", str(GENERALIST), "--count", "1", "--size", "96", "--nuclei", "4",
                                 "--sampler", "ellipse", "--no-sensor-noise", "--signal-noise", "-o", str(out)])
    assert isinstance(result.exception, InputError) and "--signal-noise" in str(result.exception)
    assert not out.exists()
    result = runner.invoke(app, ["synth", "-m", str(GENERALIST), "--count", "1", "--size", "96", "--nuclei", "4",
                                 "--sampler", "ellipse", "--signal-noise", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert '"signal_noise": true' in (out / "manifest.json").read_text()


def test_signal_noise_for_a_model_without_a_style_input_names_the_model(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "labels.tif", tifffile.imread(DATA / "labels.tif")[:128, :128])
    result = runner.invoke(app, ["generate", "-m", "dsb2018-1x-k3", "-l", str(tmp_path / "labels.tif"),
                                 "--signal-noise", "-o", str(tmp_path / "out.tif")])
    assert isinstance(result.exception, InputError)
    assert "--signal-noise: dsb2018-1x-k3@1 takes no style input" in str(result.exception)
    assert not (tmp_path / "out.tif").exists()
