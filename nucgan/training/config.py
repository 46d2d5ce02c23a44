"""The training configuration: one JSON-able dataclass, its presets and its validation."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nucgan.errors import InputError

#: the paper's recipe (NOTES.md): Adam 1e-4 / 0.9, batch 20, 5 views, 10 layerings, merged channel
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "lr": 1e-4, "betas": (0.9, 0.999), "batch": 20, "views": "paper5", "randomize": 10, "merged": True,
        "tile": 128, "stride": 4, "channels": 4, "gap": 2, "gan_loss": "bce", "discriminator": "patchgan-paper",
    },
}


@dataclass
class TrainConfig:
    """Everything a training run depends on; ``config.json`` in the run directory is this, resolved."""

    # data: dataset reader name and its sources (e.g. {"image": "img.tif", "labels": "lbl.tif"})
    dataset: str = "files"
    sources: dict[str, Any] = field(default_factory=dict)
    region: str | None = None  # "train" / "test" (official halves), "r0:r1,c0:c1", or None: whole image
    tile: int = 128
    stride: int = 4
    randomize: int = 10
    views: str = "d4"
    merged: bool = True
    channels: int = 4
    gap: int = 2
    layerer: str = "coloring"
    # models
    generator: str = "chain3"
    generator_kwargs: dict[str, Any] = field(default_factory=dict)
    discriminator: str = "patchgan-paper"
    discriminator_kwargs: dict[str, Any] = field(default_factory=dict)
    # objective and optimiser
    gan_loss: str = "bce"
    lambda_l1: float = 100.0
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch: int = 8
    steps: int = 1000
    seed: int = 0
    # execution
    device: str = "auto"
    amp: bool = False
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
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if self.preset is not None:
            _fill_from_preset(self, self.preset)

    def validate(self) -> "TrainConfig":
        """Raise InputError for a setting that cannot work, naming it."""
        checks = [
            (self.tile > 0 and self.stride > 0, f"tile and stride must be positive, got {self.tile}, {self.stride}"),
            (self.randomize >= 1, f"randomize must be >= 1, got {self.randomize}"),
            (self.views in {"none", "paper5", "d4"}, f"views must be none, paper5 or d4, got {self.views!r}"),
            (self.channels >= 1 and self.gap >= 1, f"channels >= 1 and gap >= 1 needed, got {self.channels}, {self.gap}"),
            (self.gan_loss in {"bce", "lsgan", "none"}, f"gan loss must be bce, lsgan or none, got {self.gan_loss!r}"),
            (self.lambda_l1 >= 0, f"lambda-l1 must be >= 0, got {self.lambda_l1}"),
            (self.lr > 0, f"learning rate must be positive, got {self.lr}"),
            (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), f"betas must be two numbers in [0, 1), got {self.betas}"),
            (self.batch >= 1 and self.steps >= 1, f"batch and steps must be >= 1, got {self.batch}, {self.steps}"),
            (self.device in {"auto", "cpu", "cuda", "mps"} or self.device.startswith("cuda:"),
             f"device must be auto, cpu, cuda or mps, got {self.device!r}"),
            (self.workers >= 0 and self.threads >= 0, "workers and threads must be >= 0"),
            (min(self.log_every, self.sample_every, self.checkpoint_every) >= 1, "logging intervals must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return self

    def to_json(self) -> dict[str, Any]:
        """A plain dict for config.json."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "config") -> "TrainConfig":
        """Rebuild from :meth:`to_json` output, refusing unknown keys (typos would otherwise be ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{source}: unknown training setting(s): {', '.join(unknown)}")
        data = dict(data)
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


def _check_preset(name: str) -> None:
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")


def _fill_from_preset(config: TrainConfig, name: str) -> None:
    """Set every setting the preset names that is still at its default (an explicit value wins)."""
    _check_preset(name)
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for key, value in PRESETS[name].items():
        if getattr(config, key) == defaults[key]:
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
