"""The lazy tiles dataset and the dataset reader plugins (issue 4, items 5 and 7)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage as ndi
from skimage.measure import label as pieces

import nucgan
from nucgan import InputError, LayeringError, Normalization, Region, TrainingPair, TilesDataset, create_dataset, unlayer
from nucgan.tiles import VIEWS, clip_to_region


def synthetic(h: int = 72, w: int = 90, n: int = 14, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Disc nuclei (some touching, some cut by the border) and a blurred, noisy uint16 image of them."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((h, w), dtype=np.uint16)
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(n):
        cy, cx, r = rng.integers(-3, h + 3), rng.integers(-3, w + 3), rng.integers(3, 8)
        labels[((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & (labels == 0)] = 10 * k + 5
    labels = pieces(labels, background=0, connectivity=2).astype(np.uint16) * 3  # one piece per id, sparse ids
    image = ndi.gaussian_filter((labels > 0) * 900.0, 1.5) + rng.normal(100, 10, (h, w))
    return np.clip(image, 0, 65535).astype(np.uint16), labels


def undo_view(x: torch.Tensor, view: tuple[int, bool]) -> np.ndarray:
    turns, transpose = view
    a = np.rot90(x.numpy(), -turns, axes=(1, 2))
    return a.swapaxes(1, 2) if transpose else a


@pytest.fixture
def two_sources() -> list[TrainingPair]:
    return [TrainingPair("a.tif", *synthetic(72, 90, 14, 0), labels_name="a_labels.tif"),
            TrainingPair("b.tif", *synthetic(64, 64, 10, 1))]


def test_length_is_area_weighted_tiles_times_layerings_times_views(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources, tile=32, stride=8, randomize=3, views="paper5", merged=True, seed=1)
    corners_a, corners_b = ((72 - 32) // 8 + 1) * ((90 - 32) // 8 + 1), ((64 - 32) // 8 + 1) ** 2
    # a has more tile corners per pixel; b gets slots for its area at a's density, so each pixel counts alike
    slots_b = round(64 * 64 * corners_a / (72 * 90))
    assert (ds.tiles, ds.slots) == (corners_a + corners_b, corners_a + slots_b) and slots_b > corners_b
    assert len(ds) == ds.slots * 3 * 5 and ds.in_channels == 5
    assert len(TilesDataset(two_sources, tile=32, stride=8, randomize=2, views="d4")) == ds.slots * 2 * 8
    assert len(TilesDataset(two_sources, tile=32, stride=8, randomize=1, views="none")) == ds.slots
    flat = TilesDataset(two_sources, tile=32, stride=8, randomize=1, views="none")
    seen = [flat.locate(i) for i in range(len(flat))]
    per_source = [[(w["y"], w["x"]) for w in seen if w["source"] == k] for k in (0, 1)]
    assert len(set(per_source[0])) == corners_a and len(set(per_source[1])) == corners_b  # every corner drawn
    assert abs(len(per_source[1]) / len(per_source[0]) - 64 * 64 / (72 * 90)) < 0.02  # in proportion to area


def test_samples_match_the_sources(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources, tile=32, stride=8, randomize=3, views="d4", merged=True, seed=1)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(ds), 60, replace=False).tolist() + [0, len(ds) - 1]:
        cond, target = ds[i]
        assert cond.shape == (5, 32, 32) and target.shape == (1, 32, 32)
        assert cond.dtype == target.dtype == torch.float32
        assert set(torch.unique(cond).tolist()) <= {-1.0, 1.0} and target.abs().max() <= 1
        where = ds.locate(i)
        src = two_sources[where["source"]]
        y, x = where["y"], where["x"]
        c, t = undo_view(cond, where["view"]), undo_view(target, where["view"])
        crop = src.labels[y:y + 32, x:x + 32]
        layers = c[1:] > 0
        assert np.array_equal(c[0] > 0, crop != 0) and np.array_equal(layers.sum(0) > 0, crop != 0)
        assert (layers.sum(0) <= 1).all()
        norm = ds.normalizations[where["source"]]
        assert np.allclose(t[0], norm.forward(src.image[y:y + 32, x:x + 32]))


def test_views_are_the_symmetries_of_one_tile(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources, tile=32, stride=16, randomize=2, views="d4", seed=3)
    per_tile = 2 * 8
    base = 5 * per_tile + 8  # tile 5, layering 1, identity view
    ref = ds[base]
    seen = set()
    for v, view in enumerate(VIEWS["d4"]):
        cond, target = ds[base + v]
        assert np.array_equal(undo_view(cond, view), ref[0].numpy())
        assert np.array_equal(undo_view(target, view), ref[1].numpy())
        seen.add(cond.numpy().tobytes())
    assert len(seen) == 8  # asymmetric content: every view differs
    assert VIEWS["paper5"] == ((0, False), (0, True), (1, False), (2, False), (3, False))


def test_layerings_differ_but_keep_the_partition(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources[:1], tile=72, stride=1, randomize=4, views="none", seed=5)
    maps = [ds[r][0].numpy() > 0 for r in range(4)]  # the one 72 x 72 tile, four layerings
    assert len({m.tobytes() for m in maps}) > 1
    first = unlayer(maps[0])
    assert all(np.array_equal(unlayer(m), first) for m in maps)
    again = TilesDataset(two_sources[:1], tile=72, stride=1, randomize=4, views="none", seed=5)
    assert all(torch.equal(again[i][0], ds[i][0]) for i in range(4))
    other = TilesDataset(two_sources[:1], tile=72, stride=1, randomize=4, views="none", seed=6)
    assert any(not torch.equal(other[i][0], ds[i][0]) for i in range(4))


def test_samples_are_copies(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources[:1], tile=72, stride=1, randomize=1, views="none")
    cond, target = ds[0]
    target += 5
    cond += 5
    assert ds[0][1].abs().max() <= 1 and ds[0][0].abs().max() <= 1


def test_index_protocol(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources, tile=32, stride=8, randomize=1, views="none")
    assert torch.equal(ds[-1][1], ds[len(ds) - 1][1])
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert sum(1 for _ in ds) == len(ds)  # iteration stops at IndexError
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True)))
    assert batch[0].shape == (4, 5, 32, 32)  # the merged channel first (the default), then 4 mask channels


def test_memory_does_not_grow_with_samples(two_sources: list[TrainingPair]) -> None:
    image, labels = synthetic(300, 300, 120, 4)
    tracemalloc.start()
    ds = TilesDataset([TrainingPair("big.tif", image, labels)], tile=64, stride=2, randomize=6, views="d4")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(ds) == 119 * 119 * 6 * 8  # 680k samples of 5 x 64 x 64 floats: 45 GB if materialised
    assert ds.nbytes == 300 * 300 * (2 + 2) + 6 * np.unique(labels).size  # uint16 image and labels, 6 tables
    assert peak < 12e6  # those, plus layering scratch


# -- regions and the official split -----------------------------------------------------------------------
def test_region_parsing() -> None:
    assert Region.parse("0:256,0:512").box((512, 512), "x") == (0, 256, 0, 512)
    assert Region.parse("256:,:").box((512, 600), "x") == (256, 512, 0, 600)
    assert Region.parse("10:20").box((50, 60), "x") == (10, 20, 0, 60)
    assert Region.parse((1, 5, 2, None)).box((9, 9), "x") == (1, 5, 2, 9)
    assert Region.parse("train").box((513, 100), "x") == (0, 256, 0, 100)
    assert Region.parse("test").box((513, 100), "x") == (256, 513, 0, 100)
    assert str(Region.parse("256:,:")) == "256:,:" and Region.parse(None) is None
    for bad in ("0-256", "1:2,3:4,5:6", "a:b"):
        with pytest.raises(InputError, match="region"):
            Region.parse(bad)
    with pytest.raises(InputError, match="img.tif: region 0:600,: does not lie inside"):
        Region.parse("0:600,:").box((512, 512), "img.tif")


def test_tiles_stay_inside_the_region_and_nothing_outside_is_read() -> None:
    image, labels = synthetic(80, 80, 18, 2)
    image[40:] = 60000  # outside the region: would shift the percentiles if it were read
    labels[60:70, 5:10], labels[75:78, 5:10] = 999, 999  # a split instance outside the region: no error
    ds = TilesDataset([TrainingPair("s.tif", image, labels)], tile=16, stride=3, region="0:40,:", randomize=2,
                      views="none")
    assert ds.normalizations[0].high < 60000
    for i in range(len(ds)):
        where = ds.locate(i)
        assert 0 <= where["y"] and where["y"] + 16 <= 40 and where["x"] + 16 <= 80
    assert ds.tiles == ((40 - 16) // 3 + 1) * ((80 - 16) // 3 + 1)


def test_nuclei_cut_by_the_region_keep_their_inside_part() -> None:
    labels = np.zeros((20, 20), np.uint16)
    labels[4:14, 4:8] = 3  # crosses row 10
    labels[8:14, 12:18] = 4
    labels[8:10, 13:17] = 0  # a U opening upwards: row 10 cuts it into two inside pieces
    labels[10:14, 14:16] = 0
    crop, cut = clip_to_region(labels, (10, 20, 0, 20))
    assert cut == 2
    top, _ = clip_to_region(labels, (0, 10, 0, 20))
    assert np.array_equal(top != 0, labels[:10] != 0) and np.array_equal(crop != 0, labels[10:] != 0)
    assert len(np.unique(crop[crop != 0])) == 3  # 3, and the two arms of 4
    image = (labels > 0) * 500 + np.arange(400).reshape(20, 20)
    ds = TilesDataset([TrainingPair("u.tif", image, labels)], tile=8, stride=2, region="10:,:", randomize=1,
                      views="none")
    assert ds.settings()["sources"][0]["cut_instances"] == 2


def test_official_split_of_the_real_image(dsb_dir: Path) -> None:
    common = dict(image=str(dsb_dir / "image.tif"), labels=str(dsb_dir / "labels.tif"), tile=128, stride=16,
                  randomize=2, views="paper5", merged=True, seed=0)
    train, test = create_dataset("files", region="train", **common), create_dataset("files", region="test", **common)
    for ds, box in ((train, [0, 256, 0, 512]), (test, [256, 512, 0, 512])):
        info = ds.settings()["sources"][0]
        assert info["box"] == box and info["cut_instances"] == 6  # the README's six nuclei on row 256
        assert len(ds) == 9 * 25 * 2 * 5 and ds.in_channels == 5
    assert train.settings()["sources"][0]["instances"] + test.settings()["sources"][0]["instances"] == 125 + 6
    assert train.normalizations[0] != test.normalizations[0]  # each half measured on its own pixels


# -- settings and refusals ---------------------------------------------------------------------------------
def test_settings_are_json_and_rebuild_the_normalisation(two_sources: list[TrainingPair]) -> None:
    ds = TilesDataset(two_sources, tile=32, stride=8, randomize=2, views="paper5", merged=True, gap=1, seed=9,
                      region="train")
    data = json.loads(json.dumps(ds.settings()))
    assert {k: data[k] for k in ("randomize", "views", "region", "seed")} == \
        {"randomize": 2, "views": "paper5", "region": "train", "seed": 9}
    assert data["samples"] == len(ds) and data["sources"][0]["labels"] == "a_labels.tif"
    assert Normalization.from_json(data["sources"][1]["normalization"]) == ds.normalizations[1]
    settings = nucgan.InputSettings.from_json(json.loads(json.dumps(ds.input.to_json())))
    assert settings == ds.input and (settings.tile, settings.stride, settings.merged, settings.gap) == (32, 8, True, 1)
    assert ds.in_channels == settings.in_channels == 5
    # the model's intensity mapping: the median of the two sources' ranges
    lows, highs = [n.low for n in ds.normalizations], [n.high for n in ds.normalizations]
    assert (settings.normalization.low, settings.normalization.high) == (sum(lows) / 2, sum(highs) / 2)


def test_input_settings_arrive_whole_at_every_reader(tmp_path: Path) -> None:
    """create_dataset passes one InputSettings; keyword shortcuts replace its fields; 0.1 records still read."""
    write_pair(tmp_path, "images/x.tif", "masks/x.tif", 0)
    base = nucgan.InputSettings(tile=32, stride=8, gap=3, layerer="first-fit")
    ds = create_dataset("stardist", folder=tmp_path, input=base, randomize=1, tile=16)
    assert ds.input.replace(normalization=None) == base.replace(tile=16)
    with pytest.raises(InputError, match="unknown input setting"):
        base.replace(tiles=3)
    old = {"channels": 4, "merged": True, "gap": 2, "layerer": "coloring", "tile": 128, "in_channels": 5,
           "normalization": ds.normalizations[0].to_json(), "views": "d4", "randomize": 10, "sources": []}
    assert nucgan.InputSettings.from_json(old).normalization == ds.normalizations[0]
    with pytest.raises(InputError, match="m.json: in_channels 4 disagrees"):
        nucgan.InputSettings.from_json({**old, "in_channels": 4}, "m.json")
    with pytest.raises(InputError, match="m.json: unknown input setting.*texture"):  # a newer nucgan's field
        nucgan.InputSettings.from_json({**old, "texture": [1]}, "m.json")


@pytest.mark.parametrize("kwargs, words", [
    ({"tile": 100}, "smaller than one 100 px tile"),
    ({"views": "paper"}, "views must be one of"),
    ({"stride": 0}, "stride must be"),
    ({"randomize": 0}, "randomize must be"),
    ({"gap": 0}, "gap must be"),
    ({"region": "0:10,0:10"}, "smaller than one"),
])
def test_bad_settings_are_refused(two_sources: list[TrainingPair], kwargs: dict, words: str) -> None:
    with pytest.raises(InputError, match=words):
        TilesDataset(two_sources, **{"tile": 32, **kwargs})


def test_bad_sources_name_the_file() -> None:
    image, labels = synthetic()
    with pytest.raises(InputError, match="lab.tif: labels are 72 x 89 but the image img.tif is 72 x 90"):
        TilesDataset([TrainingPair("img.tif", image, labels[:, :89], labels_name="lab.tif")], tile=16)
    split = labels.copy()
    split[0:2, 0:2], split[60:62, 80:82] = 7777, 7777
    with pytest.warns(UserWarning, match=r"lab.tif: 1 instance\(s\) in disconnected pieces \(ids 7777\); each piece"):
        ds = TilesDataset([TrainingPair("img.tif", image, split, labels_name="lab.tif")], tile=16)
    assert ds.settings()["sources"][0]["instances"] == pieces(split, background=0, connectivity=2).max()  # all kept
    crowd = np.arange(1, 10, dtype=np.uint16).reshape(3, 3).repeat(1, 0)
    crowd = np.pad(crowd, 20)
    with pytest.raises(LayeringError, match="img.tif: .*did not fit"):
        TilesDataset([TrainingPair("img.tif", np.indices(crowd.shape).sum(0), crowd)], tile=16)
    with pytest.raises(InputError, match="no sources"):
        TilesDataset([], tile=16)


# -- reader plugins ----------------------------------------------------------------------------------------
def write_pair(folder: Path, image_name: str, labels_name: str, seed: int) -> None:
    image, labels = synthetic(48, 56, 8, seed)
    folder.mkdir(parents=True, exist_ok=True)
    nucgan.write_tiff(folder / image_name, image) if image_name.endswith(".tif") else \
        nucgan.write_png(folder / image_name, image)
    nucgan.write_tiff(folder / labels_name, labels) if labels_name.endswith(".tif") else \
        nucgan.write_png(folder / labels_name, labels)


def test_readers_are_registered() -> None:
    assert {"files", "stardist", "cellpose"} <= {p.name for p in nucgan.list_datasets()}
    assert {"coloring", "first-fit"} <= {p.name for p in nucgan.list_layerers()}


def test_files_reader_pairs_in_order(tmp_path: Path) -> None:
    write_pair(tmp_path, "a.tif", "a_lab.tif", 0)
    write_pair(tmp_path, "b.png", "b_lab.png", 1)
    ds = create_dataset("files", image=[str(tmp_path / "a.tif"), tmp_path / "b.png"],
                        labels=[tmp_path / "a_lab.tif", str(tmp_path / "b_lab.png")], tile=32, stride=8, randomize=1)
    assert [s["labels"] for s in ds.settings()["sources"]] == [str(tmp_path / "a_lab.tif"), str(tmp_path / "b_lab.png")]
    with pytest.raises(InputError, match="2 image file"):
        create_dataset("files", image=[tmp_path / "a.tif", tmp_path / "b.png"], labels=tmp_path / "a_lab.tif")
    with pytest.raises(InputError, match="takes no argument 'tiles'"):
        create_dataset("files", image=tmp_path / "a.tif", labels=tmp_path / "a_lab.tif", tiles=32)


def test_stardist_reader(tmp_path: Path) -> None:
    write_pair(tmp_path, "images/x.tif", "masks/x.tif", 0)
    write_pair(tmp_path, "images/y.png", "masks/y.tif", 1)  # same stem, other suffix
    ds = create_dataset("stardist", folder=str(tmp_path), tile=32, stride=8, randomize=1)
    assert [Path(s["name"]).name for s in ds.settings()["sources"]] == ["x.tif", "y.png"]
    write_pair(tmp_path, "images/z.tif", "masks/other.tif", 2)
    with pytest.raises(InputError, match="no mask in masks/ for 1 image.*z.tif"):
        create_dataset("stardist", folder=tmp_path, tile=32)
    (tmp_path / "images" / "z.tif").unlink()
    with pytest.raises(InputError, match="without an image: other.tif"):
        create_dataset("stardist", folder=tmp_path, tile=32)
    with pytest.raises(InputError, match="not a StarDist folder, images/ and masks/ missing"):
        create_dataset("stardist", folder=tmp_path / "images", tile=32)


def test_cellpose_reader(tmp_path: Path) -> None:
    write_pair(tmp_path, "cell1.tif", "cell1_masks.tif", 0)
    write_pair(tmp_path, "cell2.png", "cell2_masks.png", 1)
    nucgan.write_tiff(tmp_path / "cell1_flows.tif", np.zeros((4, 4), np.uint8))  # Cellpose output: ignored
    ds = create_dataset("cellpose", folder=tmp_path, tile=32, stride=8, randomize=1, merged=True)
    assert ds.in_channels == 5 and len(ds.settings()["sources"]) == 2
    write_pair(tmp_path, "lonely.tif", "stray_masks.tif", 2)
    with pytest.raises(InputError, match="lonely.tif"):
        create_dataset("cellpose", folder=tmp_path, tile=32)


def test_reader_reports_a_bad_file_by_name(tmp_path: Path) -> None:
    write_pair(tmp_path, "images/x.tif", "masks/x.tif", 0)
    tifffile.imwrite(tmp_path / "masks" / "x.tif", np.zeros((48, 56, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputError, match=r"masks/x.tif: labels look like an RGB picture"):
        create_dataset("stardist", folder=tmp_path, tile=32)
