"""The L1 reconstruction loss, optionally between blurred images (``--l1-blur``).

A plain L1 holds every pixel of the generated tile to the real one, so it pulls the fine texture
that the masks do not determine toward the local mean (flat-filled nuclei). Blurring both images by
a Gaussian of ``sigma`` px before the L1 keeps the nuclei's profile and brightness (the coarse part)
tied to the real tile and leaves the texture finer than ``sigma`` to the adversary.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_blur(x: torch.Tensor, sigma: float, radius: int | None = None) -> torch.Tensor:
    """(B, C, H, W) blurred channel by channel by a separable Gaussian of ``sigma`` px (kernel radius
    ``radius``, 3 sigma by default), borders reflected."""
    radius = max(1, math.ceil(3 * sigma)) if radius is None else radius
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def l1_loss(fake: torch.Tensor, real: torch.Tensor, blur: float = 0.0) -> torch.Tensor:
    """Mean absolute difference in float32; with ``blur`` > 0, between the two images blurred by that sigma."""
    fake, real = fake.float(), real.float()
    if blur > 0:
        fake, real = gaussian_blur(fake, blur), gaussian_blur(real, blur)
    return (fake - real).abs().mean()
