"""An exponential moving average of the generator's weights (``--ema DECAY``), the weights a run ships.

A GAN generator's weights wander from step to step under the adversary; their running average paints
more steadily than the last step's (Karras et al. 2018, Yazıcı et al. 2019). The average is passive:
training itself, and so the raw weights, are the same with it on or off. Every float tensor of the
state (weights and BatchNorm statistics) is averaged; integer buffers are copied.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """``average = d * average + (1 - d) * weights`` after each step, ``d = min(decay, (1 + t) / (10 + t))``.

    The warm-up (``t``: updates so far) lets the first steps' random weights fade fast instead of
    weighing on the average for thousands of steps.
    """

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay, self.updates = float(decay), int(updates)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def rate(self) -> float:
        """This update's decay, with the warm-up."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average toward ``model``'s current state."""
        d = self.rate()
        theirs = model.state_dict()
        for key, mine in self.model.state_dict().items():
            if mine.is_floating_point():
                mine.lerp_(theirs[key].to(mine.dtype), 1.0 - d)
            else:
                mine.copy_(theirs[key])
        self.updates += 1
