"""``--ema``: the run saves a moving average of G's weights; training itself and exact resume are unchanged."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import nucgan
from nucgan.training import TrainConfig, train
from nucgan.training.ema import WeightAverage

from tests.test_training import tiny, weights


def generator_file(run):
    return load_file(str(run / "generator.safetensors"))


def test_the_average_follows_its_formula_with_the_warm_up():
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, 0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    average.update(model)  # rate min(0.9, 1/10) = 0.1: the average moves 90 % of the way
    assert torch.allclose(average.model.weight, torch.full((1, 2), 0.9))
    average.update(model)  # rate min(0.9, 2/11)
    assert torch.allclose(average.model.weight, torch.full((1, 2), 0.9 + 0.1 * (1 - 2 / 11)))
    assert not average.model.weight.requires_grad
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, 1.0)


def test_ema_saves_the_average_leaves_training_unchanged_and_resumes_exactly(dsb_dir, tmp_path):
    plain = train(tiny(dsb_dir, tmp_path / "plain"))
    whole = train(tiny(dsb_dir, tmp_path / "whole", ema=0.5))
    # the average is passive: the raw weights of the run are those of the same run without it
    raw, raw_plain = weights(whole), weights(plain)
    assert all(torch.equal(raw[k], raw_plain[k]) for k in raw_plain)
    # what the run ships is the average, not the last step's weights
    shipped = generator_file(whole)
    conv = next(k for k in shipped if k.endswith(".weight") and shipped[k].ndim == 4)
    assert not torch.equal(shipped[conv], generator_file(plain)[conv])
    assert torch.equal(shipped[conv], raw["E/" + conv].to(shipped[conv].dtype))
    model = nucgan.zoo.load(whole)
    assert model.info.extra["training"]["ema"] == 0.5
    assert "ema" not in nucgan.zoo.load(plain).info.extra["training"]
    assert json.loads((whole / "config.json").read_text())["ema"] == 0.5
    # an interrupted run resumes to the same average, bit for bit
    train(tiny(dsb_dir, tmp_path / "split", steps=3, ema=0.5))
    split = train(tiny(dsb_dir, tmp_path / "split", steps=6, ema=0.5), resume=True)
    a, b = weights(whole), weights(split)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_bad_decay_and_changing_it_on_resume_are_refused(dsb_dir, tmp_path):
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(nucgan.InputError, match="ema must be a decay"):
            TrainConfig(ema=bad).validate()
    train(tiny(dsb_dir, tmp_path / "run", steps=3, ema=0.9))
    with pytest.raises(nucgan.InputError, match="ema 0.5"):
        train(tiny(dsb_dir, tmp_path / "run", steps=6, ema=0.5), resume=True)
