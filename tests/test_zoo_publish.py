"""publish: run folder -> tested entry, atomic index update, no overwrite; verify re-hashes and re-tests."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

import nucgan.zoo
from nucgan.errors import InputError
from nucgan.zoo import ZooError
from nucgan.zoo.manifest import validate_index, validate_manifest
from nucgan.zoo.publishing import publish
from zoo_server import INPUT, make_run, tiny_plugin, tiny_png, zoo_env  # noqa: F401


def test_publish_builds_a_complete_tested_entry(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    run = make_run(tmp_path / "run")
    report = publish(run, "tiny-test", tmp_path / "zoo", license="CC0-1.0", authors=["A. Author"],
                     description="tiny test model")
    folder = tmp_path / "zoo" / "tiny-test" / "1"
    assert report.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "cover.png", "generator.safetensors",
                                                       "manifest.json", "test.safetensors"]
    manifest = validate_manifest(json.loads((folder / "manifest.json").read_text()), "m")
    assert manifest["generator"] == {"name": "tiny-test", "config": {"in_channels": 5, "filters": 8, "depth": 1}}
    assert manifest["input"]["normalization"] == INPUT["normalization"]
    assert manifest["training"]["command"].startswith("nucgan train") and manifest["training"]["steps"] == 20
    assert manifest["training"]["final_log"] == {"step": 20, "loss_g": 2.5}
    assert manifest["training"]["split"] == "rows 0..256, cols 0..512"
    assert manifest["training"]["data"]["sources"] == {"image": "img.tif", "labels": "lbl.tif"}
    assert manifest["metrics"]["values"]["fidelity"]["psnr"] == 20.5 and manifest["metrics"]["split"] == "test"
    assert manifest["weights"]["dtype"] == "float32" and manifest["test"]["atol"] == 1e-3
    assert (folder / "cover.png").read_bytes() == tiny_png()
    card = (folder / "README.md").read_text()
    assert "psnr | 20.5" in card and "nucgan zoo pull tiny-test@1" in card and "CC0-1.0" in card
    index = validate_index(json.loads((tmp_path / "zoo" / "index.json").read_text()), "i")
    assert [(e["id"], e["version"], e["path"]) for e in index["entries"]] == [("tiny-test", "1", "tiny-test/1")]
    assert [p.name for p in (tmp_path / "zoo").iterdir() if p.name.startswith(".staging")] == []
    verdicts = nucgan.zoo.verify(str(tmp_path / "zoo"))
    assert [(v.id, v.ok) for v in verdicts] == [("tiny-test", True)] and verdicts[0].max_diff < 1e-5


def test_published_entry_reproduces_the_run(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    from nucgan.modelfile import load_generator
    from nucgan.zoo.check import read_test

    run = make_run(tmp_path / "run", filters=16)
    publish(run, "tiny-test", tmp_path / "zoo", license="MIT", authors=["a"])
    original, _ = load_generator(run / "generator.safetensors")
    x, expected = read_test(tmp_path / "zoo" / "tiny-test" / "1" / "test.safetensors")
    assert x.shape == (1, 5, 64, 64) and set(x.ravel().tolist()) == {-1.0, 1.0}
    with torch.no_grad():
        assert torch.equal(original(torch.from_numpy(x)), torch.from_numpy(expected))


def test_missing_parts_are_reported_not_silent(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    run = make_run(tmp_path / "run", complete=False)
    report = publish(run, "tiny-test", tmp_path / "zoo")
    text = " | ".join(report.notes)
    for gap in ("config.json", "evaluation/metrics.json", "metrics.jsonl", "cover", "license", "authors"):
        assert gap in text, gap
    m = report.manifest
    assert m["metrics"] is None and m["cover"] is None and m["training"]["command"] is None
    assert m["license"] == "unspecified"
    assert "Not evaluated" in (report.folder / "README.md").read_text()


def test_explicit_cover_and_half(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    from nucgan.zoo.check import read_test

    run = make_run(tmp_path / "run", filters=32)
    cover = tmp_path / "c.png"
    cover.write_bytes(tiny_png(8, 3))
    full = publish(run, "tiny-test", tmp_path / "zoo", license="MIT", authors=["a"])
    half = publish(run, "tiny-test", tmp_path / "zoo", version="2", half=True, cover=cover, license="MIT",
                   authors=["a"])
    assert half.manifest["weights"]["dtype"] == "float16"
    assert half.manifest["weights"]["size"] < 0.6 * full.manifest["weights"]["size"]
    assert 0 < half.half_drift < 0.05
    assert (half.folder / "cover.png").read_bytes() == cover.read_bytes()
    _, expected_half = read_test(half.folder / "test.safetensors")
    _, expected_full = read_test(full.folder / "test.safetensors")
    assert abs(expected_half - expected_full).max() == pytest.approx(half.half_drift)
    assert all(v.ok for v in nucgan.zoo.verify(str(tmp_path / "zoo")))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"GIF89a....")
    with pytest.raises(InputError, match="not a PNG"):
        publish(run, "tiny-test", tmp_path / "zoo", version="3", cover=bad)


def test_refuses_to_overwrite_an_existing_version(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    run = make_run(tmp_path / "run")
    publish(run, "tiny-test", tmp_path / "zoo")
    before = (tmp_path / "zoo" / "index.json").read_bytes()
    entry = (tmp_path / "zoo" / "tiny-test" / "1" / "generator.safetensors").read_bytes()
    with pytest.raises(ZooError, match=r"tiny-test@1 is already published.*--version 2"):
        publish(make_run(tmp_path / "run2", seed=3), "tiny-test", tmp_path / "zoo")
    assert (tmp_path / "zoo" / "index.json").read_bytes() == before
    assert (tmp_path / "zoo" / "tiny-test" / "1" / "generator.safetensors").read_bytes() == entry


def test_failing_entry_test_publishes_nothing(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    run = make_run(tmp_path / "run", name="noisy-test")
    publish(make_run(tmp_path / "ok"), "tiny-test", tmp_path / "zoo")
    before = (tmp_path / "zoo" / "index.json").read_bytes()
    with pytest.raises(ZooError, match="entry's test failed.*max \\|output - expected\\|"):
        publish(run, "noisy", tmp_path / "zoo")
    assert (tmp_path / "zoo" / "index.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "zoo").iterdir()) == ["index.json", "tiny-test"]


@pytest.mark.parametrize("problem, message", [
    ("no-weights", "no generator.safetensors"),
    ("no-normalization", "no intensity mapping"),
    ("wrong-channels", "input says 3 channel"),
    ("bad-id", "invalid id"),
    ("bad-version", "invalid version"),
    ("url", "publish writes to a folder"),
])
def test_refuses_bad_runs_and_arguments(tmp_path: Path, zoo_env, problem: str, message: str) -> None:  # noqa: F811
    ident, version, to = "tiny-test", "1", str(tmp_path / "zoo")
    if problem == "no-weights":
        run = tmp_path / "empty"
        run.mkdir()
    elif problem == "no-normalization":
        run = make_run(tmp_path / "run", inputs={"channels": 4, "merged": True, "gap": 2}, complete=False)
    elif problem == "wrong-channels":
        from safetensors import safe_open  # save_generator refuses this; another writer's file may still say it
        from safetensors.torch import load_file, save_file

        run = make_run(tmp_path / "run", complete=False)
        weights = run / "generator.safetensors"
        with safe_open(str(weights), "pt") as fh:
            meta = fh.metadata()
        meta["nucgan.input"] = json.dumps({**INPUT, "channels": 3, "merged": False})
        save_file(load_file(str(weights)), str(weights), metadata=meta)
    else:
        run = make_run(tmp_path / "run", complete=False)
        ident = "../evil" if problem == "bad-id" else ident
        version = "1/../2" if problem == "bad-version" else version
        to = "https://example.org/zoo" if problem == "url" else to
    with pytest.raises((InputError, ZooError), match=message):
        publish(run, ident, to, version=version)
    assert not (tmp_path / "zoo" / "index.json").exists()


def test_concurrent_publishes_both_land_in_the_index(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    runs = [make_run(tmp_path / f"run{i}", seed=i) for i in range(3)]
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            publish(runs[i], f"model-{i}", tmp_path / "zoo")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    index = json.loads((tmp_path / "zoo" / "index.json").read_text())
    assert [e["id"] for e in index["entries"]] == ["model-0", "model-1", "model-2"]


def test_verify_catches_a_corrupted_cached_file_and_load_refuses_it(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    publish(make_run(tmp_path / "run"), "tiny-test", tmp_path / "zoo")
    pulled = nucgan.zoo.pull("tiny-test", [str(tmp_path / "zoo")], quiet=True)
    assert [v.ok for v in nucgan.zoo.verify()] == [True]
    data = bytearray(pulled.weights.read_bytes())
    data[-5] ^= 0x01
    pulled.weights.write_bytes(bytes(data))
    verdict = nucgan.zoo.verify("tiny-test")[0]
    assert not verdict.ok and "differs from the manifest" in verdict.problems[0]
    with pytest.raises(nucgan.zoo.ChecksumError, match="cache clear tiny-test"):
        nucgan.zoo.load("tiny-test")
    with pytest.raises(ZooError, match="not in the cache"):
        nucgan.zoo.verify("other-model")


def test_verify_runs_the_test_against_the_installed_architecture(tmp_path: Path, zoo_env,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from zoo_server import TinyGen

    publish(make_run(tmp_path / "run"), "tiny-test", tmp_path / "zoo")
    original = TinyGen.forward
    monkeypatch.setattr(TinyGen, "forward", lambda self, x: original(self, x) * 0.9)  # the plugin changed
    verdict = nucgan.zoo.verify(str(tmp_path / "zoo"))[0]
    assert not verdict.ok and "entry test failed" in verdict.problems[0]


def test_reindex_rebuilds_the_index(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    from nucgan.zoo.publishing import reindex

    publish(make_run(tmp_path / "run"), "tiny-test", tmp_path / "zoo")
    publish(make_run(tmp_path / "run"), "tiny-test", tmp_path / "zoo", version="1.1")
    index_path = tmp_path / "zoo" / "index.json"
    before = json.loads(index_path.read_text())
    index_path.unlink()
    reindex(tmp_path / "zoo")
    assert json.loads(index_path.read_text())["entries"] == before["entries"]


def test_a_bare_id_loads_the_newest_version_not_an_older_cached_one(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    """A user who cached version 1 gets version 2 once a local zoo lists it; a pinned version stays pinned."""
    zoo = [str(tmp_path / "zoo")]
    publish(make_run(tmp_path / "run1", seed=1), "tiny-test", tmp_path / "zoo")
    first = nucgan.zoo.load("tiny-test", zoo)
    publish(make_run(tmp_path / "run2", seed=2), "tiny-test", tmp_path / "zoo", version="2")
    newest = nucgan.zoo.load("tiny-test", zoo)
    assert newest.manifest["version"] == "2" and newest.info.sha256 != first.info.sha256
    assert nucgan.zoo.load("tiny-test@1", zoo).info.sha256 == first.info.sha256
    (tmp_path / "zoo" / "index.json").unlink()  # the zoo gone: the newest cached copy still serves
    assert nucgan.zoo.load("tiny-test", zoo).manifest["version"] == "2"
