"""generate() checks what a generator returns and blames the plugin, and refuses a bad device up front."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import nucgan
from nucgan.errors import InputError, PluginError
from nucgan.interfaces import Generator


class Faulty(Generator):
    """A generator whose output is wrong in a chosen way."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.in_channels, self.fault = 5, fault
        self.w = torch.nn.Parameter(torch.zeros(1))

    def config(self) -> dict:
        return {"fault": self.fault}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x[:, :1] * 0 + self.w
        if self.fault == "nan":
            return out * float("nan")
        if self.fault == "two-channels":
            return torch.cat([out, out], dim=1)
        if self.fault == "half-size":
            return out[..., ::2, ::2]
        if self.fault == "raises":
            raise RuntimeError("kaboom in forward")
        return out


def model(fault: str) -> SimpleNamespace:
    return SimpleNamespace(generator=Faulty(fault), info=SimpleNamespace(name="faulty-gen"),
                           input=nucgan.InputSettings())


LABELS = np.zeros((64, 64), dtype=np.int32)
LABELS[10:20, 10:20] = 1
LABELS[40:50, 30:45] = 2


@pytest.mark.parametrize("fault, message", [
    ("nan", "non-finite value"), ("two-channels", r"returned \(1, 2, 64, 64\)"),
    ("half-size", r"returned \(1, 1, 32, 32\)"), ("raises", "failed in forward.*kaboom in forward"),
])
def test_a_faulty_generator_output_is_refused_naming_the_plugin(fault, message):
    with pytest.raises(PluginError, match=message) as info:
        nucgan.generate(model(fault), LABELS, output="float")
    assert "generator 'faulty-gen'" in str(info.value)


def test_a_good_output_passes():
    assert nucgan.generate(model("none"), LABELS, output="float").shape == (64, 64)


@pytest.mark.parametrize("device, message", [("tpu", "device must be auto, cpu, cuda"),
                                             ("cuda:x", "device must be")])
def test_a_bad_device_is_refused_before_work(device, message):
    with pytest.raises(InputError, match=message):
        nucgan.generate(model("none"), LABELS, device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_is_a_user_error():
    with pytest.raises(InputError, match="no CUDA device"):
        nucgan.generate(model("none"), LABELS, device="cuda")
