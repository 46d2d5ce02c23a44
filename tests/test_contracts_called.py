"""What training and the CLI call on a dataset or a sampler is in the interfaces, so a third party can follow it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nucgan
from nucgan.normalize import Normalization


class Ramps(nucgan.Dataset):
    """A third-party dataset written only from nucgan/interfaces.py: 4 fixed samples."""

    def __init__(self, *, input=None, region=None, randomize=10, views="d4", seed=0) -> None:
        self.asked = dict(input=input, region=region, randomize=randomize, views=views, seed=seed)
        norm = Normalization.fit(np.arange(100, dtype=np.float32).reshape(10, 10), (1.0, 99.8))
        self._input = (input or nucgan.InputSettings()).replace(tile=32, normalization=norm)

    @property
    def input(self):
        return self._input

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int):
        cond = -torch.ones(5, 32, 32)
        cond[:, 8 + index:20 + index, 8:20] = 1
        return cond, torch.linspace(-1, 1, 32 * 32).reshape(1, 32, 32)

    def settings(self) -> dict:
        return {"maker": "ramps"}


def test_a_dataset_that_follows_the_interface_trains(tmp_path, monkeypatch):
    from nucgan.training import TrainConfig, loop, train

    made = []
    monkeypatch.setattr(loop, "create_dataset", lambda name, **kw: made.append(Ramps(**kw)) or made[-1])
    out = train(TrainConfig(gap=3, generator="unet", generator_kwargs={"filters": 4, "levels": 2}, discriminator="patchgan",
                            discriminator_kwargs={"filters": 4, "n_layers": 1}, batch=2, steps=2, device="cpu",
                            threads=1, out=str(tmp_path / "run"), sample_every=100, checkpoint_every=1))
    _, info = nucgan.load_generator(out / "generator.safetensors")
    assert made[0].asked["input"] == nucgan.InputSettings(gap=3)  # the run's settings, whole
    assert info.input == made[0].input and info.input.tile == 32 and info.input.gap == 3
    assert info.extra["training"]["samples"] == {"maker": "ramps"}


def test_a_dataset_without_input_settings_is_refused_at_definition():
    class NoSettings(nucgan.Dataset):
        def __len__(self) -> int:
            return 0

        def __getitem__(self, index: int):
            raise IndexError(index)

    with pytest.raises(TypeError, match="input"):
        NoSettings()


def test_train_masks_needs_a_trainable_sampler(tmp_path):
    from typer.testing import CliRunner

    from nucgan.cli.app import app

    result = CliRunner().invoke(app, ["train-masks", "labels.tif", "--sampler", "ellipse", "-o", str(tmp_path / "m.safetensors")])
    assert isinstance(result.exception, nucgan.InputError)
    assert "not trainable (not a nucgan.TrainableSampler)" in str(result.exception)
    assert issubclass(nucgan.registry.resolve("samplers", "gan").spec.load(), nucgan.TrainableSampler)


def test_renamed_public_names_keep_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="nucgan.Source is deprecated; use nucgan.TrainingPair"):
        assert nucgan.Source is nucgan.TrainingPair
    assert "Source" not in nucgan.__all__
    with pytest.warns(DeprecationWarning, match="nucgan.read_region is deprecated; use nucgan.read_placement_mask"):
        assert nucgan.read_region is nucgan.read_placement_mask
    with pytest.warns(DeprecationWarning, match="use placement_mask="):
        plan = nucgan.SynthPlan(count=1, nuclei=2, region="where.png")
    assert plan.placement_mask == "where.png" and plan.region is None


def test_builtins_and_the_example_plugin_import_only_the_plugin_api():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [*(root / "plugins" / "nucgan_builtins").rglob("*.py"),
             *(root / "docs" / "examples" / "nucgan-example-plugin" / "nucgan_example").rglob("*.py")]
    uses = re.compile(r"^\s*(?:from nucgan(?:\.(\w+))? import|import nucgan(?:\.(\w+))?)", re.M)
    offenders = [f"{f.relative_to(root)}: nucgan{'.' + m if m else ''}" for f in files
                 for m in ((a or b) for a, b in uses.findall(f.read_text())) if m != "plugin_api"]
    assert not offenders, offenders
