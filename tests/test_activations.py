"""Activations by name: one registry for every generator and the CLI."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nucgan


@pytest.mark.parametrize("name", nucgan.list_activations())
def test_every_listed_activation_builds_a_fresh_shape_preserving_module(name):
    a, b = nucgan.create_activation(name), nucgan.create_activation(name)
    assert isinstance(a, nn.Module) and a is not b
    x = torch.linspace(-4, 4, 50).reshape(2, 1, 5, 5)
    y = a(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_the_usual_names_are_there():
    assert {"tanh", "gelu", "sigmoid", "identity", "silu", "relu", "leaky_relu", "elu", "selu", "mish",
            "softplus", "hard_swish", "gelu_tanh"} <= set(nucgan.list_activations())


def test_semantics():
    x = torch.linspace(-3, 3, 13)
    assert torch.equal(nucgan.create_activation("tanh")(x), torch.tanh(x))
    assert torch.equal(nucgan.create_activation("gelu")(x), nn.functional.gelu(x))  # exact, as Keras' default
    assert not torch.equal(nucgan.create_activation("gelu_tanh")(x), nn.functional.gelu(x))
    assert torch.equal(nucgan.create_activation("identity")(x), x)
    assert nucgan.create_activation("leaky_relu").negative_slope == 0.3  # Keras' default, the paper's


@pytest.mark.parametrize("alias,canonical", [("linear", "identity"), ("swish", "silu"), ("GELU", "gelu"),
                                             ("hard-swish", "hard_swish"), ("hardsigmoid", "hard_sigmoid"),
                                             (" Tanh ", "tanh")])
def test_aliases_and_spellings(alias, canonical):
    assert nucgan.check_activation(alias) == canonical
    assert type(nucgan.create_activation(alias)) is type(nucgan.create_activation(canonical))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(nucgan.InputError) as info:
        nucgan.create_activation("gleu")
    msg = str(info.value)
    assert "unknown activation 'gleu'" in msg and "did you mean 'gelu'" in msg
    assert all(n in msg for n in nucgan.list_activations()) and "\n" not in msg
    with pytest.raises(nucgan.InputError, match="must be a name"):
        nucgan.create_activation(torch.tanh)
