"""The zoo shipped in zoo/: consistent, offline, its placeholders honest, packaged for non-editable installs."""

from __future__ import annotations

import inspect
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nucgan.zoo
from nucgan.zoo import PlaceholderError
from nucgan.zoo.index import Zoo, shipped_zoo
from nucgan.zoo.publishing import publish
from zoo_server import make_run, tiny_plugin, zoo_env  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDERS = ["mouse-3x-k5", "mouse-3x-k7", "zebrafish-1x-k7", "zebrafish-2x-k7", "zebrafish-3x-k5",
                "zebrafish-3x-k7"]


def test_shipped_zoo_is_the_checkout_folder_and_consistent() -> None:
    assert shipped_zoo() == ROOT / "zoo"
    zoo = Zoo(str(shipped_zoo()))
    entries = zoo.entries()
    assert {e["id"] for e in entries if e["kind"] == "placeholder"} == set(PLACEHOLDERS)
    for entry in entries:  # every manifest valid, hashes as the index says
        manifest = zoo.manifest(entry)
        for ref in (manifest.get("card"), manifest.get("cover"), manifest.get("weights")):
            if ref:
                path = shipped_zoo() / entry["path"] / ref["file"]
                assert path.stat().st_size == ref["size"], path
    assert all(v.ok for v in nucgan.zoo.verify(str(shipped_zoo())))


def test_listing_the_shipped_zoo_needs_no_network(zoo_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("NUCGAN_OFFLINE", "1")
    rows, unreachable = nucgan.zoo.list_entries()
    assert unreachable == []
    assert {r.id for r in rows} >= set(PLACEHOLDERS)


@pytest.mark.parametrize("ident", PLACEHOLDERS)
def test_placeholder_pull_says_why_and_gives_exact_commands(zoo_env, ident: str) -> None:  # noqa: F811
    with pytest.raises(PlaceholderError) as info:
        nucgan.zoo.pull(ident, quiet=True)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{ident}: no trained weights ship with nucgan")
    assert ("zebrafish" if ident.startswith("zebrafish") else "mouse") in text
    assert f"`nucgan train " in text and "--preset paper" in text and f"--out runs/{ident}`" in text
    assert f"`nucgan zoo publish runs/{ident} --id {ident} --to my-zoo/`" in text
    with pytest.raises(PlaceholderError):
        nucgan.zoo.load(ident)
    assert not (zoo_env / "entries").exists()  # nothing cached, nothing faked


def test_placeholder_recipes_use_real_train_flags_and_generator_kwargs(tiny_plugin) -> None:  # noqa: F811
    """Each recipe's flags exist in `nucgan train` and its generator config binds to the registered generator."""
    import typer

    from nucgan.cli.app import app

    root = typer.main.get_command(app)
    train = root.commands["train"]
    flags = {opt for p in train.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    from nucgan.registry import resolve

    zoo = Zoo(str(shipped_zoo()))
    for entry in zoo.entries():
        manifest = zoo.manifest(entry)
        if manifest["kind"] != "placeholder":
            continue
        words = shlex.split(manifest["recipe"]["train"])
        assert words[:2] == ["nucgan", "train"]
        used = {w for w in words if w.startswith("--")}
        assert used <= flags, (entry["id"], used - flags)
        publish_words = shlex.split(manifest["recipe"]["publish"])
        assert publish_words[:3] == ["nucgan", "zoo", "publish"] and publish_words[4:6] == ["--id", entry["id"]]
        factory = resolve("generators", manifest["generator"]["name"]).spec.load()  # unknown name: fails
        inspect.signature(factory).bind(**manifest["generator"]["config"])


def test_a_published_model_takes_over_from_its_placeholder(tmp_path: Path, zoo_env) -> None:  # noqa: F811
    mine = tmp_path / "my-zoo"
    publish(make_run(tmp_path / "run"), "zebrafish-3x-k7", mine, license="CC-BY-4.0", authors=["me"])
    model = nucgan.zoo.load("zebrafish-3x-k7", [str(mine)])
    assert model.manifest["kind"] == "model" and model.manifest["authors"] == ["me"]
    rows, _ = nucgan.zoo.list_entries([str(mine)])
    kinds = {(r.id, r.kind) for r in rows if r.id == "zebrafish-3x-k7"}
    assert kinds == {("zebrafish-3x-k7", "model")}


def test_every_package_is_listed_when_pyproject_lists_them() -> None:
    """An explicit package list (needed to ship zoo/ as nucgan_zoo) must not forget a new subpackage."""
    tomllib = pytest.importorskip("tomllib")
    setuptools_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = setuptools_cfg["packages"]
    assert isinstance(listed, list), "pyproject.toml must list packages explicitly to ship zoo/ as nucgan_zoo"
    on_disk = {init.parent.relative_to(base).as_posix().replace("/", ".")
               for base, top in ((ROOT, "nucgan"), (ROOT / "plugins", "nucgan_builtins"))
               for init in (base / top).rglob("__init__.py") if "__pycache__" not in init.parts}
    assert on_disk <= set(listed), sorted(on_disk - set(listed))
    assert "nucgan_zoo" in listed


def test_non_editable_wheel_ships_the_zoo(tmp_path: Path) -> None:
    """Build a wheel from a copy of the checkout, install it to a folder, and find the zoo there offline."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    src = tmp_path / "src"
    for name in files:
        if (ROOT / name).is_file() and not name.startswith(("tests/", "benchmarks/", "docs/")):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("nucgan-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nucgan_zoo/index.json" in names
    for ident in PLACEHOLDERS:
        assert f"nucgan_zoo/{ident}/manifest.json" in names and f"nucgan_zoo/{ident}/README.md" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target), "NUCGAN_OFFLINE": "1", "NUCGAN_CACHE": str(tmp_path / "c")}
    env.pop("NUCGAN_ZOO", None)
    code = ("import json, nucgan, nucgan.zoo; rows, bad = nucgan.zoo.list_entries(); "
            "print(json.dumps([nucgan.__file__, str(nucgan.zoo.shipped_zoo()), sorted(r.id for r in rows), bad]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            check=True)
    module, zoo, ids, bad = json.loads(result.stdout.strip().splitlines()[-1])
    assert module.startswith(str(target)) and zoo == str(target / "nucgan_zoo")
    assert set(PLACEHOLDERS) <= set(ids) and bad == []
