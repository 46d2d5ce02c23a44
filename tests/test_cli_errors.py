"""Bad input on the command line: exit 2, one ``error:`` line (or typer's usage box), no traceback, no output.

Every case runs ``nucgan.cli.main`` in-process on small files in a fresh folder and checks that the
folder holds exactly the input files afterwards. Two cases also run as a real subprocess. Known
violations are strict xfails (they flip to failures once fixed: remove the mark then).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from nucgan.cli import main

INPUTS = ("lab.tif", "lab.bmp", "img.tif", "stack.tif", "small.tif", "text.tif", "tiny.safetensors", "split.tif")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, loadable generator file (a 2-filter, 1-level U-Net) with a complete input record."""
    import nucgan
    from nucgan.modelfile import save_generator
    from nucgan.normalize import Normalization

    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    norm = Normalization(low=0.0, high=255.0, dtype="uint8").to_json()
    save_generator(path, nucgan.create_generator("unet", in_channels=5, filters=2, levels=1), name="unet",
                   input={"channels": 4, "merged": True, "gap": 2, "layerer": "coloring", "tile": 32,
                          "normalization": norm})
    return path


@pytest.fixture
def work(tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current folder holding the inputs; a private zoo cache; no extra zoo, plugins or debug mode."""
    labels = np.zeros((64, 64), np.uint16)
    labels[4:14, 4:14], labels[20:30, 30:42], labels[40:55, 10:20] = 1, 2, 3
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    tifffile.imwrite(tmp_path / "lab.bmp", labels)  # a real TIFF under a suffix nucgan does not read
    tifffile.imwrite(tmp_path / "img.tif", np.random.default_rng(0).random((64, 64), dtype=np.float32) * 200)
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([labels, labels, labels]), photometric="minisblack")
    tifffile.imwrite(tmp_path / "small.tif", labels[:32, :32])
    split = labels.copy()
    split[40:55, 10:20] = 0
    split[44:50, 50:56] = 1  # instance 1 in two pieces
    tifffile.imwrite(tmp_path / "split.tif", split)
    (tmp_path / "folder.tif").mkdir()  # a folder with a file's name, as an output
    (tmp_path / "text.tif").write_text("hello, not an image\n")
    (tmp_path / "tiny.safetensors").write_bytes(tiny_model.read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUCGAN_CACHE", str(tmp_path.parent / f"{tmp_path.name}-cache"))
    monkeypatch.setenv("NUCGAN_LOAD_PLUGINS", "")
    for name in ("NUCGAN_ZOO", "NUCGAN_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    return tmp_path


def _files(folder: Path) -> set[str]:
    """Every path under ``folder``, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run(work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str]) -> tuple[int, str, str]:
    """``nucgan ARGS`` in-process: (exit code, stdout, stderr); also checks nothing was written."""
    before = _files(work)
    assert before >= set(INPUTS)
    monkeypatch.setattr(sys, "argv", ["nucgan", *args])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    assert _files(work) == before, f"left behind: {sorted(_files(work) - before)}"
    code = info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def check_error(result: tuple[int, str, str], words: str) -> None:
    """Exit 2, nothing on stdout, stderr exactly one line 'error: ...' containing ``words``."""
    code, out, err = result
    assert code == 2, (code, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr is not one error line: {err!r}"
    assert words in lines[0], lines[0]


def check_usage(result: tuple[int, str, str], words: str) -> None:
    """Exit 2, nothing on stdout, typer's usage error on stderr: 'Usage:' then the message; no traceback."""
    code, out, err = result
    assert code == 2, (code, err)
    assert out == "" and "Traceback" not in err
    assert err.startswith("Usage: ") and "Error" in err, err
    assert words in " ".join(err.replace("│", " ").split()), err


ERRORS = [
    # layer
    (["layer", "missing.tif", "-o", "out/l.tif"], "missing.tif: no such file"),
    (["layer", "text.tif", "-o", "out/l.tif"], "text.tif: cannot read as TIFF"),
    (["layer", "lab.bmp", "-o", "out/l.tif"], "lab.bmp: unsupported file type '.bmp'"),
    (["layer", "img.tif", "-o", "out/l.tif"], "img.tif: labels must be whole numbers"),
    (["layer", "stack.tif", "-o", "out/l.tif"], "stack.tif: a 3-D stack (3 x 64 x 64)"),
    (["layer", "lab.tif", "-o", "out/l.tif", "--method", "colring"], "did you mean 'coloring'"),
    (["layer", "lab.tif", "-o", "out/l.tif", "--channels", "0"], "channels must be an integer >= 1"),
    # generate
    (["generate", "--model", "zebrafish-3x-k8", "--labels", "lab.tif", "-o", "out/g.tif"],
     "did you mean 'zebrafish-3x-k7'"),
    (["generate", "--model", "zebrafish-3x-k7", "--labels", "lab.tif", "-o", "out/g.tif"], "no trained weights"),
    (["generate", "--model", "lab.tif", "--labels", "lab.tif", "-o", "out/g.tif"], "not a safetensors file"),
    (["generate", "--model", "../evil", "--labels", "lab.tif", "-o", "out/g.tif"], "no such file or folder"),
    (["generate", "--model", "tiny.safetensors", "--labels", "missing.tif", "-o", "out/g.tif"], "no such file"),
    (["generate", "--model", "tiny.safetensors", "--labels", "img.tif", "-o", "out/g.tif"], "whole numbers"),
    (["generate", "--model", "tiny.safetensors", "--labels", "stack.tif", "-o", "out/g.tif"], "3-D stack"),
    (["generate", "--model", "tiny.safetensors", "--labels", "text.tif", "-o", "out/g.tif"], "cannot read as TIFF"),
    (["generate", "--model", "tiny.safetensors", "--labels", "lab.tif", "-o", "out/g.png"], "must be a .tif"),
    (["generate", "--model", "tiny.safetensors", "--labels", "lab.tif", "--layered", "-o", "out/g.tif"],
     "--layered expects a (channels, height, width) stack"),
    pytest.param(["generate", "--model", "tiny.safetensors", "--labels", "lab.tif", "-o", "out/g.tif",
                  "--tile", "13"], "multiples of the model's size multiple", id="generate-tile"),
    (["layer", "split.tif", "-o", "out/l.tif"], "split.tif: 1 instance(s) made of disconnected pieces: 1 (2 pieces)"),
    (["generate", "--model", "tiny.safetensors", "--labels", "split.tif", "-o", "out/g.tif"],
     "split.tif: 1 instance(s) made of disconnected pieces"),
    # an output file that is a folder, or under a file
    (["layer", "lab.tif", "-o", "folder.tif"], "folder.tif: is a folder; give a file name for the output"),
    (["layer", "lab.tif", "-o", "img.tif/l.tif"], "img.tif/l.tif: img.tif is a file, not a folder"),
    (["generate", "--model", "tiny.safetensors", "--labels", "lab.tif", "-o", "folder.tif"], "folder.tif: is a folder"),
    (["generate", "--model", "tiny.safetensors", "--labels", "lab.tif", "-o", "img.tif/g.tif"],
     "img.tif is a file, not a folder"),
    # synth: a file, or a folder of other files, as --out
    (["synth", "--model", "tiny.safetensors", "--count", "1", "--size", "64", "--nuclei", "2", "-o", "lab.tif"],
     "lab.tif: exists and is not a folder"),
    (["synth", "--model", "tiny.safetensors", "--count", "1", "--size", "64", "--nuclei", "2", "-o", "."],
     "not empty and not a nucgan synth output"),
    # evaluate
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "lab.tif", "-o", "lab.tif"],
     "lab.tif: exists and is not a folder"),
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "lab.tif", "-o", "ev", "--region",
      "0:3,0:3"], "the 0:3,0:3 region (rows 0..2, columns 0..2) holds no nucleus to score"),
    (["evaluate", "--model", "painter", "--image", "missing.tif", "--labels", "lab.tif", "-o", "ev"],
     "missing.tif: no such file"),
    (["evaluate", "--model", "painter", "--image", "text.tif", "--labels", "lab.tif", "-o", "ev"],
     "text.tif: cannot read as TIFF"),
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "img.tif", "-o", "ev"], "whole numbers"),
    (["evaluate", "--model", "painter", "--image", "stack.tif", "--labels", "lab.tif", "-o", "ev"], "3-D stack"),
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "small.tif", "-o", "ev"],
     "labels are 32 x 32 but image img.tif is 64 x 64"),
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "lab.tif", "-o", "ev", "--region",
      "0:10,abc"], "region '0:10,abc'"),
    (["evaluate", "--model", "painter", "-o", "ev"], "give --data DIR"),
    (["evaluate", "--model", "painter", "--data", ".", "--image", "img.tif", "--labels", "lab.tif", "-o", "ev"],
     "not both"),
    (["evaluate", "--model", "painter", "--data", "nofolder", "-o", "ev"], "give --train-data"),
    (["evaluate", "--model", "painter", "--data", "nofolder", "--train-data", ".", "-o", "ev"],
     "nofolder: not a folder"),
    (["evaluate", "--model", "painter", "--data", ".", "--train-data", ".", "-o", "ev"], "neither StarDist layout"),
    (["evaluate", "--model", "painter", "--data", ".", "--train-data", ".", "-o", "ev", "--max-images", "0"],
     "--max-images must be >= 1"),
    (["evaluate", "--model", "painter", "--data", ".", "--train-data", ".", "-o", "ev", "--seeds", "1,x"],
     "--seeds '1,x'"),
    (["evaluate", "--model", "painter", "--data", ".", "--train-data", ".", "-o", "ev", "--seeds", "1,1"],
     "distinct integers"),
    (["evaluate", "--model", "painter", "--data", ".", "--train-data", ".", "-o", "ev", "--region", "all"],
     "--region cannot apply with --data"),
    (["evaluate", "--model", "painter", "--data", ".", "--train-data", ".", "-o", "lab.tif"],
     "lab.tif: exists and is not a folder"),
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "lab.tif", "-o", "ev", "--max-images", "2"],
     "--max-images cannot apply with --image"),
    (["evaluate", "--model", "zebrafish-3x-k8", "--image", "img.tif", "--labels", "lab.tif", "-o", "ev"],
     "did you mean 'zebrafish-3x-k7'"),
    # train
    (["train", "-o", "run"], "no training data"),
    (["train", "nofolder", "-o", "run"], "nofolder: not a folder"),
    (["train", "--image", "img.tif", "--labels", "lab.tif", "-o", "run", "--betas", "x"], "--betas 'x'"),
    (["train", "--image", "img.tif", "--labels", "img.tif", "-o", "run", "--steps", "1", "-q"], "whole numbers"),
    (["train", "--image", "img.tif", "--labels", "stack.tif", "-o", "run", "--steps", "1", "-q"], "3-D stack"),
    (["train", "--image", "missing.tif", "--labels", "lab.tif", "-o", "run", "--steps", "1", "-q"], "no such file"),
    (["train", "--image", "img.tif", "--labels", "lab.tif", "-o", "run", "--steps", "1", "--tile", "32",
      "--generator", "chain33", "-q"], "did you mean 'chain3'"),
    pytest.param(["train", "--image", "img.tif", "--labels", "img.tif", "-o", "run", "--steps", "1"],
                 "whole numbers", id="train-progress"),
    # synth
    (["synth", "-o", "out/s", "--shard", "3"], "--shard '3'"),
    (["synth", "-o", "out/s", "--format", "foo"], "--format must be one of"),
    (["synth", "-o", "out/s", "--count", "0"], "--count must be >= 1"),
    (["synth", "-o", "out/s", "--count", "1", "--size", "128", "--density", "1e9"], "at most 16384 masks fit"),
    (["synth", "-o", "out/s", "--size", "100000"], "the limit is 32768 px per side"),
    (["synth", "-o", "out/s", "--nuclei", "0"], "--nuclei must be >= 1, got 0"),
    (["synth", "-o", "out/s", "--density", "0"], "--density must be a positive number"),
    (["layer", "lab.tif", "-o", "out/l.tif", "--gap", "100000"], "the limit is gap <= 63"),
    pytest.param(["synth", "-o", "out/s", "--model", "zebrafish-3x-k8", "--count", "1", "--size", "64"],
                 "did you mean 'zebrafish-3x-k7'", id="synth-model"),
    pytest.param(["synth", "-o", "out/s", "--model", "tiny.safetensors", "--sampler", "elipse", "--count", "1",
                  "--size", "64"], "did you mean 'ellipse'", id="synth-sampler"),
    # zoo
    (["zoo", "pull", "zebrafish-3x-k8"], "did you mean 'zebrafish-3x-k7'"),
    (["zoo", "pull", "../evil"], "invalid id '../evil'"),
    (["zoo", "pull", "zebrafish-3x-k7"], "no trained weights"),
    (["zoo", "show", "zebrafish-3x-k8"], "did you mean 'zebrafish-3x-k7'"),
    (["zoo", "show", "Zebrafish-3x-k7"], "invalid id 'Zebrafish-3x-k7'"),
    (["zoo", "show", "zebrafish-3x-k7@9"], "zebrafish-3x-k7 has no version 9; available: 0"),
    (["zoo", "pull", "zebrafish-3x-k7@9"], "zebrafish-3x-k7 has no version 9; available: 0"),
]


def _id(args: list[str]) -> str:
    """A short test id from the first words of a command line."""
    return "-".join(a.lstrip("-") for a in args[:4])


@pytest.mark.parametrize("args, words", ERRORS, ids=[None if hasattr(c, "marks") else _id(c[0]) for c in ERRORS])
def test_bad_input_is_one_error_line(work: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], args: list[str], words: str) -> None:
    """A bad argument or file: exit 2, one ``error:`` line naming the problem, nothing written."""
    check_error(run(work, monkeypatch, capsys, args), words)


USAGE = [
    (["layer", "lab.tif"], "Missing option '--out' / '-o'"),
    (["layer", "lab.tif", "-o", "out/l.tif", "--channels", "abc"], "Invalid value for '--channels'"),
    (["generate", "--model", "tiny.safetensors", "-o", "out/g.tif"], "Missing option '--labels'"),
    (["generate", "--model", "tiny.safetensors", "--labels", "lab.tif", "-o", "out/g.tif", "--samples", "0"],
     "Invalid value for '--samples'"),
    (["evaluate", "--model", "painter", "--image", "img.tif", "--labels", "lab.tif", "-o", "ev", "--bogus"],
     "No such option: --bogus"),
    (["train", "--image", "img.tif", "--labels", "lab.tif", "--steps", "abc"], "Invalid value for '--steps'"),
    (["synth", "-o", "out/s", "--count", "x"], "Invalid value for '--count'"),
    (["zoo", "show"], "Missing argument 'ID[@VERSION]'"),
    (["zoo", "pull", "a", "b"], "unexpected extra argument"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
]


@pytest.mark.parametrize("args, words", USAGE, ids=[_id(c[0]) for c in USAGE])
def test_usage_errors_exit_2(work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                             args: list[str], words: str) -> None:
    """A malformed command line: typer's usage message, exit 2, no traceback, nothing written."""
    check_usage(run(work, monkeypatch, capsys, args), words)


def test_errors_from_a_real_process(work: Path) -> None:
    """The same contract from ``python -m nucgan`` (a real process, with its real stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "NUCGAN_DEBUG"}
    before = _files(work)
    bad = subprocess.run([sys.executable, "-m", "nucgan", "layer", "img.tif", "-o", "out/l.tif"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=120)
    check_error((bad.returncode, bad.stdout, bad.stderr), "img.tif: labels must be whole numbers")
    usage = subprocess.run([sys.executable, "-m", "nucgan", "generate", "--labels", "lab.tif"], cwd=work,
                           env=env, capture_output=True, text=True, timeout=120)
    check_usage((usage.returncode, usage.stdout, usage.stderr), "Missing option '--out'")
    assert _files(work) == before


def test_zoo_entry_with_unencodable_text(work: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An extra zoo whose entry text cannot be encoded: refused at validation with one error line, never a crash."""
    import hashlib
    import json
    import shutil

    source = Path(__file__).resolve().parents[1] / "zoo" / "mouse-3x-k5"
    entry = work / "myzoo" / "odd-1"
    entry.mkdir(parents=True)
    shutil.copy(source / "README.md", entry / "README.md")
    manifest = {**json.loads((source / "manifest.json").read_text("utf-8")), "id": "odd-1",
                "description": "nuclei \ud800"}
    raw = json.dumps(manifest, ensure_ascii=True).encode("ascii")
    (entry / "manifest.json").write_bytes(raw)
    index = {"format": "nucgan-zoo-index/1", "entries": [
        {"id": "odd-1", "version": "0", "kind": "placeholder", "path": "odd-1",
         "manifest_sha256": hashlib.sha256(raw).hexdigest(), "description": "nuclei"}]}
    (work / "myzoo" / "index.json").write_text(json.dumps(index), "utf-8")
    code, out, err = run(work, monkeypatch, capsys, ["zoo", "show", "odd-1", "--zoo", "myzoo"])
    assert "internal error" not in err, err
    check_error((code, out, err), "odd-1")
    assert "description: not valid Unicode text" in err


@pytest.mark.parametrize("args", [
    ["synth", "--count", "1", "--size", "128", "--density", "1e9", "-o", "out/s"],
    ["synth", "--size", "100000", "-o", "out/s"],
    ["synth", "--nuclei", "0", "-o", "out/s"],
    ["layer", "lab.tif", "--gap", "100000", "-o", "out/l.tif"],
], ids=["density-1e9", "size-100000", "nuclei-0", "gap-100000"])
def test_huge_requests_refused_fast(work: Path, args: list[str]) -> None:
    """Requests that cannot fit are refused up front: exit 2, one error line, nothing written, well under 2 s."""
    import time

    env = {**os.environ, "PYTHONWARNINGS": "default"}
    started = time.perf_counter()
    bad = subprocess.run([sys.executable, "-c", "import sys; from nucgan.cli import main; sys.argv[0] = 'nucgan'; "
                          "main()", *args], cwd=work, capture_output=True, text=True, timeout=60, env=env)
    # the refusal itself must be quick; allow for interpreter + import start-up on a loaded machine
    assert time.perf_counter() - started < 30
    assert bad.returncode == 2, bad.stderr
    lines = bad.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), bad.stderr
    assert not (work / "out").exists()


def test_numeric_noise_never_reaches_the_terminal(work: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """An all-black real image made numpy warn 'invalid value encountered in divide' twice; now nothing."""
    tifffile.imwrite(work / "black.tif", np.zeros((64, 64), np.float32))
    monkeypatch.setattr(sys, "argv", ["nucgan", "evaluate", "--model", "tiny.safetensors", "--image", "black.tif",
                                      "--labels", "lab.tif", "-o", "ev", "--region", "all", "--train-region", "all"])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code in (0, None), err
    assert "warning" not in err.lower() and "RuntimeWarning" not in err, err


@pytest.mark.parametrize("command", ["synth", "generate", "layer"])
def test_a_folder_that_refuses_writes_is_exit_2_naming_it(work: Path, monkeypatch, capsys, command: str) -> None:
    """Read-only output (the OS says EACCES): one line naming the folder, nothing written; works as root too."""
    import errno
    import tempfile

    locked = work / "locked"
    real_mkstemp = tempfile.mkstemp

    def refusing(*args, **kwargs):
        if str(kwargs.get("dir", "")).startswith(str(locked)):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refusing)
    model = str(work / "tiny.safetensors")
    args = {"synth": ["synth", "-m", model, "--count", "1", "--size", "64", "--nuclei", "2", "--sampler", "ellipse",
                      "-o", str(locked / "out")],
            "generate": ["generate", "-m", model, "-l", str(work / "lab.tif"), "-o", str(locked / "img.tif")],
            "layer": ["layer", str(work / "lab.tif"), "-o", str(locked / "layers.tif")]}[command]
    result = run(work, monkeypatch, capsys, args)
    check_error(result, "cannot write there (Permission denied)")
    assert str(locked) in result[2]
