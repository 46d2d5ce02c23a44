"""The training configuration: one JSON-able dataclass, its presets and its validation."""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nucgan.errors import InputError
from nucgan.inputs import FIELDS as INPUT_FIELDS
from nucgan.inputs import InputSettings, split_settings

#: the largest --l1-blur sigma: its kernel (radius 3 sigma) must fit a tile's reflected border
MAX_L1_BLUR = 16.0

#: input settings that may be given on TrainConfig itself (``TrainConfig(tile=64)``): shortcuts into ``input``
INPUT_SHORTCUTS = tuple(sorted(INPUT_FIELDS - {"normalization", "styles"}))

#: the paper's recipe (NOTES.md): Adam 1e-4 / 0.9, batch 20, 5 views, 10 layerings, merged channel
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "lr": 1e-4, "betas": (0.9, 0.999), "batch": 20, "views": "paper5", "randomize": 10, "merged": True,
        "tile": 128, "stride": 4, "channels": 4, "gap": 2, "gan_loss": "bce", "discriminator": "patchgan-paper",
    },
}


def resolve_amp(amp: bool | None, device: "str | torch.device") -> bool:
    """bf16 autocast for a run: as asked, else on where it pays (CUDA with native bf16) and off elsewhere.

    On a CPU with native bf16 it is 1.6-1.8x faster (docs/models.md), but off by default there until
    a model trained with it is shown to lose nothing downstream over several training draws; on a CPU
    or GPU without it (AVX2-only x86, a V100) bf16 is emulated and slower than fp32, so it stays off.
    """
    import torch

    from nucgan.devices import native_bf16

    device = torch.device(device)
    return (device.type == "cuda" and native_bf16(device)) if amp is None else bool(amp)


@dataclass
class TrainConfig:
    """Everything a training run depends on; ``config.json`` in the run directory is this, resolved.

    ``input`` is the one record of how the model sees its input (tile, stride, channels, gap, merged,
    layerer, percentiles); it goes whole to the dataset, the model file and the zoo manifest. Its
    fields may also be given and read as shortcuts: ``TrainConfig(tile=64)``, ``config.gap``.
    """

    # data: dataset reader name and its sources (e.g. {"image": "img.tif", "labels": "lbl.tif"})
    dataset: str = "files"
    sources: dict[str, Any] = field(default_factory=dict)
    region: str | None = None  # "train" / "test" (official halves), "r0:r1,c0:c1", or None: whole image
    input: InputSettings = field(default_factory=InputSettings)
    randomize: int = 10
    views: str = "d4"
    # models
    generator: str = "chain3"
    generator_kwargs: dict[str, Any] = field(default_factory=dict)
    discriminator: str = "patchgan-paper"
    discriminator_kwargs: dict[str, Any] = field(default_factory=dict)
    # objective and optimiser
    gan_loss: str = "bce"
    lambda_l1: float = 100.0
    l1_blur: float = 0.0  # sigma (px) of the Gaussian both tiles are blurred by before the L1 (0: plain L1)
    feature_matching: float = 0.0  # weight of the L1 between D's inner activations on real and generated (0: off)
    d_pass: str = "separate"  # D over the real and the generated batch: separate passes (the paper's) or one joint pass
    d_noise: bool = False  # D sees generated tiles with white noise up to the real tile's fine-noise level
    d_cond_scale: float = 1.0  # the conditioning D sees is multiplied by this (G's is not)
    ema: float = 0.0  # decay of the moving average of G's weights that the run saves (0: the last step's weights)
    lr: float = 2e-4
    lr_d: float | None = None  # the discriminator's learning rate (two time-scale updates); None: lr
    betas: tuple[float, float] = (0.5, 0.999)
    batch: int = 8
    steps: int = 1000
    seed: int = 0
    # execution
    device: str = "auto"
    amp: bool | None = None  # bf16 autocast; None: on for CUDA, off on a CPU (see resolve_amp), resolved at start
    channels_last: bool = True
    threads: int = 0  # 0: torch's default
    workers: int = 0
    # outputs
    out: str = "runs/nucgan"
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 100
    init: str | None = None
    preset: str | None = None
    command: str = ""
    # each resume of this run: {"from_step", "steps", "command"}; the recipe is command, then these in order
    resumed: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.input, dict):  # as config.json stores it
            self.input = InputSettings.from_json(self.input, "TrainConfig input")
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if self.preset is not None:
            _fill_from_preset(self, self.preset)

    def validate(self) -> "TrainConfig":
        """Raise InputError for a setting that cannot work, naming it."""
        checks = [
            (isinstance(self.input, InputSettings), f"input must be a nucgan.InputSettings, got {type(self.input).__name__}"),
            (self.randomize >= 1, f"randomize must be >= 1, got {self.randomize}"),
            (self.views in {"none", "paper5", "d4"}, f"views must be none, paper5 or d4, got {self.views!r}"),
            (self.gan_loss in {"bce", "lsgan", "none"}, f"gan loss must be bce, lsgan or none, got {self.gan_loss!r}"),
            (self.lambda_l1 >= 0, f"lambda-l1 must be >= 0, got {self.lambda_l1}"),
            (0 <= self.l1_blur <= MAX_L1_BLUR, f"l1-blur must be a sigma in px from 0 to {MAX_L1_BLUR:g}, got {self.l1_blur}"),
            (not 0 < self.l1_blur <= MAX_L1_BLUR or 3 * self.l1_blur < self.input.tile - 1,
             f"l1-blur {self.l1_blur:g} px needs tiles wider than 3 sigma + 1 px, got tile {self.input.tile}"),
            (self.feature_matching >= 0, f"feature-matching must be >= 0, got {self.feature_matching}"),
            (not (self.feature_matching > 0 and self.gan_loss == "none"),
             "--feature-matching needs a discriminator; it cannot apply with --gan-loss none"),
            (self.d_pass in {"separate", "joint"}, f"d-pass must be separate or joint, got {self.d_pass!r}"),
            (self.lr > 0, f"learning rate must be positive, got {self.lr}"),
            (self.lr_d is None or self.lr_d > 0, f"lr-d must be positive, got {self.lr_d}"),
            (0 < self.d_cond_scale < float("inf"), f"d-cond-scale must be a positive number, got {self.d_cond_scale}"),
            (0 <= self.ema < 1, f"ema must be a decay from 0 (off) to below 1, e.g. 0.999, got {self.ema}"),
            (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), f"betas must be two numbers in [0, 1), got {self.betas}"),
            (self.batch >= 1 and self.steps >= 1, f"batch and steps must be >= 1, got {self.batch}, {self.steps}"),
            (self.device in {"auto", "cpu", "cuda", "mps"} or self.device.startswith("cuda:"),
             f"device must be auto, cpu, cuda or mps, got {self.device!r}"),
            (self.amp in (None, True, False), f"amp must be true, false or null (auto), got {self.amp!r}"),
            (self.workers >= 0 and self.threads >= 0, "workers and threads must be >= 0"),
            (min(self.log_every, self.sample_every, self.checkpoint_every) >= 1, "logging intervals must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return self

    def to_json(self) -> dict[str, Any]:
        """A plain dict for config.json."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data = json.loads(json.dumps({**data, "input": self.input.to_json(), "betas": list(self.betas)}))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "config") -> "TrainConfig":
        """Rebuild from :meth:`to_json` output, refusing unknown keys (typos would otherwise be ignored)."""
        names = {f.name for f in dataclasses.fields(cls)} | set(INPUT_SHORTCUTS)  # flat input keys: 0.1 configs
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{source}: unknown training setting(s): {', '.join(unknown)}")
        data = dict(data)
        if "input" in data:
            data["input"] = InputSettings.from_json(data["input"], f"{source}: input")
        preset = data.pop("preset", None)
        config = cls(**data)  # a saved config is already resolved: its preset is recorded, not applied again
        if preset is not None:
            _check_preset(preset)
            config.preset = preset
        return config

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        """Read a config.json."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read training config: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: training config must be a JSON object")
        return cls.from_json(data, str(path))


_dataclass_init = TrainConfig.__init__


def _init(self: TrainConfig, *args: Any, **kwargs: Any) -> None:
    shortcuts, rest = split_settings(kwargs, INPUT_SHORTCUTS)
    _dataclass_init(self, *args, **rest)
    if shortcuts:  # explicit settings win over a preset's
        self.input = self.input.replace(**shortcuts)


def _shortcut(name: str) -> property:
    def get(self: TrainConfig) -> Any:
        return getattr(self.input, name)

    def set_(self: TrainConfig, value: Any) -> None:
        self.input = self.input.replace(**{name: value})

    return property(get, set_, doc=f"``input.{name}`` (a shortcut; setting it replaces ``input``)")


_init.__doc__ = _dataclass_init.__doc__
_init.__signature__ = inspect.signature(_dataclass_init)  # type: ignore[attr-defined]
TrainConfig.__init__ = _init  # type: ignore[method-assign]
for _name in INPUT_SHORTCUTS:
    setattr(TrainConfig, _name, _shortcut(_name))


def _check_preset(name: str) -> None:
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")


def _fill_from_preset(config: TrainConfig, name: str) -> None:
    """Set every setting the preset names that is still at its default (an explicit value wins)."""
    _check_preset(name)
    defaults = TrainConfig.__new__(TrainConfig)
    _dataclass_init(defaults)
    for key, value in PRESETS[name].items():
        if getattr(config, key) == getattr(defaults, key):
            setattr(config, key, tuple(value) if key == "betas" else value)


def apply_preset(config: TrainConfig, name: str | None) -> TrainConfig:
    """A copy of ``config`` with every setting of preset ``name`` applied (overriding them); None: unchanged."""
    if name is None:
        return config
    _check_preset(name)
    out = dataclasses.replace(config, preset=None)
    for key, value in PRESETS[name].items():
        setattr(out, key, tuple(value) if key == "betas" else value)
    out.preset = name
    return out
