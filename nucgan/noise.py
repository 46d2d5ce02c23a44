"""pix2pix's noise source: run a generator with dropout active but BatchNorm on its running statistics."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def dropout_noise(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Inside the block ``model`` is in eval mode except its dropout layers (when ``enabled``).

    Dropout makes one mask give several plausible images (pix2pix); BatchNorm on running
    statistics keeps the output independent of what else is in the batch, so tiled generation has
    no seams from per-tile statistics. The previous train/eval state is restored afterwards.
    """
    modes = {m: m.training for m in model.modules()}
    model.eval()
    if enabled:
        for m in model.modules():
            if isinstance(m, nn.modules.dropout._DropoutNd):
                m.train()
    try:
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode
