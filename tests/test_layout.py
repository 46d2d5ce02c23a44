"""Layouts (nucgan.layout): counts and densities, gap or overlap, regions, and clear errors when crowded."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

import nucgan
from nucgan import InputError, NucganError, Sampler
from nucgan.layout import place, read_placement_mask
from nucgan.shapes import FOUR


class Disks(Sampler):
    """Disks (and, with ``bars``, thin bars) of random size: cheap, known shapes for layout tests."""

    def __init__(self, low: float = 2.0, high: float = 5.0, bars: bool = False) -> None:
        self.low, self.high, self.bars = low, high, bars

    def shapes(self, n, rng):
        out = []
        for _ in range(n):
            r = rng.uniform(self.low, self.high)
            if self.bars and rng.random() < 0.5:
                out.append(np.ones((max(1, int(r)), int(3 * r)), bool))
                continue
            k = int(np.ceil(r))
            yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
            d = yy ** 2 + xx ** 2 <= r * r
            rows, cols = np.flatnonzero(d.any(1)), np.flatnonzero(d.any(0))
            out.append(d[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
        return out


def check_layout(labels: np.ndarray, n: int, gap: int, inside: np.ndarray | None = None) -> None:
    """ids exactly 1..n, each one 4-connected piece, > gap px apart (chessboard), all inside the region."""
    assert labels.dtype == np.int32
    ids = np.unique(labels)
    assert ids.tolist() == list(range(n + 1)) or (n == 0 and ids.tolist() == [0])
    square = np.ones((2 * gap + 1, 2 * gap + 1), bool)
    for i, box in enumerate(ndi.find_objects(labels), start=1):
        r0, r1 = max(box[0].start - gap, 0), box[0].stop + gap
        c0, c1 = max(box[1].start - gap, 0), box[1].stop + gap
        win = labels[r0:r1, c0:c1]
        mine = win == i
        assert ndi.label(mine, structure=FOUR)[1] == 1
        near = ndi.binary_dilation(mine, structure=square) if gap else mine
        assert set(np.unique(win[near]).tolist()) <= {0, i}, f"mask {i} within {gap} px of another"
    if inside is not None:
        assert not (labels[~inside] > 0).any()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 40), gap=st.integers(0, 3), seed=st.integers(0, 2 ** 16),
       h=st.integers(60, 140), w=st.integers(60, 140), bars=st.booleans())
def test_place_guarantees(n, gap, seed, h, w, bars):
    # n disks of up to 11 px plus the gap fill at most 30 % of the canvas: they must fit. Beyond that a
    # layout may not exist; then the refusal is an InputError that says how many were placed.
    fits = n * (11 + gap) ** 2 <= 0.3 * h * w
    try:
        labels = place(Disks(bars=bars), size=(h, w), nuclei=n, gap=gap, seed=seed)
    except InputError as e:
        assert not fits, f"{n} nuclei with gap {gap} should fit on {h} x {w}: {e}"
        assert f"on the {h} x {w} canvas" in str(e) and "did not fit" in str(e)
        return
    assert labels.shape == (h, w)
    check_layout(labels, n, gap)
    assert np.array_equal(labels, place(Disks(bars=bars), size=(h, w), nuclei=n, gap=gap, seed=seed))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), width=st.integers(16, 40), gap=st.integers(0, 2))
def test_place_inside_a_region_band(seed, width, gap):
    h = w = 128
    yy, xx = np.mgrid[:h, :w]
    band = np.abs(yy - (40 + 0.4 * xx)) < width / 2  # a slanted band, like the paper's dentate gyrus
    labels = place(Disks(), size=(h, w), nuclei=8, gap=gap, placement_mask=band, seed=seed)
    check_layout(labels, 8, gap, inside=band)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 16), overlap=st.floats(0.05, 0.6))
def test_overlap_keeps_every_mask_whole_enough(seed, overlap):
    radius = 5.0
    full = Disks(radius, radius).shapes(1, np.random.default_rng(0))[0].sum()
    labels = place(Disks(radius, radius), size=64, nuclei=20, overlap=overlap, seed=seed)
    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    assert ids.tolist() == list(range(1, 21))
    assert (areas >= (1 - overlap) * full - 1e-9).all()
    for i in ids:
        assert ndi.label(labels == i, structure=FOUR)[1] == 1


def test_overlap_actually_overlaps_when_crowded():
    disks = Disks(6, 6)
    area = disks.shapes(1, np.random.default_rng(0))[0].sum()
    labels = place(disks, size=64, nuclei=30, overlap=0.4, seed=1)
    assert (labels > 0).sum() < 30 * area  # some pixels were painted over
    with pytest.raises(InputError, match="placed"):
        place(disks, size=64, nuclei=30, seed=1)  # the same crowd with a gap cannot fit


def test_density_counts_masks_per_512_squared():
    assert place(Disks(), size=512, density=20, seed=0).max() == 20
    assert place(Disks(), size=(256, 512), density=20, seed=0).max() == 10
    region = np.zeros((512, 512), bool)
    region[:128] = True
    labels = place(Disks(), size=512, density=40, placement_mask=region, seed=0)
    assert labels.max() == 10 and not labels[128:].any()
    with pytest.raises(InputError, match="no mask at all"):
        place(Disks(), size=64, density=0.1)


def test_impossible_layouts_error_with_what_to_change():
    with pytest.raises(InputError, match=r"placed \d+ of 400 masks.*lower the density"):
        place(Disks(2.5, 2.5), size=128, density=400 * 16, seed=0)  # 400 masks on 128 x 128
    with pytest.raises(InputError, match="cover .* px but the canvas has only"):
        place(Disks(10, 10), size=64, nuclei=200, seed=0)
    with pytest.raises(InputError, match=r"placed \d+ of 120 masks.*fewer nuclei.*smaller gap.*larger"):
        place(Disks(3, 3), size=96, nuclei=120, gap=3, seed=0)
    with pytest.raises(InputError, match="placed 0 of 1 mask on the 30 x 20 canvas"):
        place(Disks(12, 12), size=(30, 20), nuclei=1, seed=0)  # 25 px wide, the canvas 20
    with pytest.raises(InputError, match="placed .* with overlap 0.1.*allow more overlap"):
        place(Disks(5, 5), size=48, nuclei=25, overlap=0.1, seed=0)


def test_argument_errors():
    with pytest.raises(InputError, match="either a number of nuclei or a density"):
        place(Disks(), size=64)
    with pytest.raises(InputError, match="either a number of nuclei or a density"):
        place(Disks(), size=64, nuclei=3, density=3)
    with pytest.raises(InputError, match="gap or an overlap"):
        place(Disks(), size=64, nuclei=3, gap=2, overlap=0.2)
    with pytest.raises(InputError, match="overlap"):
        place(Disks(), size=64, nuclei=3, overlap=1.0)
    with pytest.raises(InputError, match="gap"):
        place(Disks(), size=64, nuclei=3, gap=-1)
    with pytest.raises(InputError, match="region mask has shape"):
        place(Disks(), size=64, nuclei=3, placement_mask=np.ones((32, 32), bool))


def test_bad_sampler_is_refused():
    class Short(Sampler):
        def shapes(self, n, rng):
            return [np.ones((3, 3), bool)] * (n - 1)

    class Floats(Sampler):
        def shapes(self, n, rng):
            return [np.ones((3, 3))] * n

    with pytest.raises(NucganError, match="returned 2 shapes, 3 asked"):
        place(Short(), size=32, nuclei=3)
    with pytest.raises(NucganError, match="not a non-empty 2-D bool"):
        place(Floats(), size=32, nuclei=3)


def test_place_by_sampler_name_and_public_api():
    labels = nucgan.place("ellipse", size=256, nuclei=20, seed=3)
    check_layout(labels, 20, 2)


def test_speed_200_nuclei_on_512(dsb_dir):
    bank = nucgan.create_sampler("bank", labels=str(dsb_dir / "labels.tif"), region="train")
    place(bank, size=512, nuclei=10, seed=0)  # warm up imports
    start = time.perf_counter()
    labels = place(bank, size=512, nuclei=200, seed=0)
    assert time.perf_counter() - start < 3.0  # well under 1 s unloaded; generous for a shared CI box
    check_layout(labels, 200, 2)


# -- region files -------------------------------------------------------------------------------------
def test_read_placement_mask_files(tmp_path):
    from skimage import io as skio

    band = np.zeros((64, 64), np.uint8)
    band[20:40] = 255
    skio.imsave(tmp_path / "band.png", band, check_contrast=False)
    assert np.array_equal(read_placement_mask(tmp_path / "band.png", (64, 64)), band > 0)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 200            # red everywhere ...
    rgba[10:20, :, 3] = 255       # ... but only these rows are opaque
    skio.imsave(tmp_path / "rgba.png", rgba, check_contrast=False)
    assert read_placement_mask(tmp_path / "rgba.png").sum() == 10 * 64
    with pytest.raises(InputError, match="band.png.*64 x 64 px but the canvas is 128 x 128"):
        read_placement_mask(tmp_path / "band.png", (128, 128))
    big = read_placement_mask(tmp_path / "band.png", (128, 128), resize=True)
    assert big.shape == (128, 128) and big[40:80].all() and not big[:38].any()
    skio.imsave(tmp_path / "empty.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    with pytest.raises(InputError, match="empty.png.*empty"):
        read_placement_mask(tmp_path / "empty.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG junk")
    with pytest.raises(InputError, match="junk.png.*cannot read"):
        read_placement_mask(tmp_path / "junk.png")
    with pytest.raises(InputError, match="missing.png"):
        read_placement_mask(tmp_path / "missing.png")
    with pytest.warns(DeprecationWarning, match="use placement_mask="):  # the old name works one more release
        labels = place(Disks(), size=64, nuclei=5, region=tmp_path / "band.png", seed=0)
    check_layout(labels, 5, 2, inside=band > 0)
