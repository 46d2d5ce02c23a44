"""Training: ``train(TrainConfig(...))`` and the pieces it is made of."""

from nucgan.training.config import PRESETS, TrainConfig, apply_preset
from nucgan.training.loop import Run, TrainingError, train

__all__ = ["PRESETS", "Run", "TrainConfig", "TrainingError", "apply_preset", "train"]
