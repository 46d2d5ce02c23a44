"""``gan``: novel nucleus shapes from a small mask GAN trained on the shapes of a label image (as in the paper)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy import ndimage as ndi

from nucgan.plugin_api import InputError, NucganError, TrainableSampler, instance_shapes

DEFAULT_MODEL = "dsb2018_masks.safetensors"  # shipped beside this module: trained on the DSB 2018 train half
_BATCH = 64  # latent vectors drawn per forward pass
_FOUR = ndi.generate_binary_structure(2, 1)  # shapes are one 4-connected piece, like nucgan.largest_component's
_MAX_REJECTED = 20  # give up when more than this many draws per requested shape were degenerate


class GanSampler(TrainableSampler):
    """Shapes from a mask GAN file (``nucgan train-masks``); no ``model``: the shipped DSB 2018 model.

    Each draw smooths the generator's output (Gaussian, ``smooth`` px: removes one-pixel spikes that
    would lower solidity), maps it from tanh's [-1, 1] to [0, 1], thresholds it at ``threshold``,
    keeps the largest 4-connected piece with its holes filled, and rejects (redraws) shapes under
    ``min_area`` px or touching the canvas border (cut off); a model that keeps producing such
    shapes is an error, not a silent loss.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, threshold: float = 0.5, smooth: float = 0.7,
                 min_area: int = 20) -> None:
        from nucgan_builtins.samplers.maskgan import load_mask_gan, read_model_bytes

        if not 0.0 < threshold < 1.0:
            raise InputError(f"gan sampler: threshold must be in (0, 1), got {threshold}")
        if min_area < 1:
            raise InputError(f"gan sampler: min_area must be >= 1, got {min_area}")
        if not 0.0 <= smooth <= 5.0:
            raise InputError(f"gan sampler: smooth must be a Gaussian sigma in [0, 5] px, got {smooth}")
        if model is None:
            ref = resources.files("nucgan_builtins.samplers") / DEFAULT_MODEL
            self.model_path = f"nucgan_builtins/samplers/{DEFAULT_MODEL}"
            self.generator, self.info = read_model_bytes(ref.read_bytes(), self.model_path)
        else:
            self.model_path = str(model)
            self.generator, self.info = load_mask_gan(model)
        self.threshold, self.smooth, self.min_area = float(threshold), float(smooth), int(min_area)

    def shapes(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        import torch

        out: list[np.ndarray] = []
        rejected, drawn = 0, 0
        latent, size = self.generator.latent, self.generator.size
        while len(out) < n:
            z = torch.from_numpy(rng.standard_normal((_BATCH, latent)).astype(np.float32))
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # a net this small runs fastest on one thread (10x on a busy machine)
            try:
                with torch.inference_mode():
                    prob = torch.sigmoid(2 * self.generator(z))[:, 0].numpy()  # (tanh + 1) / 2
            finally:
                torch.set_num_threads(threads)
            if self.smooth > 0:
                prob = ndi.gaussian_filter(prob, sigma=(0, self.smooth, self.smooth))
            masks = prob > self.threshold
            drawn += _BATCH
            for mask in masks:
                shape = self._clean(mask, size)
                if shape is None:
                    rejected += 1
                elif len(out) < n:
                    out.append(shape)
            if rejected > _MAX_REJECTED * max(n, 1) + 10 * _BATCH:
                raise NucganError(f"{self.model_path}: the mask GAN made {rejected} degenerate shapes out of {drawn} "
                                  f"(under {self.min_area} px or cut by its {size} px canvas); retrain it, "
                                  f"or lower min_area")
        return out

    def _clean(self, mask: np.ndarray, size: int) -> np.ndarray | None:
        """The largest piece of one thresholded output, or None when it is too small or cut by the canvas."""
        lab, count = ndi.label(mask, structure=_FOUR)
        if not count:
            return None
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        piece = lab == int(np.argmax(sizes))
        rows, cols = np.flatnonzero(piece.any(1)), np.flatnonzero(piece.any(0))
        if rows[0] == 0 or cols[0] == 0 or rows[-1] == size - 1 or cols[-1] == size - 1:
            return None
        shape = ndi.binary_fill_holes(piece[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
        return shape if shape.sum() >= self.min_area else None

    @staticmethod
    def train(labels: str | os.PathLike[str], out: str | os.PathLike[str], region: str | None = None, *,
              steps: int = 3000, seed: int = 0, size: int = 48, threads: int = 1,
              on_step: Callable[[int, float, float], None] | None = None, command: str = "") -> dict[str, Any]:
        """Train a mask GAN on the shapes of ``labels`` (in ``region``) and write it to ``out``; returns its summary."""
        import torch

        from nucgan_builtins.samplers.maskgan import save_mask_gan, train_mask_gan

        shapes = instance_shapes(labels, region=region)
        previous = torch.get_num_threads()
        if threads > 0:
            torch.set_num_threads(threads)
        try:
            gen, summary = train_mask_gan(shapes, size=size, steps=steps, seed=seed, on_step=on_step)
        finally:
            torch.set_num_threads(previous)
        training = {"labels": Path(labels).name if not isinstance(labels, np.ndarray) else "array",
                    "region": region or "all", "command": command, **summary}
        save_mask_gan(out, gen, training)
        return training
