"""The contracts every plugin component honours: Generator, Discriminator, Layerer, Dataset, Sampler (and SceneSampler).

A plugin's factory returns an instance of one of these base classes; ``nucgan.create_*`` checks it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from nucgan.errors import InputError


def check_tensor(x: torch.Tensor, channels: int, multiple: int, what: str) -> None:
    """Refuse a tensor that is not (B, channels, H, W) with H and W divisible by ``multiple``."""
    if x.ndim != 4:
        raise InputError(f"{what}: expected a (batch, channels, height, width) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise InputError(f"{what}: expected {channels} input channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise InputError(
            f"{what}: height and width must be multiples of {multiple}, got {h} x {w}; pad the input "
            f"(nucgan.generate does this for you)"
        )


class Generator(nn.Module, ABC):
    """Maps conditioning channels to an image.

    Contract:
    - ``forward(x)``: ``x`` is float ``(B, in_channels, H, W)`` with values in [-1, 1] (mask channels,
      -1 background, +1 foreground); returns ``(B, out_channels, H, W)`` in the range of the output
      activation (tanh: [-1, 1]). ``H`` and ``W`` must be multiples of ``size_multiple``.
    - It refuses (``InputError``) a tensor with the wrong rank, channel count or size; call
      ``self.check_input(x)`` first thing in ``forward``.
    - ``config()`` returns JSON-able kwargs such that ``create_generator(name, **config())`` rebuilds
      an identical architecture (same state-dict keys and shapes).
    - A kwarg added later, whose default is not what older saved configs meant, goes in
      ``legacy_defaults`` with the old meaning; :meth:`upgrade_config` fills it into a stored config that
      lacks it before the file is rebuilt (e.g. ``{"upsample": "transpose"}``).
    - In training mode dropout is active; nucgan uses it as the noise source (pix2pix), so sampling
      several images from one mask means calling it in training mode with different seeds.
    """

    in_channels: int
    out_channels: int = 1
    size_multiple: int = 1
    #: kwargs newer than some saved configs, with the value such a config meant when it lacks them
    legacy_defaults: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this architecture through its registry name."""

    @classmethod
    def upgrade_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A stored ``config()`` in today's terms: every ``legacy_defaults`` key it lacks set to its old value."""
        return {**cls.legacy_defaults, **config}

    def check_input(self, x: torch.Tensor) -> None:
        """Raise InputError unless ``x`` has ``in_channels`` channels and a size this model accepts."""
        check_tensor(x, self.in_channels, self.size_multiple, type(self).__name__)


class Discriminator(nn.Module, ABC):
    """Judges (conditioning, image) pairs.

    Contract:
    - ``forward(conditioning, image)``: ``conditioning`` is ``(B, in_channels, H, W)`` in [-1, 1],
      ``image`` is ``(B, 1, H, W)`` (real or generated, same range as the generator's output);
      returns raw logits ``(B, 1, h, w)``, one per patch (no sigmoid: the loss applies it).
    - Refuses mismatched batch or spatial sizes and wrong channel counts with ``InputError``.
    - ``config()`` as for :class:`Generator`.
    """

    in_channels: int
    size_multiple: int = 1

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this architecture through its registry name."""

    def check_inputs(self, conditioning: torch.Tensor, image: torch.Tensor) -> None:
        """Raise InputError unless the pair has matching batch and spatial sizes and the right channels."""
        name = type(self).__name__
        check_tensor(conditioning, self.in_channels, self.size_multiple, f"{name} conditioning")
        check_tensor(image, 1, self.size_multiple, f"{name} image")
        if conditioning.shape[0] != image.shape[0] or conditioning.shape[-2:] != image.shape[-2:]:
            raise InputError(
                f"{name}: conditioning {tuple(conditioning.shape)} and image {tuple(image.shape)} do not match"
            )


class Layerer(ABC):
    """Spreads instance masks over binary channels.

    Contract for ``layer(labels, channels, gap, seed)``:
    - ``labels`` is a 2-D integer array, 0 = background, any positive ids (not necessarily contiguous);
      anything else (float, negative, not 2-D) is refused with ``InputError``.
    - returns a bool array ``(channels, H, W)``; every instance lands whole on exactly one channel,
      and two instances on one channel keep at least ``gap`` background pixels between them in every
      direction (chessboard distance > gap).
    - it never drops a mask: if ``channels`` cannot hold the layout it raises ``LayeringError`` naming
      the masks that did not fit; an instance made of disconnected pieces is refused too.
    - the same ``seed`` gives the same layering; different seeds vary it where the layout allows.
    """

    @abstractmethod
    def layer(self, labels: np.ndarray, channels: int = 4, gap: int = 2, seed: int | None = None) -> np.ndarray:
        """Assign every instance of ``labels`` to one of ``channels`` bool layers."""


class Dataset(torch.utils.data.Dataset, ABC):
    """A lazy, map-style source of training pairs.

    Contract:
    - A dataset factory (a ``DatasetSpec``'s) takes its sources (files, a folder), ``input`` (an
      :class:`nucgan.inputs.InputSettings`, or None for the defaults) and the sampling options
      ``region``, ``randomize``, ``views`` and ``seed``; training passes exactly these.
    - ``len(ds)`` is the number of samples; ``ds[i]`` computes sample ``i`` from its sources on demand
      (no materialised array of all samples) and returns ``(conditioning, target)``: float32 tensors
      ``(in_channels, T, T)`` and ``(1, T, T)``, both in [-1, 1].
    - ``input`` is the :class:`~nucgan.inputs.InputSettings` its samples follow, with
      ``normalization`` set to the intensity mapping generation should return to (None: the model's
      output stays in [-1, 1], which the zoo refuses). Training stores it, whole, in the model file.
    - ``in_channels`` (by default ``input.in_channels``) says how many conditioning channels it yields.
    - Bad sources (unreadable files, shape mismatches, non-integer labels) are refused at construction
      with ``InputError`` naming the file, never half-way through training.
    - ``settings()`` returns a JSON-able record of which samples come from which sources (stored in the
      model file's training record); ``normalizations`` lists each source's
      :class:`nucgan.normalize.Normalization`, in order.

    Training calls exactly these: ``len``, ``[i]``, ``input``, ``in_channels``, ``settings()``.
    """

    @property
    @abstractmethod
    def input(self) -> Any:
        """The ``InputSettings`` these samples follow (with the measured intensity mapping)."""

    @property
    def in_channels(self) -> int:
        """Conditioning channels per sample."""
        return int(self.input.in_channels)

    @abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abstractmethod
    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample ``index`` as (conditioning, target)."""

    def settings(self) -> dict[str, Any]:
        """A JSON-able record of which samples come from which sources, kept with a model trained on them."""
        return {}

    @property
    def normalizations(self) -> list[Any]:
        """Each source's intensity normalisation (``nucgan.normalize.Normalization``), in order."""
        return []


class Sampler(ABC):
    """Draws random nucleus shapes for de novo synthesis.

    Contract for ``shapes(n, rng)``: returns ``n`` 2-D bool arrays, each one connected, non-empty
    nucleus cropped to its bounding box (background rows/columns removed). The same ``rng`` state
    gives the same shapes. Placing shapes on a canvas is the core's job, not the sampler's.
    ``min_area`` (px) is a lower bound on every shape's area, so a crowd that cannot fit is refused
    before any shape is drawn; 1 unless the sampler knows better.
    """

    min_area: int = 1

    @abstractmethod
    def shapes(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """``n`` random nucleus shapes."""


@dataclass(frozen=True)
class Scene:
    """How one synthetic image looks, drawn by a :class:`SceneSampler` before any shape is drawn.

    ``density``: nuclei per 512 x 512 px (cut ones included, as counted on real images);
    ``area``: the image's median nucleus area in px (one magnification per image);
    ``mean_area``: the expected nucleus area, for refusing a crowd that cannot fit before drawing;
    ``touching``: the fraction of nuclei that touch another (8-neighbourhood), the layout's target;
    ``source``: the sampler's own record of where the scene came from (e.g. a real image's index).
    """

    density: float
    area: float
    mean_area: float
    touching: float
    source: int = -1


class SceneSampler(Sampler):
    """A sampler that is also a layout model: per image it draws a :class:`Scene`, then shapes for it.

    Contract: ``scene(rng, density=None, size=None)`` draws a scene for an image of ``size`` (H, W)
    (with ``density`` given, one whose nuclei can be that dense, or InputError when none can); ``shapes(n, rng, scene)`` returns ``n`` shapes
    of that scene's size (``scene`` None: of a freshly drawn scene, so plain ``shapes(n, rng)`` still
    gives shapes of one image); ``min_area`` bounds every shape's area from below. The core places
    the shapes: :func:`nucgan.place` cuts nuclei at the image border and makes the scene's fraction
    touch, unless a gap is asked for.
    """

    @abstractmethod
    def scene(self, rng: np.random.Generator, density: float | None = None,
              size: tuple[int, int] | None = None) -> Scene:
        """One image's density, size and touching fraction."""

    @abstractmethod
    def shapes(self, n: int, rng: np.random.Generator, scene: Scene | None = None) -> list[np.ndarray]:
        """``n`` random nucleus shapes of ``scene``'s size."""

    def image_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of each real image the layout model learned from ([]: not known); ``synth --size real``
        draws each image's size among them, so whole images (not only their nuclei) match the real folder."""
        return []


class TrainableSampler(Sampler):
    """A sampler that learns its shapes from real labels; ``nucgan train-masks --sampler NAME`` calls
    :meth:`train` on the registered class.

    Contract for ``train(labels, out, region=None, *, steps, seed, size, threads, on_step, command)``:
    learn from the instances of the label image ``labels`` (inside ``region``), write the model to
    ``out`` atomically, and return a JSON-able summary. ``on_step(step, loss_d, loss_g)`` reports
    progress when given.
    """

    @staticmethod
    @abstractmethod
    def train(labels: Any, out: Any, region: str | None = None, *, steps: int = 3000, seed: int = 0,
              size: int = 48, threads: int = 1, on_step: Any = None, command: str = "") -> dict[str, Any]:
        """Train on ``labels`` and write the sampler's model to ``out``; returns its summary."""
