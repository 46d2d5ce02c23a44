"""StarDist2D downstream benchmark on DSB 2018 fluorescence: train per arm, score on the 76 real test images.

Arms (same fixed ``StarDistConfig``, same budget, same seeds; only the training pairs differ):

- ``real``: the real train images (405);
- ``synthetic``: nucgan pairs from de novo masks (``nucgan synth --sampler bank`` with the real train
  nuclei's shapes, density matched to the real train set, as many 512 px images as the real train
  set has pixels);
- ``real+synthetic``: both; ``few-real+synthetic``: a fixed seeded 10 % of the real train images + synthetic;
- ``painter``, ``flat``: the SAME de novo masks painted by the non-learned baselines fitted on real train.

Every choice (density, baselines, validation, thresholds) uses train/ only; test/ only reports.
Each (arm, seed) runs in a fresh process (``--python``, default this one) and leaves a JSON result in
``--out``; a rerun skips the done ones. The generated data are cached under ``--out``/data.

    /work/sdenv/bin/python benchmarks/downstream_stardist.py --seeds 0,1,2          # the full table
    python benchmarks/downstream_stardist.py --arms real,flat --seeds 0 --max-train-images 30 --epochs 2
    python benchmarks/downstream_stardist.py --python /work/sdenv/bin/python       # StarDist in another env
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nucgan.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018-fluo"
OUT = ROOT / "benchmarks" / "results" / "downstream_stardist"
ARMS = ("real", "synthetic", "real+synthetic", "few-real+synthetic", "painter", "flat")
SYNTH_ARMS = {"synthetic", "real+synthetic", "few-real+synthetic", "painter", "flat"}
SUBSET_SEED, FEW_SEED, FEW_FRACTION, SYNTH_SEED = 0, 10, 0.10, 0
PairPaths = list[tuple[str, str]]


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the final table."""
    print(message, file=sys.stderr, flush=True)


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, atomically (a killed run never leaves half a file)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def digest(obj: Any) -> str:
    """A short stable hash of a JSON-able value (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- real data ------------------------------------------------------------------------------------------
def real_pairs(data: Path, split: str) -> PairPaths:
    """(image, mask) paths of one split, sorted by name."""
    images = sorted((data / split / "images").glob("*.tif"))
    if not images:
        raise SystemExit(f"{data / split / 'images'}: no .tif images (see --data)")
    return [(str(p), str(data / split / "masks" / p.name)) for p in images]


def seeded_subset(pairs: PairPaths, n: int, seed: int) -> PairPaths:
    """``n`` of ``pairs`` drawn with a fixed seed, kept in name order."""
    if n >= len(pairs):
        return list(pairs)
    keep = np.random.default_rng(seed).choice(len(pairs), size=max(1, n), replace=False)
    return [pairs[i] for i in sorted(keep.tolist())]


def read_masks(pairs: PairPaths) -> list[np.ndarray]:
    import tifffile

    return [tifffile.imread(m) for _, m in pairs]


def density_per_512(masks: Iterable[np.ndarray]) -> tuple[float, int, int]:
    """Nuclei per 512 x 512 px over all masks, with the nucleus and pixel totals."""
    nuclei = pixels = 0
    for m in masks:
        nuclei += int(np.count_nonzero(np.unique(m)))
        pixels += int(m.size)
    return nuclei / pixels * 512 * 512, nuclei, pixels


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


# -- generated data ----------------------------------------------------------------------------------------
def synth_folder(out: Path, train: PairPaths, masks: list[np.ndarray], model: str | None, size: int,
                 count: int | None) -> tuple[Path, dict[str, Any]]:
    """The cached nucgan synthetic set for these real train masks (generated on first use); its record."""
    import tifffile

    from nucgan.synth import DEFAULT_MODEL

    density, _, pixels = density_per_512(masks)
    count = count or max(1, round(pixels / size ** 2))
    model = model or DEFAULT_MODEL  # named explicitly, so a changed default is a new cache key
    bank = out / "data" / f"bank-{digest([m for _, m in train])}.tif"
    if not bank.exists():
        with atomic_path(bank) as tmp:
            tifffile.imwrite(tmp, bank_image(masks), compression="zlib")
    args = ["--count", str(count), "--size", str(size), "--density", f"{density:.2f}", "--sampler", "bank",
            "--sampler-arg", f"labels={bank}", "--seed", str(SYNTH_SEED), "--model", model]
    bank_sha = file_sha256(bank)
    key = digest({"args": [a if not a.startswith("labels=") else "labels=<bank>" for a in args], "bank": bank_sha})
    folder = out / "data" / f"synth-{key}"
    record_path = folder / "synth.json"
    if record_path.exists() and (folder / "manifest.json").exists():
        return folder, json.loads(record_path.read_text())
    shutil.rmtree(folder, ignore_errors=True)  # a killed generation: start over
    cmd = [sys.executable, "-m", "nucgan", "synth", *args, "--out", str(folder)]
    log(f"generating {count} synthetic pairs of {size} px (density {density:.2f} / 512^2): {shlex.join(cmd)}")
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    manifest = json.loads((folder / "manifest.json").read_text())
    record = {"key": key, "command": shlex.join(cmd), "seconds": round(time.perf_counter() - started, 1),
              "model": manifest["model"], "model_sha256": manifest.get("model_sha256"), "count": count,
              "size": size, "density_per_512": round(density, 2), "bank_sha256": bank_sha,
              "nuclei": sum(r["nuclei"] for r in manifest["images"])}
    write_json(record_path, record)
    log(f"  {record['nuclei']} nuclei in {record['seconds']:.0f} s")
    return folder, record


def synth_pairs(folder: Path) -> PairPaths:
    return [(str(p), str(folder / "masks" / p.name)) for p in sorted((folder / "images").glob("*.tif"))]


def baseline_folder(out: Path, name: str, synth: Path, synth_record: dict[str, Any],
                    train: PairPaths) -> tuple[Path, dict[str, Any]]:
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


def arm_pairs(args: argparse.Namespace, arms: list[str], train: PairPaths) -> tuple[dict[str, PairPaths], dict]:
    """The training pairs of each arm, and a record of the generated data they use."""
    data: dict[str, Any] = {}
    pairs: dict[str, PairPaths] = {}
    synth: PairPaths = []
    synth_dir = Path()
    if SYNTH_ARMS & set(arms):
        masks = read_masks(train)
        synth_dir, data["synthetic"] = synth_folder(args.out, train, masks, args.model, args.synth_size,
                                                    args.synth_count)
        synth = synth_pairs(synth_dir)
    few = seeded_subset(train, max(1, round(FEW_FRACTION * len(train))), FEW_SEED)
    for arm in arms:
        if arm == "real":
            pairs[arm] = train
        elif arm == "synthetic":
            pairs[arm] = synth
        elif arm == "real+synthetic":
            pairs[arm] = train + synth
        elif arm == "few-real+synthetic":
            pairs[arm] = few + synth
        else:
            folder, data[arm] = baseline_folder(args.out, arm, synth_dir, data["synthetic"], train)
            pairs[arm] = [(str(folder / "images" / Path(m).name), m) for _, m in synth]
    return pairs, data


# -- one run, in its own process ---------------------------------------------------------------------------
def run_one(spec_path: Path) -> int:
    """Child process: read the pairs of a spec file, train and score, write the result JSON atomically."""
    from nucgan.io import read_pair
    from nucgan.quality.stardist_downstream import StarDistConfig, train_and_score

    spec = json.loads(Path(spec_path).read_text())
    import keras

    keras.utils.disable_interactive_logging()  # no per-step progress bars in the run's log file
    config = StarDistConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec["config"].items()})
    train = [read_pair(i, m) for i, m in spec["train"]]
    test = [read_pair(i, m) for i, m in spec["test"]]
    result = train_and_score(train, test, config, seed=spec["seed"], workdir=spec["workdir"])
    write_json(Path(spec["result"]), {"arm": spec["arm"], "key": spec["key"], **result,
                                      "data": spec["data"], "train_images": len(train)})
    return 0


def keep_out_of_git(out: Path) -> None:
    """A .gitignore in the results folder: the per-run JSONs, table and results stay, bulky data do not."""
    out.mkdir(parents=True, exist_ok=True)
    if not (out / ".gitignore").exists():
        with atomic_path(out / ".gitignore") as tmp:
            tmp.write_text("# written by benchmarks/downstream_stardist.py: generated data, weights, logs\n"
                           "data/\nwork/\nspecs/\nlogs/\nlog.txt\n")


def result_path(out: Path, arm: str, seed: int) -> Path:
    return out / "per_run" / f"{arm}_seed{seed}.json"


def launch(args: argparse.Namespace, arm: str, seed: int, train: PairPaths, test: PairPaths, config: Any,
           data: dict[str, Any]) -> dict[str, Any] | None:
    """Run (arm, seed) in a fresh process unless its result with the same key exists; the result or None."""
    key = digest({"config": config.to_json(), "train": train, "test": test, "seed": seed})
    target = result_path(args.out, arm, seed)
    if target.exists():
        done = json.loads(target.read_text())
        if done.get("key") == key:
            return done
        log(f"{target.name}: made with other settings or data; running it again")
    tag = f"{arm}_seed{seed}"
    spec = {"arm": arm, "seed": seed, "key": key, "config": config.to_json(), "train": train, "test": test,
            "workdir": str(args.out / "work" / tag), "result": str(target), "data": data}
    spec_path = args.out / "specs" / f"{tag}.json"
    write_json(spec_path, spec)
    shutil.rmtree(args.out / "work" / tag, ignore_errors=True)
    logfile = args.out / "logs" / f"{tag}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.python, str(Path(__file__).resolve()), "--run-one", str(spec_path)]
    # StarDist's NMS and matching (C, OpenMP) on one thread: same results, and with 2 OpenMP threads on a
    # shared 2-core machine the threshold tuning ran 6.5x slower (191 s instead of 29 s per NMS threshold).
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with open(logfile, "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env).returncode
    if rc != 0 or not target.exists():
        tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
        log(f"{tag}: FAILED (exit {rc}); see {logfile}: " + " | ".join(tail))
        return None
    return json.loads(target.read_text())


# -- the table -------------------------------------------------------------------------------------------
def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def table(results: dict[str, list[dict[str, Any]]], command: str) -> str:
    """Markdown: per arm F1@0.5, F1@0.7, PQ (mean ± sd over seeds), per-seed F1@0.5, seconds per run."""
    lines = ["| arm | n seeds | train images | F1@0.5 | F1@0.7 | PQ | per-seed F1@0.5 | seconds per run |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arm, runs in results.items():
        if not runs:
            continue
        runs = sorted(runs, key=lambda r: r["seed"])
        col = lambda k: mean_sd([r[k] for r in runs])  # noqa: E731
        per_seed = ", ".join(f"{r['f1_50']:.3f}" for r in runs)
        secs = statistics.mean(r["seconds"]["total"] for r in runs)
        lines.append(f"| {arm} | {len(runs)} | {runs[0]['train_images']} | {col('f1_50')} | {col('f1_70')} | "
                     f"{col('pq_50')} | {per_seed} | {secs:.0f} |")
    lines += ["", f"Command: `{command}`", "",
              "Scores pooled over the real test images (stardist.matching.matching_dataset); mean ± sd over seeds."]
    return "\n".join(lines)


def eta(seconds: list[float], left: int) -> str:
    if not seconds or not left:
        return "–"
    s = int(statistics.mean(seconds) * left)
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def parse(argv: list[str] | None) -> argparse.Namespace:
    from nucgan.quality.stardist_downstream import StarDistConfig

    d = StarDistConfig()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma list of {', '.join(ARMS)}")
    ap.add_argument("--seeds", default="0,1,2", help="comma list of StarDist seeds")
    ap.add_argument("--max-train-images", type=int, default=None, help="a seeded subset of real train (quick runs)")
    ap.add_argument("--model", default=None, help="nucgan zoo id / run / file for synth [synth's default, "
                                                  "nucgan.synth.DEFAULT_MODEL]")
    ap.add_argument("--out", type=Path, default=OUT, help="results folder")
    ap.add_argument("--data", type=Path, default=DATA, help="DSB 2018 fluorescence folder (train/, test/)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with StarDist for the runs")
    ap.add_argument("--synth-size", type=int, default=512)
    ap.add_argument("--synth-count", type=int, default=None, help="[as many pixels as the real train images]")
    ap.add_argument("--epochs", type=int, default=d.epochs, help="(quick runs only; the table uses the default)")
    ap.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--run-one", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    """Prepare the arms' data, run every (arm, seed) not done yet, print and write the table."""
    args = parse(argv)
    if args.run_one:
        return run_one(args.run_one)
    from nucgan.quality.stardist_downstream import StarDistConfig

    keep_out_of_git(args.out)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        raise SystemExit(f"unknown arm(s) {', '.join(unknown)}; arms: {', '.join(ARMS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    config = dataclasses.replace(StarDistConfig(), epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                                 threads=args.threads).validate()
    command = shlex.join([Path(sys.executable).as_posix(), "benchmarks/downstream_stardist.py", *(argv or sys.argv[1:])])
    train = real_pairs(args.data, "train")
    if args.max_train_images:
        train = seeded_subset(train, args.max_train_images, SUBSET_SEED)
    test = real_pairs(args.data, "test")
    pairs, data = arm_pairs(args, arms, train)
    todo = [(arm, seed) for seed in seeds for arm in arms]  # seed-major: a 1-seed table comes first
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    spent: list[float] = []
    failed = 0
    for k, (arm, seed) in enumerate(todo, start=1):
        started = time.perf_counter()
        r = launch(args, arm, seed, pairs[arm], test, config, data)
        ran = time.perf_counter() - started
        if r is None:
            failed += 1
            continue
        if ran > 30:  # a run, not a skipped one
            spent.append(ran)
        results[arm].append(r)
        log(f"[{k}/{len(todo)}] {arm} seed {seed}: F1@0.5 {r['f1_50']:.3f}, F1@0.7 {r['f1_70']:.3f}, "
            f"PQ {r['pq_50']:.3f} ({r['seconds']['total']:.0f} s); ETA {eta(spent, len(todo) - k)}")
    text = table(results, command)
    print(text)
    (args.out).mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "table.md") as tmp:
        tmp.write_text(text + "\n")
    write_json(args.out / "results.json", {"command": command, "config": config.to_json(), "data": data,
                                           "arms": results, "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
