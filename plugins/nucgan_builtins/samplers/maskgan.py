"""A tiny unconditional DCGAN of nucleus masks (the paper's mask generator): networks, training, model files.

Real shapes are centred on a ``size`` x ``size`` canvas (48 px by default; DSB nuclei span at most
~40 px) and augmented with rotations and mirrors, since one image holds only ~60 nuclei. The model
file is plain safetensors (no pickle) holding the generator's tensors and string metadata:

- ``nucgan.format``   ``"mask-gan/1"``
- ``nucgan.config``   JSON ``{"size", "latent", "width"}``: rebuilds :class:`MaskGenerator`
- ``nucgan.training`` JSON of where the shapes came from and how it was trained
- ``nucgan.dtype``    storage type of the floating tensors (``float16`` or ``float32``)
- ``nucgan.version``  the nucgan version that wrote it
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from nucgan.plugin_api import InputError, __version__, transform_shape
from nucgan.plugin_api import check_shapes, header_from_bytes, load_tensors_bytes, save_tensors

FORMAT = "mask-gan/1"
_MAX_FILE = 64 * 1024 * 1024  # a mask GAN is a few hundred kB; refuse to read anything huge
_LIMITS = {"size": (16, 512), "latent": (1, 1024), "width": (1, 256)}  # sane architecture bounds


class MaskGenerator(nn.Module):
    """Latent ``(B, latent)`` -> mask map ``(B, 1, size, size)`` before tanh: a linear layer, three x2 upsamplings."""

    def __init__(self, size: int = 48, latent: int = 32, width: int = 16) -> None:
        super().__init__()
        if size % 8 or size < 16:
            raise InputError(f"mask GAN size must be a multiple of 8 and >= 16, got {size}")
        self.size, self.latent, self.width = int(size), int(latent), int(width)
        base, c = size // 8, width
        self.project = nn.Sequential(nn.Linear(latent, 4 * c * base * base, bias=False),
                                     nn.BatchNorm1d(4 * c * base * base), nn.ReLU(True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),
        )

    def config(self) -> dict[str, int]:
        """The kwargs that rebuild this network."""
        return {"size": self.size, "latent": self.latent, "width": self.width}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        base = self.size // 8
        return self.up(self.project(z).view(z.shape[0], 4 * self.width, base, base))


class MaskDiscriminator(nn.Module):
    """Mask ``(B, 1, size, size)`` in [-1, 1] -> one real/fake logit; spectrally normalised for stable training."""

    def __init__(self, size: int = 48, width: int = 16) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        c = width
        self.net = nn.Sequential(
            sn(nn.Conv2d(1, c, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(c, 2 * c, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(2 * c, 4 * c, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            nn.Flatten(), sn(nn.Linear(4 * c * (size // 8) ** 2, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# -- data ---------------------------------------------------------------------------------------------
def training_masks(shapes: Sequence[np.ndarray], size: int, rotations: int, seed: int) -> np.ndarray:
    """Each shape at ``rotations`` random turns, plain and mirrored, on centred ``size`` px canvases (N, size, size)."""
    from skimage.measure import regionprops

    rng = np.random.default_rng(seed)
    out = []
    for k, shape in enumerate(shapes):
        feret = regionprops(np.asarray(shape, np.uint8))[0].feret_diameter_max
        if feret + 3 > size:
            raise InputError(f"shape {k} spans {feret:.0f} px, too large for a {size} px mask GAN canvas; "
                             f"use a larger size (e.g. {8 * int(np.ceil((feret + 3) / 8))})")
        for mirror in (False, True):
            base = np.asarray(shape[:, ::-1] if mirror else shape, bool)
            for _ in range(rotations):
                rot = transform_shape(base, rng.uniform(0, 2 * np.pi))
                if not rot.any():
                    continue
                canvas = np.zeros((size, size), bool)
                h, w = rot.shape
                r0, c0 = (size - h) // 2, (size - w) // 2
                canvas[r0:r0 + h, c0:c0 + w] = rot
                out.append(canvas)
    if not out:
        raise InputError("no shapes to train the mask GAN on")
    return np.asarray(out)


# -- training -----------------------------------------------------------------------------------------
def soft_targets(masks: np.ndarray, softness: float) -> np.ndarray:
    """Masks as ``tanh(signed distance / softness)`` in [-1, 1], zero on the boundary; ``softness`` 0: plain -1/+1.

    Smooth targets let the tiny generator draw smooth outlines instead of ragged binary edges;
    thresholding its output at 0 recovers the mask.
    """
    if softness <= 0:
        return masks.astype(np.float32) * 2 - 1
    from scipy import ndimage as ndi

    out = np.empty(masks.shape, np.float32)
    for k, m in enumerate(masks):
        sdf = ndi.distance_transform_edt(m) - ndi.distance_transform_edt(~m)  # +-1 next to the boundary
        out[k] = np.tanh(np.sign(sdf) * (np.abs(sdf) - 0.5) / softness)
    return out


def train_mask_gan(shapes: Sequence[np.ndarray], *, size: int = 48, latent: int = 32, width: int = 16,
                   steps: int = 3000, batch: int = 64, lr: float = 2e-4, rotations: int = 36, softness: float = 1.5,
                   ema: float = 0.999, seed: int = 0, on_step: Callable[[int, float, float], None] | None = None,
                   ) -> tuple[MaskGenerator, dict[str, Any]]:
    """Train the mask GAN on ``shapes`` (non-saturating loss, Adam); returns the weight-averaged generator, summary."""
    if steps < 1 or batch < 2:
        raise InputError(f"mask GAN training needs steps >= 1 and batch >= 2, got steps={steps}, batch={batch}")
    start = time.perf_counter()
    data = torch.from_numpy(soft_targets(training_masks(shapes, size, rotations, seed), softness))[:, None]
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    gen, disc = MaskGenerator(size, latent, width), MaskDiscriminator(size, width)
    average = copy.deepcopy(gen)  # exponential moving average of the weights: the model that is kept
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.full((batch, 1), 0.9), torch.zeros(batch, 1)  # one-sided label smoothing
    loss_d = loss_g = torch.zeros(())
    for step in range(1, steps + 1):
        real = data[torch.randint(len(data), (batch,), generator=order)]
        fake = torch.tanh(gen(torch.randn(batch, latent, generator=order)))
        loss_d = bce(disc(real), ones) + bce(disc(fake.detach()), zeros)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = bce(disc(fake), torch.ones(batch, 1))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            decay = min(ema, (1 + step) / (10 + step))  # short memory early on, `ema` later
            for avg, cur in zip(average.parameters(), gen.parameters()):
                avg.lerp_(cur, 1 - decay)
        if on_step is not None:
            on_step(step, loss_d.item(), loss_g.item())
    _recompute_batch_stats(average, latent, order)
    summary = {"shapes": len(shapes), "training_masks": len(data), "steps": steps, "batch": batch, "lr": lr,
               "rotations": rotations, "softness": softness, "ema": ema, "seed": seed,
               "seconds": round(time.perf_counter() - start, 1),
               "final_loss_d": round(loss_d.item(), 4), "final_loss_g": round(loss_g.item(), 4)}
    return average, summary


def _recompute_batch_stats(gen: MaskGenerator, latent: int, order: torch.Generator, batches: int = 20) -> None:
    """Re-estimate BatchNorm statistics for the averaged weights (the running ones belong to the raw weights)."""
    norms = [m for m in gen.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    gen.train()
    with torch.no_grad():
        for _ in range(batches):
            gen(torch.randn(256, latent, generator=order))
    for m in norms:
        m.momentum = 0.1
    gen.eval()


# -- model files --------------------------------------------------------------------------------------
def save_mask_gan(path: str | os.PathLike[str], gen: MaskGenerator, training: dict[str, Any],
                  half: bool = True) -> None:
    """Write ``gen`` as safetensors with JSON metadata, atomically; ``half`` stores float16 (half the size)."""
    tensors = {}
    for key, value in gen.state_dict().items():
        value = value.detach().cpu()
        tensors[key] = (value.half() if half and value.is_floating_point() else value).contiguous()
    metadata = {"nucgan.format": FORMAT, "nucgan.config": json.dumps(gen.config()),
                "nucgan.training": json.dumps(training), "nucgan.dtype": "float16" if half else "float32",
                "nucgan.version": __version__}
    save_tensors(path, tensors, metadata)


def read_model_bytes(data: bytes, what: str) -> tuple[MaskGenerator, dict[str, Any]]:
    """Rebuild a generator from the bytes of a mask GAN file; ``what`` names the file in errors."""
    header = header_from_bytes(data, what)  # checked: sizes, offsets, no pickle; no tensor read yet
    metadata = header.metadata
    if metadata.get("nucgan.format") != FORMAT:
        raise InputError(f"{what}: not a nucgan mask GAN (format {metadata.get('nucgan.format')!r}, "
                         f"expected {FORMAT!r}); train one with `nucgan train-masks`")
    try:
        config = json.loads(metadata["nucgan.config"])
        training = json.loads(metadata.get("nucgan.training", "{}"))
        dims = {k: int(config[k]) for k in ("size", "latent", "width")}
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{what}: broken mask GAN metadata: {type(exc).__name__}: {exc}") from None
    for key, (low, high) in _LIMITS.items():  # check before building: absurd sizes would exhaust memory
        if not low <= dims[key] <= high:
            raise InputError(f"{what}: mask GAN {key} {dims[key]} is outside {low}..{high}")
    try:
        gen = MaskGenerator(**dims)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{what}: broken mask GAN file: {type(exc).__name__}: {exc}") from None
    state = gen.state_dict()
    check_shapes(state, header.shapes, f"{what}: tensors do not match its config {config}")  # before loading
    tensors = load_tensors_bytes(data, what)
    gen.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()})
    gen.eval()
    return gen, {"config": config, "training": training, "dtype": metadata.get("nucgan.dtype", ""),
                 "version": metadata.get("nucgan.version", "")}


def load_mask_gan(path: str | os.PathLike[str]) -> tuple[MaskGenerator, dict[str, Any]]:
    """Read a mask GAN file written by :func:`save_mask_gan`: the generator (eval mode) and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such mask GAN file")
    if path.stat().st_size > _MAX_FILE:
        raise InputError(f"{path}: {path.stat().st_size} bytes is far too large for a mask GAN file")
    return read_model_bytes(path.read_bytes(), str(path))
