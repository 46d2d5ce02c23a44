"""``chain``, ``chain2``, ``chain3``: U-Nets in series, the paper's 2x and 3x U-Net.

Stage i receives the concatenation of the original input and the outputs of all earlier stages
(input first, then stage 1, 2, ...); the chain's output is the last stage's. Each stage is built
through ``nucgan.create_generator(stage, in_channels=..., activation=..., ...)``, so any registered
generator that accepts ``in_channels`` and ``activation`` can be a stage (``unet`` by default,
``unetpp``, ``timm-unet``, a third-party one). ``filters``, ``kernel_size``, ``levels`` and
``dropout`` are passed on when set (None: the stage's own default); ``stage_kwargs`` carries
anything else the stage takes (e.g. ``{"upsample": "bilinear"}``).

A stage setting whose default changed since configs were first saved (the stage class's
``legacy_defaults``, e.g. ``unetpp``'s ``upsample``) is recorded in ``stage_kwargs`` by ``config()``,
and :meth:`Chain.upgrade_config` gives an older stored chain the stage's old value for it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, Union

import torch
from torch import nn

from nucgan.plugin_api import Generator, InputError, check_activation, create_generator, upgrade_generator_config
from nucgan_builtins.generators._layers import check_int

Activations = Union[str, Sequence[str], None]
#: stage kwargs the chain sets itself (never in stage_kwargs)
OWN = ("in_channels", "activation", "filters", "kernel_size", "levels", "dropout")


def parse_activations(activations: Activations, stages: int, default: Sequence[str]) -> list[str]:
    """One canonical activation name per stage, from a sequence or ``"tanh,gelu,tanh"``; else InputError."""
    if activations is None:
        names = list(default)
    elif isinstance(activations, str):
        names = [part.strip() for part in activations.split(",")]
    elif isinstance(activations, Sequence):
        names = list(activations)
    else:
        raise InputError(f"chain: activations must be names, one per stage, got {activations!r}")
    if len(names) != stages:
        raise InputError(
            f"chain: {stages} stages need {stages} activations (one per stage, e.g. "
            f"{','.join(['tanh'] * stages)}), got {len(names)}: {','.join(map(str, names))}"
        )
    return [check_activation(n) for n in names]


class Chain(Generator):
    """``stages`` generators in series; stage i sees the input plus every earlier stage's output."""

    #: activations used when none are given (None: tanh on every stage)
    default_activations: tuple[str, ...] | None = None
    #: True where the class fixes the number of stages (chain2, chain3), so config() leaves it out
    fixed_stages = False

    def __init__(self, in_channels: int = 4, stages: int = 2, activations: Activations = None,
                 stage: str = "unet", filters: int | None = None, kernel_size: int | None = None,
                 levels: int | None = None, dropout: float | None = None,
                 stage_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.in_channels = check_int("chain", "in_channels", in_channels, 1)
        n = check_int("chain", "stages", stages, 1)
        self.activations = parse_activations(activations, n, self.default_activations or ("tanh",) * n)
        if not isinstance(stage, str):
            raise InputError(f"chain: stage must be a registered generator name, got {stage!r}")
        self.stage = stage
        self.shared = {"filters": filters, "kernel_size": kernel_size, "levels": levels, "dropout": dropout}
        self.stage_kwargs = dict(stage_kwargs or {})
        clash = sorted(set(self.stage_kwargs) & {"in_channels", "activation", *self.shared})
        if clash:
            raise InputError(f"chain: set {', '.join(clash)} as the chain's own argument(s), not in stage_kwargs")
        given = {k: v for k, v in self.shared.items() if v is not None}

        self.stages = nn.ModuleList()
        channels = self.in_channels
        for act in self.activations:
            g = create_generator(stage, in_channels=channels, activation=act, **given, **self.stage_kwargs)
            self.stages.append(g)
            channels += g.out_channels
        self.out_channels = self.stages[-1].out_channels
        first = self.stages[0].config()  # record the stage defaults actually used, so config() shows them
        self.shared = {k: first.get(k) if v is None else v for k, v in self.shared.items()}
        for key in type(self.stages[0]).legacy_defaults:  # a changed default is written out, so reloads match
            if key in first and key not in OWN:
                self.stage_kwargs.setdefault(key, first[key])
        self.size_multiple = math.lcm(*(g.size_multiple for g in self.stages))

    def config(self) -> dict[str, Any]:
        """JSON-able kwargs that rebuild this chain through its registry name."""
        cfg: dict[str, Any] = {"in_channels": self.in_channels}
        if not self.fixed_stages:
            cfg["stages"] = len(self.stages)
        cfg.update(activations=list(self.activations), stage=self.stage, **self.shared,
                   stage_kwargs=dict(self.stage_kwargs))
        return cfg

    @classmethod
    def upgrade_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A stored chain config in today's terms: its stage's ``legacy_defaults`` filled into ``stage_kwargs``."""
        config = super().upgrade_config(config)
        stage, given = config.get("stage", "unet"), config.get("stage_kwargs") or {}
        if isinstance(stage, str) and isinstance(given, dict):
            upgraded = upgrade_generator_config(stage, given)
            config["stage_kwargs"] = {k: v for k, v in upgraded.items() if k in given or k not in OWN}
        return config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) masks -> the last stage's (B, out_channels, H, W) image."""
        return self.forward_stages(x)[-1]

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output, first to last (for inspecting or supervising intermediate stages)."""
        self.check_input(x)
        inputs = [x]
        for g in self.stages:
            inputs.append(g(torch.cat(inputs, dim=1) if len(inputs) > 1 else x))
        return inputs[1:]


class Chain2(Chain):
    """The paper's 2x U-Net; default activations ("tanh", "tanh") (variant "a"; "b" is gelu, tanh)."""

    default_activations = ("tanh", "tanh")
    fixed_stages = True

    def __init__(self, in_channels: int = 4, activations: Activations = None, stage: str = "unet",
                 filters: int | None = None, kernel_size: int | None = None, levels: int | None = None,
                 dropout: float | None = None, stage_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(in_channels, 2, activations, stage, filters, kernel_size, levels, dropout, stage_kwargs)


class Chain3(Chain):
    """The paper's 3x U-Net; default activations ("tanh", "gelu", "tanh"), the paper's best variant."""

    default_activations = ("tanh", "gelu", "tanh")
    fixed_stages = True

    def __init__(self, in_channels: int = 4, activations: Activations = None, stage: str = "unet",
                 filters: int | None = None, kernel_size: int | None = None, levels: int | None = None,
                 dropout: float | None = None, stage_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(in_channels, 3, activations, stage, filters, kernel_size, levels, dropout, stage_kwargs)
