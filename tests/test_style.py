"""The style input: image statistics measured alike on training images and on a user's reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi
from typer.testing import CliRunner

import nucgan
from nucgan.cli.app import app
from nucgan.normalize import Normalization
from nucgan.style import FEATURES, StyleRecord, measure_record, measure_style

runner = CliRunner()


def picture(noise: float = 4.0, blur: float = 0.0, level: float = 150.0, seed: int = 0, size: int = 96):
    """Disc nuclei on a dark background; returns (image uint8, labels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    labels = np.zeros((size, size), np.uint16)
    for k, (cy, cx) in enumerate([(20, 20), (20, 70), (70, 30), (60, 75), (45, 48)], start=1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 64] = k
    clean = (labels > 0) * level + 20.0
    if blur:
        clean = ndi.gaussian_filter(clean, blur)
    return np.clip(clean + rng.normal(0, noise, clean.shape), 0, 255).astype(np.uint8), labels


def style_of(image: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURES, measure_record(image, (1.0, 99.8)).values))


def test_each_statistic_follows_what_it_names() -> None:
    base = style_of(picture()[0])
    assert style_of(picture(noise=12)[0])["noise"] > 2 * base["noise"]
    assert style_of(picture(blur=2.0)[0])["sharpness"] < 0.7 * base["sharpness"]
    assert base["background"] < -0.5 < 0.5 < base["foreground"]
    ramp = picture()[0].astype(float)
    ramp[picture()[1] == 1] *= 0.5  # one nucleus at half brightness: the nuclei's spread grows
    assert style_of(np.clip(ramp, 0, 255).astype(np.uint8))["foreground_spread"] > 1.5 * base["foreground_spread"]
    with pytest.raises(nucgan.InputError, match="flat.tif: the image is constant"):
        measure_style(np.full((32, 32), 7.0), Normalization(0.0, 10.0, "float32"), "flat.tif")


def test_a_style_dataset_gives_each_image_its_own_constant_style_channels() -> None:
    pairs = [nucgan.TrainingPair(f"{k}.tif", *picture(noise=n, seed=k)) for k, n in enumerate((2.0, 6.0, 14.0))]
    ds = nucgan.TilesDataset(pairs, tile=32, stride=32, randomize=1, views="none", style=True)
    assert ds.in_channels == 5 + len(FEATURES) and len(ds.input.styles) == 3
    firsts = {}
    for i in range(len(ds)):
        cond = ds[i][0].numpy()
        style = cond[5:]
        assert np.all(style == style[:, :1, :1])  # constant planes
        firsts.setdefault(ds.locate(i)["source"], style[:, 0, 0])
    noise = FEATURES.index("noise")
    assert firsts[0][noise] < firsts[1][noise] < firsts[2][noise]  # standardised over the three images
    again = nucgan.InputSettings.from_json(ds.input.to_json())
    assert again == ds.input and isinstance(again.styles[0], StyleRecord)


def test_generation_paints_in_the_reference_style_or_a_drawn_training_one(tmp_path: Path) -> None:
    from nucgan.training import TrainConfig, train

    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for k, level in enumerate((60.0, 200.0)):
        image, labels = picture(level=level, seed=k)
        tifffile.imwrite(folder / "images" / f"{k}.tif", image)
        tifffile.imwrite(folder / "masks" / f"{k}.tif", labels)
    run = train(TrainConfig(dataset="stardist", sources={"folder": str(folder)}, style=True, tile=32, stride=32,
                            randomize=1, generator="unet", generator_kwargs={"filters": 4, "levels": 2},
                            discriminator="patchgan", discriminator_kwargs={"filters": 4, "n_layers": 1}, batch=2,
                            steps=2, device="cpu", threads=1, out=str(tmp_path / "run"), checkpoint_every=2))
    model = nucgan.load(run)
    assert model.generator.in_channels == 10 and model.input.style == FEATURES
    from skimage.io import imread

    grid = imread(sorted((run / "samples").glob("*.png"))[-1])
    masks = grid[:, : grid.shape[1] // 3]  # the mask column draws the mask channels, not the style planes
    assert 0.3 < float((masks.reshape(-1, masks.shape[-1]).max(axis=1) == 0).mean()) < 0.99
    labels = picture()[1]
    reference = (picture(level=90.0, noise=3)[0].astype(np.uint16) * 40)  # another microscope: 16-bit, dimmer
    ref_path = tmp_path / "mine.tif"
    tifffile.imwrite(ref_path, reference)
    painted = nucgan.generate(model, labels, like=ref_path)
    norm = Normalization.fit(reference)
    assert painted.dtype == np.uint16 and norm.low - 1 <= painted.min() and painted.max() <= norm.high + 1
    from nucgan.generation import pick_style

    picked = [pick_style(model.input, None, s) for s in range(6)]
    assert {p.name for p in picked} == {r.name for r in model.input.styles}  # both training styles get drawn
    for s, record in enumerate(picked[:3]):
        drawn = nucgan.generate(model, labels, seed=s)
        assert np.array_equal(drawn, nucgan.generate(model, labels, seed=s))
        low, high = record.normalization.low, record.normalization.high
        assert low - 1 <= drawn.min() and drawn.max() <= high + 1
    out = tmp_path / "synth"
    result = runner.invoke(app, ["synth", "-m", str(run), "--count", "1", "--size", "64", "--nuclei", "4",
                                 "--sampler", "ellipse", "--like", str(ref_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert '"like": "' + str(ref_path) in (out / "manifest.json").read_text()


def test_like_for_a_model_without_a_style_input_is_refused(tmp_path: Path) -> None:
    image, labels = picture()
    tifffile.imwrite(tmp_path / "labels.tif", labels)
    tifffile.imwrite(tmp_path / "mine.tif", image)
    result = runner.invoke(app, ["generate", "-m", "dsb2018-1x-k3", "-l", str(tmp_path / "labels.tif"),
                                 "--like", str(tmp_path / "mine.tif"), "-o", str(tmp_path / "out.tif")])
    assert isinstance(result.exception, nucgan.InputError)
    assert "--like: dsb2018-1x-k3@1 takes no style input" in str(result.exception)
    assert not (tmp_path / "out.tif").exists()


def test_image_statistics_measure_what_they_name_and_identical_sets_are_at_distance_zero() -> None:
    from nucgan.quality.image_stats import image_statistics, set_distance

    image, labels = picture(noise=4.0)
    stats = image_statistics(image, labels)
    assert abs(stats["background"] - 20) < 2 and abs(stats["nucleus_brightness"] - 170) < 3
    assert 2 < stats["noise"] < 6 and stats["nucleus_spread"] < 0.05
    assert image_statistics(picture(blur=2.0)[0], labels)["edge_sharpness"] < stats["edge_sharpness"]
    sets = [image_statistics(*picture(noise=n, seed=n)) for n in (2, 4, 8)]
    assert set_distance(sets, sets)["mean"] == 0
    assert set_distance(sets, [image_statistics(*picture(noise=20, seed=1))] * 3)["noise"] > 1
