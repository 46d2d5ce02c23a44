"""The ``upsample`` setting: every mode's sizes, artefact-free by default for new non-paper models, old files transposed."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import nucgan
from nucgan.errors import InputError
from nucgan.inputs import InputSettings
from nucgan.modelfile import FORMAT, load_generator, save_generator
from nucgan_builtins.generators._layers import (HEAD_WIDTH, ConvBilinear, ConvBilinearHead, ResizeConv, ShuffleConv,
                                                bilinear_2x, bilinear_conv_polyphase, keras_init_)

MODES = ("transpose", "resize", "bilinear", "shuffle", "conv-bilinear")
SMALL = {  # name -> small kwargs and an input size (H, W) that is a multiple of its size_multiple, not square
    "unetpp": ({"filters": 2, "levels": 2}, (24, 40)),
    "timm-unet": ({"encoder": "test_resnet", "filters": 2}, (64, 32)),
    "unet": ({"filters": 2, "levels": 2}, (24, 40)),
}


def _masks(b: int, c: int, h: int, w: int) -> torch.Tensor:
    return (torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(0)) > 0.7).float() * 2 - 1


def _upsamplers(g: nn.Module) -> dict[str, int]:
    """How many layers of each upsampling kind ``g`` holds."""
    mods = list(g.modules())
    inner = {id(m[1]) for m in mods if isinstance(m, (ConvBilinear, ConvBilinearHead))}  # not a ResizeConv's resize
    return {"transpose": sum(isinstance(m, nn.ConvTranspose2d) for m in mods),
            "resize": sum(isinstance(m, nn.Upsample) and m.mode == "nearest" for m in mods),
            "bilinear": sum(isinstance(m, nn.Upsample) and m.mode == "bilinear" and id(m) not in inner for m in mods),
            "shuffle": sum(isinstance(m, ShuffleConv) for m in mods),
            "conv-bilinear": len(inner)}


CASES = [(name, k, mode) for name in ("unetpp", "unet") for k in (3, 4) for mode in MODES]  # odd and even kernels
CASES += [("timm-unet", 3, mode) for mode in MODES] + [("timm-unet", 4, "shuffle")]  # timm is slower: fewer


@pytest.mark.parametrize("name,kernel,mode", CASES)
def test_every_mode_keeps_the_size_for_odd_and_even_kernels(name: str, kernel: int, mode: str) -> None:
    kwargs, (h, w) = SMALL[name]
    g = nucgan.create_generator(name, in_channels=3, kernel_size=kernel, upsample=mode, **kwargs).eval()
    assert g(_masks(2, 3, h, w)).shape == (2, 1, h, w)
    counts = _upsamplers(g)
    assert counts[mode] > 0 and sum(counts.values()) == counts[mode]  # every 2x step is built the asked way


def test_new_non_paper_models_upsample_bilinearly_and_the_paper_ones_still_transpose() -> None:
    for name in ("unetpp", "timm-unet"):
        kwargs, _ = SMALL[name]
        g = nucgan.create_generator(name, **kwargs)
        assert g.config()["upsample"] == "bilinear" and _upsamplers(g)["transpose"] == 0
    unet = nucgan.create_generator("unet", filters=2, levels=2)
    assert "upsample" not in unet.config() and _upsamplers(unet)["transpose"] == 2 + 1  # levels + head
    chain = nucgan.create_generator("chain3", filters=2, levels=2)
    assert chain.config()["stage_kwargs"] == {} and _upsamplers(chain)["transpose"] == 3 * 3
    assert nucgan.create_generator("unet", filters=2, levels=2, upsample="resize").config()["upsample"] == "resize"


def test_a_chain_of_unetpp_writes_its_stages_upsample_out() -> None:
    g = nucgan.create_generator("chain2", stage="unetpp", filters=2, levels=2)
    assert g.config()["stage_kwargs"] == {"upsample": "bilinear"}
    shuffled = nucgan.create_generator("chain2", stage="unetpp", filters=2, levels=2,
                                       stage_kwargs={"upsample": "shuffle"})
    assert all(s.upsample == "shuffle" for s in shuffled.stages)


@pytest.mark.parametrize("name", ["unetpp", "timm-unet", "unet", "chain2"])
def test_an_unknown_upsample_names_the_setting_and_the_choices(name: str) -> None:
    kwargs = {"stage": "unetpp", "stage_kwargs": {"upsample": "cubic"}} if name == "chain2" else {"upsample": "cubic"}
    owner = "unetpp" if name == "chain2" else name
    with pytest.raises(InputError, match=rf"^{owner}: upsample must be one of transpose, resize, bilinear, "
                                         r"shuffle, conv-bilinear, got 'cubic'$"):
        nucgan.create_generator(name, **kwargs)
    with pytest.raises(InputError, match="upsample must be one of"):
        nucgan.create_generator("unetpp", upsample=2)


def _save(path, g: nn.Module, name: str, config: dict | None = None) -> None:
    """Save ``g``; with ``config``, write that stored config instead of ``g.config()`` (an older file)."""
    settings = InputSettings(channels=g.in_channels - 1)
    if config is None:
        save_generator(path, g, name=name, input=settings)
        return
    meta = {"nucgan.format": FORMAT, "nucgan.name": name, "nucgan.config": json.dumps(config),
            "nucgan.input": json.dumps(settings.to_json())}
    save_file({k: v.contiguous() for k, v in g.state_dict().items()}, str(path), metadata=meta)


@pytest.mark.parametrize("name,mode", [("unetpp", m) for m in MODES] + [("timm-unet", "bilinear"), ("unet", "shuffle")])
def test_config_round_trips_through_the_model_file(tmp_path, name: str, mode: str) -> None:
    kwargs, (h, w) = SMALL[name]
    torch.manual_seed(0)
    g = nucgan.create_generator(name, in_channels=5, kernel_size=3, upsample=mode, **kwargs).eval()
    _save(tmp_path / "g.safetensors", g, name)
    loaded, info = load_generator(tmp_path / "g.safetensors")
    assert info.config == g.config() and loaded.config() == g.config() and loaded.upsample == mode
    x = _masks(1, 5, h, w)
    with torch.no_grad():
        assert torch.equal(loaded(x), g(x))


@pytest.mark.parametrize("name", ["unetpp", "timm-unet"])
def test_a_file_saved_before_upsample_existed_rebuilds_transposed(tmp_path, name: str) -> None:
    kwargs, (h, w) = SMALL[name]
    torch.manual_seed(0)
    g = nucgan.create_generator(name, in_channels=5, kernel_size=3, upsample="transpose", **kwargs).eval()
    old = {k: v for k, v in g.config().items() if k != "upsample"}
    _save(tmp_path / "old.safetensors", g, name, config=old)
    loaded, info = load_generator(tmp_path / "old.safetensors")
    assert "upsample" not in info.config  # the file is shown as it is; only the rebuild is upgraded
    assert loaded.upsample == "transpose" and _upsamplers(loaded)["bilinear"] == 0
    x = _masks(1, 5, h, w)
    with torch.no_grad():
        assert torch.equal(loaded(x), g(x))


def test_an_old_chain_of_unetpp_rebuilds_transposed(tmp_path) -> None:
    torch.manual_seed(0)
    g = nucgan.create_generator("chain2", in_channels=5, stage="unetpp", filters=2, levels=2, kernel_size=3,
                                stage_kwargs={"upsample": "transpose"}).eval()
    old = {**g.config(), "stage_kwargs": {}}
    _save(tmp_path / "old.safetensors", g, "chain2", config=old)
    loaded, _ = load_generator(tmp_path / "old.safetensors")
    assert all(s.upsample == "transpose" for s in loaded.stages)
    assert loaded.config() == g.config()


def test_icnr_shuffle_starts_as_nearest_neighbour_upsampling() -> None:
    torch.manual_seed(0)
    layer = ShuffleConv(3, 2, 3)
    keras_init_(layer)  # as every built-in generator initialises itself
    y = layer(torch.randn(1, 3, 8, 10))
    assert y.shape == (1, 2, 16, 20)
    nearest = y[..., ::2, ::2].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    assert torch.equal(y, nearest)  # all four sub-pixels equal: no checkerboard at the start


@pytest.mark.parametrize("mode,flat", [("shuffle", True), ("resize", True), ("bilinear", True), ("transpose", False)])
def test_a_constant_input_paints_a_constant_interior_only_without_transposed_convs(mode: str, flat: bool) -> None:
    torch.manual_seed(0)
    g = nucgan.create_generator("unetpp", in_channels=2, filters=4, kernel_size=3, levels=2, upsample=mode).eval()
    with torch.no_grad():
        y = g(torch.ones(1, 2, 128, 128))[0, 0, 48:80, 48:80]
    spread = float(y.max() - y.min())
    assert (spread < 1e-5) if flat else (spread > 1e-3), spread


def test_a_conv_bilinear_head_carries_few_channels_to_full_size_and_ends_in_a_convolution() -> None:
    g = nucgan.create_generator("unet", in_channels=3, filters=8, levels=2, upsample="conv-bilinear")
    assert isinstance(g.head, ConvBilinearHead) and isinstance(g.head[-1], nn.Conv2d)
    assert g.head[0].out_channels == HEAD_WIDTH < 2 * 8 and g.head[-1].bias is not None
    assert all(isinstance(block[0], ConvBilinear) for block in g.decoder)


@pytest.mark.parametrize("k,bias,size", [(3, True, (7, 10)), (5, False, (12, 9)), (7, True, (16, 16)), (1, True, (5, 6))])
def test_the_polyphase_bilinear_step_is_the_resize_then_convolution(k: int, bias: bool, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 2, k, padding="same", bias=bias).double()
    x = torch.randn(2, 6, *size, dtype=torch.float64, requires_grad=True)
    direct = conv(bilinear_2x()(x))
    fast = bilinear_conv_polyphase(x.contiguous(memory_format=torch.channels_last), conv)
    assert fast.shape == direct.shape == (2, 2, 2 * size[0], 2 * size[1])
    assert torch.allclose(fast, direct, atol=1e-12)  # borders included: the 2x image's zero padding is honoured
    seed = torch.randn_like(direct)
    grads = [torch.autograd.grad((y * seed).sum(), (x, conv.weight)) for y in (direct, fast)]
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-12)  # trains the same weights


def test_only_a_narrowing_bilinear_step_takes_the_polyphase_path_and_tiny_inputs_fall_back() -> None:
    g = nucgan.create_generator("unet", in_channels=3, filters=8, levels=2, upsample="bilinear")
    steps = [m for m in g.modules() if isinstance(m, ResizeConv)]
    assert [m.polyphase for m in steps] == [m[1].in_channels >= 8 * m[1].out_channels for m in steps]
    assert steps[-1].polyphase and not steps[0].polyphase  # the head (to 1 channel) is polyphase, wide steps direct
    assert not ResizeConv(16, 1, 3, interpolation="nearest").polyphase
    torch.manual_seed(0)
    step = ResizeConv(16, 1, 5, bias=True, interpolation="bilinear").double()
    assert step.polyphase
    for size in ((2, 3), (3, 3), (9, 4)):  # below 4 px the strips would overlap: the direct way is used
        x = torch.randn(1, 16, *size, dtype=torch.float64)
        assert torch.allclose(step(x), step[1](step[0](x)), atol=1e-12)
