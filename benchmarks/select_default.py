"""Choose ``synth``'s default model by downstream F1 on a held-out part of the TRAIN folder, never the test folder.

For each candidate (the shipped DSB models, or run folders such as the generalists) and both baselines (and ``real``, the fit part itself, as a
reference): de novo masks (the ``gan`` shape
sampler, ``synth``'s default, at the fit part's median density), painted by the candidate; the
built-in segmenter (``nucgan.quality.downstream``, fixed config) trained on them only; F1@0.5
pooled over the held-out images (a fixed, seeded 15 % of ``train/``). The baselines are fitted on
the rest of ``train/``. Resumable: each (candidate, seed) result is a JSON file in ``--out``; a rerun
skips the done ones. Prints the table and the chosen model.

    python benchmarks/select_default.py                       # all candidates, seeds 0,1,2
    python benchmarks/select_default.py --seeds 0 --steps 50  # a quick look (not for choosing)
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from nucgan.atomic import atomic_path
from nucgan.folders import folder_pairs
from nucgan.io import read_pair
from nucgan.quality.baselines import fit_baseline, is_baseline
from nucgan.quality.downstream import DownstreamConfig, Pool, predict, train_net
from nucgan.quality.matching import match

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018-fluo" / "train"
CANDIDATES = ("dsb2018-1x-k3", "dsb2018-3x-k7", "painter", "flat", "real")  # real: the fit part itself, a reference
HELD_OUT = 0.15


def split_train(pairs: list[Any], seed: int = 0) -> tuple[list[Any], list[Any]]:
    """(fit part, held-out part): a fixed seeded 15 % of the train images held out."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    n = max(1, round(HELD_OUT * len(pairs)))
    held = set(order[:n].tolist())
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def label(candidate: str) -> str:
    """A candidate's name in the results: a zoo id or baseline as is, a run folder by its folder name."""
    return Path(candidate).name if Path(candidate).is_dir() else candidate


def density(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The median number of nuclei per 512 x 512 px over the images."""
    return float(np.median([(len(np.unique(lb)) - 1) / lb.size * 512 * 512 for _, lb in pairs]))


def synthetic(candidate: str, fit: list[tuple[np.ndarray, np.ndarray]], config: DownstreamConfig) -> list[Any]:
    """``config.synth_count`` de novo (image, labels) pairs painted by the candidate."""
    from nucgan.layout import place
    from nucgan.registry import create_sampler

    sampler = create_sampler("gan")
    if is_baseline(candidate):
        paint = fit_baseline(candidate, fit).paint
    else:
        from nucgan.generation import generate, load_model

        zm = load_model(candidate)
        paint = lambda lab, seed: generate(zm, lab, seed=seed)  # noqa: E731
    out = []
    for i in range(config.synth_count):
        seed = int(np.random.SeedSequence([config.synth_seed, i]).generate_state(1)[0])
        lab = place(sampler, size=(config.synth_size, config.synth_size), density=density(fit), seed=seed)
        out.append((paint(lab, seed), lab))
    return out


def pooled_f1(net: Any, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """F1@0.5 (and precision, recall) from the match counts summed over the images."""
    tp = fp = fn = 0
    for image, labels in pairs:
        m = match(labels, predict(net, image), 0.5)
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
    return {"f1": 2 * tp / max(2 * tp + fp + fn, 1), "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=str(DATA), help="the TRAIN folder (StarDist layout)")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--synth-count", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of each run (does not change the figures)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "select_default"))
    args = ap.parse_args(argv)
    config = replace(DownstreamConfig(), steps=args.steps, synth_count=args.synth_count,
                     threads=args.threads).validate()
    out = Path(args.out)
    pairs = [read_pair(i, m) for i, m in folder_pairs(args.train)]
    fit, held = split_train(pairs)
    candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    todo = [(c, s) for c in candidates for s in seeds]
    started, done_here = time.perf_counter(), 0
    cache: dict[str, Pool] = {}
    for k, (candidate, seed) in enumerate(todo):
        path = out / f"{label(candidate)}-seed{seed}.json"
        if path.exists():
            continue
        if candidate not in cache:
            cache = {candidate: Pool(fit if candidate == "real" else synthetic(candidate, fit, config))}
        t = time.perf_counter()
        net = train_net([cache[candidate]], config, seed)
        scores = pooled_f1(net, held)
        record = {"candidate": label(candidate), "model": candidate, "seed": seed, **scores,
                  "seconds": round(time.perf_counter() - t, 1),
                  "config": asdict(config), "fit_images": len(fit), "held_out_images": len(held),
                  "sampler": "gan", "density_per_512": density(fit)}
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        done_here += 1
        left = sum(1 for c, s in todo[k + 1:] if not (out / f"{label(c)}-seed{s}.json").exists())
        eta = (time.perf_counter() - started) / done_here * left
        print(f"[{k + 1}/{len(todo)}] {candidate} seed {seed}: F1@0.5 {scores['f1']:.3f} "
              f"({record['seconds']:.0f} s; about {eta / 60:.0f} min left)", file=sys.stderr, flush=True)
    rows = []
    for candidate in candidates:
        runs = [json.loads((out / f"{label(candidate)}-seed{s}.json").read_text()) for s in seeds
                if (out / f"{label(candidate)}-seed{s}.json").exists()]
        if runs:
            f1 = np.array([r["f1"] for r in runs])
            rows.append((label(candidate), f1.mean(), f1.std(ddof=1) if len(f1) > 1 else 0.0, len(runs)))
    print(f"\n{shlex.join(['python', 'benchmarks/select_default.py', *(sys.argv[1:] if argv is None else argv)])}\n")
    print("| candidate | seeds | F1@0.5 on the held-out train part |\n| --- | --- | --- |")
    for c, m, s, n in rows:
        print(f"| {c} | {n} | {m:.3f} ± {s:.3f} |")
    models = [r for r in rows if not is_baseline(r[0]) and r[0] != "real"]
    if models:
        best = max(models, key=lambda r: r[1])
        print(f"\nchosen default: {best[0]} (F1@0.5 {best[1]:.3f} ± {best[2]:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
