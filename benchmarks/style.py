"""Style fidelity on DSB 2018 fluorescence test/: per-image statistics of generated vs real images.

For every test image, its real masks are painted by the model twice (in a training image's style
drawn by the seed, and ``--like`` the test image itself) and by the ``painter`` and ``flat``
baselines fitted on ``train/``. Per image: background level, nucleus brightness and its spread,
noise and edge sharpness (``nucgan.quality.image_stats``); per source: the Wasserstein-1 distance
to the real test images' values in units of their sd, with real train vs real test as the
reference row. ``--realism`` adds the realism AUC (C2ST) of the ``--like`` images. Prints a
table and writes JSON.

    python benchmarks/style.py --model runs/generalist/dsb2018-fluo-3x-k7 [--max-images 20] [--realism] [--sensor-noise on|off] [--signal-noise on|off] [--nucleus-spread 1.8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018-fluo"


def pairs(folder: Path, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, labels) of a StarDist folder, evenly thinned to ``limit`` images."""
    from nucgan.folders import folder_pairs
    from nucgan.quality.folder import read_folder, spread

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # annotations in pieces are split; that is said by evaluate
        return read_folder(spread(folder_pairs(folder), limit))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a model trained with --style")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--max-images", type=int, default=None, help="thin test/ (and train/ for the reference)")
    ap.add_argument("--seeds", default="0", help="comma list; the drawn-style images differ per seed")
    ap.add_argument("--realism", action="store_true", help="also the realism AUC of the --like images")
    ap.add_argument("--realism-seeds", default="0",
                    help="classifier seeds of the realism AUC, comma-separated: the first is realism_auc_like, "
                         "all give realism_auc_like_seeds and their mean ± sd [0]")
    ap.add_argument("--sensor-noise", choices=("on", "off"), default="on",
                    help="paint with synth's sensor noise (its default for a model with a style input) or without [on]")
    ap.add_argument("--signal-noise", choices=("on", "off"), default="off",
                    help="with --sensor-noise on: the noise grows with the signal inside the nuclei [off]")
    ap.add_argument("--nucleus-spread", type=float, default=1.0,
                    help="paint with this nucleus spread factor (>= 1; 1: as painted) [1]")
    ap.add_argument("--held-out", action="store_true",
                    help="the selection's split of train/ instead (fit part as train, the held-out 61 as test): "
                         "for choices, which never look at test/")
    ap.add_argument("--out", type=Path, default=None, help="JSON [benchmarks/results/style/[held-out/]<model>[-sensor-noise].json]")
    args = ap.parse_args()

    import nucgan
    from nucgan.quality.baselines import fit_baseline
    from nucgan.quality.image_stats import STATISTICS, image_statistics, set_distance

    model = nucgan.load(args.model)
    if not model.input.style:
        sys.exit(f"error: {args.model} was trained without --style")
    if args.held_out:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from select_stardist import WORK, link_split

        train_folder, test_folder = link_split(WORK)
    else:
        train_folder, test_folder = args.data / "train", args.data / "test"
    test, train = pairs(test_folder, args.max_images), pairs(train_folder, args.max_images)
    real = [image_statistics(im, lb) for im, lb in test]
    rows: dict[str, list[dict[str, float]]] = {"real train (reference)": [image_statistics(im, lb) for im, lb in train]}
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    grain = args.sensor_noise == "on"
    widen = args.nucleus_spread
    signal = args.signal_noise == "on"
    like_images = {}
    for seed in seeds:
        drawn, like = [], []
        for k, (image, labels) in enumerate(test):
            drawn.append(image_statistics(nucgan.generate(model, labels, seed=seed * 1000 + k, sensor_noise=grain, nucleus_spread=widen, signal_noise=signal),
                                          labels))
            made = nucgan.generate(model, labels, seed=seed * 1000 + k, like=image, sensor_noise=grain, nucleus_spread=widen, signal_noise=signal)
            like.append(image_statistics(made, labels))
            like_images[k] = made
        rows[f"model, drawn style (seed {seed})"] = drawn
        rows[f"model --like (seed {seed})"] = like
        print(f"seed {seed}: {len(test)} test images painted twice ({time.perf_counter() - started:.0f} s)",
              flush=True)
    for name in ("painter", "flat"):
        baseline = fit_baseline(name, train)
        rows[name] = [image_statistics(baseline.paint(lb, seed=k), lb) for k, (_, lb) in enumerate(test)]
    table = {name: set_distance(real, values) for name, values in rows.items()}
    result = {"model": str(args.model), "test_images": len(test), "train_images": len(train), "seeds": seeds,
              "statistics": list(STATISTICS), "w1_over_real_sd": table, "sensor_noise": grain, "nucleus_spread": widen, "signal_noise": signal,
              "command": " ".join(["python", "benchmarks/style.py", *sys.argv[1:]])}
    if args.realism:
        from nucgan.quality.realism import realism_auc

        train_like = [(im, nucgan.generate(model, lb, seed=k, like=im, sensor_noise=grain, nucleus_spread=widen, signal_noise=signal), lb)
                      for k, (im, lb) in enumerate(train)]
        test_like = [(im, like_images[k], lb) for k, (im, lb) in enumerate(test)]
        aucs = [realism_auc(train_like, test_like, seed=int(s))["auc"] for s in args.realism_seeds.split(",")]
        result["realism_auc_like"] = aucs[0]  # seed 0 by default: the figure of the earlier runs
        if len(aucs) > 1:
            result["realism_auc_like_seeds"] = aucs
    header = "| source | " + " | ".join(STATISTICS) + " | mean |"
    print(header + "\n|" + " --- |" * (len(STATISTICS) + 2))
    for name, dist in table.items():
        print(f"| {name} | " + " | ".join(f"{dist[s]:.2f}" for s in STATISTICS) + f" | {dist['mean']:.2f} |")
    if "realism_auc_like" in result:
        print(f"realism AUC of the --like images: {result['realism_auc_like']:.3f}")
        if "realism_auc_like_seeds" in result:
            aucs = result["realism_auc_like_seeds"]
            print(f"over classifier seeds {args.realism_seeds}: {np.mean(aucs):.3f} ± {np.std(aucs, ddof=1):.3f} "
                  f"({', '.join(f'{a:.3f}' for a in aucs)})")
    out = args.out or ROOT / "benchmarks" / "results" / "style" / ("held-out" if args.held_out else "") / (
        f"{Path(str(args.model)).name}{'-sensor-noise' if grain else ''}{'-signal' if signal else ''}{f'-spread{widen:g}' if widen != 1 else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
