"""The paper's Table 1 reproduces: all 84 models built through the registry, counted as Keras did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nucgan
from nucgan.modelinfo import PAPER_TABLE1, build_on_meta, table1_grid

NOTES = next((p for p in (Path(__file__).resolve().parents[2] / "shared" / "paper" / "NOTES.md",
                          Path("/work/shared/paper/NOTES.md")) if p.exists()),
             Path(__file__).resolve().parents[2] / "shared" / "paper" / "NOTES.md")

# Table 1 as printed in the paper (shared/paper/NOTES.md): (model, F, K) -> L4 C4, L4 C5, L6 C4, L6 C5
TABLE1 = {
    ("1x", 16, 3): (883873, 884017, 14164129, 14164273),
    ("1x", 32, 3): (3528001, 3528289, 56630593, 56630881),
    ("1x", 64, 3): (14097025, 14097601, 226470529, 226471105),
    ("1x", 16, 5): (2450081, 2450481, 39323297, 39323697),
    ("1x", 32, 5): (9789761, 9790561, 157264193, 157264993),
    ("1x", 64, 5): (39137921, 39139521, 628998785, 629000385),
    ("1x", 16, 7): (4799393, 4800177, 77062049, 77062833),
    ("1x", 32, 7): (19182401, 19183969, 308214593, 308216161),
    ("1x", 64, 7): (76699265, 76702401, 1232791169, 1232794305),
    ("2x", 16, 3): (1767890, 1768178, 28328402, 28328690),
    ("2x", 16, 5): (4900562, 4901362, 78646994, 78647794),
    ("2x", 16, 7): (9599570, 9601138, 154124882, 154126450),
    ("3x", 16, 3): (2652051, 2652483, 42492819, 42493251),
    ("3x", 16, 5): (7351443, 7352643, 117971091, 117972291),
    ("3x", 16, 7): (14400531, 14402883, 231188499, 231190851),
}
ACTIVATIONS = {"1x": [None], "2x": [["tanh", "tanh"], ["gelu", "tanh"]],
               "3x": [["tanh", "tanh", "tanh"], ["tanh", "gelu", "tanh"]]}
GENERATOR = {"1x": "unet", "2x": "chain2", "3x": "chain3"}
COLUMNS = [(4, 4), (4, 5), (6, 4), (6, 5)]


def _entries():
    for (model, f, k), counts in TABLE1.items():
        for acts in ACTIVATIONS[model]:
            for (levels, channels), expected in zip(COLUMNS, counts):
                kw = {"in_channels": channels, "filters": f, "kernel_size": k, "levels": levels}
                kw.update({"activation": "tanh"} if acts is None else {"activations": acts})
                yield pytest.param(GENERATOR[model], kw, expected,
                                   id=f"{model}-{','.join(acts or ['tanh'])}-F{f}-K{k}-L{levels}-C{channels}")


ENTRIES = list(_entries())


def test_there_are_84_entries():
    assert len(ENTRIES) == 84


@pytest.mark.parametrize("name,kwargs,expected", ENTRIES)
def test_parameter_count_equals_the_papers(name, kwargs, expected):
    model = build_on_meta(name, **kwargs)
    assert next(model.parameters()).is_meta  # counted without allocating
    assert nucgan.count_parameters(model).paper == expected


def test_reproduce_table1_agrees_and_uses_the_papers_numbers():
    entries = nucgan.reproduce_table1()
    assert len(entries) == 84 and all(e.ok for e in entries)
    assert PAPER_TABLE1 == TABLE1
    assert len({(e.generator, str(sorted(e.kwargs.items()))) for e in entries}) == 84
    assert len(table1_grid()) == 84


def test_the_table_in_the_notes_is_the_one_tested():
    if not NOTES.exists():
        pytest.skip(f"{NOTES} not found")
    rows = re.findall(r"^\| (\dx) \| (\d+) \| (\d) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|$",
                      NOTES.read_text(), flags=re.MULTILINE)
    parsed = {(m, int(f), int(k)): tuple(int(c.replace(",", "")) for c in counts) for m, f, k, *counts in rows}
    assert parsed == TABLE1


def test_trainable_plus_batchnorm_statistics_is_the_papers_count():
    # 1x F16 K3 L4 C4 by hand: convolution weights 880,992 + 1 head bias; 8 BatchNorms over 720 channels,
    # each with a trainable scale and shift and a running mean and variance
    c = nucgan.count_parameters(build_on_meta("unet", in_channels=4, filters=16, kernel_size=3, levels=4))
    assert (c.trainable, c.bn_stats, c.frozen, c.paper) == (880_993 + 2 * 720, 2 * 720, 0, 883_873)
