"""The Generator / Discriminator contract, checked for every registered model (a new plugin is tested for free).

Built-ins get tiny settings to stay fast; any other registered model is built with its defaults
plus ``in_channels``.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

import nucgan

IN_CHANNELS = 3  # not the default 4, so a hard-coded channel count shows up

TINY_GENERATORS = {
    "unet": [{"filters": 4, "kernel_size": 3, "levels": 2}],
    "chain": [{"stages": 2, "filters": 4, "kernel_size": 3, "levels": 2}],
    "chain2": [{"filters": 4, "kernel_size": 3, "levels": 1, "activations": ["gelu", "tanh"]}],
    "chain3": [{"filters": 4, "kernel_size": 3, "levels": 2}],
    "unetpp": [{"filters": 4, "kernel_size": 3, "levels": 2},
               {"filters": 4, "kernel_size": 3, "levels": 2, "deep_supervision": True}],
    "timm-unet": [{"encoder": "test_resnet", "filters": 4}],
}
TINY_DISCRIMINATORS = {
    "patchgan-paper": [{"filters": 4}, {"filters": 4, "spectral_norm": True}],
    "patchgan": [{"filters": 4}, {"filters": 4, "n_layers": 2, "spectral_norm": True}],
    "patchgan-k3": [{"filters": 4}, {"filters": 4, "layers": 2, "conditional": False, "spectral_norm": True}],
}


def _cases(kind: str, tiny: dict) -> list:
    names = [p.name for p in (nucgan.list_generators() if kind == "g" else nucgan.list_discriminators())]
    cases = []
    for name in names:
        for kw in tiny.get(name, [{}]):
            cases.append(pytest.param(name, {"in_channels": IN_CHANNELS, **kw},
                                      id=f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"))
    return cases


GEN_CASES = _cases("g", TINY_GENERATORS)
DISC_CASES = _cases("d", TINY_DISCRIMINATORS)


def test_every_builtin_is_covered():
    assert {"unet", "chain", "chain2", "chain3", "unetpp", "timm-unet"} <= {c.values[0] for c in GEN_CASES}
    assert {"patchgan-paper", "patchgan", "patchgan-k3"} <= {c.values[0] for c in DISC_CASES}


def _sizes(model) -> list[tuple[int, int]]:
    m = model.size_multiple
    s = m * -(-max(32, getattr(model, "min_size", 1)) // m)  # smallest valid multiple >= 32
    return [(s, s), (2 * s, 2 * s), (s, 2 * s)]


def _masks(b: int, c: int, h: int, w: int) -> torch.Tensor:
    return (torch.rand(b, c, h, w) > 0.7).float() * 2 - 1


def _build(kind: str, name: str, kwargs: dict):
    return (nucgan.create_generator if kind == "g" else nucgan.create_discriminator)(name, **kwargs)


def _run(kind: str, model, h: int, w: int, b: int = 2) -> torch.Tensor:
    c = _masks(b, model.in_channels, h, w)
    return model(c) if kind == "g" else model(c, torch.rand(b, 1, h, w) * 2 - 1)


# -- generators and discriminators alike ---------------------------------------------------------------

ALL_CASES = [pytest.param("g", *c.values, id="gen-" + c.id) for c in GEN_CASES] + \
            [pytest.param("d", *c.values, id="disc-" + c.id) for c in DISC_CASES]


@pytest.mark.parametrize("kind,name,kwargs", ALL_CASES)
def test_output_shape_for_several_sizes(kind, name, kwargs):
    torch.manual_seed(0)
    model = _build(kind, name, kwargs)
    assert isinstance(model, nucgan.Generator if kind == "g" else nucgan.Discriminator)
    assert model.in_channels == IN_CHANNELS
    model.train()
    for h, w in _sizes(model):
        y = _run(kind, model, h, w)
        assert y.dtype == torch.float32 and torch.isfinite(y).all()
        if kind == "g":
            assert y.shape == (2, model.out_channels, h, w)
        else:
            assert y.ndim == 4 and y.shape[:2] == (2, 1) and min(y.shape[-2:]) >= 1
            assert y.shape[-1] > y.shape[-2] if w > h else y.shape[-1] == y.shape[-2]


@pytest.mark.parametrize("kind,name,kwargs", ALL_CASES)
def test_gradients_reach_every_parameter(kind, name, kwargs):
    torch.manual_seed(0)
    model = _build(kind, name, kwargs).train()
    with torch.no_grad():  # zero-initialised tensors (e.g. timm's zero_init_last residual BatchNorm) cut the
        for p in model.parameters():  # graph at init by design; wake them so connectivity is what is tested
            if not p.any():
                p.normal_(0, 0.01)
    h, w = _sizes(model)[0]
    y = _run(kind, model, h, w)
    (y * torch.randn_like(y)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("kind,name,kwargs", ALL_CASES)
def test_config_rebuilds_an_identical_model(kind, name, kwargs):
    model = _build(kind, name, kwargs)
    cfg = model.config()
    assert json.loads(json.dumps(cfg)) == cfg, "config() must be JSON-able"
    again = _build(kind, name, json.loads(json.dumps(cfg)))
    assert type(again) is type(model) and again.config() == cfg
    a, b = model.state_dict(), again.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a)
    assert again.size_multiple == model.size_multiple


@pytest.mark.parametrize("kind,name,kwargs", ALL_CASES)
def test_safetensors_round_trip_gives_identical_outputs(kind, name, kwargs, tmp_path):
    torch.manual_seed(0)
    model = _build(kind, name, kwargs).train()
    h, w = _sizes(model)[0]
    _run(kind, model, h, w)  # move BatchNorm running statistics (and spectral-norm vectors) off their init
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    torch.manual_seed(1)  # a differently initialised copy
    again = _build(kind, name, model.config())
    again.load_state_dict(load_file(str(path)))
    model.eval(), again.eval()
    torch.manual_seed(2)
    c = _masks(2, model.in_channels, h, w)
    img = torch.rand(2, 1, h, w) * 2 - 1
    with torch.no_grad():
        y1, y2 = (model(c), again(c)) if kind == "g" else (model(c, img), again(c, img))
    assert torch.equal(y1, y2)


@pytest.mark.parametrize("kind,name,kwargs", ALL_CASES)
def test_wrong_channels_or_size_is_a_clear_error(kind, name, kwargs):
    model = _build(kind, name, kwargs).eval()
    h, w = _sizes(model)[0]
    c = model.in_channels

    def call(cond, img=None):
        if kind == "g":
            return model(cond)
        return model(cond, img if img is not None else torch.zeros(cond.shape[0], 1, *cond.shape[-2:]))

    with pytest.raises(nucgan.InputError, match=f"expected {c} input channels"):
        call(torch.zeros(1, c + 1, h, w))
    with pytest.raises(nucgan.InputError, match="batch, channels, height, width"):
        call(torch.zeros(c, h, w))
    if model.size_multiple > 1:
        with pytest.raises(nucgan.InputError, match=f"multiples of {model.size_multiple}"):
            call(torch.zeros(1, c, h + model.size_multiple // 2, w))
    if kind == "d":
        with pytest.raises(nucgan.InputError, match="expected 1 input channels"):
            call(torch.zeros(1, c, h, w), torch.zeros(1, 2, h, w))
        with pytest.raises(nucgan.InputError, match="do not match"):
            call(torch.zeros(2, c, h, w), torch.zeros(1, 1, h, w))
