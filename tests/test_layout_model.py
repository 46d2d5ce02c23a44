"""Layout models (SceneSampler, the shipped ``tissue``): scenes, touching and border-cut layouts, overrides,
early refusals, ``train-masks --data`` and ``masks report``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi
from typer.testing import CliRunner

import nucgan
from nucgan import InputError, Scene, SceneSampler
from nucgan.labelstats import image_stats, touching_ids
from nucgan.layout import place
from nucgan.shapes import FOUR


class DiskScenes(SceneSampler):
    """Disks of one radius per image and a fixed touching target: a layout model with known answers."""

    min_area = 9

    def __init__(self, touching: float = 0.3, density: float = 120.0, radius: float = 5.0) -> None:
        self.touching, self.density, self.radius = touching, density, radius
        self.drawn = 0

    def scene(self, rng, density=None, size=None):
        area = np.pi * self.radius ** 2
        return Scene(density=density or self.density, area=area, mean_area=area, touching=self.touching)

    def shapes(self, n, rng, scene=None):
        self.drawn += n
        k = int(np.ceil(self.radius))
        yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
        disk = yy ** 2 + xx ** 2 <= self.radius ** 2
        return [disk.copy() for _ in range(n)]


def one_piece_each(labels: np.ndarray) -> bool:
    return all(ndi.label(labels[box] == i, structure=FOUR)[1] == 1
               for i, box in enumerate(ndi.find_objects(labels), start=1) if box is not None)


def touching_fraction(layouts: list[np.ndarray]) -> float:
    stats = [image_stats(lab) for lab in layouts]
    return float(np.concatenate([s.touching for s in stats]).mean())


# -- statistics ---------------------------------------------------------------------------------------
def test_touching_means_another_id_in_the_8_neighbourhood():
    lab = np.zeros((12, 12), np.int32)
    lab[1:3, 1:3] = 1
    lab[3:5, 3:5] = 2   # diagonal contact with 1: touching
    lab[1:3, 7:9] = 3
    lab[1:3, 10:12] = 4  # one background column between 3 and 4: not touching
    lab[8:10, 0:3] = 5   # on the image border: cut
    assert touching_ids(lab).tolist() == [1, 2]
    st = image_stats(lab)
    assert st.touching.tolist() == [True, True, False, False, False]
    assert st.cut.tolist() == [False, False, False, True, True]  # 4 reaches the right edge, 5 the left
    assert st.nuclei == 5 and st.area.size == 3  # shape statistics only of the whole nuclei
    assert st.density == pytest.approx(5 * 512 * 512 / 144)


# -- placing with a layout model ----------------------------------------------------------------------
def test_a_layout_model_makes_its_share_of_nuclei_touch_as_separate_instances():
    layouts = [place(DiskScenes(touching=0.3), size=256, seed=s) for s in range(8)]
    assert touching_fraction(layouts) == pytest.approx(0.3, abs=0.06)
    for lab in layouts:
        assert one_piece_each(lab) and lab.max() == len(np.unique(lab)) - 1  # distinct ids 1..N
        layers = nucgan.layer(lab, channels=4, gap=2, seed=0)  # touching nuclei: different channels, gap kept
        assert np.array_equal(nucgan.unlayer(layers) > 0, lab > 0)
    apart = [place(DiskScenes(touching=0.0), size=256, seed=s) for s in range(3)]
    assert touching_fraction(apart) == 0.0


def test_nuclei_are_cut_by_the_border_like_a_crop_unless_whole_is_asked():
    cut = [place(DiskScenes(), size=128, seed=s) for s in range(6)]
    stats = [image_stats(lab) for lab in cut]
    fraction = np.concatenate([s.cut for s in stats]).mean()
    # a window into a plane of disks of radius 5: ~ perimeter x (diameter + 1) / area of nuclei meet the border
    assert 0.1 < fraction < 0.3
    assert all(one_piece_each(lab) for lab in cut)
    whole = place(DiskScenes(), size=128, seed=0, border="whole")
    assert not image_stats(whole).cut.any()
    with pytest.raises(InputError, match="border must be one of cut, whole"):
        place(DiskScenes(), size=128, seed=0, border="inside")


def test_gap_density_and_nuclei_override_the_scene():
    sampler = DiskScenes(touching=0.5)
    lab = place(sampler, size=200, nuclei=40, gap=2, seed=1, border="whole")
    assert lab.max() == 40
    near = ndi.binary_dilation(lab == 1, structure=np.ones((5, 5), bool))
    assert set(np.unique(lab[near]).tolist()) <= {0, 1}
    for i in range(2, 41):  # every pair more than 2 px apart
        grown = ndi.grey_dilation(np.where(lab == i, i, 0), size=(5, 5))
        assert set(np.unique(lab[(grown == i) & (lab > 0)]).tolist()) == {i}
    assert place(sampler, size=256, density=60, seed=2).max() == 15  # 60 per 512^2 on 256^2


def test_a_crowd_that_cannot_fit_is_refused_before_any_shape_is_drawn():
    sampler = DiskScenes()
    with pytest.raises(InputError, match=r"5000 masks of about 79 px each would cover 39\d+ px but the 128 x 128 "
                                         r"canvas has only 16384 px"):
        place(sampler, size=128, nuclei=5000, seed=0)
    with pytest.raises(InputError, match="cannot fit on a 64 x 64 canvas.*at most 455 masks fit.*9 px"):
        place(sampler, size=64, nuclei=456, gap=0, border="whole", seed=0)  # 4096 px / 9 px
    assert sampler.drawn == 0


# -- the shipped tissue model -------------------------------------------------------------------------
def test_tissue_scenes_follow_the_real_images():
    tissue = nucgan.create_sampler("tissue")
    rng = np.random.default_rng(0)
    rec = tissue.records
    for _ in range(20):  # 360 x 360 images in dsb2018-fluo/train are one set-up, with large nuclei
        sc = tissue.scene(rng, size=(360, 360))
        assert rec["height"][sc.source] == 360 and rec["width"][sc.source] == 360
        assert sc.area == pytest.approx(rec["median_area"][sc.source], rel=0.5)
    dense = [tissue.scene(rng, density=300) for _ in range(20)]  # real images about that dense
    assert np.median([rec["density"][s.source] for s in dense]) > 150
    with pytest.raises(InputError, match="density 1e\\+06 per 512 x 512.*lower the density"):
        tissue.scene(rng, density=1e6)


def test_a_canvas_of_no_real_size_draws_set_ups_by_their_pixels():
    tissue = nucgan.create_sampler("tissue")
    rec = tissue.records
    pixels = (rec["height"] * rec["width"]).astype(float)
    rng = np.random.default_rng(2)
    drawn = np.array([tissue.scene(rng, size=(512, 512)).source for _ in range(3000)])
    large = pixels >= np.median(pixels) * 4  # the big set-ups hold most real pixels (and nuclei)
    want = pixels[large].sum() / pixels.sum()
    assert np.isin(drawn, np.flatnonzero(large)).mean() == pytest.approx(want, abs=0.04)
    assert want > large.mean() + 0.2  # so a draw per image would have missed them


def test_tissue_shapes_of_one_image_share_a_scale():
    tissue = nucgan.create_sampler("tissue")
    rng = np.random.default_rng(1)
    for _ in range(5):
        scene = tissue.scene(rng)
        shapes = tissue.shapes(60, rng, scene)
        areas = np.array([s.sum() for s in shapes])
        assert np.median(areas) == pytest.approx(scene.area, rel=0.35)
        assert areas.min() >= tissue.min_area
        assert all(s.dtype == bool and ndi.label(s, structure=FOUR)[1] == 1 for s in shapes)


def test_the_tissue_layout_draws_its_own_density_and_others_get_the_default(tmp_path):
    lab = place("tissue", size=(256, 256), seed=4)
    st = image_stats(lab)
    assert st.nuclei >= 1 and one_piece_each(lab)
    from nucgan.synth import DEFAULT_DENSITY, SynthPlan, with_density

    plan = SynthPlan(count=1)
    assert plan.sampler == "tissue" and plan.gap is None and plan.density is None and plan.nuclei is None
    tissue = SynthPlan(count=1, sampler="tissue")
    assert with_density(nucgan.create_sampler("tissue"), tissue).density is None  # drawn per image
    assert with_density(nucgan.create_sampler("tissue"), plan).density is None  # the default draws its own
    assert with_density(nucgan.create_sampler("ellipse"), plan).density == DEFAULT_DENSITY
    assert with_density(nucgan.create_sampler("ellipse"), SynthPlan(count=1, nuclei=7)).density is None


# -- train-masks --data -------------------------------------------------------------------------------
@pytest.fixture
def label_folder(tmp_path, dsb_dir):
    """The real crop's labels cut into four 256 px label images, in a masks/ folder."""
    labels = tifffile.imread(dsb_dir / "labels.tif")
    folder = tmp_path / "real"
    (folder / "masks").mkdir(parents=True)
    for k, (r, c) in enumerate([(0, 0), (0, 256), (256, 0), (256, 256)]):
        tifffile.imwrite(folder / "masks" / f"tile{k}.tif", labels[r:r + 256, c:c + 256].astype(np.uint16))
    return folder


def test_train_masks_data_learns_a_tissue_model(tmp_path, label_folder):
    from nucgan.cli.app import app

    out = tmp_path / "t.safetensors"
    result = CliRunner().invoke(app, ["train-masks", "--data", str(label_folder), "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    tissue = nucgan.create_sampler("tissue", model=str(out))
    assert tissue.training["records"] == 4 and tissue.training["images"] == 4
    assert set(tissue.records["height"].tolist()) == {256.0}
    lab = place(tissue, size=256, seed=0)
    assert lab.max() >= 1 and one_piece_each(lab)
    for args, message in [
        (["train-masks", "--data", str(label_folder), "--sampler", "gan", "-o", str(out)], "learns from one label"),
        (["train-masks", "x.tif", "--data", str(label_folder), "-o", str(out)], "not both or neither"),
        (["train-masks", "--data", str(label_folder), "--region", "train", "-o", str(out)], "--region applies"),
        (["train-masks", "--data", str(tmp_path / "none"), "-o", str(out)], "no such folder"),
        (["train-masks", "x.tif", "--sampler", "tissue", "-o", str(out)], "give --data DIR"),
    ]:
        bad = CliRunner().invoke(app, args)
        assert isinstance(bad.exception, InputError) and message in str(bad.exception), (args, bad.output)


def test_a_file_that_is_not_a_tissue_model_is_refused(tmp_path):
    from importlib import resources

    gan = resources.files("nucgan_builtins.samplers") / "dsb2018_masks.safetensors"
    path = tmp_path / "gan.safetensors"
    path.write_bytes(gan.read_bytes())
    with pytest.raises(InputError, match="not a nucgan tissue model.*train-masks --data"):
        nucgan.create_sampler("tissue", model=str(path))
    with pytest.raises(InputError, match="no such tissue model"):
        nucgan.create_sampler("tissue", model=str(tmp_path / "missing.safetensors"))


# -- masks report -------------------------------------------------------------------------------------
def test_masks_report_compares_with_real_and_the_reference_row(tmp_path, label_folder):
    from nucgan.cli.app import app
    from nucgan.layout_report import STATS

    synth = tmp_path / "synth"
    synth.mkdir()
    apart = tmp_path / "apart"
    apart.mkdir()
    for s in range(4):
        tifffile.imwrite(synth / f"s{s}.tif", place(DiskScenes(touching=0.3), size=256, seed=s).astype(np.uint16))
        tifffile.imwrite(apart / f"s{s}.tif", place(DiskScenes(touching=0.0), size=256, seed=s).astype(np.uint16))
    report_path = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["masks", "report", str(synth), str(apart), "--real", str(label_folder),
                                      "--reference", str(label_folder), "--json", str(report_path)])
    assert result.exit_code == 0, result.output
    assert "touching fraction" in result.output and "fraction cut by the border" in result.output
    report = json.loads(report_path.read_text())
    ref, touching, separate = report["rows"]
    assert ref["reference"] and all(d["ks"] == 0 for d in ref["distances"].values())  # real vs itself
    assert set(touching["distances"]) == {k for k, *_ in STATS}
    assert touching["touching"] == pytest.approx(0.3, abs=0.08) and separate["touching"] == 0.0
    assert separate["distances"]["touching"]["ks"] > touching["distances"]["touching"]["ks"]
    bad = CliRunner().invoke(app, ["masks", "report", str(tmp_path / "nothing"), "--real", str(label_folder)])
    assert isinstance(bad.exception, InputError) and "nothing" in str(bad.exception)
    assert not (tmp_path / "nothing").exists()
