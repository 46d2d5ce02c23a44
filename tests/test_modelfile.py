"""The generator file format: round trip, fp16, atomic writes, strict loading, refusal of anything else."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import nucgan
from nucgan.inputs import InputSettings
from nucgan.errors import InputError
from nucgan.modelfile import FORMAT, load_generator, read_info, save_generator
from nucgan.zoo.fsutil import sha256_file
from zoo_server import INPUT, TinyGen, make_run, tiny_plugin, zoo_env  # noqa: F401


def _gen(filters: int = 8, depth: int = 1, seed: int = 0) -> TinyGen:
    torch.manual_seed(seed)
    gen = nucgan.create_generator("tiny-test", in_channels=5, filters=filters, depth=depth)
    with torch.no_grad():
        gen.net[1].running_mean.uniform_(-1, 1)
        gen.net[1].running_var.uniform_(0.5, 2)
        gen.net[1].num_batches_tracked.fill_(7)
    return gen.eval()


def _x(seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 2, (2, 5, 16, 16), generator=torch.Generator().manual_seed(seed)).float() * 2 - 1


def test_round_trip_is_exact_and_keeps_buffers(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    gen = _gen()
    path = tmp_path / "g.safetensors"
    digest = save_generator(path, gen, name="tiny-test", input=INPUT, extra={"step": 3})
    assert digest == sha256_file(path)
    loaded, info = load_generator(path)
    assert isinstance(loaded, TinyGen) and not loaded.training
    for key, value in gen.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert int(loaded.net[1].num_batches_tracked) == 7
    with torch.no_grad():
        assert torch.equal(loaded(_x()), gen(_x()))
    assert (info.name, info.config, info.input, info.extra) == ("tiny-test", gen.config(), InputSettings.from_json(INPUT),
                                                              {"step": 3})
    assert info.sha256 == digest and info.dtype == "float32" and info.path == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.safetensors"]  # no temp file left


def test_metadata_is_plain_json_strings(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    from safetensors import safe_open

    path = tmp_path / "g.safetensors"
    save_generator(path, _gen(), name="tiny-test", input=INPUT)
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    assert meta["nucgan.format"] == FORMAT == "generator/1"
    assert meta["nucgan.name"] == "tiny-test"
    assert json.loads(meta["nucgan.config"]) == {"in_channels": 5, "filters": 8, "depth": 1}
    assert json.loads(meta["nucgan.input"]) == InputSettings.from_json(INPUT).to_json()


def test_half_stores_float16_and_loads_float32(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    from safetensors import safe_open

    gen = _gen(filters=32)
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_generator(full, gen, name="tiny-test", input=INPUT)
    save_generator(half, gen, name="tiny-test", input=INPUT, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    with safe_open(str(half), "pt") as fh:
        assert fh.get_tensor("net.0.weight").dtype == torch.float16
        assert fh.get_tensor("net.1.num_batches_tracked").dtype == torch.int64
    loaded, info = load_generator(half)
    assert info.dtype == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        assert torch.allclose(loaded(_x()), gen(_x()), atol=5e-3)


def test_failed_save_leaves_nothing(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    path = tmp_path / "g.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(InputError, match="not JSON-able"):
        save_generator(path, _gen(), name="tiny-test", input=INPUT, extra={"note": object()})
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.safetensors"]


@pytest.mark.parametrize("make, message", [
    (lambda p: torch.save({"w": torch.zeros(3)}, p), "pickle"),
    (lambda p: p.write_bytes(pickle.dumps({"w": 1}, protocol=4)), "pickle"),
    (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64), "HDF5"),
    (lambda p: p.write_bytes(b"hello"), "not a safetensors file"),
    (lambda p: p.write_bytes(struct.pack("<Q", 10) + b"not json!!"), "header is not JSON"),
    (lambda p: p.write_bytes(struct.pack("<Q", 1 << 40) + b"{}"), "implausible header length"),
])
def test_refuses_other_formats_naming_the_file(tmp_path: Path, make, message: str) -> None:  # noqa: ANN001
    path = tmp_path / "model.safetensors"
    make(path)
    with pytest.raises(InputError, match=message) as info:
        load_generator(path)
    assert str(path) in str(info.value)


def test_refuses_truncated_file(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    path = tmp_path / "g.safetensors"
    save_generator(path, _gen(), name="tiny-test", input=INPUT)
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(InputError, match="truncated"):
        load_generator(path)
    path.write_bytes(data[:20])
    with pytest.raises(InputError, match="truncated|not a safetensors"):
        load_generator(path)


def test_refuses_plain_or_foreign_safetensors(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    plain = tmp_path / "plain.safetensors"
    save_file(_gen().state_dict(), str(plain))
    with pytest.raises(InputError, match="without nucgan metadata"):
        load_generator(plain)
    checkpoint = tmp_path / "ckpt.safetensors"
    save_file({"G/x": torch.zeros(1)}, str(checkpoint), metadata={"nucgan.format": "nucgan-checkpoint/1"})
    with pytest.raises(InputError, match="not a nucgan generator file"):
        load_generator(checkpoint)


def test_refuses_unknown_generator_name(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    path = tmp_path / "g.safetensors"
    save_generator(path, _gen(), name="no-such-generator", input=INPUT)
    with pytest.raises(InputError, match="no-such-generator.*no installed plugin") as info:
        load_generator(path)
    assert str(path) in str(info.value)


def test_strict_loading_lists_missing_unexpected_and_shapes(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    gen = _gen()
    state = {k: v.clone() for k, v in gen.state_dict().items()}
    meta = {"nucgan.format": FORMAT, "nucgan.name": "tiny-test", "nucgan.config": json.dumps(gen.config()),
            "nucgan.input": json.dumps(INPUT)}
    missing = dict(state)
    del missing["net.1.running_mean"]
    save_file(missing, str(tmp_path / "missing.safetensors"), metadata=meta)
    with pytest.raises(InputError, match=r"1 missing: net\.1\.running_mean"):
        load_generator(tmp_path / "missing.safetensors")
    extra = {**state, "net.9.weight": torch.zeros(2)}
    save_file(extra, str(tmp_path / "extra.safetensors"), metadata=meta)
    with pytest.raises(InputError, match=r"1 unexpected: net\.9\.weight"):
        load_generator(tmp_path / "extra.safetensors")
    wrong = {**state, "net.0.weight": torch.zeros(8, 5, 5, 5)}
    save_file(wrong, str(tmp_path / "shape.safetensors"), metadata=meta)
    with pytest.raises(InputError, match=r"shape mismatch.*net\.0\.weight \(8, 5, 5, 5\) vs \(8, 5, 3, 3\)"):
        load_generator(tmp_path / "shape.safetensors")


def test_loading_never_unpickles(tmp_path: Path, tiny_plugin, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    path = tmp_path / "g.safetensors"
    save_generator(path, _gen(), name="tiny-test", input=INPUT)

    def forbidden(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a pickle loader was called")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    load_generator(path)


def test_read_info_needs_no_generator(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    path = tmp_path / "g.safetensors"
    save_generator(path, _gen(), name="someone-elses-generator", input=INPUT)
    info = read_info(path)
    assert info.name == "someone-elses-generator" and info.sha256 == ""


def test_resolve_model_accepts_file_run_folder_entry_folder(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    from nucgan.zoo import load, resolve_model
    from nucgan.zoo.publishing import publish

    run = make_run(tmp_path / "run")
    assert resolve_model(run) == run / "generator.safetensors"
    assert resolve_model(str(run / "generator.safetensors")) == run / "generator.safetensors"
    report = publish(run, "tiny-test", tmp_path / "myzoo", license="CC0-1.0", authors=["t"])
    assert resolve_model(report.folder) == report.folder / "generator.safetensors"
    model = load(report.folder)
    assert model.manifest["id"] == "tiny-test" and model.input.normalization.to_json() == INPUT["normalization"]
    with pytest.raises(InputError, match="no such file or folder"):
        resolve_model(tmp_path / "nothing.safetensors")
    with pytest.raises(InputError, match="no such file or folder"):
        resolve_model("runs/nothing")
    with pytest.raises(InputError, match="not a zoo id"):
        resolve_model("Not An Id")
    with pytest.raises(InputError, match="not a training run"):
        resolve_model(tmp_path)


def _with_config(tmp_path: Path, **config: object) -> Path:
    """A tiny-test generator file whose stored config is overridden by ``config`` (the tensors unchanged)."""
    gen = _gen()
    path = tmp_path / "hostile.safetensors"
    stored = json.dumps({**gen.config(), **config})
    meta = {"nucgan.format": FORMAT, "nucgan.name": "tiny-test", "nucgan.config": stored,
            "nucgan.input": json.dumps(INPUT)}
    save_file(gen.state_dict(), str(path), metadata=meta)
    return path


@pytest.mark.parametrize("config, words", [
    ({"filters": 10 ** 30}, "cannot rebuild generator 'tiny-test' from its stored config: "),
    ({"filters": 10 ** 9}, "shape mismatch (file vs model): net.0.weight (8, 5, 3, 3) vs (1000000000, 5, 3, 3)"),
    ({"in_channels": 10 ** 8, "filters": 10 ** 8}, "shape mismatch"),
    ({"depth": "x"}, "cannot rebuild generator 'tiny-test' from its stored config: "),
])
def test_hostile_config_is_checked_on_the_meta_device(tmp_path: Path, tiny_plugin,  # noqa: F811
                                                      config: dict[str, object], words: str) -> None:
    """An absurd stored config costs no memory: built on the meta device, refused before any real allocation."""
    path = _with_config(tmp_path, **config)
    with pytest.raises(InputError) as info:
        load_generator(path)  # 10**9 filters would be 180 GB of real float32 weights
    message = str(info.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message
    assert "frame #" not in message and len(message) < 1000  # torch's C++ trace is cut off


def test_architecture_is_built_for_real_only_once_the_shapes_fit(tmp_path: Path, tiny_plugin,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The first build happens on the meta device; a real one only after the header's shapes matched."""
    import nucgan.registry

    devices: list[str] = []
    create = nucgan.registry.create_generator

    def spy(name: str, **kwargs: object) -> object:
        devices.append(str(torch.empty(0).device))
        return create(name, **kwargs)

    monkeypatch.setattr(nucgan.registry, "create_generator", spy)
    good = tmp_path / "g.safetensors"
    save_generator(good, _gen(), name="tiny-test", input=INPUT)
    generator, _ = load_generator(good)
    assert devices == ["meta", "cpu"] and next(generator.parameters()).device.type == "cpu"
    devices.clear()
    with pytest.raises(InputError, match="shape mismatch"):
        load_generator(_with_config(tmp_path, filters=4))
    assert devices == ["meta"]


@pytest.mark.parametrize("header, words", [
    (b"[" * 100_000, "header is not JSON"),
    (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, ' + b"9" * 5000 + b"]}}", "header is not JSON"),
    (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, Infinity]}}', "no valid data offsets"),
], ids=["nested", "digits", "infinity"])
def test_pathological_headers_are_input_errors(tmp_path: Path, header: bytes, words: str) -> None:
    """Deep nesting, huge integers or Infinity in the safetensors header: one clear line naming the file."""
    path = tmp_path / "odd.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(InputError, match=words) as info:
        load_generator(path)
    assert str(info.value).startswith(f"{path}: ")


def test_header_shape_that_is_not_a_shape_is_refused(tmp_path: Path, tiny_plugin) -> None:  # noqa: F811
    """A header entry whose shape is not a list of sizes is refused before any tensor is read."""
    path = tmp_path / "g.safetensors"
    save_generator(path, _gen(), name="tiny-test", input=INPUT)
    data = path.read_bytes()
    end = 8 + int.from_bytes(data[:8], "little")
    header = json.loads(data[8:end])
    header["net.0.weight"]["shape"] = "big"
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[end:])
    with pytest.raises(InputError, match=r"tensor 'net\.0\.weight' has no valid shape"):
        load_generator(path)


@pytest.mark.parametrize("config", ["[" * 100_000, '{"filters": ' + "9" * 5000 + "}"], ids=["nested", "digits"])
def test_pathological_stored_config_is_an_input_error(tmp_path: Path, tiny_plugin, config: str) -> None:  # noqa: F811
    """A stored config JSON nested too deeply or holding a huge integer is 'not valid JSON', not a crash."""
    path = tmp_path / "g.safetensors"
    save_file(_gen().state_dict(), str(path), metadata={"nucgan.format": FORMAT, "nucgan.name": "tiny-test",
                                                        "nucgan.config": config, "nucgan.input": json.dumps(INPUT)})
    with pytest.raises(InputError, match="metadata nucgan.config is not valid JSON"):
        read_info(path)
