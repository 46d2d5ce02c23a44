"""Shape extraction, statistics, distances and the nearest-real-shape IoU (nucgan.shapes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

import nucgan
from nucgan.shapes import (FOUR, distribution_distance, instance_shapes, nearest_real_iou, read_label_image,
                           sampler_report, shape_stats, transform_shape)


def disk(r: float, pad: int = 0) -> np.ndarray:
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    return np.pad(yy ** 2 + xx ** 2 <= r * r, pad)


def rect(h: int, w: int) -> np.ndarray:
    return np.ones((h, w), bool)


def is_cropped_piece(s: np.ndarray) -> bool:
    return (s.dtype == bool and s.ndim == 2 and s.any() and s[0].any() and s[-1].any() and s[:, 0].any()
            and s[:, -1].any() and ndi.label(s, structure=FOUR)[1] == 1)


# -- reading ------------------------------------------------------------------------------------------
def test_read_label_image_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.tif"
    with pytest.raises(nucgan.InputError, match="nope.tif"):
        read_label_image(missing)
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"not a tiff at all")
    with pytest.raises(nucgan.InputError, match="garbage.tif.*cannot read"):
        read_label_image(garbage)
    floats = tmp_path / "floats.tif"
    tifffile.imwrite(floats, np.full((8, 8), 0.5, np.float32))
    with pytest.raises(nucgan.InputError, match="floats.tif.*whole numbers"):
        read_label_image(floats)
    with pytest.raises(nucgan.InputError, match="integer ids"):
        read_label_image(np.ones((8, 8), np.float32))
    empty = tmp_path / "empty.tif"
    tifffile.imwrite(empty, np.zeros((8, 8), np.uint16))
    with pytest.raises(nucgan.InputError, match="empty.tif.*no instance"):
        read_label_image(empty)
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.ones((2, 8, 8), np.uint16))
    with pytest.raises(nucgan.InputError, match="stack.tif.*2-D"):
        read_label_image(stack)
    with pytest.raises(nucgan.InputError, match="negative"):
        read_label_image(np.full((4, 4), -1, np.int32))


def test_read_label_image_png(tmp_path):
    from skimage import io as skio

    lab = np.zeros((20, 20), np.uint8)
    lab[2:6, 2:6] = 3
    skio.imsave(tmp_path / "lab.png", lab, check_contrast=False)
    assert np.array_equal(read_label_image(tmp_path / "lab.png"), lab)


# -- instance shapes ----------------------------------------------------------------------------------
def test_instance_shapes_whole_uncut_nuclei_in_id_order():
    lab = np.zeros((40, 40), np.int64)
    lab[5:10, 5:12] = 7          # 5 x 7 rectangle
    lab[20:30, 20:24] = 2        # 10 x 4
    lab[0:4, 30:35] = 9          # touches the border: a cut nucleus
    lab[15:18, 30:33] = 10 ** 12  # huge sparse id
    shapes = instance_shapes(lab)
    assert [s.shape for s in shapes] == [(10, 4), (5, 7), (3, 3)]
    assert all(is_cropped_piece(s) for s in shapes)
    assert len(instance_shapes(lab, keep_cut=True)) == 4
    assert len(instance_shapes(lab, min_area=20)) == 2


def test_instance_shapes_region_majority_and_split_warning():
    lab = np.zeros((40, 40), np.uint16)
    lab[10:22, 5:10] = 1   # 8 of 12 rows in the top half (rows < 20): counted in "train" only
    lab[30:34, 5:9] = 2
    lab[5:8, 20:23] = 3
    lab[5:8, 26:29] = 3    # instance 3 in two pieces: largest kept, with a warning
    with pytest.warns(UserWarning, match="several pieces"):
        top = instance_shapes(lab, region="train")
    assert sorted(s.shape for s in top) == [(3, 3), (12, 5)]  # whole shape of 1, not the cut part
    bottom = instance_shapes(lab, region="test")
    assert [s.shape for s in bottom] == [(4, 4)]
    with pytest.raises(nucgan.InputError, match="no usable nucleus"):
        instance_shapes(lab, region="0:5,0:5")


@pytest.mark.filterwarnings("ignore:.*several pieces")
def test_instance_shapes_dsb_train_half(dsb_dir):
    train = instance_shapes(dsb_dir / "labels.tif", region="train")
    everything = instance_shapes(dsb_dir / "labels.tif")
    test = instance_shapes(dsb_dir / "labels.tif", region="test")
    assert 45 <= len(train) <= 62 and len(train) + len(test) == len(everything)
    assert all(is_cropped_piece(s) for s in everything)
    areas = shape_stats(train)["area"]
    assert 300 < np.median(areas) < 600


# -- transforms ---------------------------------------------------------------------------------------
def test_transform_shape_keeps_area_and_turns():
    r = rect(6, 20)
    assert transform_shape(r) is not None and np.array_equal(transform_shape(r), r)
    turned = transform_shape(r, np.pi / 2)
    assert turned.shape[0] > turned.shape[1] and abs(int(turned.sum()) - r.sum()) <= 0.1 * r.sum()
    d = disk(10)
    for angle in np.linspace(0.1, 6.0, 7):
        out = transform_shape(d, angle)
        assert is_cropped_piece(out)
        assert abs(int(out.sum()) - int(d.sum())) <= 0.05 * d.sum()
    big = transform_shape(d, 0.3, scale=2.0)
    assert 3.6 < big.sum() / d.sum() < 4.4
    with pytest.raises(nucgan.InputError):
        transform_shape(d, 0.1, scale=0)


# -- statistics and distances -------------------------------------------------------------------------
def test_shape_stats_known_shapes():
    st = shape_stats([disk(12), rect(4, 40)])
    assert st["area"][0] == disk(12).sum() and st["area"][1] == 160
    assert st["eccentricity"][0] < 0.1 and st["eccentricity"][1] > 0.99
    assert st["solidity"][1] == pytest.approx(1.0)
    with pytest.raises(nucgan.InputError, match="shape 1"):
        shape_stats([disk(3), np.zeros((3, 3), bool)])


def test_distribution_distance():
    a = np.arange(100.0)
    same = distribution_distance(a, a)
    assert same["w1"] == 0 and same["ks"] == 0
    shifted = distribution_distance(a, a + 10)
    assert shifted["w1"] == pytest.approx(10) and shifted["w1_norm"] == pytest.approx(10 / a.std())
    assert distribution_distance(a, a + 1000)["ks"] == 1.0
    with pytest.raises(nucgan.InputError):
        distribution_distance(a, [])


def test_nearest_real_iou_sees_rotated_copies_and_novel_shapes():
    real = [rect(8, 24), disk(9)]
    copies = [transform_shape(real[0], 1.1), transform_shape(real[1][:, ::-1], 2.0), real[0].T.copy()]
    assert (nearest_real_iou(copies, real) > 0.85).all()
    novel = [rect(2, 40), disk(3)]
    assert (nearest_real_iou(novel, real) < 0.5).all()
    # without rotations, a turned rectangle is no longer found
    assert nearest_real_iou([real[0].T.copy()], real, angles=1, mirror=False)[0] < 0.5
    loo = nearest_real_iou(real, real, exclude_self=True)
    assert (loo < 0.8).all()
    with pytest.raises(nucgan.InputError):
        nearest_real_iou(real[:1], real, exclude_self=True)


def test_sampler_report_is_json_and_separates_good_from_bad():
    rng = np.random.default_rng(0)
    real = [transform_shape(rect(int(h), int(w)), a) for h, w, a in
            zip(rng.integers(8, 14, 12), rng.integers(16, 24, 12), rng.uniform(0, 6, 12))]
    good = [transform_shape(s, a) for s, a in zip(real, rng.uniform(0, 6, 12))]
    bad = [disk(r) for r in rng.uniform(2, 4, 12)]
    rep_good, rep_bad = sampler_report(good, real, angles=12), sampler_report(bad, real, angles=12)
    json.dumps(rep_good)
    assert set(rep_good["stats"]) == {"area", "eccentricity", "solidity"}
    for key in ("area", "eccentricity"):
        assert rep_good["stats"][key]["ks"] < rep_bad["stats"][key]["ks"]
    assert rep_good["nearest_iou"]["median"] > rep_bad["nearest_iou"]["median"]
    assert rep_good["n_real"] == 12 and rep_good["n_sampled"] == 12
