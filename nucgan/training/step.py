"""One pix2pix training step: both losses from a single discriminator pass over the generated batch."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from nucgan.training.d_noise import match_fine_noise
from nucgan.training.distributed import World, average_gradients, broadcast_buffers
from nucgan.training.feature_matching import FeatureTap, feature_matching
from nucgan.training.l1 import l1_loss
from nucgan.training.losses import adversarial


@dataclass
class StepLosses:
    """Losses of one step, as tensors (read them with ``float()`` only when logging)."""

    g_gan: torch.Tensor
    g_l1: torch.Tensor
    d: torch.Tensor
    ok: bool = True  # set by GanStep: all finite (checked once per step)
    g_fm: torch.Tensor | None = None  # the feature-matching loss, when it is on

    def finite(self) -> bool:
        parts = [self.g_gan, self.g_l1, self.d] + ([self.g_fm] if self.g_fm is not None else [])
        return bool(torch.isfinite(torch.stack(parts)).all())


class GanStep:
    """Update generator and discriminator on one batch, as the paper's TensorFlow step does.

    D sees the real pair and the generated pair once each. The generator loss back-propagates
    through D into G only (``inputs=`` G's parameters, so no gradient is computed for D's weights),
    the discriminator loss into D only (so it never reaches G); both optimisers then step. This
    matches TensorFlow pix2pix (both gradients from one forward pass) and saves the third D pass
    a sequential PyTorch loop makes. ``feature_matching`` > 0 adds that weight times the L1 between
    D's inner activations on the real and the generated pair (read from the same two passes).

    ``joint_d`` runs D once over the real and the generated batch concatenated: its BatchNorm then
    normalises both classes with the same statistics, so a difference the whole generated batch
    shares (smoother nuclei, less noise) is not normalised away as it is in a pass over one class.

    ``d_noise`` shows D each generated tile with white noise up to its real tile's fine-noise level
    (:mod:`nucgan.training.d_noise`), as synth's sensor noise will paint it; the L1 sees the clean tile.
    ``d_cond_scale`` multiplies the conditioning D sees: the +-1 mask channels, with their sharp edges,
    otherwise swamp the image's grain and texture in D's first layer (``benchmarks/d_probe.py``).
    ``l1_blur`` > 0 takes the L1 between the two tiles blurred by that sigma (:mod:`nucgan.training.l1`),
    so texture finer than it is left to the adversary.
    """

    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, *, gan_loss: str, lambda_l1: float, world: World,
                 autocast: torch.autocast | None = None, feature_matching: float = 0.0,
                 joint_d: bool = False, d_noise: bool = False, d_cond_scale: float = 1.0,
                 l1_blur: float = 0.0) -> None:
        self.g, self.d, self.opt_g, self.opt_d = generator, discriminator, opt_g, opt_d
        self.gan_loss, self.lambda_l1, self.world = gan_loss, lambda_l1, world
        self.fm_weight = float(feature_matching)
        self.tap = FeatureTap(discriminator) if self.fm_weight > 0 and gan_loss != "none" else None
        self.autocast = autocast
        self.joint_d = bool(joint_d)
        self.d_noise = bool(d_noise)
        self.d_cond_scale = float(d_cond_scale)
        self.l1_blur = float(l1_blur)
        self.g_params = [p for p in generator.parameters() if p.requires_grad]
        self.d_params = [p for p in discriminator.parameters() if p.requires_grad]

    def losses(self, cond: torch.Tensor, real: torch.Tensor) -> tuple[StepLosses, torch.Tensor, torch.Tensor | None]:
        """Forward pass: the three losses, the total generator loss and the discriminator loss (None: no D)."""
        fake = self.g(cond)
        if self.gan_loss == "none":  # the L1-only baseline: no adversary at all
            g_l1 = l1_loss(fake, real, self.l1_blur)
            zero = g_l1.detach() * 0
            return StepLosses(zero, g_l1.detach(), zero), self.lambda_l1 * g_l1, None
        if self.tap is not None:
            self.tap.take()  # drop anything recorded outside a step
        judged = match_fine_noise(fake, real) if self.d_noise else fake  # what D sees of the generated tile
        if self.d_cond_scale != 1.0:  # what D sees of the masks
            cond = cond * self.d_cond_scale
        if self.joint_d:  # one pass over both: BatchNorm sees real and generated together
            n = real.shape[0]
            d_real, d_fake = self.d(torch.cat([cond, cond]), torch.cat([real, judged.to(real.dtype)])).split(n)
            both = self.tap.take() if self.tap is not None else []
            real_features, fake_features = [f[:n] for f in both], [f[n:] for f in both]
        else:
            d_real = self.d(cond, real)
            real_features = self.tap.take() if self.tap is not None else []
            d_fake = self.d(cond, judged)
            fake_features = self.tap.take() if self.tap is not None else []
        g_gan = adversarial(d_fake.float(), True, self.gan_loss)
        g_l1 = l1_loss(fake, real, self.l1_blur)
        d = adversarial(d_real.float(), True, self.gan_loss) + adversarial(d_fake.float(), False, self.gan_loss)
        loss_g = g_gan + self.lambda_l1 * g_l1
        parts = StepLosses(g_gan.detach(), g_l1.detach(), d.detach())
        if self.tap is not None:
            g_fm = feature_matching(real_features, fake_features)
            loss_g = loss_g + self.fm_weight * g_fm
            parts.g_fm = g_fm.detach()
        return parts, loss_g, d

    def __call__(self, cond: torch.Tensor, real: torch.Tensor) -> StepLosses:
        """Train on one batch; returns the losses, with ``ok`` False (and no update) if one is not finite."""
        with self.autocast or nullcontext():
            parts, loss_g, loss_d = self.losses(cond, real)
        parts.ok = parts.finite()
        if not parts.ok:
            return parts  # no update: the caller stops the run and keeps the last good checkpoint
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        loss_g.backward(inputs=self.g_params, retain_graph=loss_d is not None)
        if loss_d is not None:
            loss_d.backward(inputs=self.d_params)
        average_gradients(self.g, self.world)
        self.opt_g.step()
        if loss_d is not None:
            average_gradients(self.d, self.world)
            self.opt_d.step()
        broadcast_buffers(self.g, self.world)
        broadcast_buffers(self.d, self.world)
        return parts
