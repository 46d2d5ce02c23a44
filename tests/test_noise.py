"""Positional dropout's fast keep-mask: the same bits as the float comparison it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nucgan.noise import _mix, _mix_int32, _to_int32, hashed_keep, hashed_uniform


def test_int32_mix_gives_the_same_32_bits_as_the_int64_one():
    rng = np.random.default_rng(0)
    edges = [0, 1, 2 ** 15, 2 ** 16 - 1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 2, 2 ** 32 - 1]
    values = torch.tensor(edges + rng.integers(0, 2 ** 32, 10_000).tolist(), dtype=torch.int64)
    got = _mix_int32(_to_int32(values)).to(torch.int64) & 0xFFFFFFFF
    assert torch.equal(got, _mix(values))


@pytest.mark.parametrize("p", [0.5, 0.3, 0.123456, 1e-9, 0.999999,
                               (12_000_000 + 0.1) / 2 ** 24,  # float32 rounds p onto a grid value
                               (12_000_000 - 0.1) / 2 ** 24])
def test_keep_mask_is_the_uniform_compared_with_p(p):
    rows, cols = torch.arange(40) + 1000, torch.arange(50) + 77
    want = hashed_uniform(5, 1, 16, rows, cols) >= p
    assert torch.equal(hashed_keep(5, 1, 16, rows, cols, p), want)


def test_keep_mask_agrees_where_a_uniform_sits_exactly_on_p():
    rows, cols = torch.arange(64), torch.arange(64)
    u = hashed_uniform(3, 0, 8, rows, cols)
    for value in u.flatten()[:20].tolist():  # p equal to a drawn value: kept (>=), the next one down: too
        assert torch.equal(hashed_keep(3, 0, 8, rows, cols, value), u >= value)
        below = float(np.nextafter(np.float32(value), np.float32(0)))
        assert torch.equal(hashed_keep(3, 0, 8, rows, cols, below), u >= below)


def test_keep_mask_extremes():
    rows, cols = torch.arange(8), torch.arange(8)
    assert hashed_keep(0, 0, 2, rows, cols, 0.0).all()
    assert not hashed_keep(0, 0, 2, rows, cols, 1.0).any()
    assert hashed_keep(0, 0, 2, rows, cols, 0.5).shape == (2, 8, 8)
