"""Noise injection (``unet`` ``noise_levels``): off keeps old models as they were, on paints seeded, seamless texture."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import nucgan
from nucgan.generation import paint
from nucgan.noise import NoiseInjection, hashed_normal, unit_interval

from tests.test_training import tiny, train


def unet(noise_levels: int = 0) -> torch.nn.Module:
    torch.manual_seed(0)
    return nucgan.create_generator("unet", in_channels=5, filters=4, levels=2, kernel_size=3,
                                   **({"noise_levels": noise_levels} if noise_levels else {}))


@pytest.fixture
def layers(dsb_dir):
    labels = tifffile.imread(dsb_dir / "labels.tif")[:256, :256]
    return nucgan.layer(labels, channels=4, gap=2, merged=True, seed=1)


def test_off_by_default_and_the_config_names_it_only_when_on():
    plain, noisy = unet(), unet(2)
    assert "noise_levels" not in plain.config() and noisy.config()["noise_levels"] == 2
    assert not any(isinstance(m, NoiseInjection) for m in plain.modules())
    extra = set(noisy.state_dict()) - set(plain.state_dict())
    assert len(extra) == 2 and all(k.endswith(".scale") for k in extra)  # one per noisy decoder block
    assert set(plain.state_dict()) <= set(noisy.state_dict())  # the other weights keep their names
    with pytest.raises(nucgan.InputError, match="noise_levels must be an integer in 0..2"):
        nucgan.create_generator("unet", in_channels=4, filters=4, levels=2, noise_levels=3)


def test_zero_scales_paint_what_the_model_without_noise_paints(layers):
    plain, noisy = unet(), unet(2)
    noisy.load_state_dict(plain.state_dict(), strict=False)
    assert np.array_equal(paint(plain, layers, seed=3), paint(noisy, layers, seed=3))


def test_noise_is_seeded_positional_and_off_with_noise_false(layers):
    g = unet(2)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.scale.fill_(0.5)
    a, b = paint(g, layers, seed=3), paint(g, layers, seed=3)
    assert np.array_equal(a, b)
    assert np.abs(a - paint(g, layers, seed=4)).mean() > 1e-3  # another seed, another texture
    quiet = paint(g, layers, seed=3, noise=False)
    assert np.abs(a - quiet).mean() > 1e-3  # the scales act
    g.eval()
    with torch.no_grad():  # without paint's positional noise, eval mode adds nothing
        x = torch.from_numpy(layers[None].astype(np.float32) * 2 - 1)
        assert np.allclose(g(x)[0, 0].numpy(), quiet, atol=1e-5)
    tiled = paint(g, layers, seed=3, tile=128, overlap=32)
    borders = np.zeros(a.shape, bool)
    for start in range(96, 256, 96):  # the seams of tile 128, overlap 32
        borders[max(0, start - 2):start + 34] = True
        borders[:, max(0, start - 2):start + 34] = True
    assert np.abs(a - tiled)[~borders].max() < 1e-4  # tiles draw the same noise where they overlap


def test_training_mode_draws_fresh_noise_and_hashed_normal_is_standard():
    inj = NoiseInjection(3)
    with torch.no_grad():
        inj.scale.fill_(1.0)
    x = torch.zeros(2, 3, 8, 8)
    assert not torch.equal(inj(x), inj(x))
    inj.eval()
    assert torch.equal(inj(x), x)
    n = hashed_normal(7, 0, torch.arange(200), torch.arange(200))
    assert n.shape == (1, 200, 200) and abs(float(n.mean())) < 0.02 and abs(float(n.std()) - 1) < 0.02
    assert torch.equal(n, hashed_normal(7, 0, torch.arange(200), torch.arange(200)))


def test_positional_noise_is_finite_where_a_hash_is_near_2_to_the_32():
    # float32(h / 2**32) rounded such hashes up to 1.0, and Box-Muller's log(1 - u) gave -inf: NaN pixels
    # in painted images (seed 0, noise layer 1, row 133, column 143 is one such place)
    top = torch.tensor([0, 2 ** 31, 2 ** 32 - 129, 2 ** 32 - 22, 2 ** 32 - 1], dtype=torch.int64)
    u = unit_interval(top)
    assert u.dtype == torch.float32 and float(u.min()) == 0.0 and float(u.max()) < 1.0
    n = hashed_normal(0, 1, torch.arange(128, 138), torch.arange(140, 146))
    assert torch.isfinite(n).all()


def test_a_noisy_generator_fine_tunes_from_the_same_one_without(dsb_dir, tmp_path):
    from nucgan.training.loop import Run

    source = train(tiny(dsb_dir, tmp_path / "source", steps=2))
    kwargs = {"filters": 4, "levels": 2, "kernel_size": 3, "noise_levels": 1}
    run = Run(tiny(dsb_dir, tmp_path / "fine", init=str(source), generator_kwargs=kwargs))
    run.prepare()
    trained = nucgan.zoo.load(source).generator.state_dict()
    state = run.g.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trained.items())
    assert [k for k in state if k not in trained] == ["decoder.1.2.scale"] and not state["decoder.1.2.scale"].any()
    other = Run(tiny(dsb_dir, tmp_path / "other", init=str(source),
                     generator_kwargs={**kwargs, "kernel_size": 5}))
    with pytest.raises(nucgan.InputError, match="differs from this run's"):
        other.prepare()
    finished = train(tiny(dsb_dir, tmp_path / "fine2", init=str(source), generator_kwargs=kwargs, steps=3))
    loaded = nucgan.zoo.load(finished).generator  # saved and loaded strictly, the scale included
    assert loaded.config()["noise_levels"] == 1
