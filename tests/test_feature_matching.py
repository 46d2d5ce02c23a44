"""--feature-matching: D's inner activations matched from the step's own passes; it moves G only."""

from __future__ import annotations

import json

import pytest
import torch

import nucgan
from nucgan.errors import InputError
from nucgan.training import TrainConfig, train
from nucgan.training.distributed import World
from nucgan.training.feature_matching import FeatureTap
from nucgan.training.step import GanStep
from test_training import tiny


def _models(seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    g = nucgan.create_generator("unet", in_channels=5, filters=4, levels=2, kernel_size=3)
    d = nucgan.create_discriminator("patchgan-paper", in_channels=5, filters=4)
    return g, d


def _gradients(weight: float) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], object]:
    """G and D gradients of one step (optimisers with lr 0, so nothing moves) and its losses."""
    g, d = _models()
    g.eval()  # no dropout: the two runs see the same generated image
    step = GanStep(g, d, torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.0),
                   gan_loss="bce", lambda_l1=100.0, world=World(), feature_matching=weight)
    gen = torch.Generator().manual_seed(1)
    cond = (torch.rand(2, 5, 32, 32, generator=gen) > 0.5).float() * 2 - 1
    real = torch.rand(2, 1, 32, 32, generator=gen) * 2 - 1
    losses = step(cond, real)
    grads = lambda m: {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}  # noqa: E731
    return grads(g), grads(d), losses


def test_feature_matching_changes_the_generator_gradient_only() -> None:
    g_off, d_off, off = _gradients(0.0)
    g_on, d_on, on = _gradients(10.0)
    assert off.g_fm is None and on.g_fm is not None and float(on.g_fm) > 0
    assert any(not torch.allclose(g_off[n], g_on[n]) for n in g_off)  # the matching term reaches G
    assert d_off.keys() == d_on.keys() and all(torch.equal(d_off[n], d_on[n]) for n in d_off)  # never D


def test_the_tap_reads_one_activation_per_module_per_pass() -> None:
    _, d = _models()
    tap = FeatureTap(d)
    n = sum(isinstance(m, torch.nn.LeakyReLU) for m in d.modules())
    x, y = torch.zeros(1, 5, 32, 32), torch.zeros(1, 1, 32, 32)
    d(x, y)
    assert len(tap.take()) == n and tap.take() == []
    tap.close()
    d(x, y)
    assert tap.take() == []


def test_a_discriminator_without_activations_is_refused() -> None:
    class Linear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(6, 1, 1)

    with pytest.raises(InputError, match="has no activation modules"):
        FeatureTap(Linear())


def test_config_refuses_what_cannot_apply(dsb_dir, tmp_path) -> None:
    with pytest.raises(InputError, match="feature-matching must be >= 0"):
        TrainConfig(feature_matching=-1.0).validate()
    with pytest.raises(InputError, match="cannot apply with --gan-loss none"):
        TrainConfig(feature_matching=10.0, gan_loss="none").validate()


def test_a_run_logs_and_records_the_feature_matching_loss(dsb_dir, tmp_path) -> None:
    out = tmp_path / "run"
    train(tiny(dsb_dir, out, steps=2, log_every=1, feature_matching=10.0))
    assert json.loads((out / "config.json").read_text())["feature_matching"] == 10.0
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(logged) == 2 and all(r["g_fm"] > 0 for r in logged)
