"""Instance matching of a segmentation against ground truth (StarDist-style, Hungarian at an IoU threshold)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))


@dataclass(frozen=True)
class Match:
    """Counts and scores of one matching at one IoU threshold."""

    threshold: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    accuracy: float  # TP / (TP + FP + FN)
    mean_matched_iou: float
    panoptic_quality: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU between every true and every predicted instance: (matrix, true ids, predicted ids)."""
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    t_ids, t_inv = np.unique(truth, return_inverse=True)
    p_ids, p_inv = np.unique(pred, return_inverse=True)
    overlap = np.bincount(t_inv.ravel() * len(p_ids) + p_inv.ravel(),
                          minlength=len(t_ids) * len(p_ids)).reshape(len(t_ids), len(p_ids))
    t_keep, p_keep = t_ids != 0, p_ids != 0
    t_area, p_area = overlap.sum(1), overlap.sum(0)
    inter = overlap[np.ix_(t_keep, p_keep)].astype(np.float64)
    union = t_area[t_keep][:, None] + p_area[p_keep][None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou, t_ids[t_keep], p_ids[p_keep]


def match(truth: np.ndarray, pred: np.ndarray, threshold: float = 0.5, iou: np.ndarray | None = None) -> Match:
    """Hungarian one-to-one matching maximising IoU; pairs below ``threshold`` do not count."""
    if iou is None:
        iou = iou_matrix(truth, pred)[0]
    n_true, n_pred = iou.shape
    tp, matched_iou = 0, 0.0
    if n_true and n_pred:
        # maximise the number of matches above the threshold, then their IoU (as StarDist does)
        score = (iou >= threshold) * (1.0 + iou)
        rows, cols = linear_sum_assignment(-score)
        good = iou[rows, cols] >= threshold
        tp, matched_iou = int(good.sum()), float(iou[rows, cols][good].sum())
    fp, fn = n_pred - tp, n_true - tp
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * tp / (n_true + n_pred) if (n_true + n_pred) else 1.0
    accuracy = tp / (tp + fp + fn) if (tp + fp + fn) else 1.0
    mean_iou = matched_iou / tp if tp else 0.0
    return Match(float(threshold), tp, fp, fn, precision, recall, f1, accuracy, mean_iou, mean_iou * f1)


def segmentation_scores(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """F1, precision, recall, mean matched IoU, PQ at 0.5 and accuracy averaged over IoU 0.5..0.95."""
    iou = iou_matrix(truth, pred)[0]
    at50 = match(truth, pred, 0.5, iou)
    mean_acc = float(np.mean([match(truth, pred, t, iou).accuracy for t in THRESHOLDS]))
    return {"precision": at50.precision, "recall": at50.recall, "f1": at50.f1,
            "mean_matched_iou": at50.mean_matched_iou, "panoptic_quality": at50.panoptic_quality,
            "accuracy_50_95": mean_acc, "n_true": at50.tp + at50.fn, "n_pred": at50.tp + at50.fp}
