"""``publish``: a training run folder -> a tested zoo entry folder, added to the zoo's index atomically."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from nucgan.errors import InputError
from nucgan.zoo.errors import ZooError
from nucgan.zoo.fsutil import atomic_write_bytes, file_lock, fsync_dir, sha256_file
from nucgan.zoo.index import INDEX_FILE, MANIFEST_FILE
from nucgan.zoo.manifest import INDEX_FORMAT, dumps, parse_json, validate_index, validate_manifest
from nucgan.zoo.names import check_id, check_version, version_key

if TYPE_CHECKING:
    from nucgan.inputs import InputSettings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEFAULT_ATOL = 1e-3


@dataclass
class RunContents:
    """What a run folder provides; ``notes`` says what it lacks."""

    weights: Path
    config: dict[str, Any] | None
    last_log: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    cover: Path | None
    notes: list[str] = field(default_factory=list)


@dataclass
class PublishReport:
    """The published entry: where it is, its manifest, its test result and what was missing."""

    folder: Path
    index: Path
    manifest: dict[str, Any]
    test_max_diff: float
    half_drift: float | None
    notes: list[str]


def read_run(run: Path, cover: Path | None = None) -> RunContents:
    """Collect a run folder's weights, config, last log line, evaluation metrics and cover picture."""
    from nucgan.modelfile import RUN_WEIGHTS

    if not run.is_dir():
        raise InputError(f"{run}: no such run folder")
    weights = run / RUN_WEIGHTS
    if not weights.is_file():
        raise InputError(f"{run}: no {RUN_WEIGHTS}; is it a training run folder (nucgan train --out)?")
    notes: list[str] = []
    config = _read_json(run / "config.json", notes, "training config (data, steps, seed, command unknown)")
    evaluation = _read_json(run / "evaluation" / "metrics.json", notes,
                            "evaluation metrics (run `nucgan evaluate` on the run first)")
    last_log = None
    log = run / "metrics.jsonl"
    if log.is_file():
        lines = [line for line in log.read_text("utf-8", errors="replace").splitlines() if line.strip()]
        try:
            last_log = json.loads(lines[-1]) if lines else None
        except (ValueError, RecursionError):  # not JSON, nested too deeply, an integer too long
            notes.append(f"{log}: last line is not JSON; training log not summarised")
    else:
        notes.append(f"no {log.name}: training log not summarised")
    if cover is None:
        candidates = [run / "evaluation" / "cover.png", run / "evaluation" / "figure.png",
                      *sorted((run / "samples").glob("*.png"))[-1:]]
        cover = next((c for c in candidates if c.is_file()), None)
        if cover is None:
            notes.append("no cover picture (pass --cover PNG, or keep evaluation/figure.png or samples/*.png)")
        else:
            notes.append(f"cover taken from {cover.relative_to(run)}")
    if cover is not None:
        try:
            if cover.read_bytes()[:8] != PNG_MAGIC:
                raise InputError(f"{cover}: not a PNG file")
        except OSError as exc:
            raise InputError(f"{cover}: cannot read cover ({exc.strerror or exc})") from None
    return RunContents(weights, config, last_log if isinstance(last_log, dict) else None, evaluation, cover, notes)


def _read_json(path: Path, notes: list[str], what: str) -> dict[str, Any] | None:
    if not path.is_file():
        notes.append(f"no {path.parent.name}/{path.name}: {what}" if path.parent.name == "evaluation"
                     else f"no {path.name}: {what}")
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except RecursionError:
        raise InputError(f"{path}: not valid JSON (nested too deeply)") from None
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8, bad JSON, an integer beyond the digit limit
        raise InputError(f"{path}: not valid JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def _training(run: RunContents, extra: dict[str, Any]) -> dict[str, Any]:
    cfg = run.config or {}
    region = cfg.get("region")
    data = ({"dataset": cfg.get("dataset"), "sources": cfg.get("sources"), "region": region}
            if "sources" in cfg or "dataset" in cfg else extra.get("data"))
    split = cfg.get("split") or extra.get("split") or _region_text(region)
    steps = cfg.get("steps", extra.get("steps"))
    seed = cfg.get("seed", extra.get("seed"))
    training = {
        "data": data, "split": split if isinstance(split, str) else None,
        "steps": steps if isinstance(steps, int) and not isinstance(steps, bool) else None,
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "command": (cfg.get("command") or extra.get("command") or None),
        "preset": cfg.get("preset", extra.get("preset")),
        # the recipe is ``command``, then each resume in order (from_step, steps, command)
        "resumed": cfg.get("resumed") or [],
    }
    if run.config is not None:
        training["config"] = run.config
    if run.last_log is not None:
        training["final_log"] = run.last_log
    return training


def _region_text(region: Any) -> str | None:
    """The training region as the split it stands for: ``train``, or ``rows 0..256, cols 0..512``."""
    if isinstance(region, str) and region:
        return region
    if isinstance(region, (list, tuple)) and len(region) == 4:
        return f"rows {region[0]}..{region[1]}, cols {region[2]}..{region[3]}"
    return None


def _inputs(settings: "InputSettings", in_channels: int, weights: Path) -> "InputSettings":
    """The model file's input settings, refused when a zoo entry could not use them."""
    if settings.normalization is None:
        raise InputError(f"{weights}: the model file's input settings have no intensity mapping (normalization); "
                         f"a zoo entry must say how its output maps back to intensities")
    if settings.in_channels != in_channels:
        raise InputError(f"{weights}: input says {settings.channels} channel(s){' + merged' if settings.merged else ''}"
                         f" but the generator takes {in_channels}")
    return settings


def publish(run: str | os.PathLike[str], id: str, to: str | os.PathLike[str], *, version: str = "1",
            half: bool = False, cover: str | os.PathLike[str] | None = None, description: str | None = None,
            license: str | None = None, authors: Sequence[str] | None = None, reference: str | None = None,
            atol: float | None = None, half_tolerance: float = 0.05,
            downstream: str | os.PathLike[str] | None = None) -> PublishReport:
    """Turn a run folder into the zoo entry ``id@version`` inside the folder zoo ``to`` (created if needed).

    The entry's test runs on the written files before the entry becomes visible; an existing
    ``id@version`` is never overwritten. ``downstream`` (a ``nucgan downstream`` results.json or its
    folder, made with this run's weights) goes into the manifest and the card.
    """
    from nucgan import __version__
    from nucgan.modelfile import load_generator, save_generator
    from nucgan.zoo.card import render_card
    from nucgan.zoo.check import forward, make_test_input, verify_files, write_test

    check_id(id, "--id")
    check_version(version, "--version")
    if atol is not None and not atol > 0:
        raise InputError(f"--atol must be > 0, got {atol}")
    zoo = _zoo_folder(to)
    _refuse_existing(zoo, id, version)
    run_path = Path(run)
    contents = read_run(run_path, Path(cover) if cover is not None else None)
    notes = list(contents.notes)

    generator, info = load_generator(contents.weights)
    inputs = _inputs(info.input, generator.in_channels, contents.weights)
    downstream_record = None
    if downstream is not None:
        from nucgan.zoo.downstream_record import read_downstream

        downstream_record = read_downstream(downstream, info.sha256)
        if half and info.dtype != "float16":
            raise InputError(f"{contents.weights}: the downstream table measured these float32 weights; --half "
                             f"would publish other (float16) weights: publish without --half, or measure a "
                             f"float16 copy of the run")
    training = _training(contents, info.extra)
    if license is None:
        notes.append("license unspecified (pass --license)")
    if not authors:
        notes.append("authors unknown (pass --author)")

    x = make_test_input(generator.in_channels, inputs.merged, int(getattr(generator, "size_multiple", 1)))
    reference_output = forward(generator, x)

    stage = zoo / f".staging-{id}-{version}-{os.getpid()}-{secrets.token_hex(3)}"
    stage.mkdir(parents=True)
    try:
        weights_sha = save_generator(stage / "generator.safetensors", generator, name=info.name, input=inputs,
                                     extra={**info.extra, "zoo": {"id": id, "version": version}}, half=half)
        shipped, _ = load_generator(stage / "generator.safetensors")
        shipped_output = forward(shipped, x)
        half_drift = None
        if half:
            half_drift = float(abs(shipped_output - reference_output).max())
            if not half_drift <= half_tolerance:
                raise ZooError(f"{id}@{version}: float16 weights change the test output by {half_drift:.3g} "
                               f"(> {half_tolerance:g}); publish without --half")
        expected = shipped_output if half else reference_output  # float32: the file must reproduce the run
        test_sha = write_test(stage / "test.safetensors", x, expected)
        cover_ref = None
        if contents.cover is not None:
            shutil.copyfile(contents.cover, stage / "cover.png")
            cover_ref = _ref(stage, "cover.png")
        manifest: dict[str, Any] = {
            "format": "nucgan-zoo-manifest/1", "kind": "model", "id": id, "version": version,
            "description": description or _describe(info.name, info.config, training),
            "license": license or "unspecified", "authors": list(authors or ["unknown"]),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "nucgan": __version__,
            "generator": {"name": info.name, "config": info.config},
            "input": inputs.to_json(),
            "weights": {"file": "generator.safetensors", "format": "safetensors", "sha256": weights_sha,
                        "size": (stage / "generator.safetensors").stat().st_size,
                        "dtype": "float16" if half else "float32"},
            "training": training,
            "metrics": ({"source": "nucgan evaluate", "split": _split(contents.evaluation),
                         "values": contents.evaluation} if contents.evaluation is not None else None),
            "test": {"file": "test.safetensors", "sha256": test_sha, "size": (stage / "test.safetensors").stat().st_size,
                     "atol": float(atol or DEFAULT_ATOL), "mode": "eval"},
            "cover": cover_ref,
        }
        if downstream_record is not None:
            manifest["downstream"] = downstream_record
        if reference:
            manifest["reference"] = reference
        card_notes = [n for n in notes if not n.startswith("cover taken")]
        atomic_write_bytes(stage / "README.md",
                           render_card({**manifest, "card": None}, card_notes, "cover.png" if cover_ref else None,
                                       half_drift).encode("utf-8"))
        manifest["card"] = _ref(stage, "README.md")
        validate_manifest(json.loads(dumps(manifest)), f"{id}@{version} manifest")
        atomic_write_bytes(stage / MANIFEST_FILE, dumps(manifest))
        files = {role: stage / manifest[role]["file"] for role in ("weights", "test", "card", "cover")
                 if manifest.get(role)}
        verdict = verify_files(manifest, files, str(stage))  # the entry's own test, exactly as verify runs it
        if not verdict.ok:
            raise ZooError(f"{id}@{version}: the entry's test failed, nothing was published: "
                           f"{'; '.join(verdict.problems)}")
        folder = _commit(zoo, stage, manifest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return PublishReport(folder, zoo / INDEX_FILE, manifest, float(verdict.max_diff or 0.0), half_drift, notes)


def _zoo_folder(to: str | os.PathLike[str]) -> Path:
    text = os.fspath(to)
    if "://" in text:
        raise ZooError(f"--to {text}: publish writes to a folder; copy that folder to your web server or bucket "
                       f"afterwards (a zoo is plain static files)")
    zoo = Path(text).expanduser().resolve()
    if zoo.exists() and not zoo.is_dir():
        raise ZooError(f"--to {zoo}: not a folder")
    zoo.mkdir(parents=True, exist_ok=True)
    return zoo


def _read_index(zoo: Path) -> dict[str, Any]:
    path = zoo / INDEX_FILE
    if not path.exists():
        return {"format": INDEX_FORMAT, "entries": []}
    return validate_index(parse_json(path.read_bytes(), str(path)), str(path))


def _refuse_existing(zoo: Path, ident: str, version: str) -> None:
    index = _read_index(zoo)
    if any(e["id"] == ident and e["version"] == version for e in index["entries"]):
        raise ZooError(f"{zoo}: {ident}@{version} is already published; entries are never overwritten: "
                       f"publish with --version {_next_version(index, ident)}")
    if (zoo / ident / version).exists():
        raise ZooError(f"{zoo / ident / version}: already exists (not in the index); remove it or choose "
                       f"another --version")


def _next_version(index: dict[str, Any], ident: str) -> str:
    versions = [e["version"] for e in index["entries"] if e["id"] == ident]
    top = max(versions, key=version_key)
    return str(version_key(top)[0] + 1)


def _commit(zoo: Path, stage: Path, manifest: dict[str, Any]) -> Path:
    """Move the staged entry into place and add it to index.json, under the zoo's lock."""
    ident, version = manifest["id"], manifest["version"]
    with file_lock(zoo):
        _refuse_existing(zoo, ident, version)  # again: another publish may have won meanwhile
        index = _read_index(zoo)
        folder = zoo / ident / version
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.rename(stage, folder)
        fsync_dir(folder.parent)
        try:
            index["entries"].append(_index_row(manifest, f"{ident}/{version}",
                                               hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()))
            index["entries"].sort(key=lambda e: (e["id"], version_key(e["version"])))
            atomic_write_bytes(zoo / INDEX_FILE, dumps(index))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return folder


def _index_row(manifest: dict[str, Any], path: str, manifest_sha: str) -> dict[str, Any]:
    return {"id": manifest["id"], "version": manifest["version"], "kind": manifest["kind"], "path": path,
            "manifest_sha256": manifest_sha, "description": manifest["description"],
            "license": manifest["license"]}


def reindex(to: str | os.PathLike[str]) -> Path:
    """Rebuild a folder zoo's index.json from the manifests in it (after editing a manifest by hand)."""
    zoo = Path(to).expanduser().resolve()
    if not zoo.is_dir():
        raise ZooError(f"{zoo}: not a folder")
    with file_lock(zoo):
        old = _read_index(zoo) if (zoo / INDEX_FILE).exists() else {"format": INDEX_FORMAT, "entries": []}
        rows = []
        for path in sorted([*zoo.glob(f"*/{MANIFEST_FILE}"), *zoo.glob(f"*/*/{MANIFEST_FILE}")]):
            if any(part.startswith(".") for part in path.relative_to(zoo).parts):
                continue
            raw = path.read_bytes()
            manifest = validate_manifest(parse_json(raw, str(path)), str(path))
            rows.append(_index_row(manifest, path.parent.relative_to(zoo).as_posix(), hashlib.sha256(raw).hexdigest()))
        rows.sort(key=lambda e: (e["id"], version_key(e["version"])))
        index = {k: v for k, v in old.items() if k != "entries"}
        index["format"] = INDEX_FORMAT
        index["entries"] = rows
        validate_index(index, str(zoo / INDEX_FILE))
        atomic_write_bytes(zoo / INDEX_FILE, dumps(index))
    return zoo / INDEX_FILE


def _ref(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    return {"file": name, "sha256": sha256_file(path), "size": path.stat().st_size}


def _split(evaluation: dict[str, Any] | None) -> str | None:
    split = (evaluation or {}).get("split")
    return split if isinstance(split, str) else None


def _describe(name: str, config: dict[str, Any], training: dict[str, Any]) -> str:
    data = training.get("data")
    sources = data.get("sources") if isinstance(data, dict) else None
    on = f" trained on {json.dumps(sources, sort_keys=True)}" if sources else ""
    return f"{name} generator ({', '.join(f'{k}={v}' for k, v in sorted(config.items()))}){on}"
