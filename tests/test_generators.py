"""The built-in generators' own behaviour: the paper's U-Net, chains, UNet++ and the timm-encoder U-Net."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import nucgan
from nucgan import GeneratorSpec, hookimpl
from nucgan.plugins import temporary_plugin


def _masks(b: int, c: int, h: int, w: int) -> torch.Tensor:
    return (torch.rand(b, c, h, w) > 0.7).float() * 2 - 1


# -- unet ---------------------------------------------------------------------------------------------

def test_unet_layers_are_the_papers():
    g = nucgan.create_generator("unet", in_channels=5, filters=16, kernel_size=5, levels=4)
    assert g.size_multiple == 32
    convs = [m for m in g.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128, 256]
    assert all(c.bias is None and c.stride == (2, 2) and c.kernel_size == (5, 5) for c in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.encoder[0])  # first: LeakyReLU only
    ups = [m for m in g.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [128, 64, 32, 16]
    assert [u.in_channels for u in ups] == [256, 256, 128, 64]  # decoder output + skip, concatenated
    assert all(u.bias is None for u in ups)
    assert g.head.bias is not None and g.head.out_channels == 1 and g.head.in_channels == 32
    assert [any(isinstance(m, nn.Dropout) and m.p == 0.5 for m in block) for block in g.decoder] == \
        [True, True, False, False]
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 8 and all(b.momentum == 0.01 and b.eps == 1e-3 for b in bns)
    acts = [m for m in g.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 9 and all(a.negative_slope == 0.3 for a in acts)
    assert isinstance(g.activation, nn.Tanh)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7])
def test_unet_same_padding_halves_and_doubles_like_keras(k):
    g = nucgan.create_generator("unet", in_channels=4, filters=2, kernel_size=k, levels=3).eval()
    sizes = []
    for block in [*g.encoder, *g.decoder]:
        block.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-2:]))
    y = g(_masks(1, 4, 48, 80))
    assert [tuple(s) for s in sizes] == [(24, 40), (12, 20), (6, 10), (3, 5), (6, 10), (12, 20), (24, 40)]
    assert y.shape == (1, 1, 48, 80)


def test_he_normal_matches_keras_fan_in_for_conv_and_transposed_conv():
    torch.manual_seed(0)
    g = nucgan.create_generator("unet", in_channels=4, filters=64, kernel_size=7, levels=3)
    conv = g.encoder[2][0]  # Conv2d 128 -> 256: Keras fan_in = 7 * 7 * 128
    up = g.decoder[0][0]  # ConvTranspose2d 512 -> 256: Keras kernel (7, 7, 256, 512), fan_in = 7 * 7 * 256
    for layer, fan_in in ((conv, 49 * 128), (up, 49 * 256)):
        w = layer.weight.detach()
        assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
        assert w.abs().max().item() <= 2 * math.sqrt(2 / fan_in) / 0.8796256610342398 + 1e-6  # truncated at 2 sd
        assert w.mean().item() == pytest.approx(0, abs=0.05 * math.sqrt(2 / fan_in))
    assert not g.head.bias.any()


def test_unet_any_depth_and_clear_errors_for_bad_settings():
    g = nucgan.create_generator("unet", in_channels=2, filters=3, kernel_size=3, levels=1, dropout=0.0)
    assert g.size_multiple == 4 and g(_masks(2, 2, 8, 12)).shape == (2, 1, 8, 12)
    assert not any(isinstance(m, nn.Dropout) for m in g.modules())
    for bad, match in (({"levels": 0}, "levels"), ({"filters": 2.5}, "filters"), ({"dropout": 1.0}, "dropout"),
                       ({"in_channels": True}, "in_channels"), ({"activation": "tanhh"}, "did you mean 'tanh'")):
        with pytest.raises(nucgan.InputError, match=match):
            nucgan.create_generator("unet", **bad)


def test_unet_output_activation_and_channels():
    g = nucgan.create_generator("unet", filters=4, kernel_size=3, levels=2, activation="sigmoid", out_channels=3)
    y = g(_masks(2, 4, 16, 16))
    assert y.shape == (2, 3, 16, 16) and (y > 0).all() and (y < 1).all()


def test_dropout_is_the_noise_source_in_training_mode_only():
    g = nucgan.create_generator("unet", filters=4, kernel_size=3, levels=2)
    x = _masks(2, 4, 16, 16)
    torch.manual_seed(0)
    a = g.train()(x)
    torch.manual_seed(1)
    b = g(x)
    assert not torch.allclose(a, b)
    g.eval()
    assert torch.equal(g(x), g(x))


def test_unet_works_in_channels_last():
    torch.manual_seed(0)
    g = nucgan.create_generator("unet", filters=4, kernel_size=3, levels=2).eval()
    x = _masks(2, 4, 32, 32)
    ref = g(x)
    g = g.to(memory_format=torch.channels_last)
    y = g(x.to(memory_format=torch.channels_last))
    assert torch.allclose(ref, y, atol=1e-5)


# -- chains -------------------------------------------------------------------------------------------

def test_chain_stage_i_sees_the_input_and_all_earlier_outputs():
    torch.manual_seed(0)
    g = nucgan.create_generator("chain3", in_channels=5, filters=4, kernel_size=3, levels=2,
                                activations=("tanh", "gelu", "tanh")).eval()
    assert [s.in_channels for s in g.stages] == [5, 6, 7]
    assert [s.activation_name for s in g.stages] == ["tanh", "gelu", "tanh"]
    x = _masks(2, 5, 16, 16)
    o1 = g.stages[0](x)
    o2 = g.stages[1](torch.cat([x, o1], 1))
    o3 = g.stages[2](torch.cat([x, o1, o2], 1))
    assert torch.equal(g(x), o3)
    assert [torch.equal(a, b) for a, b in zip(g.forward_stages(x), (o1, o2, o3))] == [True] * 3


def test_chain_activations_accept_the_cli_form_and_reject_a_wrong_count():
    g = nucgan.create_generator("chain", stages=3, activations="tanh, GELU,linear", filters=2, levels=1)
    assert g.activations == ["tanh", "gelu", "identity"]
    with pytest.raises(nucgan.InputError, match="3 stages need 3 activations.*got 2"):
        nucgan.create_generator("chain3", activations="tanh,gelu")
    with pytest.raises(nucgan.InputError, match="2 stages need 2 activations"):
        nucgan.create_generator("chain2", activations=["tanh"])
    with pytest.raises(nucgan.InputError, match="unknown activation 'relux'"):
        nucgan.create_generator("chain2", activations="relux,tanh")


def test_chain_defaults_and_settings_reach_every_stage():
    assert nucgan.create_generator("chain3", filters=2, levels=1).activations == ["tanh", "gelu", "tanh"]
    assert nucgan.create_generator("chain2", filters=2, levels=1).activations == ["tanh", "tanh"]
    g = nucgan.create_generator("chain", stages=4, filters=2, kernel_size=7, levels=2, dropout=0.25)
    assert len(g.stages) == 4 and g.activations == ["tanh"] * 4
    assert {(s.filters, s.kernel_size, s.levels, s.dropout) for s in g.stages} == {(2, 7, 2, 0.25)}
    assert g.config()["filters"] == 2 and g.size_multiple == 8
    assert nucgan.create_generator("chain2", filters=2, levels=1).config()["kernel_size"] == 5  # unet's default
    with pytest.raises(nucgan.InputError, match="not in stage_kwargs"):
        nucgan.create_generator("chain2", stage_kwargs={"levels": 2})


def test_chain_of_other_registered_stages():
    g = nucgan.create_generator("chain2", stage="unetpp", filters=2, kernel_size=3, levels=2,
                                stage_kwargs={"deep_supervision": True})
    assert all(type(s).__name__ == "UNetPP" and s.deep_supervision for s in g.stages)
    assert g(_masks(2, 4, 16, 16)).shape == (2, 1, 16, 16)
    with pytest.raises(nucgan.UnknownNameError, match="unknown generator 'unet3'"):
        nucgan.create_generator("chain2", stage="unet3")


class _Plain(nucgan.Generator):
    """A third-party generator with a different size multiple and two output channels."""

    def __init__(self, in_channels: int = 4, activation: str = "tanh") -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.size_multiple = in_channels, 2, 3
        self.conv = nn.Conv2d(in_channels, 2, 3, padding=1)
        self.act = nucgan.create_activation(activation)

    def config(self):
        return {"in_channels": self.in_channels}

    def forward(self, x):
        self.check_input(x)
        return self.act(self.conv(x))


class _PlainPlugin:
    @staticmethod
    @hookimpl
    def register_generators():
        return [GeneratorSpec("plain", _Plain)]


def test_chain_of_a_third_party_generator():
    with temporary_plugin(_PlainPlugin, "plainplug"):
        g = nucgan.create_generator("chain", stages=3, stage="plain", activations="tanh,sigmoid,tanh")
        assert [s.in_channels for s in g.stages] == [4, 6, 8] and g.out_channels == 2
        assert g.size_multiple == 3 and g(_masks(1, 4, 6, 9)).shape == (1, 2, 6, 9)


# -- unetpp ------------------------------------------------------------------------------------------

def test_unetpp_nested_nodes_and_deep_supervision():
    torch.manual_seed(0)
    g = nucgan.create_generator("unetpp", in_channels=5, filters=4, kernel_size=3, levels=3,
                                deep_supervision=True).eval()
    assert sorted(g.node) == sorted(f"{i}_{j}" for j in range(1, 4) for i in range(4 - j))
    # X(0,3) fuses X(0,0), X(0,1), X(0,2) and the upsampled X(1,2): 4 x 4 channels
    assert g.node["0_3"][0].in_channels == 16 and g.node["1_1"][0].in_channels == 16
    x = _masks(2, 5, 32, 32)
    heads = g.forward_heads(x)
    assert len(heads) == 3 and all(h.shape == (2, 1, 32, 32) for h in heads)
    assert torch.allclose(g(x), torch.stack(heads).mean(0))
    single = nucgan.create_generator("unetpp", in_channels=5, filters=4, kernel_size=3, levels=3)
    assert len(single.heads) == 1 and len(single.forward_heads(x)) == 1


@pytest.mark.parametrize("kwargs,trainable,paper", [  # documented in docs/models.md
    ({"in_channels": 4, "kernel_size": 3, "levels": 4}, 1_505_553, 1_508_177),
    ({"in_channels": 5, "kernel_size": 5, "levels": 4}, 4_177_825, 4_180_449),
    ({"in_channels": 5, "kernel_size": 7, "levels": 6}, 132_995_361, 133_007_073),
    ({"in_channels": 5, "kernel_size": 5, "levels": 4, "deep_supervision": True}, 4_179_028, 4_181_652),
])
def test_unetpp_documented_parameter_counts(kwargs, trainable, paper):
    from nucgan.modelinfo import build_on_meta

    c = nucgan.count_parameters(build_on_meta("unetpp", filters=16, **kwargs))
    assert (c.trainable, c.paper) == (trainable, paper)


# -- timm-unet ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoder", ["test_resnet", "test_convnext"])  # first feature at 1/2 and at 1/4
def test_timm_unet_any_encoder_and_channels(encoder):
    g = nucgan.create_generator("timm-unet", in_channels=5, encoder=encoder, filters=4)
    assert g.size_multiple == 32
    assert g(_masks(2, 5, 64, 32)).shape == (2, 1, 64, 32)
    first = next(m for m in g.encoder.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 5


def test_timm_unet_unknown_encoder_is_a_clear_error():
    with pytest.raises(nucgan.InputError, match="unknown timm encoder 'resnet181'.*did you mean.*resnet18"):
        nucgan.create_generator("timm-unet", encoder="resnet181")


def test_timm_unet_loads_local_weights_only_when_a_file_is_given(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    source = timm.create_model("test_resnet", pretrained=False)
    path = tmp_path / "enc.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    g = nucgan.create_generator("timm-unet", in_channels=3, encoder="test_resnet", filters=4, weights=str(path))
    assert torch.equal(g.encoder.layer1[0].conv1.weight, source.layer1[0].conv1.weight)
    assert "weights" not in g.config()  # a starting point, not part of the architecture
    torch.manual_seed(1)
    fresh = nucgan.create_generator("timm-unet", in_channels=3, encoder="test_resnet", filters=4)
    assert not torch.equal(fresh.encoder.layer1[0].conv1.weight, source.layer1[0].conv1.weight)
    adapted = nucgan.create_generator("timm-unet", in_channels=5, encoder="test_resnet", filters=4, weights=path)
    assert adapted.encoder.conv1[0].weight.shape[1] == 5  # timm adapts the first convolution
    with pytest.raises(nucgan.InputError, match="does not exist"):
        nucgan.create_generator("timm-unet", encoder="test_resnet", weights=str(tmp_path / "missing.pth"))


def test_timm_unet_refuses_pickled_weights(tmp_path):
    pickled = tmp_path / "enc.pth"
    pickled.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(nucgan.InputError, match="must be a .safetensors file"):
        nucgan.create_generator("timm-unet", encoder="test_resnet", weights=str(pickled))
