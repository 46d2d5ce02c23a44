"""``--d-noise``: the discriminator judges generated tiles with white noise up to the real tile's grain."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import nucgan
from nucgan.style import fine_noise
from nucgan.training.d_noise import fine_noise_level, match_fine_noise
from nucgan.training.distributed import World
from nucgan.training.step import GanStep

from tests.test_training import tiny, train


def smooth_and_grainy(b: int = 3, s: int = 64, sd: float = 0.05):
    gen = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    smooth = (0.8 * torch.exp(-(xx ** 2 + yy ** 2) * 4) - 0.5).expand(b, 1, s, s).clone()
    grainy = smooth + sd * torch.randn(b, 1, s, s, generator=gen) * torch.arange(1, b + 1).view(-1, 1, 1, 1)
    return smooth, grainy


def test_fine_noise_level_is_the_style_statistic():
    _, grainy = smooth_and_grainy()
    got = fine_noise_level(grainy)
    want = [fine_noise(grainy[i, 0].double().numpy(), np.ones((64, 64), bool)) for i in range(3)]
    assert got.shape == (3,) and got.numpy() == pytest.approx(want, rel=0.02)


def test_a_smooth_tile_gets_its_real_tiles_grain_and_the_gradient_passes():
    smooth, grainy = smooth_and_grainy()
    fake = smooth.clone().requires_grad_(True)
    out = match_fine_noise(fake, grainy, generator=torch.Generator().manual_seed(1))
    assert fine_noise_level(out.detach()).numpy() == pytest.approx(fine_noise_level(grainy).numpy(), rel=0.1)
    out.sum().backward()
    assert torch.equal(fake.grad, torch.ones_like(fake))  # additive: the generator's gradient is unchanged


def test_a_tile_as_noisy_as_its_real_one_is_left_alone():
    smooth, grainy = smooth_and_grainy()
    assert torch.equal(match_fine_noise(grainy, smooth), grainy)


class Flat(torch.nn.Module):
    """A generator that paints one learned grey level: a tile with no grain at all."""

    def __init__(self) -> None:
        super().__init__()
        self.level = torch.nn.Parameter(torch.tensor(-0.5))

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(cond[:, :1]) + self.level


def test_the_discriminator_sees_the_noise_and_the_l1_does_not():
    torch.manual_seed(0)
    g = Flat()
    d = nucgan.create_discriminator("patchgan", in_channels=5, filters=4, n_layers=2)
    seen = []
    d.register_forward_hook(lambda module, inputs, output: seen.append(inputs[1].detach().clone()))
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    cond = torch.rand(2, 5, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    _, real = smooth_and_grainy(2, 32, sd=0.2)
    results = {}
    for on in (False, True):
        seen.clear()
        torch.manual_seed(2)
        step = GanStep(g, d, opt_g, opt_d, gan_loss="bce", lambda_l1=100.0, world=World(), d_noise=on)
        parts, _, _ = step.losses(cond, real)
        results[on] = (float(parts.g_l1), seen[1])
    assert results[True][0] == pytest.approx(results[False][0])  # the L1 compares the clean output
    assert (fine_noise_level(results[False][1]) == 0).all()
    assert fine_noise_level(results[True][1]).numpy() == pytest.approx(fine_noise_level(real).numpy(), rel=0.1)


def test_d_noise_is_recorded(dsb_dir, tmp_path):
    run = train(tiny(dsb_dir, tmp_path / "noisy-d", steps=2, d_noise=True))
    assert json.loads((run / "config.json").read_text())["d_noise"] is True
