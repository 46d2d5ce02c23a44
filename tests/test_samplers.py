"""Mask samplers: the Sampler contract for every registered one, bank transforms, the mask GAN and train-masks."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

import nucgan
from nucgan import InputError, NucganError
from nucgan.shapes import FOUR, instance_shapes, shape_stats

BUILTIN_SAMPLERS = {"ellipse", "bank", "gan"}
SHIPPED = Path(__file__).resolve().parents[1] / "plugins" / "nucgan_builtins" / "samplers" / "dsb2018_masks.safetensors"


@pytest.fixture
def sampler_kwargs(dsb_dir):
    """Arguments each built-in sampler needs; third-party samplers are built without arguments."""
    return {"bank": {"labels": str(dsb_dir / "labels.tif"), "region": "train"}}


def test_builtin_samplers_registered():
    assert BUILTIN_SAMPLERS <= {p.name for p in nucgan.list_samplers()}


@pytest.mark.parametrize("n", [0, 1, 37])
def test_sampler_contract_every_registered_sampler(sampler_kwargs, n):
    for provided in nucgan.list_samplers():
        sampler = nucgan.create_sampler(provided.name, **sampler_kwargs.get(provided.name, {}))
        shapes = sampler.shapes(n, np.random.default_rng(5))
        assert isinstance(shapes, list) and len(shapes) == n, provided.name
        for s in shapes:
            assert isinstance(s, np.ndarray) and s.dtype == bool and s.ndim == 2, provided.name
            assert s.any() and s[0].any() and s[-1].any() and s[:, 0].any() and s[:, -1].any(), provided.name
            assert ndi.label(s, structure=np.ones((3, 3)))[1] == 1, provided.name
        again = sampler.shapes(n, np.random.default_rng(5))
        assert all(np.array_equal(a, b) for a, b in zip(shapes, again)), provided.name
        if n > 1:
            other = sampler.shapes(n, np.random.default_rng(6))
            assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(shapes, other)), provided.name


@pytest.mark.parametrize("name", ["bank", "gan"])
def test_builtin_shapes_are_four_connected_and_hole_free(sampler_kwargs, name):
    shapes = nucgan.create_sampler(name, **sampler_kwargs.get(name, {})).shapes(60, np.random.default_rng(0))
    for s in shapes:
        assert ndi.label(s, structure=FOUR)[1] == 1
        assert np.array_equal(ndi.binary_fill_holes(s), s)
        assert s.sum() >= 20


# -- bank ---------------------------------------------------------------------------------------------
def test_bank_without_transforms_returns_the_real_shapes(dsb_dir):
    real = instance_shapes(dsb_dir / "labels.tif", region="train")
    bank = nucgan.create_sampler("bank", labels=str(dsb_dir / "labels.tif"), region="train", rotate=False, flip=False)
    keys = {(s.shape, s.tobytes()) for s in real}
    assert all((s.shape, s.tobytes()) in keys for s in bank.shapes(40, np.random.default_rng(0)))


def test_bank_rotates_and_flips_but_keeps_size(dsb_dir):
    lab = np.zeros((64, 64), np.uint16)
    lab[20:28, 10:40] = 1  # one 8 x 30 bar: every draw is it, turned
    bank = nucgan.create_sampler("bank", labels=lab)
    shapes = bank.shapes(30, np.random.default_rng(1))
    dims = {s.shape for s in shapes}
    assert len(dims) > 10  # many different angles
    assert any(h > w for h, w in dims) and any(w > h for h, w in dims)
    areas = np.array([s.sum() for s in shapes])
    assert np.all(np.abs(areas - 240) <= 0.1 * 240)
    stats = shape_stats(shapes)
    assert (stats["eccentricity"] > 0.95).all() and (stats["solidity"] > 0.85).all()


def test_bank_scale_jitter_spreads_areas(dsb_dir):
    lab = np.zeros((64, 64), np.uint16)
    lab[20:40, 20:40] = 4
    bank = nucgan.create_sampler("bank", labels=lab, scale_jitter=0.3)
    areas = np.array([s.sum() for s in bank.shapes(80, np.random.default_rng(2))])
    assert areas.min() < 0.75 * 400 and areas.max() > 1.3 * 400
    assert areas.min() >= 0.45 * 400 and areas.max() <= 1.75 * 400  # factor within [0.7, 1.3]


def test_bank_errors(tmp_path):
    with pytest.raises(InputError, match="missing.tif"):
        nucgan.create_sampler("bank", labels=str(tmp_path / "missing.tif"))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not a png")
    with pytest.raises(InputError, match="bad.png"):
        nucgan.create_sampler("bank", labels=str(bad))
    lab = np.zeros((16, 16), np.uint16)
    lab[4:8, 4:8] = 1
    with pytest.raises(InputError, match="scale_jitter"):
        nucgan.create_sampler("bank", labels=lab, scale_jitter=1.5)
    with pytest.raises(InputError, match="no usable nucleus"):
        nucgan.create_sampler("bank", labels=lab, min_area=100)


# -- gan ----------------------------------------------------------------------------------------------
def _metadata(path: Path) -> dict:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n])["__metadata__"]


def test_shipped_mask_gan_is_small_and_from_the_train_half():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 1_000_000
    meta = _metadata(SHIPPED)
    assert meta["nucgan.format"] == "mask-gan/1" and meta["nucgan.dtype"] == "float16"
    training = json.loads(meta["nucgan.training"])
    assert training["region"] == "train" and training["labels"] == "labels.tif"


def test_gan_default_model_draws_plausible_novel_shapes(dsb_dir):
    gan = nucgan.create_sampler("gan")
    shapes = gan.shapes(200, np.random.default_rng(0))
    real = instance_shapes(dsb_dir / "labels.tif", region="train")
    ours, theirs = shape_stats(shapes), shape_stats(real)
    # loose bounds: a broken model (blobs, specks, noise) fails them, the shipped one sits well inside
    assert 0.7 < np.median(ours["area"]) / np.median(theirs["area"]) < 1.3
    assert abs(np.median(ours["eccentricity"]) - np.median(theirs["eccentricity"])) < 0.15
    assert np.median(ours["solidity"]) > 0.92
    assert len({s.tobytes() + bytes(s.shape) for s in shapes}) > 190  # not a handful of repeated masks


def test_gan_rejects_degenerate_output_and_gives_up_loudly():
    gan = nucgan.create_sampler("gan")
    size = gan.generator.size

    class Everywhere(torch.nn.Module):  # fills the whole canvas: cut by its border, always rejected
        latent, size = gan.generator.latent, gan.generator.size

        def forward(self, z):
            return torch.ones(z.shape[0], 1, size, size)

    gan.generator = Everywhere()
    with pytest.raises(NucganError, match="degenerate shapes"):
        gan.shapes(3, np.random.default_rng(0))


def test_gan_model_file_errors(tmp_path):
    with pytest.raises(InputError, match="nothing.safetensors"):
        nucgan.create_sampler("gan", model=str(tmp_path / "nothing.safetensors"))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04\x95 pickled stuff")  # e.g. a pickle: never loaded
    with pytest.raises(InputError, match="junk.safetensors: not a safetensors file"):
        nucgan.create_sampler("gan", model=str(junk))
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"nucgan.format": "generator/1"})
    with pytest.raises(InputError, match="other.safetensors: not a nucgan mask GAN"):
        nucgan.create_sampler("gan", model=str(other))
    huge = tmp_path / "huge.safetensors"
    config = json.dumps({"size": 10 ** 9, "latent": 32, "width": 16})
    save_file({"w": torch.zeros(2)}, str(huge), metadata={"nucgan.format": "mask-gan/1", "nucgan.config": config})
    with pytest.raises(InputError, match="huge.safetensors: mask GAN size 1000000000 is outside"):
        nucgan.create_sampler("gan", model=str(huge))
    broken = tmp_path / "broken.safetensors"
    save_file({"w": torch.zeros(2)}, str(broken), metadata={"nucgan.format": "mask-gan/1", "nucgan.config": "{"})
    with pytest.raises(InputError, match="broken.safetensors: broken mask GAN metadata"):
        nucgan.create_sampler("gan", model=str(broken))
    mismatch = tmp_path / "mismatch.safetensors"
    save_file({"w": torch.zeros(2)}, str(mismatch),
              metadata={"nucgan.format": "mask-gan/1", "nucgan.config": json.dumps({"size": 48, "latent": 32,
                                                                                    "width": 16})})
    with pytest.raises(InputError, match="mismatch.safetensors: tensors do not match"):
        nucgan.create_sampler("gan", model=str(mismatch))
    with pytest.raises(InputError, match="threshold"):
        nucgan.create_sampler("gan", threshold=1.5)


def test_train_save_load_round_trip(tmp_path, dsb_dir):
    from nucgan_builtins.samplers.gan import GanSampler

    out = tmp_path / "m.safetensors"
    seen = []
    summary = GanSampler.train(dsb_dir / "labels.tif", out, region="train", steps=3, seed=1,
                               on_step=lambda step, d, g: seen.append(step))
    assert seen == [1, 2, 3] and summary["steps"] == 3 and summary["region"] == "train"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left behind
    loaded = GanSampler(model=out)
    assert loaded.info["training"]["seed"] == 1 and loaded.info["dtype"] == "float16"
    with pytest.raises(InputError, match="too large for a 16 px"):
        GanSampler.train(dsb_dir / "labels.tif", tmp_path / "small.safetensors", region="train", steps=1, size=16)
    assert not (tmp_path / "small.safetensors").exists()


def test_train_masks_command(tmp_path, dsb_dir):
    import typer
    from typer.testing import CliRunner

    from nucgan.cli.masks import train_masks_command

    app = typer.Typer()
    app.command()(train_masks_command)
    out = tmp_path / "cli.safetensors"
    result = CliRunner().invoke(app, [str(dsb_dir / "labels.tif"), "-o", str(out), "--region", "train",
                                      "--steps", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert _metadata(out)["nucgan.format"] == "mask-gan/1"
    assert nucgan.create_sampler("gan", model=str(out)).info["training"]["steps"] == 2
    bad = CliRunner().invoke(app, [str(dsb_dir / "labels.tif"), "-o", str(tmp_path / "x.pt"), "--steps", "2"])
    assert isinstance(bad.exception, InputError) and "safetensors" in str(bad.exception)
    not_trainable = CliRunner().invoke(app, [str(dsb_dir / "labels.tif"), "-o", str(out), "--sampler", "bank"])
    assert isinstance(not_trainable.exception, InputError) and "not trainable" in str(not_trainable.exception)
