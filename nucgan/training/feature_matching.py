"""Feature matching (pix2pixHD): L1 between the discriminator's inner activations on real and generated pairs.

It asks the generator to reproduce the real image's texture statistics at every scale the
discriminator sees, not only to fool its last layer; the activations are read with forward hooks
from the passes the step already makes, so it costs no extra discriminator pass and works with
any discriminator built from standard activation modules.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nucgan.errors import InputError

ACTIVATIONS = (nn.LeakyReLU, nn.ReLU, nn.GELU, nn.SiLU, nn.ELU)


class FeatureTap:
    """Collects the outputs of a discriminator's activation modules, pass by pass."""

    def __init__(self, discriminator: nn.Module) -> None:
        modules = [m for m in discriminator.modules() if isinstance(m, ACTIVATIONS)]
        if not modules:
            raise InputError(f"--feature-matching: discriminator {type(discriminator).__name__} has no activation "
                             f"modules ({', '.join(a.__name__ for a in ACTIVATIONS)}) whose outputs could be matched")
        self._outputs: list[torch.Tensor] = []
        self._handles = [m.register_forward_hook(self._keep) for m in modules]

    def _keep(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        self._outputs.append(output)

    def take(self) -> list[torch.Tensor]:
        """The activations recorded since the last call (one discriminator pass), oldest first."""
        outputs, self._outputs = self._outputs, []
        return outputs

    def close(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()


def feature_matching(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the mean |real - fake| activation; the real side carries no gradient."""
    if not real or len(real) != len(fake):
        raise RuntimeError(f"feature matching: {len(real)} real and {len(fake)} generated activations recorded")
    return torch.stack([(r.detach().float() - f.float()).abs().mean() for r, f in zip(real, fake)]).mean()
