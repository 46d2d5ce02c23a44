"""``nucgan layer``: multi-channel TIFF, colour preview, masks per channel, one-line errors (issue 4, item 8)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from nucgan import unlayer, write_png, write_tiff
from nucgan.cli import main
from nucgan.pictures import CHANNEL_COLOURS as PREVIEW_COLOURS


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["nucgan", "layer", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_layers_the_real_labels(dsb_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "layers.tif"
    code, stdout, _ = run(monkeypatch, capsys, str(dsb_dir / "labels.tif"), "-o", str(out), "--seed", "3")
    assert code == 0
    stack = tifffile.imread(out)
    assert stack.shape == (4, 512, 512) and stack.dtype == np.uint8 and set(np.unique(stack)) <= {0, 255}
    counts = [int(n) for n in re.findall(r"channel \d+: (\d+)", stdout)]
    labels = tifffile.imread(dsb_dir / "labels.tif")
    assert f"{len(np.unique(labels)) - 1} masks" in stdout and sum(counts) == 125 and len(counts) == 4
    back = unlayer(stack)
    assert back.max() == 125 and np.array_equal(back > 0, labels > 0)
    assert [int(unlayer(stack[c:c + 1]).max()) for c in range(4)] == counts
    picture = iio.imread(out.with_suffix(".png"))
    assert picture.shape == (512, 512, 3)
    for c in range(4):
        assert (picture[stack[c] > 0] == PREVIEW_COLOURS[c]).all()
    assert (picture[labels == 0] == 0).all()


def test_merged_seed_and_method(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    labels = np.zeros((40, 40), np.uint16)
    labels[5:15, 5:15], labels[5:15, 16:26], labels[20:30, 5:15] = 4, 8, 15
    write_png(tmp_path / "lab.png", labels)
    a, b = tmp_path / "a.tif", tmp_path / "b.tiff"
    for target in (a, b):
        code, stdout, _ = run(monkeypatch, capsys, str(tmp_path / "lab.png"), "-o", str(target), "--merged",
                              "--seed", "11", "--channels", "3", "--gap", "1", "--method", "first-fit")
        assert code == 0 and "merged channel first" in stdout and "(plane 2)" in stdout
    sa, sb = tifffile.imread(a), tifffile.imread(b)
    assert sa.shape == (4, 40, 40) and np.array_equal(sa, sb)
    assert np.array_equal(sa[0] > 0, sa[1:].any(axis=0)) and np.array_equal(sa[0] > 0, labels > 0)


@pytest.mark.parametrize("make, extra, words", [
    ("rgb", [], "labels look like an RGB picture"),
    ("crowd", [], "did not fit on 4 channels"),
    ("split", [], "disconnected"),
    ("ok", ["--gap", "0"], "gap must be an integer >= 1"),
    ("ok", ["--method", "greedy"], "unknown layerer 'greedy'"),
])
def test_errors_are_one_line_exit_2_and_leave_no_output(tmp_path: Path, monkeypatch, capsys, make: str,  # noqa: ANN001
                                                       extra: list[str], words: str) -> None:
    labels = np.zeros((30, 30), np.uint16)
    labels[2:8, 2:8] = 1
    source = tmp_path / "in.tif"
    if make == "rgb":
        tifffile.imwrite(source, np.zeros((30, 30, 3), np.uint8) + 9, photometric="rgb")
    else:
        if make == "crowd":
            labels[20:23, 20:23] = np.arange(2, 11).reshape(3, 3)
        if make == "split":
            labels[20:25, 20:25] = 1
        write_tiff(source, labels)
    out = tmp_path / "out" / "layers.tif"
    code, stdout, stderr = run(monkeypatch, capsys, str(source), "-o", str(out), *extra)
    assert code == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: ") and words in stderr
    if make != "ok":
        assert str(source) in stderr
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_refuses_odd_outputs(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    labels = np.zeros((10, 10), np.uint16)
    labels[2:5, 2:5] = 3
    source = tmp_path / "lab.tif"
    write_tiff(source, labels)
    code, _, stderr = run(monkeypatch, capsys, str(source), "-o", str(tmp_path / "x.png"))
    assert code == 2 and ".tif or .tiff" in stderr
    code, _, stderr = run(monkeypatch, capsys, str(source), "-o", str(source))
    assert code == 2 and "overwrite the input" in stderr
    assert tifffile.imread(source).tolist() == labels.tolist()
