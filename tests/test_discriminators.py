"""The built-in discriminators: the paper's kernel-2 PatchGAN, pix2pix's 70 x 70 PatchGAN, the 3 x 3 PatchGAN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nucgan


def _pair(b: int, c: int, s: int) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.rand(b, c, s, s) > 0.7).float() * 2 - 1, torch.rand(b, 1, s, s) * 2 - 1


def _receptive_field(d: nn.Module, c: int, s: int) -> tuple[int, int]:
    """Rows and columns of the input that the centre logit depends on (eval mode: no batch mixing)."""
    d.eval()
    cond, img = _pair(1, c, s)
    img.requires_grad_(True)
    y = d(cond, img)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    g = img.grad[0, 0].abs() > 0
    rows, cols = g.any(1).nonzero(), g.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_paper_patchgan_layers_and_18x18_logits():
    d = nucgan.create_discriminator("patchgan-paper", in_channels=5)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(6, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert all(c.kernel_size == (2, 2) and c.padding == (0, 0) for c in convs)
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.bias is not None for c in convs] == [False] * 4 + [True]
    assert all(b.momentum == 0.01 and b.eps == 1e-3 for b in d.modules() if isinstance(b, nn.BatchNorm2d))
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.3}
    assert d(*_pair(2, 5, 128)).shape == (2, 1, 18, 18)
    assert d(*_pair(1, 5, 256)).shape == (1, 1, 34, 34)
    assert _receptive_field(d, 5, 128) == (24, 24)


def test_pix2pix_patchgan_is_70x70_with_4x4_kernels():
    d = nucgan.create_discriminator("patchgan", in_channels=4)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(5, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert all(c.kernel_size == (4, 4) for c in convs) and [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert d(*_pair(1, 4, 256)).shape == (1, 1, 30, 30)
    assert d(*_pair(2, 4, 128)).shape == (2, 1, 14, 14)
    assert _receptive_field(d, 4, 128) == (70, 70)
    assert _receptive_field(nucgan.create_discriminator("patchgan", n_layers=1, filters=8), 4, 64) == (16, 16)


def test_k3_patchgan_reads_every_pixel_with_a_31px_field():
    d = nucgan.create_discriminator("patchgan-k3", in_channels=5)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(6, 32), (32, 64), (64, 128), (128, 128), (128, 1)]
    assert [c.kernel_size[0] for c in convs] == [3, 3, 3, 3, 1] and [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert d(*_pair(2, 5, 128)).shape == (2, 1, 16, 16)
    assert _receptive_field(d, 5, 128) == (31, 31)
    d.eval()  # a 3 x 3 kernel at stride 2 reads every pixel: each one moves some logit
    cond, img = _pair(1, 5, 64)
    img.requires_grad_(True)
    d(cond, img).sum().backward()
    assert (img.grad.abs() > 0).all()


def test_k3_patchgan_unconditional_ignores_the_masks():
    torch.manual_seed(0)
    d = nucgan.create_discriminator("patchgan-k3", in_channels=4, filters=8, conditional=False).eval()
    cond, img = _pair(1, 4, 64)
    assert torch.equal(d(cond, img), d(-cond, img))
    assert d.config()["conditional"] is False
    pooled = nucgan.create_discriminator("patchgan-k3", in_channels=4, filters=8, pool=True)
    assert pooled(*_pair(3, 4, 64)).shape == (3, 1, 1, 1)
    assert nucgan.create_discriminator("patchgan-k3", **d.config()).config() == d.config()


def test_the_conditioning_matters():
    torch.manual_seed(0)
    for name in ("patchgan-paper", "patchgan", "patchgan-k3"):
        d = nucgan.create_discriminator(name, in_channels=4, filters=8).eval()
        cond, img = _pair(1, 4, 64)
        assert not torch.allclose(d(cond, img), d(-cond, img))


@pytest.mark.parametrize("name", ["patchgan-paper", "patchgan"])
def test_spectral_norm_bounds_every_convolution(name):
    torch.manual_seed(0)
    d = nucgan.create_discriminator(name, in_channels=4, filters=8, spectral_norm=True).train()
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(nn.utils.parametrize.is_parametrized(c, "weight") for c in convs)
    for _ in range(30):  # power iterations converge while training
        d(*_pair(2, 4, 32))
    for c in convs:
        sigma = torch.linalg.matrix_norm(c.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, rel=0.05)
    plain = nucgan.create_discriminator(name, in_channels=4, filters=8)
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in plain.modules())


def test_too_small_inputs_are_a_clear_error():
    d = nucgan.create_discriminator("patchgan")
    with pytest.raises(nucgan.InputError, match="at least 24 x 24"):
        d(*_pair(1, 4, 16))
    with pytest.raises(nucgan.InputError, match="n_layers"):
        nucgan.create_discriminator("patchgan", n_layers=0)
