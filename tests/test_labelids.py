"""Label ids of any magnitude: compact tables, split annotations named, evaluate on uint64 ids."""

from __future__ import annotations

import json
import warnings

import numpy as np
import tifffile

from nucgan.io import read_pair
from nucgan.labelids import compact_labels, split_pieces
from nucgan.pictures import colour_labels
from nucgan.quality.baselines import fit_baseline

from tests.conftest import DATA


def huge(labels: np.ndarray) -> np.ndarray:
    """The same instances with uint64 ids above 2**40 (valid ids; a table sized by them would be terabytes)."""
    out = labels.astype(np.uint64)
    out[labels > 0] += np.uint64(2**40)
    return out


def test_compact_keeps_background_and_order():
    lab = np.array([[0, 2**40, 7], [7, 0, 2**40]], np.uint64)
    compact, ids = compact_labels(lab)
    assert compact.tolist() == [[0, 2, 1], [1, 0, 2]] and ids.tolist() == [0, 7, 2**40]
    compact, ids = compact_labels(np.full((2, 2), 5, np.uint16))  # no background pixel at all
    assert compact.tolist() == [[1, 1], [1, 1]] and ids.tolist() == [0, 5]


def test_split_pieces_gives_each_piece_an_id_and_names_the_split_ones():
    lab = np.zeros((10, 10), np.uint64)
    lab[0:2, 0:2], lab[6:8, 6:8], lab[8:10, 0:3] = 2**40, 2**40, 7
    out, split = split_pieces(lab)
    assert split == [2**40] and out.dtype == np.uint16 and sorted(np.unique(out).tolist()) == [0, 1, 2, 3]
    assert out[0, 0] != out[6, 6] and out[0, 0] > 0 and out[6, 6] > 0


def test_painting_and_pictures_work_on_huge_ids():
    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    image, labels = image[:128, :128], labels[:128, :128]
    big = huge(labels)
    for name in ("painter", "flat"):
        small_fit, big_fit = fit_baseline(name, [(image, labels)]), fit_baseline(name, [(image, big)])
        assert small_fit.to_json() == big_fit.to_json()
        np.testing.assert_array_equal(small_fit.paint(labels, seed=3), big_fit.paint(big, seed=3))
    np.testing.assert_array_equal(colour_labels(big), colour_labels(labels))


def test_evaluate_on_uint64_ids_writes_both_files(tmp_path):
    from nucgan.quality.evaluate import evaluate

    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    image, labels = image[:, :256], labels[:, :256]
    out = tmp_path / "ev"
    small = evaluate("painter", image, labels, seed=0)
    result = evaluate("painter", image, huge(labels), seed=0, out=out)
    assert sorted(p.name for p in out.iterdir()) == ["figure.png", "metrics.json"]
    assert result["fidelity"] == small["fidelity"] and result["nuclei"] == small["nuclei"]
    assert json.loads((out / "metrics.json").read_text())["nuclei"] == result["nuclei"]


def test_a_split_annotation_in_a_folder_is_scored_and_named(tmp_path):
    from nucgan.quality.folder import read_folder

    image, labels = read_pair(DATA / "image.tif", DATA / "labels.tif")
    lab = huge(labels[:128, :128])
    lab[120:124, 120:124] = lab[lab > 0].min()  # a second piece of the first instance, far from it
    tifffile.imwrite(tmp_path / "m.tif", lab)
    tifffile.imwrite(tmp_path / "i.tif", image[:128, :128])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [(_, read)] = read_folder([(tmp_path / "i.tif", tmp_path / "m.tif")])
    messages = [str(w.message) for w in caught]
    assert any("m.tif: 1 instance(s) in disconnected pieces" in m for m in messages), messages
    assert len(np.unique(read)) == len(np.unique(lab)) + 1 and read.dtype == np.uint16
