"""``nucgan evaluate --data DIR``: a model and both baselines scored on every image of a real folder.

For each generation seed, the model, ``painter`` and ``flat`` each paint the masks of every scored
image; per image: MAE and SSIM against the real image (in units of its range), the W1 distance of
per-nucleus mean intensities; pooled over images weighted by their nucleus counts. ``grid_peak``
pools the Welch spectra of all images (each mapped by its real image's 1st / 99.8th percentiles).
``realism_auc`` is the C2ST of :mod:`nucgan.quality.realism`: a classifier trained on patches of
``train`` images (real vs painted from their masks) and scored on patches of the scored images.
Every figure is reported as mean and sd over the seeds. The baselines are fitted on the ``train``
folder only, and nothing is chosen on the scored folder: it only reports.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nucgan.atomic import atomic_path, output_folder
from nucgan.errors import InputError
from nucgan.folders import folder_pairs
from nucgan.io import read_pair
from nucgan.quality.baselines import BASELINES, fit_baseline, is_baseline
from nucgan.quality.fidelity import intensities, paired
from nucgan.quality.grid import WelchPower
from nucgan.quality.judge import judge_segment
from nucgan.quality.matching import match
from nucgan.quality.realism import RealismConfig, image_scale, real_vs_real_auc, realism_auc

METRICS = ("mae", "ssim", "nucleus_w1", "grid_peak", "realism_auc", "consistency_f1")
Pair = tuple[np.ndarray, np.ndarray]
Painter = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class FolderEvalConfig:
    """What a folder evaluation does (JSON-able via ``asdict``; written into metrics.json)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    max_images: int | None = None  # scored images, evenly spaced over the sorted names; None = all
    realism_images: int = 48  # train images the classifier's training patches are cut from
    realism: RealismConfig = field(default_factory=RealismConfig)
    consistency: bool = True  # also the judge's F1 ratio (reported with its limits; never used for a choice)

    def validate(self) -> "FolderEvalConfig":
        """Raise InputError for settings that cannot work."""
        if not self.seeds:
            raise InputError("evaluate: give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"evaluate: seeds repeat: {list(self.seeds)}")
        if self.max_images is not None and self.max_images < 1:
            raise InputError(f"evaluate: --max-images must be >= 1, got {self.max_images}")
        if self.realism_images < 1:
            raise InputError(f"evaluate: realism_images must be >= 1, got {self.realism_images}")
        self.realism.validate()
        return self


def spread(items: Sequence[Any], n: int | None) -> list[Any]:
    """``n`` items evenly spaced over ``items`` (all of them when ``n`` is None or not smaller)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def read_folder(paths: Sequence[tuple[Path, Path]]) -> list[Pair]:
    """The (image, labels) arrays of path pairs; refuses an image smaller than 2 px.

    An annotated instance drawn in disconnected pieces (DSB 2018 has one in train/ and one in test/)
    cannot be layered for a model; its pieces become separate nuclei, with a warning naming the file.
    """
    import warnings

    from nucgan.labelids import split_pieces

    pairs = []
    for image_path, labels_path in paths:
        image, labels = read_pair(image_path, labels_path)
        if min(labels.shape) < 2:
            raise InputError(f"{image_path}: image is {labels.shape[0]} x {labels.shape[1]} px, too small to score")
        labels, split = split_pieces(labels)
        if split:
            shown = ", ".join(map(str, split[:5])) + (" ..." if len(split) > 5 else "")
            warnings.warn(f"{labels_path}: {len(split)} instance(s) in disconnected pieces (ids {shown}); "
                          "each piece is scored as its own nucleus", stacklevel=2)
        pairs.append((image, labels))
    return pairs


def split_folders(data: str | Path, train: str | Path | None) -> tuple[Path, Path]:
    """The scored folder and the train folder: ``train`` if given, else ``data/train`` beside ``data/test``."""
    data = Path(data)
    if train is not None:
        return data, Path(train)
    if (data / "train").is_dir() and (data / "test").is_dir():
        return data / "test", data / "train"
    raise InputError(f"{data}: give --train-data (the real folder the baselines are fitted on and the realism "
                     "classifier is trained on), or a folder holding train/ and test/")


def painters(model: Any, train_pairs: Sequence[Pair]) -> dict[str, tuple[Painter, dict[str, Any]]]:
    """The model (unless it is itself a baseline) and both baselines, each as (labels, seed) -> image and a description."""
    out: dict[str, tuple[Painter, dict[str, Any]]] = {}
    if not is_baseline(model):
        from nucgan.generation import generate, load_model

        zm = load_model(model)
        out["model"] = (lambda lab, seed: generate(zm, lab, seed=seed),
                        {"model": zm.name, "sha256": zm.info.sha256, "generator": zm.info.name})
    for name in BASELINES:
        fitted = fit_baseline(name, train_pairs)
        out[name] = (fitted.paint, {"baseline": name, "params": fitted.to_json()})
    return out


def _weighted(values: Sequence[float], weights: Sequence[float]) -> float:
    v, w = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    return float((v * w).sum() / w.sum())


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample sd (0 for one value), as the ``{"mean", "sd"}`` every pooled figure is reported in."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}


def _judge_counts(truth: np.ndarray, image: np.ndarray) -> np.ndarray:
    m = match(truth, judge_segment(image), 0.5)
    return np.array([m.tp, m.fp, m.fn], dtype=np.int64)


def _f1(counts: np.ndarray) -> float:
    tp, fp, fn = (int(c) for c in counts)
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0


def score_seed(paint: Painter, seed: int, scored: Sequence[Pair], train: Sequence[Pair], config: FolderEvalConfig,
               judge_real: np.ndarray | None, tick: Callable[[], None]) -> tuple[dict[str, float], np.ndarray]:
    """One source's pooled figures for one seed, and its first generated image (for the figure)."""
    weights, mae, ssim, w1 = [], [], [], []
    welch, judged = WelchPower(), np.zeros(3, dtype=np.int64)
    scored_fakes = []
    for i, (real, labels) in enumerate(scored):
        fake = paint(labels, int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
        welch.add(fake, image_scale(real))
        if nucleus_count(labels):  # an image without nuclei weighs 0 in the pooled figures (grid_peak still sees it)
            fid = paired(real, fake, labels)
            weights.append(nucleus_count(labels))
            mae.append(fid["mae_all"])
            ssim.append(fid["ssim_all"])
            w1.append(intensities(real, fake, labels)["nucleus_w1"])
        if judge_real is not None:
            judged += _judge_counts(labels, fake)
        scored_fakes.append(fake)
        tick()
    train_fakes = []
    for i, (_, labels) in enumerate(train):
        train_fakes.append(paint(labels, int(np.random.SeedSequence([seed, 1 << 20, i]).generate_state(1)[0])))
        tick()
    auc = realism_auc([(r, f, lb) for (r, lb), f in zip(train, train_fakes)],
                      [(r, f, lb) for (r, lb), f in zip(scored, scored_fakes)], config.realism, seed=seed)
    figures = {"mae": _weighted(mae, weights), "ssim": _weighted(ssim, weights), "nucleus_w1": _weighted(w1, weights),
               "grid_peak": welch.grid_peak()["grid_peak"], "realism_auc": auc["auc"]}
    if judge_real is not None:
        real_f1 = _f1(judge_real)
        figures["consistency_f1"] = _f1(judged) / real_f1 if real_f1 else float("nan")
    return figures, scored_fakes[0]


def nucleus_count(labels: np.ndarray) -> int:
    """The number of nuclei in ``labels`` (the weight of an image in every pooled figure)."""
    ids = np.unique(labels)
    return int((ids > 0).sum())


def evaluate_folder(model: Any, data: str | Path, *, train_data: str | Path | None = None,
                    config: FolderEvalConfig | None = None, out: str | Path | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Every figure of ``model``, ``painter`` and ``flat`` (and the real images' own) on a folder, over seeds.

    ``data``: a StarDist or Cellpose folder to score, or a folder holding ``train/`` and ``test/``
    (then ``test/`` is scored and ``train/`` fits the baselines and trains the realism classifier).
    ``progress(stage, done, total)`` is called as images are painted. Writes ``metrics.json`` and
    ``figure.png`` into ``out`` (atomically, at the end) if given.
    """
    config = (config or FolderEvalConfig()).validate()
    if out is None:
        return _evaluate_folder(model, data, train_data, config, None, progress)
    with output_folder(out) as folder:
        return _evaluate_folder(model, data, train_data, config, folder, progress)


def _evaluate_folder(model: Any, data: str | Path, train_data: str | Path | None, config: FolderEvalConfig,
                     out: Path | None, progress: Callable[[str, int, int], None] | None) -> dict[str, Any]:
    started = time.perf_counter()
    scored_dir, train_dir = split_folders(data, train_data)
    scored_paths = spread(folder_pairs(scored_dir), config.max_images)
    train_paths = folder_pairs(train_dir)
    scored, train_all = read_folder(scored_paths), read_folder(train_paths)
    if not any(nucleus_count(lb) for _, lb in scored):
        raise InputError(f"{scored_dir}: no nucleus in the masks of the {len(scored)} scored image(s); nothing to score")
    train = spread(train_all, config.realism_images)
    sources = painters(model, train_all)
    judge_real = None
    if config.consistency:
        judge_real = sum((_judge_counts(lb, im) for im, lb in scored), np.zeros(3, dtype=np.int64))
    total = len(sources) * len(config.seeds) * (len(scored) + len(train))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress("painting", done, total)

    per_seed: dict[str, list[dict[str, float]]] = {name: [] for name in [*sources, "real"]}
    first: dict[str, np.ndarray] = {}
    for seed in config.seeds:
        for name, (paint, _) in sources.items():
            figures, first[name] = score_seed(paint, seed, scored, train, config, judge_real, tick)
            per_seed[name].append({"seed": seed, **figures})
        control = real_vs_real_auc(train, scored, config.realism, seed=seed)
        per_seed["real"].append({"seed": seed, "realism_auc": control["auc"]})
    real_welch = WelchPower()
    for image, _ in scored:
        real_welch.add(image, image_scale(image))
    real_grid = real_welch.grid_peak()["grid_peak"]
    for run in per_seed["real"]:
        run["grid_peak"] = real_grid
    results = {name: {k: mean_sd([r[k] for r in runs]) for k in METRICS if k in runs[0]}
               for name, runs in per_seed.items()}
    result = {
        "format": "nucgan-evaluate-folder/1",
        "data": str(scored_dir), "train_data": str(train_dir),
        "images": len(scored), "nuclei": int(sum(nucleus_count(lb) for _, lb in scored)),
        "images_without_nuclei": sum(1 for _, lb in scored if not nucleus_count(lb)),
        "images_in_folder": len(folder_pairs(scored_dir)), "train_images": len(train_all),
        "realism_train_images": len(train),
        "sources": {name: desc for name, (_, desc) in sources.items()},
        "results": results, "per_seed": per_seed,
        "settings": asdict(config), "pooling": "per-image figures weighted by nucleus count; grid_peak from "
                                                "the pooled Welch spectrum of all scored images",
        "consistency_note": "the judge's F1 on generated over on real images; binary masks score highest, "
                            "so it is reported, never used to choose",
        "seconds": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        write_outputs(out, result, scored[0], first)
    return result


def write_outputs(out: Path, result: dict[str, Any], example: Pair, first: dict[str, np.ndarray]) -> None:
    """metrics.json and figure.png (masks | real | each source's first image), each written atomically."""
    from nucgan.io import write_png
    from nucgan.pictures import colour_labels, side_by_side, stretch

    image, labels = example
    lo, hi = np.percentile(image, (0.5, 99.8))
    picture = side_by_side([colour_labels(labels), stretch(image, lo, hi),
                            *(stretch(first[name], lo, hi) for name in first)])
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    write_png(out / "figure.png", picture)
