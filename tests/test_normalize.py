"""Percentile normalisation to [-1, 1] and back to the source range and dtype (issue 4, item 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nucgan import InputError, Normalization


def test_defaults_map_percentiles_to_the_ends() -> None:
    img = np.arange(10001, dtype=np.uint16)  # percentile p sits at value 100 p
    norm = Normalization.fit(img)
    assert norm.percentiles == (1.0, 99.8) and (norm.low, norm.high) == (100.0, 9980.0)
    x = norm.forward(img)
    assert x.dtype == np.float32 and x.min() == -1 and x.max() == 1
    assert x[100] == pytest.approx(-1) and x[9980] == pytest.approx(1) and x[5040] == pytest.approx(0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.float32]), seed=st.integers(0, 2 ** 16),
       lo=st.floats(0, 20), hi=st.floats(80, 100))
def test_inverse_restores_the_unclipped_range(dtype: type, seed: int, lo: float, hi: float) -> None:
    rng = np.random.default_rng(seed)
    img = (rng.gamma(2.0, 40.0, size=(32, 32)) + 3).astype(dtype)
    norm = Normalization.fit(img, (lo, hi))
    back = norm.inverse(norm.forward(img))
    assert back.dtype == img.dtype
    inside = (img >= norm.low) & (img <= norm.high)
    tol = 1 if np.dtype(dtype).kind in "ui" else 1e-3 * norm.high
    assert np.abs(back[inside].astype(float) - img[inside].astype(float)).max() <= tol
    assert back.min() >= np.floor(norm.low) - tol and back.max() <= np.ceil(norm.high) + tol


def test_inverse_accepts_torch_and_clips_to_the_dtype() -> None:
    norm = Normalization(low=10.0, high=250.0, dtype="uint8")
    out = norm.inverse(torch.tensor([[-1.0, 0.0, 1.0, 1.2]]))
    assert out.dtype == np.uint8 and out.tolist() == [[10, 130, 250, 255]]


def test_json_round_trip_and_refusals() -> None:
    norm = Normalization.fit(np.linspace(0, 1000, 5000).astype(np.float32), (2, 98))
    data = json.loads(json.dumps(norm.to_json()))
    assert Normalization.from_json(data) == norm
    with pytest.raises(InputError, match="unknown key"):
        Normalization.from_json({**data, "gamma": 2})
    with pytest.raises(InputError):
        Normalization.from_json({"method": "zscore"})
    with pytest.raises(InputError):
        Normalization.from_json({**data, "high": data["low"]})


def test_flat_and_degenerate_images() -> None:
    spike = np.zeros((50, 50), np.uint16)
    spike[0, 0] = 900  # percentiles coincide: fall back to min/max
    assert (Normalization.fit(spike).low, Normalization.fit(spike).high) == (0.0, 900.0)
    with pytest.raises(InputError, match="constant"):
        Normalization.fit(np.full((4, 4), 7, np.uint8), what="flat.tif")
    with pytest.raises(InputError, match="percentiles"):
        Normalization.fit(spike, (50, 10))


def test_real_image_round_trip(dsb_dir) -> None:  # noqa: ANN001
    img = tifffile.imread(dsb_dir / "image.tif")
    norm = Normalization.fit(img)
    x = norm.forward(img)
    assert -1 <= x.min() and x.max() <= 1
    back = norm.inverse(x)
    inside = (img >= norm.low) & (img <= norm.high)
    assert back.dtype == np.uint16 and np.abs(back[inside].astype(int) - img[inside]).max() <= 1
