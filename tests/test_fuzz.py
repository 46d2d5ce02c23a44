"""Fuzzing the readers: corrupt TIFF, PNG, zoo manifests and generator files end in a NucganError or succeed.

Every case starts from a valid file, then truncates it and flips bytes (or feeds random bytes behind
the right magic number). Allowed outcomes: success (honouring the reader's contract) or a NucganError
whose message is one line; anything else, or a hang, fails. One failing input per reader also goes
through the CLI in a subprocess: exit 2, one ``error:`` line on stderr, no traceback, no output.
Examples are derandomized, so a run is reproducible. Crashes the sweep found are regression tests at the bottom.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nucgan.errors import NucganError

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SECONDS = 10  # per example; a reader that takes longer counts as hung


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no reader's ``except Exception`` can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: int = SECONDS) -> Iterator[None]:
    """Fail with Hang when the block runs longer than ``seconds`` (SIGALRM; main thread only)."""
    def ring(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_cap(extra: int = 2 << 30) -> Iterator[None]:
    """Cap this process's address space at its current size + ``extra``, so a lying header cannot eat the machine."""
    try:
        import resource

        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = current + extra if hard == resource.RLIM_INFINITY else min(hard, current + extra)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def mutations(seed: bytes, magic: bytes = b"", values: st.SearchStrategy[int] = st.integers(0, 255)
              ) -> st.SearchStrategy[bytes]:
    """Bytes derived from ``seed``: truncated, with bytes set to ``values``, both, or random bytes behind ``magic``."""
    n = len(seed)

    def apply(flips: list[tuple[int, int]], cut: int | None) -> bytes:
        data = bytearray(seed)
        for pos, value in flips:
            data[pos % n] = value
        return bytes(data if cut is None else data[:cut])

    flips = st.lists(st.tuples(st.integers(0, n - 1), values), min_size=1, max_size=8)
    cuts = st.integers(0, n - 1)
    return st.one_of(
        st.builds(apply, st.just([]), cuts),
        st.builds(apply, flips, st.none()),
        st.builds(apply, flips, cuts),
        st.binary(max_size=300).map(lambda b: magic + b),
    )


def outcome(call: Callable[[], Any]) -> tuple[Any, NucganError | None]:
    """Run ``call`` under the time limit: (result, None) or (None, the NucganError); any other exception fails."""
    with time_limit():
        try:
            return call(), None
        except NucganError as exc:
            message = str(exc)
            assert message and "\n" not in message and "\r" not in message, f"multi-line error: {message!r}"
            return None, exc


class TiffLog(logging.Handler):
    """Counts tifffile's log records (they reach the terminal; see test_tifffile_log_stays_off_stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextlib.contextmanager
def tifffile_records() -> Iterator[TiffLog]:
    """Count the log records tifffile emits inside the block."""
    handler = TiffLog()
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m nucgan ARGS`` with no third-party plugins and a private cache."""
    env = {**os.environ, "NUCGAN_LOAD_PLUGINS": "", "NUCGAN_CACHE": str(cwd / "cache"), "COLUMNS": "120"}
    env.pop("NUCGAN_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "nucgan", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def assert_clean_cli_error(result: subprocess.CompletedProcess[str], *outputs: Path) -> None:
    """Exit 2, exactly one stderr line starting with 'error:', no traceback, none of ``outputs`` written."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for path in outputs:
        assert not path.exists() or (path.is_dir() and not any(path.iterdir())), f"{path} left behind"


def _labels() -> np.ndarray:
    """A 16 x 16 label image with three instances (ids 1, 7, 300)."""
    labels = np.zeros((16, 16), np.uint16)
    labels[2:6, 2:6], labels[9:14, 8:12], labels[1:4, 10:15] = 1, 7, 300
    return labels


def _tiff(array: np.ndarray, **kwargs: Any) -> bytes:
    """``array`` as TIFF bytes (tifffile)."""
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **kwargs)
    return buffer.getvalue()


def _png(array: np.ndarray) -> bytes:
    """``array`` as PNG bytes (imageio, scikit-image's backend)."""
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", array, extension=".png")


def _check_image(arr: Any) -> None:
    """read_image's promise: a 2-D numeric array."""
    assert isinstance(arr, np.ndarray) and arr.ndim == 2 and arr.dtype.kind in "iuf"


def _check_labels(arr: Any) -> None:
    """read_labels' promise: a 2-D integer array with at least one instance."""
    assert isinstance(arr, np.ndarray) and arr.ndim == 2 and arr.dtype.kind in "iu" and arr.any()


# --- images: TIFF and PNG ----------------------------------------------------------------------------------

IMAGE_SEEDS = {
    ".tif": [_tiff(_labels()), _tiff(_labels(), compression="zlib"),
             _tiff(np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)),
             _tiff(np.stack([_labels(), _labels()]))],
    ".png": [_png(_labels()), _png((_labels() % 256).astype(np.uint8)),
             _png(np.repeat((_labels() % 200).astype(np.uint8)[..., None], 3, axis=2))],
}
IMAGE_MAGIC = {".tif": b"II*\x00", ".png": b"\x89PNG\r\n\x1a\n"}


@pytest.mark.parametrize("suffix, examples", [(".tif", 300), (".png", 200)])
def test_corrupt_images(tmp_path: Path, suffix: str, examples: int) -> None:
    """read_image and read_labels on mutated TIFF/PNG files; then one failure of each through the CLI."""
    from nucgan.io import read_image, read_labels

    target = tmp_path / f"fuzz{suffix}"
    failing: dict[str, bytes] = {}
    seen = {"ok": 0, "error": 0}

    @given(data=st.one_of(*[mutations(seed, IMAGE_MAGIC[suffix]) for seed in IMAGE_SEEDS[suffix]]))
    @settings(FUZZ, max_examples=examples)
    def run(data: bytes) -> None:
        target.write_bytes(data)
        for name, read, check in (("image", read_image, _check_image), ("labels", read_labels, _check_labels)):
            with memory_cap(), tifffile_records() as log:
                result, error = outcome(lambda: read(target))
            if error is None:
                check(result)
                seen["ok"] += 1
            else:
                assert str(target) in str(error), f"error does not name the file: {error}"
                seen["error"] += 1
                if log.count == 0:  # a clean failure, worth one CLI run
                    failing.setdefault(name, data)

    run()
    assert seen["ok"] and seen["error"] and sum(seen.values()) >= 2 * examples, seen  # both outcomes reached
    assert set(failing) == {"image", "labels"}

    good = tmp_path / "good.tif"
    good.write_bytes(_tiff(_labels()))
    bad = tmp_path / f"bad_labels{suffix}"
    bad.write_bytes(failing["labels"])
    assert_clean_cli_error(cli("layer", bad.name, "-o", "out/layers.tif", cwd=tmp_path), tmp_path / "out")
    if suffix == ".tif":  # read_image's own CLI path (evaluate reads the pair before anything else)
        bad = tmp_path / f"bad_image{suffix}"
        bad.write_bytes(failing["image"])
        result = cli("evaluate", "--model", "painter", "--image", bad.name, "--labels", good.name, "-o", "ev",
                     cwd=tmp_path)
        assert_clean_cli_error(result, tmp_path / "ev")


# --- zoo manifests --------------------------------------------------------------------------------------

MANIFESTS = sorted((ROOT / "zoo").glob("*/manifest.json"))


def test_corrupt_manifests(tmp_path: Path) -> None:
    """parse_json + validate_manifest, and nucgan.zoo.verify on an entry folder, with mutated manifests."""
    from nucgan.zoo import verify
    from nucgan.zoo.manifest import parse_json, validate_manifest

    assert MANIFESTS, "no shipped manifest to start from"
    entry = tmp_path / "entry"
    shutil.copytree(MANIFESTS[0].parent, entry)
    seeds = [p.read_bytes() for p in MANIFESTS]
    failing: list[bytes] = []
    seen = {"ok": 0, "error": 0}
    json_chars = st.sampled_from(list(b'0123456789{}[]",:.-eE ntfrul\\/'))  # flips that often stay JSON

    @given(data=st.one_of(*[mutations(s) for s in seeds], *[mutations(s, values=json_chars) for s in seeds]))
    @settings(FUZZ, max_examples=400)
    def run(data: bytes) -> None:
        manifest, error = outcome(lambda: validate_manifest(parse_json(data, "m.json"), "m.json"))
        if error is None:
            assert isinstance(manifest, dict) and manifest["kind"] in ("model", "placeholder")
        (entry / "manifest.json").write_bytes(data)
        verdicts, verify_error = outcome(lambda: verify(str(entry)))
        assert (error is None) == (verify_error is None), (error, verify_error)
        if verify_error is None:
            assert len(verdicts) == 1 and json.dumps(verdicts[0].to_dict())
            seen["ok"] += 1
        else:
            seen["error"] += 1
            failing.append(data)

    run()
    assert seen["ok"] and seen["error"] and sum(seen.values()) >= 400, seen
    (entry / "manifest.json").write_bytes(failing[0])
    result = cli("zoo", "verify", str(entry), cwd=tmp_path)
    assert_clean_cli_error(result)
    assert result.stdout == ""


# --- generator files (safetensors) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real generator file: a tiny U-Net saved with save_generator."""
    import nucgan
    from nucgan.modelfile import save_generator

    path = tmp_path_factory.mktemp("gen") / "tiny.safetensors"
    generator = nucgan.create_generator("unet", in_channels=5, filters=2, levels=1)
    save_generator(path, generator, name="unet", input={"channels": 4, "merged": True, "gap": 2, "tile": 16})
    return path


def _header_end(seed: bytes) -> int:
    """Where a safetensors file's JSON header ends (8-byte length prefix + header)."""
    return 8 + int.from_bytes(seed[:8], "little")


def test_corrupt_generator_files(tmp_path: Path, generator_file: Path) -> None:
    """read_info and load_generator on mutated safetensors files; one failure through ``nucgan generate``."""
    from nucgan.interfaces import Generator
    from nucgan.modelfile import load_generator, read_info

    seed = generator_file.read_bytes()
    header = seed[:_header_end(seed)]  # flips inside the JSON header exercise the metadata checks
    target = tmp_path / "fuzz.safetensors"
    failing: list[bytes] = []
    seen = {"ok": 0, "error": 0}

    @given(data=st.one_of(mutations(seed, seed[:8]),
                          mutations(header).map(lambda h: h + seed[len(h):] if len(h) == len(header) else h)))
    @settings(FUZZ, max_examples=250)
    def run(data: bytes) -> None:
        target.write_bytes(data)
        info, error = outcome(lambda: read_info(target))
        loaded, load_error = outcome(lambda: load_generator(target))
        if error is not None:
            assert load_error is not None, "load_generator accepted a file read_info refuses"
        if load_error is None:
            generator, info = loaded
            assert isinstance(generator, Generator) and not generator.training and info.name
            seen["ok"] += 1
        else:
            assert str(target) in str(load_error), f"error does not name the file: {load_error}"
            seen["error"] += 1
            failing.append(data)

    run()
    assert seen["ok"] and seen["error"] and sum(seen.values()) >= 250, seen
    labels = tmp_path / "labels.tif"
    labels.write_bytes(_tiff(_labels()))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(failing[0])
    result = cli("generate", "--model", bad.name, "--labels", labels.name, "-o", "out.tif", cwd=tmp_path)
    assert_clean_cli_error(result, tmp_path / "out.tif", tmp_path / "out.png")


# --- crashes found by this sweep, fixed (regression tests) --------------------------------------------


def _tiff_with_bad_resolution_unit(cut: int | None) -> bytes:
    """A valid 16 x 16 label TIFF whose ResolutionUnit tag (296) holds the invalid value 7, optionally cut short."""
    data = bytearray(_tiff(_labels()))
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == 296:
            struct.pack_into("<H", data, entry + 8, 7)
            break
    else:
        raise AssertionError("tifffile wrote no ResolutionUnit tag")
    return bytes(data[:cut])


def test_tifffile_log_stays_off_stderr(tmp_path: Path) -> None:
    """A TIFF with an odd tag and cut-off pixels: still exactly one stderr line from ``nucgan layer``."""
    bad = tmp_path / "odd.tif"
    bad.write_bytes(_tiff_with_bad_resolution_unit(cut=300))
    assert_clean_cli_error(cli("layer", bad.name, "-o", "out.tif", cwd=tmp_path), tmp_path / "out.tif")


@pytest.mark.parametrize("key", ["filters", "in_channels"])
def test_generator_file_with_absurd_sizes(tmp_path: Path, generator_file: Path, key: str) -> None:
    """A generator file whose config claims 10**30 filters/channels is refused with an InputError."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from nucgan.modelfile import load_generator

    with safe_open(str(generator_file), "pt") as fh:
        metadata = fh.metadata()
    config = {**json.loads(metadata["nucgan.config"]), key: 10 ** 30}
    bad = tmp_path / "absurd.safetensors"
    save_file(load_file(str(generator_file)), str(bad), metadata={**metadata, "nucgan.config": json.dumps(config)})
    with pytest.raises(NucganError, match="absurd.safetensors"):
        load_generator(bad)


@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"steps": ' + b"9" * 5000 + b"}"], ids=["nested", "digits"])
def test_manifest_json_extremes(data: bytes) -> None:
    """Pathological JSON ends in a ZooError naming the file."""
    from nucgan.zoo.manifest import parse_json

    with pytest.raises(NucganError, match="m.json"):
        parse_json(data, "m.json")


def test_manifest_unknown_key_with_newline_is_one_line() -> None:
    """A manifest key with a newline in it is reported on one line (the CLI prints exactly one)."""
    from nucgan.zoo.manifest import parse_json, validate_manifest

    manifest = parse_json(MANIFESTS[0].read_bytes(), "m.json")
    manifest["bad\nkey"] = 1
    _, error = outcome(lambda: validate_manifest(manifest, "m.json"))
    assert error is not None and "unknown field" in str(error)
