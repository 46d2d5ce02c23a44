"""``--d-pass joint``: one discriminator pass over real and generated, the same losses where BatchNorm is frozen."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import nucgan
from nucgan.training import TrainConfig
from nucgan.training.distributed import World
from nucgan.training.step import GanStep

from tests.test_training import tiny, train


def step_pair(joint: bool, feature_matching: float = 0.0):
    torch.manual_seed(0)
    g = nucgan.create_generator("unet", in_channels=5, filters=4, levels=2, kernel_size=3, dropout=0.0)
    d = nucgan.create_discriminator("patchgan", in_channels=5, filters=4, n_layers=2)
    calls = []
    d.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    step = GanStep(g, d, opt_g, opt_d, gan_loss="bce", lambda_l1=100.0, world=World(),
                   feature_matching=feature_matching, joint_d=joint)
    return step, calls


def batch():
    gen = torch.Generator().manual_seed(1)
    return torch.rand(3, 5, 32, 32, generator=gen) * 2 - 1, torch.rand(3, 1, 32, 32, generator=gen) * 2 - 1


@pytest.mark.parametrize("feature_matching", [0.0, 10.0])
def test_joint_pass_runs_d_once_and_matches_separate_passes_with_frozen_batchnorm(feature_matching):
    cond, real = batch()
    results = {}
    for joint in (False, True):
        step, calls = step_pair(joint, feature_matching)
        step.d.eval()  # running statistics: the two ways must then agree to float rounding
        parts, loss_g, loss_d = step.losses(cond, real)
        assert calls == ([6] if joint else [3, 3])
        results[joint] = (float(loss_g.detach()), float(loss_d.detach()), None if parts.g_fm is None else float(parts.g_fm))
    for a, b in zip(results[False], results[True]):
        assert a == pytest.approx(b, rel=1e-5) if a is not None else b is None


def test_joint_pass_batchnorm_sees_both_classes():
    """In training mode the joint pass's BatchNorm statistics mix real and generated, so the losses differ."""
    cond, real = batch()
    separate, _ = step_pair(False)
    joint, _ = step_pair(True)
    assert float(separate.losses(cond, real)[2].detach()) != pytest.approx(float(joint.losses(cond, real)[2].detach()), rel=1e-4)
    updated = copy.deepcopy(joint.d.state_dict())
    joint(cond, real)  # a full step trains both networks
    assert any(not torch.equal(v, joint.d.state_dict()[k]) for k, v in updated.items())


def test_d_pass_is_recorded_and_checked(dsb_dir, tmp_path):
    run = train(tiny(dsb_dir, tmp_path / "joint", steps=2, d_pass="joint"))
    assert json.loads((run / "config.json").read_text())["d_pass"] == "joint"
    with pytest.raises(nucgan.InputError, match="d-pass must be separate or joint, got 'both'"):
        TrainConfig(d_pass="both").validate()


def test_lr_d_sets_the_discriminators_learning_rate_only(dsb_dir, tmp_path):
    from nucgan.training.loop import Run

    run = Run(tiny(dsb_dir, tmp_path / "ttur", lr_d=4e-3))
    run.prepare()
    assert run.opt_d.param_groups[0]["lr"] == 4e-3 and run.opt_g.param_groups[0]["lr"] == 1e-3
    plain = Run(tiny(dsb_dir, tmp_path / "plain"))
    plain.prepare()
    assert plain.opt_d.param_groups[0]["lr"] == plain.opt_g.param_groups[0]["lr"] == 1e-3
    with pytest.raises(nucgan.InputError, match="lr-d must be positive, got 0.0"):
        TrainConfig(lr_d=0.0).validate()


def test_d_cond_scale_scales_the_masks_the_discriminator_sees_only(dsb_dir, tmp_path):
    step, _ = step_pair(joint=False)
    step.d_cond_scale = 0.05
    seen_d, seen_g = [], []
    step.d.register_forward_hook(lambda module, inputs, output: seen_d.append(inputs[0].abs().max().item()))
    step.g.register_forward_hook(lambda module, inputs, output: seen_g.append(inputs[0].abs().max().item()))
    cond, real = batch()
    step.losses(cond, real)
    top = cond.abs().max().item()
    assert seen_g == [pytest.approx(top)] and seen_d == [pytest.approx(0.05 * top)] * 2
    run = train(tiny(dsb_dir, tmp_path / "scaled", steps=2, d_cond_scale=0.05))
    assert json.loads((run / "config.json").read_text())["d_cond_scale"] == 0.05
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(nucgan.InputError, match="d-cond-scale must be a positive number"):
            TrainConfig(d_cond_scale=bad).validate()


def test_l1_blur_ties_the_coarse_image_and_leaves_fine_texture_to_the_discriminator(dsb_dir, tmp_path):
    from nucgan.training.l1 import l1_loss
    real = torch.zeros(2, 1, 64, 64)
    fine = real.clone()
    fine[..., ::2, :] += 0.2  # 1 px stripes: texture finer than the blur
    fine[..., 1::2, :] -= 0.2
    coarse = real + 0.2  # a brightness change: what the blurred L1 must still see
    assert l1_loss(fine, real) == pytest.approx(0.2)
    assert l1_loss(fine, real, 2.0) < 0.01
    assert l1_loss(coarse, real, 2.0) == pytest.approx(0.2, rel=1e-4)
    step, _ = step_pair(joint=False)
    cond, real_batch = batch()
    plain, _, _ = step.losses(cond, real_batch)
    step.l1_blur = 2.0
    blurred, _, _ = step.losses(cond, real_batch)
    assert float(blurred.g_l1) < float(plain.g_l1)
    run = train(tiny(dsb_dir, tmp_path / "blurred", steps=2, l1_blur=1.5))
    assert json.loads((run / "config.json").read_text())["l1_blur"] == 1.5
    for bad in (-0.5, 17.0, float("nan")):
        with pytest.raises(nucgan.InputError, match="l1-blur must be a sigma"):
            TrainConfig(l1_blur=bad).validate()
    with pytest.raises(nucgan.InputError, match="needs tiles wider"):
        TrainConfig(l1_blur=12.0, tile=32).validate()
