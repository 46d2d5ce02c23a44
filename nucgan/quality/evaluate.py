"""``nucgan evaluate``: a model (or a baseline) scored on a real image's held-out region."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from nucgan.atomic import atomic_path, output_folder
from nucgan.errors import InputError
from nucgan.quality.baselines import BASELINES, fit_baseline, is_baseline
from nucgan.quality.fidelity import intensities, paired, spectrum
from nucgan.quality.judge import judge_segment
from nucgan.quality.matching import segmentation_scores
from nucgan.regions import crop, majority_inside, parse_region

__all__ = ["BASELINES", "evaluate", "paint_region", "write_figure"]


def _ignore_cut(truth: np.ndarray, keep: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blank nuclei counted in the other half, and predictions lying mostly on them."""
    ignored = (truth > 0) & ~np.isin(truth, keep)
    truth = np.where(ignored, 0, truth)
    ids, counts = np.unique(pred[pred > 0], return_counts=True)
    on_ignored = np.bincount(pred[ignored & (pred > 0)], minlength=int(pred.max()) + 1)
    drop = [i for i, c in zip(ids, counts) if on_ignored[i] * 2 > c]
    return truth, np.where(np.isin(pred, drop), 0, pred)


def paint_region(model: Any, image: np.ndarray, labels: np.ndarray, box: tuple[int, int, int, int], *,
                 seed: int, train_region: str = "train") -> tuple[np.ndarray, dict[str, Any]]:
    """The generated image for the region's labels, and a description of what made it."""
    region_labels = crop(labels, box)
    if is_baseline(model):
        train_box = parse_region(train_region, labels.shape)
        fitted = fit_baseline(model, [(crop(image, train_box), crop(labels, train_box))])
        return fitted.paint(region_labels, seed=seed), {"baseline": model, "fitted_on": train_region,
                                                        "params": fitted.to_json()}
    from nucgan.generation import generate, load_model

    zm = load_model(model)
    fake = generate(zm, region_labels, seed=seed)
    return fake, {"model": zm.name, "sha256": zm.info.sha256, "generator": zm.info.name}


def evaluate(model: Any, image: np.ndarray, labels: np.ndarray, *, region: str = "test", seed: int = 0,
             out: str | Path | None = None, train_region: str = "train") -> dict[str, Any]:
    """All quality figures of ``model`` on ``region`` of a real ``image`` with its ``labels``.

    ``model`` is a zoo id / run / file / loaded model, or a baseline (``"painter"`` or ``"flat"``,
    fitted on ``train_region``). Writes ``metrics.json`` and ``figure.png`` into ``out`` if given.
    """
    box = parse_region(region, labels.shape)
    keep = majority_inside(labels, box)
    if not keep.size:
        raise InputError(f"evaluate: the {region} region (rows {box[0]}..{box[1] - 1}, columns {box[2]}..{box[3] - 1}) "
                         "holds no nucleus to score; give another --region")
    if out is None:
        return _evaluate(model, image, labels, box, keep, region, seed, None, train_region)
    with output_folder(out) as folder:  # a file or a read-only place is refused before the work
        return _evaluate(model, image, labels, box, keep, region, seed, folder, train_region)


def _evaluate(model: Any, image: np.ndarray, labels: np.ndarray, box: tuple[int, int, int, int], keep: np.ndarray,
              region: str, seed: int, out: Path | None, train_region: str) -> dict[str, Any]:
    """:func:`evaluate` after its checks; writes the figure, then metrics.json, so metrics.json means complete."""
    started = time.perf_counter()
    fake, source = paint_region(model, image, labels, box, seed=seed, train_region=train_region)
    real, truth_all = crop(image, box), crop(labels, box)
    seg_real, seg_fake = judge_segment(real), judge_segment(fake)
    truth, seg_real = _ignore_cut(truth_all, keep, seg_real)
    _, seg_fake = _ignore_cut(truth_all, keep, seg_fake)
    judge_real, judge_fake = segmentation_scores(truth, seg_real), segmentation_scores(truth, seg_fake)
    ratio = {k: (judge_fake[k] / judge_real[k] if judge_real[k] else float("nan"))
             for k in ("f1", "mean_matched_iou", "panoptic_quality", "accuracy_50_95")}
    result = {
        "source": source, "region": region, "box": list(box), "seed": seed,
        "nuclei": int(keep.size), "cut_nuclei_policy": "counted in the half holding most of their pixels",
        "fidelity": paired(real, fake, truth_all),
        "intensity": intensities(real, fake, truth),
        "spectrum": spectrum(real, fake),
        "judge_real": judge_real, "judge_generated": judge_fake, "consistency": ratio,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if out is not None:
        write_figure(out / "figure.png", truth_all, real, fake, seg_real, seg_fake)
        try:
            with atomic_path(out / "metrics.json") as tmp:
                tmp.write_text(json.dumps(result, indent=2) + "\n")
        except BaseException:
            (out / "figure.png").unlink(missing_ok=True)
            raise
    return result


def write_figure(path: Path, labels: np.ndarray, real: np.ndarray, fake: np.ndarray, seg_real: np.ndarray,
                 seg_fake: np.ndarray) -> None:
    """masks | real | generated | judge on real | judge on generated, side by side."""
    from skimage.segmentation import find_boundaries

    from nucgan.io import write_png
    from nucgan.pictures import colour_labels, side_by_side, stretch

    lo, hi = np.percentile(real, (0.5, 99.8))

    def outlined(x: np.ndarray, seg: np.ndarray) -> np.ndarray:
        rgb = np.repeat(stretch(x, lo, hi)[..., None], 3, axis=2)
        rgb[find_boundaries(seg, mode="inner")] = (255, 200, 0)
        return rgb

    picture = side_by_side([colour_labels(labels), stretch(real, lo, hi), stretch(fake, lo, hi),
                            outlined(real, seg_real), outlined(fake, seg_fake)])
    write_png(path, picture)
