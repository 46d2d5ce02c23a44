"""`nucgan zoo ...`: list, show, pull, verify, publish, reindex, cache list|clear|dir; errors are one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from zoo_server import make_run, tiny_plugin, zoo_env  # noqa: F401


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Run the console script's main() in-process; returns (exit code, stdout, stderr)."""
    from nucgan.cli import main

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["nucgan", *args])
        with pytest.raises(SystemExit) as info:
            main()
        captured = capsys.readouterr()
        return int(info.value.code or 0), captured.out, captured.err

    return run


def test_publish_pull_verify_cache_round_trip(cli, tmp_path: Path, zoo_env: Path) -> None:  # noqa: F811
    run = make_run(tmp_path / "run")
    zoo = tmp_path / "zoo"
    code, out, err = cli("zoo", "publish", str(run), "--id", "tiny-test", "--to", str(zoo), "--license", "MIT",
                         "--author", "A", "--author", "B", "--half")
    assert code == 0, err
    assert "published tiny-test@1" in out and "float16 drift" in out and "note: cover taken from" in err
    code, out, err = cli("zoo", "publish", str(run), "--id", "tiny-test", "--to", str(zoo))
    assert code == 2 and err.strip().startswith("error: ") and "already published" in err
    assert len(err.strip().splitlines()) == 1

    code, out, _ = cli("zoo", "list", "--zoo", str(zoo), "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["tiny-test"]["kind"] == "model" and not rows["tiny-test"]["cached"]
    assert rows["zebrafish-3x-k7"]["kind"] == "placeholder"

    code, out, err = cli("zoo", "pull", "tiny-test", "--zoo", str(zoo), "-q")
    weights = Path(out.strip())
    assert code == 0 and weights.is_file() and weights.parent == zoo_env / "blobs" / "sha256"
    code, out, _ = cli("zoo", "show", "tiny-test", "--zoo", str(zoo))
    assert code == 0 and "tiny-test@1 (model)" in out and "authors A, B" in out and "# tiny-test" in out
    code, out, _ = cli("zoo", "verify")
    assert code == 0 and "tiny-test@1: ok" in out
    code, out, _ = cli("zoo", "cache", "list", "--json")
    listing = json.loads(out)
    assert listing["cache"] == str(zoo_env) and [e["id"] for e in listing["entries"]] == ["tiny-test"]
    code, out, _ = cli("zoo", "cache", "dir")
    assert out.strip() == str(zoo_env)
    code, out, _ = cli("zoo", "cache", "clear", "tiny-test")
    assert code == 0 and "removed 1 entry" in out and not weights.exists()
    code, out, _ = cli("zoo", "verify")
    assert code == 0 and "cache is empty" in out


def test_verify_failure_exits_2(cli, tmp_path: Path, zoo_env: Path) -> None:  # noqa: F811
    zoo = tmp_path / "zoo"
    assert cli("zoo", "publish", str(make_run(tmp_path / "run")), "--id", "tiny-test", "--to", str(zoo))[0] == 0
    test_file = zoo / "tiny-test" / "1" / "test.safetensors"
    test_file.write_bytes(test_file.read_bytes()[:-8] + b"\0" * 8)
    code, out, err = cli("zoo", "verify", str(zoo))
    assert code == 2 and "FAILED" in out and "error: verification failed for tiny-test@1" in err


def test_reindex_command(cli, tmp_path: Path, zoo_env: Path) -> None:  # noqa: F811
    zoo = tmp_path / "zoo"
    cli("zoo", "publish", str(make_run(tmp_path / "run")), "--id", "tiny-test", "--to", str(zoo))
    (zoo / "index.json").unlink()
    code, out, _ = cli("zoo", "reindex", str(zoo))
    assert code == 0 and json.loads((zoo / "index.json").read_text())["entries"][0]["id"] == "tiny-test"


def test_console_script_placeholder_and_bad_ids(tmp_path: Path) -> None:
    """The real `nucgan` process: one line on stderr, exit 2, no traceback."""
    env = {**os.environ, "NUCGAN_CACHE": str(tmp_path / "cache"), "NUCGAN_OFFLINE": "1"}
    env.pop("NUCGAN_ZOO", None)
    for args, expected in ((["zoo", "pull", "zebrafish-3x-k7"], "nucgan zoo publish runs/zebrafish-3x-k7"),
                           (["zoo", "pull", "../../etc/passwd"], "invalid id"),
                           (["zoo", "show", "zebrafish-3x-k8"], "did you mean 'zebrafish-3x-k7'")):
        result = subprocess.run([sys.executable, "-m", "nucgan", *args], env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_pull_refuses_weights_that_can_never_load(cli, tmp_path: Path, zoo_env: Path) -> None:  # noqa: F811
    """Checksums that match a manifest are not enough: weights of another architecture fail at pull, not at use."""
    import hashlib

    import nucgan
    from nucgan.modelfile import save_generator

    zoo = tmp_path / "zoo"
    assert cli("zoo", "publish", str(make_run(tmp_path / "run")), "--id", "tiny-test", "--to", str(zoo))[0] == 0
    entry = zoo / "tiny-test" / "1"
    manifest = json.loads((entry / "manifest.json").read_text())
    weights = entry / manifest["weights"]["file"]
    save_generator(weights, nucgan.create_generator("unet", in_channels=5, filters=3, levels=1), name="unet",
                   input={"channels": 4, "merged": True, "gap": 2, "layerer": "coloring"})
    data = weights.read_bytes()
    manifest["weights"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (entry / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert cli("zoo", "reindex", str(zoo))[0] == 0
    code, out, err = cli("zoo", "pull", "tiny-test", "--zoo", str(zoo), "-q")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "tiny-test@1: weights: the file's generator" in err and "differs from the manifest's" in err
    code, out, _ = cli("zoo", "cache", "list", "--json")
    assert json.loads(out)["entries"] == []  # not recorded as pulled
