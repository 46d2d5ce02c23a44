"""Realism as a two-sample classifier test (C2ST): can a small CNN tell real patches from generated ones?

The generated images are painted from the *same* instance masks as the real ones and every patch
pair is cut at the *same* place, so masks, layout and position are identical in both classes: only
appearance (intensity, texture, blur, noise, edges) can separate them.

**Patches.** Square, ``patch`` px a side (default 48, about two median DSB nuclei across). Each
patch is centred on a random nucleus pixel, shifted by a uniform integer jitter in
``[-patch // 4, patch // 4]`` on each axis, then clipped to lie inside its image. Images are picked
with probability proportional to their nucleus pixel count; images smaller than ``patch`` in a
side are skipped. The real image and the generated image of the same masks are both mapped by the
*real* image's scale, ``(x - p1) / (p99.8 - p1)`` with its 1st and 99.8th percentiles, not clipped,
so a generated image that is too bright, too dark or too flat stays visibly so.

**Classifier** (trained from scratch, no pretrained weights), input ``(N, 1, patch, patch)``::

    conv3x3(1->16,  stride 2, pad 1, no bias) + BatchNorm + ReLU    48 -> 24 px
    conv3x3(16->32, stride 2, pad 1, no bias) + BatchNorm + ReLU    24 -> 12 px
    conv3x3(32->64, stride 2, pad 1, no bias) + BatchNorm + ReLU    12 ->  6 px
    conv3x3(64->64, stride 1, pad 1, no bias) + BatchNorm + ReLU     6 ->  6 px
    global average pool -> linear(64 -> 1) = one logit (> 0: "generated")

Stride-2 convolutions, not max-pools: a 3x3 kernel at stride 2 still reads every pixel (so pixel
noise and blur stay visible), at a third of the CPU time of conv + max-pool. Receptive field 31 px.

BatchNorm, not GroupNorm: per-sample normalisation would hide a patch's absolute level and contrast.
60,465 parameters. Loss: binary cross-entropy on the logit (real = 0, generated = 1); Adam,
``lr`` 1e-3, ``steps`` optimiser steps (default 300) on batches of ``batch`` (default 64) patches,
half of each class, drawn with replacement from ``train_patches`` (default 1024) patches per class.
Augmentation: each training patch gets one of the 8 flips / quarter turns at random. Scoring uses
no augmentation and BatchNorm's running statistics (eval mode).

**Splits and score.** Trained on patches from the train images, scored on ``test_patches``
(default 512) per class from the test images: the ROC AUC of the logit, i.e. the probability that
a random generated test patch scores above a random real one (ties count half; the Mann-Whitney
rank formula). 0.5 = the classifier cannot tell them apart; 1.0 = always told apart; below 0.5 is
chance on the wrong side. :func:`real_vs_real_auc` is the control: two disjoint sets of real
patches of the same images as the two classes, which must come out near 0.5.

**Determinism.** Everything random comes from ``seed``: patch positions from numpy Generators,
weights, batches and augmentation from it under :func:`torch.random.fork_rng` (the caller's torch
RNG is left as it was). Torch runs on the CPU with ``threads`` threads (default 1), restored
afterwards; the same seed, data, config and machine give the same AUC (another thread count may
change the last digits: the float sums run in another order).

**Cost.** The default budget (300 steps of 64 patches) takes about 15 s of CPU time per AUC on one
thread, patch cutting included: 10-35 s wall on a two-core machine shared with other work
(measured on 60 + 30 DSB 2018 fluorescence images). Two threads there were 3-10x *slower* (the
threads wait on each other while other work holds the cores), hence the default of 1. Stride-2
convolutions learn more slowly per step than conv + max-pool: budgets under ~100 steps of 32
patches are not reliable (``flat`` came out at AUC 0.71-0.96 after 40 steps).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from nucgan.errors import InputError

#: Smallest patch side: three stride-2 convolutions must leave at least 2 px for the last block.
MIN_PATCH = 16
#: Patches scored per forward pass (memory bound only; does not change the result).
SCORE_BATCH = 256


@dataclass(frozen=True)
class RealismConfig:
    """Patch size, patch counts and training budget of the realism classifier (JSON-able via ``asdict``).

    The defaults tell the ``flat`` and ``painter`` baselines from real DSB 2018 fluorescence patches
    (AUC 0.99-1.0) at about 15 s of CPU per AUC on one thread; real against real stays near 0.5.
    """

    patch: int = 48            # side of a square patch, px
    train_patches: int = 1024  # patches per class for training
    test_patches: int = 512    # patches per class for scoring
    steps: int = 300           # optimiser steps
    batch: int = 64            # patches per step, half of each class
    lr: float = 1e-3           # Adam learning rate
    threads: int = 1           # torch CPU threads while training and scoring

    def validate(self) -> RealismConfig:
        """Raise InputError for a value the test cannot run with; return self."""
        ints = {"patch": MIN_PATCH, "train_patches": 1, "test_patches": 1, "steps": 1, "batch": 2, "threads": 1}
        for name, low in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"realism: {name} must be an integer >= {low} (got {value!r})")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise InputError(f"realism: lr must be a finite number > 0 (got {lr!r})")
        return self


# -- patches -----------------------------------------------------------------------------------------
def _two_d(array: np.ndarray, what: str) -> np.ndarray:
    """``array`` as an ndarray, refused unless it is one 2-D plane."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise InputError(f"realism: {what} must be 2-D (one plane), got shape {array.shape}")
    return array


def patch_positions(labels: Sequence[np.ndarray], count: int, patch: int,
                    seed: int) -> list[tuple[int, int, int]]:
    """(image index, y, x) top-left corners of ``count`` patches, each centred near a random nucleus pixel.

    Images are picked with probability proportional to their nucleus pixel count; the centre is a
    uniformly drawn nucleus pixel of that image shifted by a jitter in ``[-patch // 4, patch // 4]``
    per axis, and the patch is clipped to lie inside the image. Images smaller than ``patch`` in a
    side are skipped.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise InputError(f"realism: patch count must be an integer >= 0 (got {count!r})")
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or patch < 1:
        raise InputError(f"realism: patch must be a positive integer (got {patch!r})")
    labs = [_two_d(lab, f"labels {i}") for i, lab in enumerate(labels)]
    if not labs:
        raise InputError("realism: no label images to cut patches from")
    fits = [i for i, lab in enumerate(labs) if lab.shape[0] >= patch and lab.shape[1] >= patch]
    if not fits:
        raise InputError(f"realism: every image is smaller than the {patch} px patch in a side")
    pixels = {i: np.flatnonzero(labs[i] > 0) for i in fits}
    weights = np.array([pixels[i].size for i in fits], dtype=np.float64)
    if weights.sum() == 0:
        raise InputError(f"realism: no nucleus pixels in any image at least {patch} px a side")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(fits), size=count, p=weights / weights.sum())
    jitter = patch // 4
    out: list[tuple[int, int, int]] = []
    for k in chosen:
        i = fits[int(k)]
        h, w = labs[i].shape
        cy, cx = divmod(int(pixels[i][rng.integers(pixels[i].size)]), w)
        dy, dx = rng.integers(-jitter, jitter + 1, size=2)
        y = min(max(cy + int(dy) - patch // 2, 0), h - patch)
        x = min(max(cx + int(dx) - patch // 2, 0), w - patch)
        out.append((i, y, x))
    return out


def _distinct_positions(labels: Sequence[np.ndarray], count: int, patch: int,
                        seed: int) -> list[tuple[int, int, int]]:
    """``count`` pairwise different patch positions (topped up with fresh draws); InputError if too few exist."""
    seen: dict[tuple[int, int, int], None] = {}
    for round_ in range(20):
        need = count - len(seen)
        if need <= 0:
            break
        for pos in patch_positions(labels, 2 * need, patch, _child_seed(seed, 100 + round_)):
            seen.setdefault(pos, None)
    if len(seen) < count:
        raise InputError(f"realism: found fewer than {count} distinct {patch} px patch positions (too few nuclei)")
    return list(seen)[:count]


def image_scale(real: np.ndarray) -> tuple[float, float]:
    """The real image's 1st and 99.8th percentiles: one scale for it and for the generated image of its masks.

    Sharing the real scale keeps intensity differences visible to the classifier. A constant image
    gets a span of 1 so nothing divides by zero.
    """
    x = np.asarray(real, dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        raise InputError("realism: a real image is empty or holds NaN or inf")
    lo, hi = (float(v) for v in np.percentile(x, [1.0, 99.8]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def cut_patches(images: Sequence[np.ndarray], scales: Sequence[tuple[float, float]],
                positions: Sequence[tuple[int, int, int]], patch: int) -> np.ndarray:
    """float32 ``(N, 1, patch, patch)`` patches, image ``i`` mapped by its ``(lo, hi)``: ``(x - lo) / (hi - lo)``.

    Not clipped: values outside the real range stay outside [0, 1], where the classifier can see them.
    """
    if len(images) != len(scales):
        raise InputError(f"realism: {len(images)} images but {len(scales)} scales")
    for lo, hi in scales:
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise InputError(f"realism: an image scale must have finite lo < hi (got {lo!r}, {hi!r})")
    out = np.empty((len(positions), 1, patch, patch), np.float32)
    for n, (i, y, x) in enumerate(positions):
        image = _two_d(images[i], f"image {i}")
        if not (0 <= y <= image.shape[0] - patch and 0 <= x <= image.shape[1] - patch):
            raise InputError(f"realism: a {patch} px patch at ({y}, {x}) leaves image {i} of shape {image.shape}")
        lo, hi = scales[i]
        out[n, 0] = (image[y:y + patch, x:x + patch].astype(np.float64) - lo) / (hi - lo)
    if not np.isfinite(out).all():
        raise InputError("realism: an image holds NaN or inf inside a patch")
    return out


# -- AUC ---------------------------------------------------------------------------------------------
def roc_auc(negative: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC = P(positive score > negative score), ties counted half (Mann-Whitney rank formula)."""
    neg = np.asarray(negative, dtype=np.float64).ravel()
    pos = np.asarray(positive, dtype=np.float64).ravel()
    if neg.size == 0 or pos.size == 0:
        raise InputError("realism: ROC AUC needs at least one score of each class")
    scores = np.concatenate([neg, pos])
    if not np.isfinite(scores).all():
        raise InputError("realism: ROC AUC scores hold NaN or inf")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts            # 0-based rank of each distinct value's first copy
    ranks = (first + (counts + 1) / 2.0)[inverse]  # 1-based average rank, ties share it
    u = ranks[neg.size:].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


# -- classifier --------------------------------------------------------------------------------------
def _child_seed(seed: int, k: int) -> int:
    """A 32-bit seed for sub-task ``k`` of ``seed``, independent of the others."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, k]).generate_state(1)[0])


def build_classifier():  # -> torch.nn.Module (torch imported lazily)
    """The fixed CNN of the module docstring: 4 conv blocks 16-32-64-64, global average pool, one logit."""
    from torch import nn

    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*block(1, 16, 2), *block(16, 32, 2), *block(32, 64, 2), *block(64, 64, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1))


def _augment(x, ops: np.ndarray):  # (torch.Tensor, ...) -> torch.Tensor
    """Each patch turned by its own one of the 8 flips / quarter turns (``ops[n]`` in 0..7)."""
    import torch

    out = torch.empty_like(x)
    for k in range(8):
        idx = torch.from_numpy(np.flatnonzero(ops == k))
        if idx.numel():
            sub = x[idx].flip(-1) if k >= 4 else x[idx]
            out[idx] = torch.rot90(sub, k % 4, dims=(-2, -1))
    return out


def _check_patches(arrays: dict[str, np.ndarray], patch: int) -> None:
    """Refuse patch arrays that are not float ``(N >= 1, 1, patch, patch)`` and finite."""
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.ndim != 4 or a.shape[1:] != (1, patch, patch) or a.shape[0] < 1:
            raise InputError(f"realism: {name} must be (N >= 1, 1, {patch}, {patch}) patches, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise InputError(f"realism: {name} holds NaN or inf")


class _threads:
    """Context manager: torch uses ``n`` CPU threads inside, the caller's count again afterwards."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)


def _batches(a: np.ndarray, b: np.ndarray, config: RealismConfig, rng: np.random.Generator) -> Iterator[tuple]:
    """``config.steps`` balanced batches: (patches, 0/1 targets, augmentation ops), drawn with replacement."""
    na, nb = config.batch // 2, config.batch - config.batch // 2
    target = np.concatenate([np.zeros(na, np.float32), np.ones(nb, np.float32)])
    for _ in range(config.steps):
        x = np.concatenate([a[rng.integers(len(a), size=na)], b[rng.integers(len(b), size=nb)]])
        yield x, target, rng.integers(8, size=config.batch)


def classifier_auc(train_a: np.ndarray, train_b: np.ndarray, test_a: np.ndarray, test_b: np.ndarray,
                   config: RealismConfig, seed: int) -> float:
    """Train the CNN to tell ``a`` (label 0) from ``b`` (label 1) on the train patches; ROC AUC on the test patches."""
    import torch

    config.validate()
    _check_patches({"train_a": train_a, "train_b": train_b, "test_a": test_a, "test_b": test_b}, config.patch)
    as32 = [np.ascontiguousarray(p, dtype=np.float32) for p in (train_a, train_b, test_a, test_b)]
    rng = np.random.default_rng(_child_seed(seed, 1))
    with _threads(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(_child_seed(seed, 2))
        model = build_classifier()
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        model.train()
        for x, y, ops in _batches(as32[0], as32[1], config, rng):
            logits = model(_augment(torch.from_numpy(x), ops)).squeeze(1)
            loss = loss_fn(logits, torch.from_numpy(y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            scores = [torch.cat([model(torch.from_numpy(p[i:i + SCORE_BATCH])).squeeze(1)
                                 for i in range(0, len(p), SCORE_BATCH)]).numpy() for p in as32[2:]]
    return roc_auc(scores[0], scores[1])


# -- the tests ---------------------------------------------------------------------------------------
def _checked(items: Sequence[tuple[np.ndarray, ...]], split: str, names: tuple[str, ...]) -> list[tuple]:
    """Items of 2-D arrays named ``names``, all of one shape, at least one item; InputError otherwise."""
    if not items:
        raise InputError(f"realism: no {split} images")
    out = []
    for n, item in enumerate(items):
        if len(item) != len(names):
            raise InputError(f"realism: {split} item {n} must be ({', '.join(names)})")
        arrays = tuple(_two_d(a, f"{split} {w} {n}") for a, w in zip(item, names))
        if len({a.shape for a in arrays}) != 1:
            shapes = ", ".join(f"{w} {a.shape}" for a, w in zip(arrays, names))
            raise InputError(f"realism: {split} item {n}: {shapes} differ in shape")
        out.append(arrays)
    return out


def _result(auc: float, config: RealismConfig, start: float) -> dict:
    """The common return shape of the realism tests (patch counts are per class)."""
    return {"auc": auc, "train_patches": config.train_patches, "test_patches": config.test_patches,
            "config": asdict(config), "seconds": time.perf_counter() - start}


def realism_auc(train: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                test: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                config: RealismConfig | None = None, seed: int = 0) -> dict:
    """C2ST AUC of real (class 0) against generated (class 1) from (real, generated, labels) triples.

    Real and generated patches are cut at the same positions with the real image's scale, so only
    appearance differs. ``train_patches`` / ``test_patches`` in the result are per class.
    """
    start = time.perf_counter()
    config = (config or RealismConfig()).validate()
    cut: list[np.ndarray] = []
    for k, (split, items, count) in enumerate((("train", train, config.train_patches),
                                                ("test", test, config.test_patches))):
        triples = _checked(items, split, ("real image", "generated image", "labels"))
        pos = patch_positions([t[2] for t in triples], count, config.patch, _child_seed(seed, 10 + k))
        scales = [image_scale(t[0]) for t in triples]
        cut += [cut_patches([t[0] for t in triples], scales, pos, config.patch),
                cut_patches([t[1] for t in triples], scales, pos, config.patch)]
    return _result(classifier_auc(*cut, config=config, seed=seed), config, start)


def real_vs_real_auc(train: Sequence[tuple[np.ndarray, np.ndarray]], test: Sequence[tuple[np.ndarray, np.ndarray]],
                     config: RealismConfig | None = None, seed: int = 0) -> dict:
    """Control C2ST on (real image, labels) pairs: two disjoint sets of real patches as the classes; ~0.5.

    Per split, ``2 * count`` pairwise different positions are drawn from the same images and dealt
    alternately to the two classes, so both classes come from the same images and the same nuclei.
    """
    start = time.perf_counter()
    config = (config or RealismConfig()).validate()
    cut: list[np.ndarray] = []
    for k, (split, items, count) in enumerate((("train", train, config.train_patches),
                                                ("test", test, config.test_patches))):
        pairs = _checked(items, split, ("real image", "labels"))
        pos = _distinct_positions([lb for _, lb in pairs], 2 * count, config.patch, _child_seed(seed, 20 + k))
        images, scales = [im for im, _ in pairs], [image_scale(im) for im, _ in pairs]
        cut += [cut_patches(images, scales, pos[0::2], config.patch),
                cut_patches(images, scales, pos[1::2], config.patch)]
    return _result(classifier_auc(*cut, config=config, seed=seed), config, start)
