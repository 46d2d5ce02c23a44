"""The downstream table's synthetic arms: each ``--layout`` makes the synth set it names, cached by its arguments."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

import nucgan
from nucgan.errors import InputError
from nucgan.quality.arms import synth_folder, synth_pairs
from nucgan.quality.downstream_table import run_table
from nucgan.synth import SynthPlan, real_sizes



@pytest.fixture(scope="module")
def train_pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    labels = nucgan.place(nucgan.create_sampler("ellipse", area=[80, 0.2]), size=(96, 96), nuclei=12, gap=2, seed=1)
    tifffile.imwrite(folder / "a_mask.tif", labels.astype(np.uint16))
    tifffile.imwrite(folder / "a.tif", (labels > 0).astype(np.uint8) * 120)
    return [(str(folder / "a.tif"), str(folder / "a_mask.tif"))]


@pytest.mark.parametrize("layout, sampler, density", [("bank", "bank", None), ("gan", "gan", 150.0)])
def test_each_layout_makes_the_synth_set_it_names(model_file, train_pairs, tmp_path, layout, sampler, density):
    folder, record = synth_folder(tmp_path, train_pairs, str(model_file), 64, 2, log=lambda m: None, layout=layout)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sampler"] == sampler and record["layout"] == layout and len(manifest["images"]) == 2
    if density is not None:  # gan: synth's own default density, not the train folder's
        assert manifest["density"] == density
    else:
        assert manifest["density"] == pytest.approx(record["density_per_512"], abs=0.01)
    again, _ = synth_folder(tmp_path, train_pairs, str(model_file), 64, 2, log=pytest.fail, layout=layout)
    assert again == folder  # cached: a rerun generates nothing


def test_the_tissue_real_layout_makes_one_image_per_real_train_image_at_real_sizes(model_file, train_pairs, tmp_path):
    folder, record = synth_folder(tmp_path, train_pairs, str(model_file), 64, None, log=lambda m: None,
                                  layout="tissue-real")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sampler"] == "tissue" and manifest["size"] == "real" and record["size"] == "real"
    assert len(manifest["images"]) == len(train_pairs) == record["count"]  # as many images as the real arm
    sizes = {tuple(s) for s in real_sizes(nucgan.create_sampler("tissue"), SynthPlan(count=1, size="real"))}
    assert all(tuple(r["size"]) in sizes for r in manifest["images"])


def test_an_unknown_layout_is_refused_before_any_work(model_file, train_pairs, tmp_path):
    with pytest.raises(InputError, match="--layout must be one of bank, tissue, gan, tissue-real"):
        run_table(tmp_path / "train", tmp_path / "test", str(model_file), tmp_path / "out", layout="grid")
    assert not (tmp_path / "out").exists()


def test_a_synth_size_with_real_size_layouts_is_refused_not_ignored(model_file, tmp_path):
    with pytest.raises(InputError, match="--synth-size 256 cannot apply with --layout tissue-real"):
        run_table(tmp_path / "train", tmp_path / "test", str(model_file), tmp_path / "out", layout="tissue-real",
                  synth_size=256)
    assert not (tmp_path / "out").exists()


def test_a_synth_set_with_missing_files_is_made_again_not_used_short(model_file, train_pairs, tmp_path):
    folder, _ = synth_folder(tmp_path, train_pairs, str(model_file), 64, 3, log=lambda m: None, layout="bank")
    (folder / "images" / "synth_0001.tif").unlink()  # e.g. a second run cleared the folder while this one wrote
    with pytest.raises(InputError, match="1 of the files its manifest.json lists are missing"):
        synth_pairs(folder)
    messages: list[str] = []
    again, _ = synth_folder(tmp_path, train_pairs, str(model_file), 64, 3, log=messages.append, layout="bank")
    assert again == folder and len(synth_pairs(folder)) == 3
    assert "missing" in messages[0] and "generating the set again" in messages[0]


def test_a_style_models_synthetic_arm_has_synths_sensor_noise_unless_asked_off(train_pairs, tmp_path):
    from pathlib import Path

    generalist = str(Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "generalist" / "dsb2018-fluo-1x-k3")
    made = {}
    for asked in (None, False):
        made[asked] = synth_folder(tmp_path, train_pairs, generalist, 64, 1, log=lambda m: None, layout="bank",
                                   sensor_noise=asked)
    (on, on_record), (off, off_record) = made[None], made[False]
    assert on_record["sensor_noise"] is True and "--sensor-noise" in on_record["command"].split()
    assert off_record["sensor_noise"] is False and "--no-sensor-noise" in off_record["command"].split()
    assert on != off  # each its own cached set
    assert json.loads((on / "manifest.json").read_text())["sensor_noise"] is True


def test_the_synthetic_arms_nucleus_spread_reaches_synth_and_a_spread_of_one_keeps_the_old_key(train_pairs, tmp_path):
    from pathlib import Path

    generalist = str(Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "generalist" / "dsb2018-fluo-1x-k3")
    wide, wide_record = synth_folder(tmp_path, train_pairs, generalist, 64, 1, log=lambda m: None, layout="bank",
                                     nucleus_spread=1.5)
    plain, plain_record = synth_folder(tmp_path, train_pairs, generalist, 64, 1, log=lambda m: None, layout="bank",
                                       nucleus_spread=1.0)
    assert wide != plain and wide_record["nucleus_spread"] == 1.5 and plain_record["nucleus_spread"] == 1.0
    assert "--nucleus-spread 1.5" in wide_record["command"] and "--nucleus-spread 1" in plain_record["command"]
    assert json.loads((wide / "manifest.json").read_text())["nucleus_spread"] == 1.5
    assert "nucleus_spread" not in json.loads((plain / "manifest.json").read_text())
    with pytest.raises(InputError, match="nucleus spread"):
        run_table(tmp_path, tmp_path, generalist, tmp_path / "bad", arms=["synthetic"], nucleus_spread=0.9)
    assert not (tmp_path / "bad").exists()
