"""Remote zoos over a real HTTP server on 127.0.0.1: pull, resume, corrupt files, concurrency, offline, bad ids."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import warnings
from pathlib import Path

import pytest

import nucgan.zoo
from nucgan.zoo import ChecksumError, DownloadError, UnknownModelError, ZooError
from nucgan.zoo.fsutil import sha256_file
from zoo_server import RangeServer, http_zoo, tiny_plugin, zoo_env  # noqa: F401
from zoo_worker import pull_worker

WEIGHTS = "tiny-test/1/generator.safetensors"


def _manifest(served: Path) -> dict:
    return json.loads((served / "tiny-test" / "1" / "manifest.json").read_text())


def _cache_files(cache: Path, folder: str) -> list[Path]:
    return sorted(p for p in (cache / folder).rglob("*") if p.is_file()) if (cache / folder).exists() else []


def test_pull_over_http_then_load(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    server, served = http_zoo
    pulled = nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    manifest = _manifest(served)
    assert pulled.weights == zoo_env / "blobs" / "sha256" / manifest["weights"]["sha256"]
    assert sha256_file(pulled.weights) == manifest["weights"]["sha256"]
    assert set(pulled.files) == {"weights", "test", "card", "cover"} and not pulled.from_cache
    assert [h.status for h in server.hits("generator.safetensors")] == [200]
    model = nucgan.zoo.load("tiny-test")  # from the cache, no request
    assert model.manifest["id"] == "tiny-test" and model.info.sha256 == manifest["weights"]["sha256"]
    assert len(server.hits("generator.safetensors")) == 1
    assert nucgan.zoo.verify("tiny-test")[0].ok


def test_dropped_connection_resumes_with_range_in_one_pull(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    server, served = http_zoo
    size = (served / WEIGHTS).stat().st_size
    server.cut(WEIGHTS, after=300_000, times=1)
    pulled = nucgan.zoo.pull("tiny-test@1", [server.url], quiet=True)
    assert sha256_file(pulled.weights) == _manifest(served)["weights"]["sha256"]
    hits = server.hits("generator.safetensors")
    assert [(h.status, h.range) for h in hits] == [(200, None), (206, "bytes=300000-")]
    assert sum(h.sent for h in hits) == size  # nothing downloaded twice


def test_interrupted_download_resumes_in_the_next_process(http_zoo, zoo_env: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    server, served = http_zoo
    monkeypatch.setattr("nucgan.zoo.fetch.BACKOFF", 0.01)
    size = (served / WEIGHTS).stat().st_size
    server.cut(WEIGHTS, after=250_000, times=1)
    server.cut(WEIGHTS, after=0, times=10)  # then the connection keeps dropping: the pull gives up
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    partial = zoo_env / "partial" / f"{_manifest(served)['weights']['sha256']}.part"
    assert partial.stat().st_size == 250_000
    assert _cache_files(zoo_env, "blobs") == [] or all("generator" not in p.name for p in _cache_files(zoo_env, "blobs"))
    assert not any(p.name.endswith(".part") for p in _cache_files(zoo_env, "tmp"))
    server.clear_cuts()  # the network is back
    before = len(server.hits("generator.safetensors"))
    pulled = nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    resumed = server.hits("generator.safetensors")[before:]
    assert [(h.status, h.range) for h in resumed] == [(206, "bytes=250000-")]
    assert resumed[0].sent == size - 250_000
    assert sha256_file(pulled.weights) == _manifest(served)["weights"]["sha256"]
    assert not partial.exists()


def test_download_left_by_a_killed_process_is_resumed(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    import subprocess
    import sys

    from nucgan.zoo.cache import _host

    server, served = http_zoo
    sha = _manifest(served)["weights"]["sha256"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    (zoo_env / "tmp").mkdir(parents=True)
    orphan = zoo_env / "tmp" / f"{sha}.{_host()}.{int(dead.stdout)}.beef.part"
    orphan.write_bytes((served / WEIGHTS).read_bytes()[:123_456])  # what kill -9 left behind
    pulled = nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    assert [h.range for h in server.hits("generator.safetensors")] == ["bytes=123456-"]
    assert sha256_file(pulled.weights) == sha and not orphan.exists()


def test_truncated_file_on_server_is_refused(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    server, served = http_zoo
    path = served / WEIGHTS
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ChecksumError, match="truncated") as info:
        nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    assert server.url in str(info.value)
    assert not any("generator" in str(p) for p in _cache_files(zoo_env, "blobs"))
    assert _cache_files(zoo_env, "partial") == [] and _cache_files(zoo_env, "tmp") == []
    assert not (zoo_env / "entries").exists()


def test_hash_mismatch_shows_both_hashes_and_caches_nothing(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    server, served = http_zoo
    path = served / WEIGHTS
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte flipped
    path.write_bytes(bytes(data))
    expected = _manifest(served)["weights"]["sha256"]
    with pytest.raises(ChecksumError, match="sha256 mismatch") as info:
        nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    assert expected in str(info.value) and sha256_file(path) in str(info.value)
    assert not (zoo_env / "blobs" / "sha256" / expected).exists()
    assert _cache_files(zoo_env, "partial") == [] and _cache_files(zoo_env, "tmp") == []
    assert not (zoo_env / "entries").exists()


def test_eight_processes_pull_the_same_entry_at_once(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    server, served = http_zoo
    server.delay = 0.01  # ~0.3 s per download, so the processes overlap
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=pull_worker, args=(server.url, str(zoo_env), "tiny-test", barrier, results))
             for _ in range(8)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [kind for kind, _ in outcomes] == ["ok"] * 8, outcomes
    assert len({path for _, path in outcomes}) == 1
    expected = _manifest(served)["weights"]["sha256"]
    assert sha256_file(outcomes[0][1]) == expected
    assert len(server.hits("generator.safetensors")) == 1  # the lock made the others wait, not re-download
    assert _cache_files(zoo_env, "tmp") == [] and _cache_files(zoo_env, "partial") == []


def test_second_pull_without_network_is_served_from_cache(http_zoo, zoo_env: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    server, served = http_zoo
    first = nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    server.stop()
    with pytest.warns(nucgan.zoo.ZooWarning, match="served from the cache.*not reachable"):
        again = nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    assert again.from_cache and again.weights == first.weights
    monkeypatch.setenv("NUCGAN_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # load() needs no zoo at all once cached: no warning, no request
        model = nucgan.zoo.load("tiny-test@1", [server.url])
    assert model.manifest["version"] == "1"
    with pytest.raises(UnknownModelError, match="offline"):
        nucgan.zoo.pull("other-model", [server.url], quiet=True)


def test_unknown_id_lists_known_ids_and_the_closest(http_zoo) -> None:  # noqa: F811
    server, _ = http_zoo
    with pytest.raises(UnknownModelError, match=r"unknown model 'tiny-tset'; did you mean 'tiny-test'\? known: .*"
                                                r"tiny-test.*zebrafish-3x-k7"):
        nucgan.zoo.pull("tiny-tset", [server.url], quiet=True)
    with pytest.raises(UnknownModelError, match="tiny-test has no version 7; available: 1"):
        nucgan.zoo.pull("tiny-test@7", [server.url], quiet=True)


@pytest.mark.parametrize("ref", ["../tiny-test", "tiny/test", "..", "a..b", "/etc/passwd", "Tiny", "tiny-test@../1",
                                 "tiny-test@1/../2", "tiny test", "", "tiny-test\\x"])
def test_ids_with_path_tricks_are_refused(tmp_path: Path, zoo_env, ref: str) -> None:  # noqa: F811
    server = RangeServer(tmp_path)
    try:
        with pytest.raises(ZooError, match="invalid (id|version)|non-empty"):
            nucgan.zoo.pull(ref, [server.url], quiet=True)
        assert server.log == []  # refused before any request
    finally:
        server.stop()


def test_index_or_manifest_with_path_tricks_is_refused(http_zoo, zoo_env: Path) -> None:  # noqa: F811
    from nucgan.zoo.manifest import dumps

    server, served = http_zoo
    index = json.loads((served / "index.json").read_text())
    index["entries"][0]["path"] = "../../etc"
    (served / "index.json").write_bytes(dumps(index))
    with pytest.raises(ZooError, match="unsafe path '../../etc'"):
        nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    index["entries"][0]["path"] = "tiny-test/1"
    manifest = _manifest(served)
    manifest["weights"]["file"] = "../../../secret.safetensors"
    raw = dumps(manifest)
    (served / "tiny-test" / "1" / "manifest.json").write_bytes(raw)
    import hashlib

    index["entries"][0]["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (served / "index.json").write_bytes(dumps(index))
    with pytest.raises(ZooError, match="weights.file: unsafe path"):
        nucgan.zoo.pull("tiny-test", [server.url], quiet=True)
    assert not server.hits("secret.safetensors")


def test_edited_manifest_is_caught_by_the_index_hash(http_zoo) -> None:  # noqa: F811
    server, served = http_zoo
    path = served / "tiny-test" / "1" / "manifest.json"
    path.write_text(path.read_text().replace('"CC0-1.0"', '"MIT"'))
    with pytest.raises(ZooError, match="sha256 mismatch: the index says"):
        nucgan.zoo.pull("tiny-test", [server.url], quiet=True)


def test_zoo_list_from_env_and_search_order(http_zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from nucgan.zoo.publishing import publish
    from zoo_server import make_run

    server, served = http_zoo
    other = tmp_path / "other"
    publish(make_run(tmp_path / "run2", seed=5), "tiny-test", other, version="2", license="MIT", authors=["b"])
    monkeypatch.setenv("NUCGAN_ZOO", f"{other}, {server.url}")
    # the first zoo that has the id wins (its newest version): `other` comes before the server
    pulled = nucgan.zoo.pull("tiny-test", quiet=True)
    assert pulled.ref.version == "2" and pulled.source == str(other)
    assert server.log == [] or all(not h.path.endswith(".safetensors") for h in server.log)
    pulled = nucgan.zoo.pull("tiny-test@1", quiet=True)  # only the server has version 1
    assert pulled.source == server.url
    shutil.rmtree(other)  # a folder zoo that disappeared is reported, not fatal
    rows, unreachable = nucgan.zoo.list_entries()
    assert any(str(other) in u for u in unreachable)
    assert {(r.id, r.version) for r in rows} >= {("tiny-test", "1"), ("tiny-test", "2"), ("zebrafish-3x-k7", "0")}
