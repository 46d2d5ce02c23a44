"""``nucgan downstream``: a segmenter trained per arm and seed, scored on real test images, as a resumable table.

Each (arm, seed) runs in a fresh child process (``python -m nucgan.quality.downstream_table SPEC``,
with the interpreter given, so StarDist may live in another environment) and leaves one JSON result
in ``out/per_run``. A rerun with the same data and settings skips the done runs (the key of a result
is a hash of its segmenter config, train pairs, test pairs and seed); a run made with other settings
is run again. The test images are only scored: every choice (validation, thresholds) uses the arm's
own training pairs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from nucgan.errors import InputError
from nucgan.quality.arms import (ARMS, KNOWN_ARMS, LAYOUTS, PRETRAIN_ARMS, VALIDATIONS, PairPaths, arm_pairs, digest,
                                 pretrain_epochs, real_count, real_validation, seeded_subset, split_pretrain, write_json)

SEGMENTERS = ("builtin", "stardist")
FORMAT = "nucgan-downstream/1"
SUBSET_SEED = 0  # --max-train-images draws its subset of the real train pairs with this seed
SCORES = ("f1_50", "f1_70", "pq_50")
DEFAULT_SYNTH_SIZE = 512  # px per side of each synthetic image, for the layouts drawn on a fixed canvas
Log = Callable[[str], None]
#: a pretrained arm's first phase: its (synthetic) pairs and how many epochs it trains on them
Pretrain = tuple[PairPaths, int]


def segmenter_config(segmenter: str, steps: int | None = None, threads: int | None = None) -> Any:
    """The fixed, documented config of ``segmenter``; ``steps`` (total training steps) only for quick runs."""
    if segmenter == "stardist":
        from nucgan.quality.stardist_downstream import StarDistConfig

        config = StarDistConfig()
        if steps is not None:
            config = dataclasses.replace(config, epochs=max(1, -(-steps // config.steps_per_epoch)),
                                         steps_per_epoch=min(steps, config.steps_per_epoch))
    elif segmenter == "builtin":
        from nucgan.quality.downstream import DownstreamConfig

        config = DownstreamConfig() if steps is None else DownstreamConfig(steps=steps)
    else:
        raise InputError(f"downstream: unknown segmenter {segmenter!r}; known: {', '.join(SEGMENTERS)}")
    if threads is not None:
        config = dataclasses.replace(config, threads=threads)
    return config.validate()


def config_json(config: Any) -> dict[str, Any]:
    """A segmenter config as plain JSON values."""
    return config.to_json() if hasattr(config, "to_json") else dataclasses.asdict(config)


def check_python(python: str, segmenter: str) -> None:
    """Refuse, before any work, an interpreter that cannot run the segmenter's child processes."""
    if segmenter == "builtin" and python == sys.executable:
        return  # this interpreter runs nucgan and torch already
    modules = "nucgan, stardist.models, tensorflow" if segmenter == "stardist" else "nucgan, torch"
    try:
        done = subprocess.run([python, "-c", f"import {modules}"], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"downstream: --python {python}: cannot run it ({exc})") from None
    if done.returncode != 0:
        missing = (done.stderr.strip().splitlines() or ["import failed"])[-1]
        if segmenter == "stardist" and ("stardist" in missing or "tensorflow" in missing):
            from nucgan.quality.stardist_downstream import MISSING

            raise InputError(f"downstream: {MISSING} (for {python}; or give --python an interpreter that has it)")
        raise InputError(f"downstream: --python {python}: cannot import {modules}: {missing}")


def result_path(out: Path, arm: str, seed: int) -> Path:
    """Where the result of (arm, seed) is kept."""
    return out / "per_run" / f"{arm}_seed{seed}.json"


def run_key(segmenter: str, config: Any, train: PairPaths, test: PairPaths, seed: int,
            val: PairPaths | None = None, pretrain: Pretrain | None = None) -> str:
    """The key of one run's result: what it was trained and scored on, and how."""
    made_of: dict[str, Any] = {"config": config_json(config), "train": train, "test": test, "seed": seed}
    if segmenter != "stardist":  # StarDist keys predate the built-in runner: kept, so done runs stay done
        made_of["segmenter"] = segmenter
    if val is not None:  # explicit validation pairs only: the keys of runs validated on their own pairs stay
        made_of["val"] = val
    if pretrain is not None:  # likewise: only a pretrained arm's key holds its first phase
        made_of["pretrain"], made_of["pretrain_epochs"] = pretrain
        made_of["pretrain_optimiser"] = "kept"  # commit 317dd40's runs compiled a fresh one: they are not these
    return digest(made_of)


def keep_out_of_git(out: Path) -> None:
    """A .gitignore in the results folder: per-run JSONs, table and results stay; bulky data do not."""
    if not (out / ".gitignore").exists():
        from nucgan.atomic import atomic_path

        with atomic_path(out / ".gitignore") as tmp:
            tmp.write_text("# written by nucgan downstream: generated data, weights, logs\n"
                           "data/\nwork/\nspecs/\nlogs/\nlog.txt\n")


def check_out(out: Path) -> None:
    """Refuse a file, or a non-empty folder that is not a ``nucgan downstream`` output, before any work."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; --out needs a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "downstream.json").exists():
        raise InputError(f"{out}: not empty and not a nucgan downstream folder (no downstream.json); "
                         "give an empty or new folder")
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise InputError(f"{probe}: not writable; --out needs a folder it can write")


def launch(out: Path, python: str, segmenter: str, arm: str, seed: int, train: PairPaths, test: PairPaths,
           config: Any, data: dict[str, Any], log: Log,
           val: PairPaths | None = None, pretrain: Pretrain | None = None) -> tuple[dict[str, Any] | None, bool]:
    """Run (arm, seed) in a fresh process unless its result with the same key exists.

    ``val``: explicit validation pairs (else the segmenter takes a part of ``train``); ``pretrain``: the
    pairs and epochs of a first training phase (StarDist). Returns (the result or None when the run
    failed, whether it was found on disk rather than run)."""
    key = run_key(segmenter, config, train, test, seed, val, pretrain)
    target = result_path(out, arm, seed)
    if target.exists():
        done = json.loads(target.read_text())
        if done.get("key") == key:
            return done, True
        log(f"{target.name}: made with other settings or data; running it again")
    tag = f"{arm}_seed{seed}"
    spec = {"segmenter": segmenter, "arm": arm, "seed": seed, "key": key, "config": config_json(config),
            "train": train, "test": test, "workdir": str(out / "work" / tag), "result": str(target), "data": data}
    if val is not None:
        spec["val"] = val
    if pretrain is not None:
        spec["pretrain"], spec["pretrain_epochs"] = pretrain
    spec_path = out / "specs" / f"{tag}.json"
    write_json(spec_path, spec)
    shutil.rmtree(out / "work" / tag, ignore_errors=True)
    logfile = out / "logs" / f"{tag}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "nucgan.quality.downstream_table", str(spec_path)]
    # StarDist's NMS and matching (C, OpenMP) on one thread: same results, and with 2 OpenMP threads on a
    # shared 2-core machine the threshold tuning ran 6.5x slower (191 s instead of 29 s per NMS threshold).
    # TensorFlow turns its oneDNN kernels on by itself only on some CPUs; on an AVX2-only AMD EPYC its
    # Eigen path page-faults ~145k times a step and StarDist trained about 2x slower (a setting of the user's own wins)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")}
    with open(logfile, "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0 or not target.exists():
        tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
        log(f"{tag}: FAILED (exit {rc}); see {logfile}: " + " | ".join(tail))
        return None, False
    return json.loads(target.read_text()), False


def run_one(spec_path: str | os.PathLike[str]) -> int:
    """Child process: read a spec file, train and score, write the result JSON atomically."""
    from nucgan.io import read_pair

    spec = json.loads(Path(spec_path).read_text())
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["config"].items()}
    train = [read_pair(i, m) for i, m in spec["train"]]
    test = [read_pair(i, m) for i, m in spec["test"]]
    val = [read_pair(i, m) for i, m in spec["val"]] if "val" in spec else None
    pretrain = [read_pair(i, m) for i, m in spec["pretrain"]] if "pretrain" in spec else None
    if spec["segmenter"] == "stardist":
        import keras

        from nucgan.quality.stardist_downstream import StarDistConfig, train_and_score

        keras.utils.disable_interactive_logging()  # no per-step progress bars in the run's log file
        result = train_and_score(train, test, StarDistConfig(**fields), seed=spec["seed"], workdir=spec["workdir"],
                                 val_pairs=val, pretrain_pairs=pretrain, pretrain_epochs=spec.get("pretrain_epochs", 0))
    else:
        from nucgan.quality.downstream import DownstreamConfig
        from nucgan.quality.downstream import train_and_score as builtin_train_and_score

        result = builtin_train_and_score(train, test, DownstreamConfig(**fields), seed=spec["seed"])
    write_json(Path(spec["result"]), {"arm": spec["arm"], "key": spec["key"], "segmenter": spec["segmenter"],
                                      **result, "data": spec["data"],
                                      "train_images": len(train) + len(val or ()) + len(pretrain or ()),
                                      **({"validation": "real"} if val is not None else {})})
    return 0


# -- the table -------------------------------------------------------------------------------------------
def summary(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per arm: seeds, train images, and F1@0.5, F1@0.7, PQ as mean ± sd over the seeds."""
    from nucgan.quality.folder import mean_sd

    out = {}
    for arm, runs in results.items():
        if runs:
            runs = sorted(runs, key=lambda r: r["seed"])
            out[arm] = {"seeds": [r["seed"] for r in runs], "train_images": runs[0]["train_images"],
                        **{k: mean_sd([r[k] for r in runs]) for k in SCORES},
                        "per_seed_f1_50": [round(r["f1_50"], 4) for r in runs],
                        "seconds_per_run": round(statistics.mean(r["seconds"]["total"] for r in runs), 1)}
    return out


def table(summarised: dict[str, dict[str, Any]], command: str) -> str:
    """Markdown: per arm F1@0.5, F1@0.7, PQ (mean ± sd over seeds), per-seed F1@0.5, seconds per run."""
    cell = lambda s: f"{s['mean']:.3f} ± {s['sd']:.3f}"  # noqa: E731
    lines = ["| arm | n seeds | train images | F1@0.5 | F1@0.7 | PQ | per-seed F1@0.5 | seconds per run |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arm, s in summarised.items():
        lines.append(f"| {arm} | {len(s['seeds'])} | {s['train_images']} | {cell(s['f1_50'])} | {cell(s['f1_70'])} | "
                     f"{cell(s['pq_50'])} | {', '.join(f'{v:.3f}' for v in s['per_seed_f1_50'])} | "
                     f"{s['seconds_per_run']:.0f} |")
    lines += ["", f"Command: `{command}`", "",
              "Scores pooled over the real test images (every nucleus weighs the same); mean ± sd over seeds."]
    return "\n".join(lines)


def eta(seconds: list[float], left: int) -> str:
    """The time the ``left`` runs will take at the mean pace of those done so far."""
    if not seconds or not left:
        return "–"
    s = int(statistics.mean(seconds) * left)
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def run_table(train_folder: Path, test_folder: Path, model: str, out: Path, *, segmenter: str = "builtin",
              arms: Sequence[str] = ARMS, seeds: Sequence[int] = (0, 1, 2), max_train_images: int | None = None,
              synth_size: int | None = None, synth_count: int | None = None, steps: int | None = None,
              threads: int | None = None, python: str | None = None, command: str = "",
              log: Log = print, layout: str = "bank", sensor_noise: bool | None = None,
              nucleus_spread: float | None = None, signal_noise: bool | None = None,
              validation: str = "own") -> dict[str, Any]:
    """Prepare every arm's data, run every (arm, seed) not done yet; the summary, also written to ``out``.

    ``validation``: ``own`` (each arm validated on a part of its own pairs) or ``real`` (arms with real
    pairs validated on their real pairs only, :func:`nucgan.quality.arms.real_validation`). Writes ``out/per_run/ARM_seedS.json`` per run, then ``out/table.md`` and ``out/results.json``
    (format ``nucgan-downstream/1``). Failed runs are reported and counted in ``failed``.
    """
    from nucgan.folders import folder_pairs

    unknown = sorted(set(arms) - set(KNOWN_ARMS))
    if unknown or not arms:
        raise InputError(f"downstream: unknown arm(s) {', '.join(unknown) or '(none given)'}; "
                         f"arms: {', '.join(KNOWN_ARMS)}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"downstream: seeds must be distinct integers, got {list(seeds)}")
    if max_train_images is not None and max_train_images < 2:
        raise InputError(f"downstream: --max-train-images must be at least 2, got {max_train_images}")
    if layout not in LAYOUTS:
        raise InputError(f"downstream: --layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if validation not in VALIDATIONS:
        raise InputError(f"downstream: --validation must be one of {', '.join(VALIDATIONS)}, got {validation!r}")
    if validation == "real" and segmenter != "stardist":
        raise InputError(f"downstream: --validation real cannot apply to the {segmenter} segmenter, which holds no "
                         "validation part out; use --segmenter stardist or leave --validation out")
    if layout == "tissue-real" and synth_size is not None:
        raise InputError(f"downstream: --synth-size {synth_size} cannot apply with --layout tissue-real, whose "
                         "synthetic images take the real train images' sizes; leave it out or pick another layout")
    if nucleus_spread is not None:
        from nucgan.generation import check_spread

        nucleus_spread = check_spread(nucleus_spread)
    synth_size = DEFAULT_SYNTH_SIZE if synth_size is None else synth_size
    if synth_size < 128 or (synth_count is not None and synth_count < 1):
        raise InputError("downstream: --synth-size must be at least 128 and --synth-count at least 1")
    config = segmenter_config(segmenter, steps, threads)
    two_phase = sorted(PRETRAIN_ARMS & set(arms))
    if two_phase and segmenter != "stardist":
        raise InputError(f"downstream: the {two_phase[0]} arm trains in two phases, which only the stardist segmenter "
                         f"does; use --segmenter stardist or leave the arm out")
    if two_phase and config.epochs < 2:
        raise InputError(f"downstream: the {two_phase[0]} arm needs a budget of at least 2 epochs (one per phase), "
                         f"got {config.epochs}; give --steps at least {2 * config.steps_per_epoch} or leave it out")
    python = python or sys.executable
    out = Path(out).resolve()
    check_out(out)
    train: PairPaths = [(str(i), str(m)) for i, m in folder_pairs(train_folder)]
    test: PairPaths = [(str(i), str(m)) for i, m in folder_pairs(test_folder)]
    if len(train) < 2 or not test:
        raise InputError(f"downstream: need at least 2 train pairs ({train_folder}: {len(train)}) and 1 test pair "
                         f"({test_folder}: {len(test)})")
    if max_train_images:
        train = seeded_subset(train, max_train_images, SUBSET_SEED)
    if validation == "real":  # before any data is made: an arm too small to split its real pairs
        small = [arm for arm in arms if 0 < real_count(arm, len(train)) < 2]
        if small:
            raise InputError(f"downstream: --validation real needs at least 2 real pairs in {', '.join(small)}, "
                             f"which keeps {real_count(small[0], len(train))} of {len(train)}; use more train images "
                             "or leave --validation out")
    check_python(python, segmenter)
    out.mkdir(parents=True, exist_ok=True)
    keep_out_of_git(out)
    settings = {"format": FORMAT, "segmenter": segmenter, "config": config_json(config), "model": model,
                "train_folder": str(train_folder), "test_folder": str(test_folder), "arms": list(arms),
                "seeds": list(seeds), "max_train_images": max_train_images,
                "synth_size": "real" if layout == "tissue-real" else synth_size, "layout": layout,
                "synth_count": synth_count, "python": python, "command": command}
    if sensor_noise is not None:  # only when given: the settings of the tables made before the option are unchanged
        settings["sensor_noise"] = sensor_noise
    if nucleus_spread is not None:
        settings["nucleus_spread"] = nucleus_spread
    if signal_noise is not None:
        settings["signal_noise"] = signal_noise
    if validation != "own":
        settings["validation"] = validation
    write_json(out / "downstream.json", settings)
    pairs, data = arm_pairs(arms, train, out, model, synth_size=synth_size, synth_count=synth_count, log=log,
                            layout=layout, sensor_noise=sensor_noise, nucleus_spread=nucleus_spread,
                            signal_noise=signal_noise)
    vals: dict[str, PairPaths | None] = {arm: None for arm in arms}
    pretrains: dict[str, Pretrain | None] = {arm: None for arm in arms}
    for arm in arms:  # the real arm's own part is already real: its runs (and keys) stay as they are
        if arm in PRETRAIN_ARMS:  # its real phase takes the real arm's own split under either validation
            pairs[arm], synthetic = split_pretrain(pairs[arm], real_count(arm, len(train)))
            pretrains[arm] = (synthetic, pretrain_epochs(config.epochs))
        elif validation == "real" and arm != "real" and real_count(arm, len(train)):
            pairs[arm], vals[arm] = real_validation(pairs[arm], real_count(arm, len(train)),
                                                    config.val_fraction, config.val_seed)
    todo = [(arm, seed) for seed in seeds for arm in arms]  # seed-major: a one-seed table comes first
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    spent: list[float] = []
    failed = []
    for k, (arm, seed) in enumerate(todo, start=1):
        started = time.perf_counter()
        r, found = launch(out, python, segmenter, arm, seed, pairs[arm], test, config, data, log, vals[arm],
                          pretrains[arm])
        ran = time.perf_counter() - started
        if r is None:
            failed.append(f"{arm} seed {seed}")
            continue
        if not found:  # a run's time feeds the ETA; a result read from disk does not
            spent.append(ran)
        results[arm].append(r)
        log(f"[{k}/{len(todo)}] {arm} seed {seed}: F1@0.5 {r['f1_50']:.3f}, F1@0.7 {r['f1_70']:.3f}, "
            f"PQ {r['pq_50']:.3f} ({r['seconds']['total']:.0f} s){' (done before)' if found else ''}; "
            f"ETA {eta(spent, len(todo) - k)}")
    summarised = summary(results)
    from nucgan.atomic import atomic_path

    with atomic_path(out / "table.md") as tmp:
        tmp.write_text(table(summarised, command) + "\n")
    result = {**settings, "data": data, "summary": summarised, "runs": results, "failed": failed}
    write_json(out / "results.json", result)
    return result


if __name__ == "__main__":
    raise SystemExit(run_one(sys.argv[1]))
