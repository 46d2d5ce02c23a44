"""The training pairs of each downstream arm: real, synthetic, both, few real + synthetic, and the baselines.

Arms differ only in their training pairs; the segmenter and its budget are the same for all:

- ``real``: the real train pairs;
- ``synthetic``: ``nucgan synth`` pairs from de novo masks (the ``bank`` sampler with the real train
  nuclei's whole shapes, density matched to the real train set, as many pixels as the real train set);
- ``real+synthetic``: both; ``few-real+synthetic``: a fixed seeded 10 % of the real train pairs + synthetic;
- ``painter``, ``flat``: the SAME de novo masks painted by the non-learned baselines fitted on real train;
- ``synthetic-then-real`` (StarDist only, not in the default table): the segmenter first trains on the
  synthetic pairs, then on the real ones, :data:`PRETRAIN_SHARE` of the same budget each way round
  (:func:`split_pretrain`), validated on the real arm's own validation part in both phases.

Validation (StarDist's best weights and thresholds) comes from a seeded part of each arm's own pairs
(``own``), or, with ``real``, from its real pairs only (:func:`real_validation`): real + synthetic then
trains on the real arm's train part plus every synthetic pair and is tuned on the real arm's
validation images, as a user with annotations would tune it.

Generated data are cached under ``out/data`` by a key of everything that made them, so a rerun (or a
resumed table) reuses them and a changed model or train set makes new ones.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from nucgan.atomic import atomic_path
from nucgan.errors import InputError
from nucgan.zoo.fsutil import sha256_file

ARMS = ("real", "synthetic", "real+synthetic", "few-real+synthetic", "painter", "flat")
#: arms a table runs only when asked (``--arms``): not part of the published default table
EXTRA_ARMS = ("synthetic-then-real",)
KNOWN_ARMS = ARMS + EXTRA_ARMS
#: arms trained in two phases, synthetic pairs first, then real pairs (StarDist only)
PRETRAIN_ARMS = frozenset({"synthetic-then-real"})
#: the share of the segmenter's epochs a pretrained arm spends on synthetic pairs
PRETRAIN_SHARE = 0.5
SYNTH_ARMS = frozenset(KNOWN_ARMS[1:])
FEW_SEED, FEW_FRACTION, SYNTH_SEED = 10, 0.10, 0
#: where an arm's validation part comes from: its own pairs, or its real pairs only
VALIDATIONS = ("own", "real")

#: (image path, mask path) pairs as strings: JSON-able, and the cache keys are made of them.
PairPaths = list[tuple[str, str]]
Log = Callable[[str], None]


def digest(obj: Any) -> str:
    """A short stable hash of a JSON-able value (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, atomically (a killed run never leaves half a file)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def seeded_subset(pairs: Sequence[Any], n: int, seed: int) -> list[Any]:
    """``n`` of ``pairs`` drawn with a fixed seed, kept in their order."""
    if n >= len(pairs):
        return list(pairs)
    keep = np.random.default_rng(seed).choice(len(pairs), size=max(1, n), replace=False)
    return [pairs[i] for i in sorted(keep.tolist())]


def density_per_512(masks: Iterable[np.ndarray]) -> tuple[float, int, int]:
    """Nuclei per 512 x 512 px over all masks, with the nucleus and pixel totals."""
    nuclei = pixels = 0
    for m in masks:
        nuclei += int(np.count_nonzero(np.unique(m)))
        pixels += int(m.size)
    return nuclei / max(pixels, 1) * 512 * 512, nuclei, pixels


def bank_image(masks: Iterable[np.ndarray], width: int = 4096) -> np.ndarray:
    """Every nucleus of ``masks`` not cut by its image border, packed in rows into one label image.

    The bank sampler takes shapes from one label image; packing (1 px apart, nothing at the outer
    border) keeps exactly the whole real train nuclei, with no shape truncated by a tile edge.
    """
    from scipy import ndimage as ndi

    shapes = []
    for lab in masks:
        h, w = lab.shape
        for i, box in enumerate(ndi.find_objects(lab), start=1):
            if box is None or box[0].start == 0 or box[1].start == 0 or box[0].stop == h or box[1].stop == w:
                continue
            shapes.append(lab[box] == i)
    shapes.sort(key=lambda s: -s.shape[0])
    places, x, y, row = [], 1, 1, 0
    for s in shapes:
        if x + s.shape[1] + 1 > width:
            x, y, row = 1, y + row + 1, 0
        places.append((y, x))
        x, row = x + s.shape[1] + 1, max(row, s.shape[0])
    out = np.zeros((y + row + 1, width), np.uint16 if len(shapes) < 65535 else np.uint32)
    for k, (s, (r, c)) in enumerate(zip(shapes, places), start=1):
        out[r:r + s.shape[0], c:c + s.shape[1]][s] = k
    return out


def read_masks(pairs: PairPaths) -> list[np.ndarray]:
    """The mask of every pair, as stored."""
    import tifffile

    return [tifffile.imread(m) for _, m in pairs]


#: how the synthetic arms lay nuclei out: ``bank`` (the real train nuclei's shapes at the train density,
#: 2 px apart, whole: issue 11's arms), ``tissue`` (synth's layout model: per-image density and size,
#: touching nuclei, nuclei cut by the border) or ``gan`` (synth's ``gan`` shape sampler at its default
#: density and gap: what ``nucgan synth`` drew before the layout model), or ``tissue-real`` (the layout model
#: with ``synth --size real``: each image a real train image's size, one per real train image)
LAYOUTS = ("bank", "tissue", "gan", "tissue-real")


def synth_folder(out: Path, train: PairPaths, model: str, size: int, count: int | None,
                 log: Log, layout: str = "bank", sensor_noise: bool | None = None,
                 nucleus_spread: float | None = None, signal_noise: bool | None = None) -> tuple[Path, dict[str, Any]]:
    """The cached ``nucgan synth`` set for these real train masks (made on first use) and its record.

    ``sensor_noise``, ``signal_noise`` and ``nucleus_spread`` as synth takes them (None: synth's defaults); the resolved
    choices are passed to synth explicitly, so they are part of the set's cache key (a spread of 1, as
    painted, leaves the key as it was before the option).
    """
    import tifffile

    masks = read_masks(train)
    density, _, pixels = density_per_512(masks)
    if layout == "tissue-real":  # sizes drawn among the real images': as many images as the real arm has
        count = count or len(train)
    count = count or max(1, round(pixels / size ** 2))
    bank = out / "data" / f"bank-{digest([m for _, m in train])}.tif"
    if not bank.exists():
        with atomic_path(bank) as tmp:
            tifffile.imwrite(tmp, bank_image(masks), compression="zlib")
    if layout == "tissue-real":
        args = ["--count", str(count), "--size", "real", "--sampler", "tissue", "--seed", str(SYNTH_SEED),
                "--model", model]
    elif layout in ("tissue", "gan"):
        args = ["--count", str(count), "--size", str(size), "--sampler", layout, "--seed", str(SYNTH_SEED),
                "--model", model]
    else:
        args = ["--count", str(count), "--size", str(size), "--density", f"{density:.2f}", "--sampler", "bank",
                "--sampler-arg", f"labels={bank}", "--seed", str(SYNTH_SEED), "--model", model]
    from nucgan.generation import load_model, resolve_nucleus_spread, resolve_sensor_noise, resolve_signal_noise

    zm = load_model(model)
    sensor_noise = resolve_sensor_noise(zm, sensor_noise)
    if zm.input.style:  # a model without a style input never had it: its sets keep the keys they always had
        args.append("--sensor-noise" if sensor_noise else "--no-sensor-noise")
    signal = resolve_signal_noise(sensor_noise, signal_noise, zm)
    if sensor_noise:  # explicit, so synth's default cannot move under a cached set; off keeps the old keys
        args.append("--signal-noise" if signal else "--no-signal-noise")
    spread = resolve_nucleus_spread(zm, nucleus_spread)
    spread_args = ["--nucleus-spread", f"{spread:g}"]
    bank_sha = sha256_file(bank)
    key = digest({"args": [a if not a.startswith("labels=") else "labels=<bank>" for a in args
                           if a != "--no-signal-noise"] + (spread_args if spread != 1.0 else []), "bank": bank_sha})
    args += spread_args
    folder = out / "data" / f"synth-{key}"
    record_path = folder / "synth.json"
    if record_path.exists() and (folder / "manifest.json").exists():
        missing = missing_files(folder)
        if not missing:
            return folder, json.loads(record_path.read_text())
        log(f"{folder}: {len(missing)} of the manifest's files are missing (first: {missing[0]}); generating the set again")
    shutil.rmtree(folder, ignore_errors=True)  # a killed or damaged generation: start over
    cmd = [sys.executable, "-m", "nucgan", "synth", *args, "--out", str(folder)]
    log(f"generating {count} synthetic pairs of {'real sizes' if layout == 'tissue-real' else f'{size} px'} (density {density:.2f} / 512^2): {shlex.join(cmd)}")
    started = time.perf_counter()
    rc = subprocess.run(cmd).returncode  # its progress and messages reach the terminal as they come
    if rc != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise InputError(f"downstream: nucgan synth for the synthetic arms failed (exit {rc}; its message is above)")
    manifest = json.loads((folder / "manifest.json").read_text())
    record = {"key": key, "command": shlex.join(cmd), "seconds": round(time.perf_counter() - started, 1),
              "model": manifest["model"], "model_sha256": manifest.get("model_sha256"), "count": count,
              "size": "real" if layout == "tissue-real" else size, "density_per_512": round(density, 2), "bank_sha256": bank_sha, "layout": layout,
              "sensor_noise": sensor_noise, "nucleus_spread": spread, "signal_noise": signal,
              "nuclei": sum(r["nuclei"] for r in manifest["images"])}
    write_json(record_path, record)
    log(f"  {record['nuclei']} nuclei in {record['seconds']:.0f} s")
    return folder, record


def missing_files(folder: Path) -> list[str]:
    """The image and label files a synth folder's manifest lists that are not on disk."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return [name for r in manifest["images"] for name in (r["image"], r["labels"]) if not (folder / name).is_file()]


def synth_pairs(folder: Path) -> PairPaths:
    """The (image, mask) pairs a synth folder's manifest lists, in its order; a missing file is an error."""
    missing = missing_files(folder)
    if missing:
        raise InputError(f"{folder}: {len(missing)} of the files its manifest.json lists are missing (first: {missing[0]})")
    manifest = json.loads((folder / "manifest.json").read_text())
    return [(str(folder / r["image"]), str(folder / r["labels"])) for r in manifest["images"]]


def baseline_folder(out: Path, name: str, synth: Path, synth_record: dict[str, Any], train: PairPaths,
                    log: Log) -> tuple[Path, dict[str, Any]]:
    """The synthetic masks painted by baseline ``name`` fitted on the real train pairs (cached)."""
    import tifffile

    from nucgan.io import read_pair
    from nucgan.quality.baselines import fit_baseline

    key = digest({"baseline": name, "synth": synth_record["key"], "train": [m for _, m in train]})
    folder = out / "data" / f"{name}-{key}"
    record_path = folder / "paint.json"
    if record_path.exists():
        return folder, json.loads(record_path.read_text())
    log(f"painting the synthetic masks with the {name} baseline")
    started = time.perf_counter()
    baseline = fit_baseline(name, [read_pair(i, m) for i, m in train])
    for index, (_, mask) in enumerate(synth_pairs(synth)):
        target = folder / "images" / Path(mask).name
        with atomic_path(target) as tmp:
            tifffile.imwrite(tmp, baseline.paint(tifffile.imread(mask), seed=index), compression="zlib")
    record = {"key": key, "baseline": baseline.to_json(), "synth": synth_record["key"],
              "seconds": round(time.perf_counter() - started, 1)}
    write_json(record_path, record)
    return folder, record


def few_count(n_train: int) -> int:
    """How many real pairs the few-real+synthetic arm keeps of ``n_train``."""
    return max(1, round(FEW_FRACTION * n_train))


def real_count(arm: str, n_train: int) -> int:
    """How many of ``arm``'s pairs (which :func:`arm_pairs` lists real first) are real."""
    return {"real": n_train, "real+synthetic": n_train, "few-real+synthetic": few_count(n_train),
            "synthetic-then-real": n_train}.get(arm, 0)


def pretrain_epochs(epochs: int) -> int:
    """How many of ``epochs`` a pretrained arm spends on its synthetic pairs (at least 1, and 1 left for real)."""
    return min(epochs - 1, max(1, round(PRETRAIN_SHARE * epochs)))


def split_pretrain(pairs: PairPaths, n_real: int) -> tuple[PairPaths, PairPaths]:
    """(real pairs, synthetic pairs) of a pretrained arm, whose pairs :func:`arm_pairs` lists real first."""
    return list(pairs[:n_real]), list(pairs[n_real:])


def real_validation(pairs: PairPaths, n_real: int, fraction: float, seed: int) -> tuple[PairPaths, PairPaths]:
    """(train, validation) of an arm whose first ``n_real`` pairs are real: the validation part from them only.

    The split of the real pairs is the one the segmenter makes of the real arm alone (same fraction
    and seed), so real + synthetic differs from real only by the synthetic pairs it adds.
    """
    from nucgan.quality.stardist_downstream import split_validation

    if n_real < 2:
        raise InputError(f"downstream: --validation real needs at least 2 real pairs in the arm, got {n_real}")
    real, rest = list(pairs[:n_real]), list(pairs[n_real:])
    train_idx, val_idx = split_validation(n_real, fraction, seed)
    return [real[i] for i in train_idx] + rest, [real[i] for i in val_idx]


def arm_pairs(arms: Sequence[str], train: PairPaths, out: Path, model: str, *, synth_size: int = 512,
              synth_count: int | None = None, log: Log = print, layout: str = "bank",
              sensor_noise: bool | None = None,
              nucleus_spread: float | None = None,
              signal_noise: bool | None = None) -> tuple[dict[str, PairPaths], dict[str, Any]]:
    """The training pairs of each arm, and a record of the generated data they use."""
    data: dict[str, Any] = {}
    pairs: dict[str, PairPaths] = {}
    synth: PairPaths = []
    synth_dir = Path()
    if SYNTH_ARMS & set(arms):
        synth_dir, data["synthetic"] = synth_folder(out, train, model, synth_size, synth_count, log, layout,
                                                    sensor_noise, nucleus_spread, signal_noise)
        synth = synth_pairs(synth_dir)
    few = seeded_subset(train, few_count(len(train)), FEW_SEED)
    for arm in arms:
        if arm == "real":
            pairs[arm] = list(train)
        elif arm == "synthetic":
            pairs[arm] = synth
        elif arm in ("real+synthetic", "synthetic-then-real"):
            pairs[arm] = list(train) + synth
        elif arm == "few-real+synthetic":
            pairs[arm] = few + synth
        else:
            folder, data[arm] = baseline_folder(out, arm, synth_dir, data["synthetic"], train, log)
            pairs[arm] = [(str(folder / "images" / Path(m).name), m) for _, m in synth]
    return pairs, data
