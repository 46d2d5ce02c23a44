"""Train-on-synthetic, test-on-real: one small seeded segmentation net, trained per arm, scored on real data.

Arms: ``real`` (crops of the real train half), ``synthetic`` (only image/label pairs painted by a
model from de novo masks laid out by :func:`nucgan.layout.place`), ``both`` (each crop drawn from
either pool with probability 1/2). The net and every setting are the same for all arms; only the
training pairs differ. The net is a 3-level U-Net (16/32/64 filters) predicting three classes per
pixel: background, nucleus interior and nucleus boundary (the 1-px inner outline of each instance,
so touching nuclei are separated). Instances: connected interiors (specks under the judge's
``MIN_AREA`` dropped) grown over the predicted foreground by a watershed on the interior
probability; a foreground component without a seed stays one instance, as in the judge.

Images are mapped to [0, 1] per image by their 1st / 99.8th percentiles, so real and generated
images of different ranges look alike to the net. Scores: StarDist-style matching
(:func:`nucgan.quality.matching.segmentation_scores`) on the real test half, with the same cut-nucleus
policy as ``nucgan evaluate``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries, watershed
from torch import nn

from nucgan.errors import InputError
from nucgan.quality.baselines import fit_baseline, is_baseline
from nucgan.quality.evaluate import _ignore_cut
from nucgan.quality.judge import MIN_AREA, judge_segment
from nucgan.quality.matching import iou_matrix, match, segmentation_scores
from nucgan.regions import crop, majority_inside, parse_region

ARMS = ("real", "synthetic", "both")
BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
IGNORE = 255  # target of pixels that must not count in the loss (nuclei counted in the other half)


@dataclass(frozen=True)
class DownstreamConfig:
    """Settings shared by every arm and seed (JSON-able via ``asdict``)."""

    steps: int = 300
    crop: int = 96
    batch: int = 8
    lr: float = 2e-3
    filters: int = 16
    boundary_weight: float = 2.0
    synth_count: int = 8
    synth_size: int = 256
    synth_seed: int = 1000
    sampler: str = "bank"
    threads: int = 1

    def validate(self) -> "DownstreamConfig":
        """Raise InputError for a setting that cannot work."""
        if self.crop < 16 or self.crop % 8:
            raise InputError(f"downstream: crop must be a multiple of 8 of at least 16, got {self.crop}")
        if min(self.steps, self.batch, self.synth_count, self.filters, self.threads) < 1:
            raise InputError("downstream: steps, batch, synth_count, filters and threads must be >= 1")
        if self.synth_size < self.crop:
            raise InputError(f"downstream: synth_size ({self.synth_size}) must be at least the crop ({self.crop})")
        return self


# -- the net -----------------------------------------------------------------------------------------
def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    """A 3-level U-Net: 1 grey channel in, 3 class logits out; input sides a multiple of 4."""

    size_multiple = 4

    def __init__(self, filters: int = 16, classes: int = 3) -> None:
        super().__init__()
        f = filters
        self.enc1, self.enc2, self.enc3 = _block(1, f), _block(f, 2 * f), _block(2 * f, 4 * f)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * f, 2 * f, 2, stride=2), _block(4 * f, 2 * f)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * f, f, 2, stride=2), _block(2 * f, f)
        self.head = nn.Conv2d(f, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, classes, H, W) logits."""
        e1 = self.enc1(x)
        e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
        e3 = self.enc3(nn.functional.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


# -- data ---------------------------------------------------------------------------------------------
def normalise(image: np.ndarray) -> np.ndarray:
    """float32 image mapped to [0, 1] by its 1st / 99.8th percentiles (clipped)."""
    x = np.asarray(image, dtype=np.float64)
    lo, hi = np.percentile(x, (1.0, 99.8))
    return np.clip((x - lo) / max(hi - lo, 1e-9), 0, 1).astype(np.float32)


def targets(labels: np.ndarray) -> np.ndarray:
    """Per-pixel classes (uint8): 0 background, 1 interior, 2 the inner boundary of each instance."""
    out = np.where(labels > 0, INTERIOR, BACKGROUND).astype(np.uint8)
    out[find_boundaries(labels, mode="inner") & (labels > 0)] = BOUNDARY
    return out


def instances(probs: np.ndarray) -> np.ndarray:
    """int32 instance labels from (3, H, W) class probabilities; deterministic."""
    fg = probs[BACKGROUND] < 0.5
    seeds, _ = ndi.label(probs[INTERIOR] > 0.5)
    sizes = np.bincount(seeds.ravel())
    seeds[sizes[seeds] < MIN_AREA] = 0
    seeds, _ = ndi.label(seeds > 0)
    labels = watershed(-probs[INTERIOR], seeds, mask=fg)
    components, _ = ndi.label(fg)
    missing = np.setdiff1d(np.unique(components[fg & (labels == 0)]), [0])
    for i, comp in enumerate(missing, start=int(labels.max()) + 1):
        labels[(components == comp) & (labels == 0)] = i
    small = np.bincount(labels.ravel())
    labels[small[labels] < MIN_AREA] = 0
    return labels.astype(np.int32)


class Pool:
    """Training pairs (normalised image, class targets) to draw augmented crops from."""

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], ignore: Sequence[int] = ()) -> None:
        """``ignore``: instance ids whose pixels get the IGNORE target (left out of the loss)."""
        if not pairs:
            raise InputError("downstream: a training pool needs at least one image")
        self.images = [normalise(im) for im, _ in pairs]
        self.targets = []
        for _, lb in pairs:
            t = targets(np.asarray(lb))
            t[np.isin(lb, np.asarray(ignore, dtype=np.int64)) & (np.asarray(lb) > 0)] = IGNORE
            self.targets.append(t)
        area = np.array([im.size for im in self.images], dtype=np.float64)
        self.weights = area / area.sum()

    def crop(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One random crop (area-weighted image, uniform position), random flips and quarter turns."""
        k = int(rng.choice(len(self.images), p=self.weights))
        im, tg = self.images[k], self.targets[k]
        h, w = im.shape
        if h < size or w < size:
            raise InputError(f"downstream: training image {h} x {w} is smaller than the {size} px crop")
        y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        a, b = im[y:y + size, x:x + size], tg[y:y + size, x:x + size]
        turns, flip = int(rng.integers(4)), bool(rng.integers(2))
        a, b = np.rot90(a, turns), np.rot90(b, turns)
        if flip:
            a, b = a[:, ::-1], b[:, ::-1]
        return np.ascontiguousarray(a), np.ascontiguousarray(b)


def synthetic_pairs(model: Any, labels: np.ndarray, config: DownstreamConfig, *, image: np.ndarray | None = None,
                    train_region: str = "train") -> list[tuple[np.ndarray, np.ndarray]]:
    """``synth_count`` (image, labels) pairs: de novo layouts at the train half's density, painted by ``model``.

    ``model``: anything :func:`nucgan.generate` takes, or ``"painter"`` (the non-learned
    baseline fitted on the real train half, which then needs ``image``). The ``bank`` sampler draws
    real train-half shapes; other samplers are created by name with their defaults.
    """
    from nucgan.layout import place
    from nucgan.registry import create_sampler

    box = parse_region(train_region, labels.shape)
    n_train = len(majority_inside(labels, box))
    density = n_train / ((box[1] - box[0]) * (box[3] - box[2])) * 512 * 512
    sampler = (create_sampler("bank", labels=np.asarray(labels), region=train_region) if config.sampler == "bank"
               else create_sampler(config.sampler))
    paint = _painter(model, image, labels, train_region)
    pairs = []
    for i in range(config.synth_count):
        seed = int(np.random.SeedSequence([config.synth_seed, i]).generate_state(1)[0])
        lab = place(sampler, size=(config.synth_size, config.synth_size), density=density, seed=seed)
        pairs.append((paint(lab, seed), lab))
    return pairs


def _painter(model: Any, image: np.ndarray | None, labels: np.ndarray, train_region: str
             ) -> Callable[[np.ndarray, int], np.ndarray]:
    """A function (labels, seed) -> image for a model or the painter baseline."""
    if is_baseline(model):
        if image is None:
            raise InputError(f"downstream: the {model} baseline needs the real image to fit on")
        box = parse_region(train_region, labels.shape)
        fitted = fit_baseline(model, [(crop(image, box), crop(labels, box))])
        return lambda lab, seed: fitted.paint(lab, seed=seed)
    from nucgan.generation import generate, load_model

    zm = load_model(model)
    return lambda lab, seed: generate(zm, lab, seed=seed)


# -- training and prediction --------------------------------------------------------------------------
def train_net(pools: Sequence[Pool], config: DownstreamConfig, seed: int) -> TinyUNet:
    """A TinyUNet trained for ``config.steps`` steps on crops drawn evenly from ``pools``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = TinyUNet(config.filters)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    weight = torch.tensor([1.0, 1.0, config.boundary_weight])
    net.train()
    for _ in range(config.steps):
        xs, ys = [], []
        for _ in range(config.batch):
            x, y = pools[int(rng.integers(len(pools)))].crop(config.crop, rng)
            xs.append(x)
            ys.append(y)
        x = torch.from_numpy(np.stack(xs))[:, None]
        y = torch.from_numpy(np.stack(ys)).long()
        loss = nn.functional.cross_entropy(net(x), y, weight=weight, ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def predict(net: TinyUNet, image: np.ndarray) -> np.ndarray:
    """Instance labels for a whole image (padded by reflection to the net's size multiple)."""
    x = normalise(image)
    h, w = x.shape
    m = net.size_multiple
    padded = np.pad(x, ((0, -h % m), (0, -w % m)), mode="reflect")
    with torch.inference_mode():
        probs = torch.softmax(net.eval()(torch.from_numpy(padded)[None, None]), 1)[0, :, :h, :w].numpy()
    return instances(probs)


def score(pred: np.ndarray, labels: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, float]:
    """Matching scores of ``pred`` (of the region) against the labels of the region, cut nuclei handled."""
    truth, pred = _ignore_cut(crop(labels, box), majority_inside(labels, box), pred)
    return segmentation_scores(truth, pred)


def _summary(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "min": float(arr.min()), "max": float(arr.max())}


def downstream(model: Any, image: np.ndarray, labels: np.ndarray, seeds: Sequence[int] = (0, 1, 2), *,
               config: DownstreamConfig | None = None, arms: Sequence[str] = ARMS, train_region: str = "train",
               test_region: str = "test", progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """F1@0.5 (and the other matching scores) on the real ``test_region`` of a net per arm and seed.

    ``model`` paints the synthetic pairs (a zoo id, run directory, generator file, loaded model, or
    ``"painter"``); it is not used by the ``real`` arm. Returns a JSON-able dict: per arm the scores
    of each seed and the mean / std / min / max of each score, the judge's F1 on the real test half
    as a classical reference, the settings and the seconds taken.
    """
    config = (config or DownstreamConfig()).validate()
    unknown = [a for a in arms if a not in ARMS]
    if unknown or not arms:
        raise InputError(f"downstream: arms must be among {', '.join(ARMS)}, got {list(arms)}")
    if not seeds:
        raise InputError("downstream: give at least one seed")
    labels = np.asarray(labels)
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        train_box, test_box = parse_region(train_region, labels.shape), parse_region(test_region, labels.shape)
        real_train = crop(labels, train_box)
        # the part of a nucleus counted in the other half is neither nucleus nor background to the loss
        other = np.setdiff1d(np.unique(real_train), majority_inside(labels, train_box))
        pools: dict[str, Pool] = {}
        if any(a in ("real", "both") for a in arms):
            pools["real"] = Pool([(crop(image, train_box), real_train)], ignore=other)
        synth_s = 0.0
        if any(a in ("synthetic", "both") for a in arms):
            t = time.perf_counter()
            pools["synthetic"] = Pool(synthetic_pairs(model, labels, config, image=image, train_region=train_region))
            synth_s = time.perf_counter() - t
            if progress:
                progress(f"synthetic pairs: {config.synth_count} x {config.synth_size} px in {synth_s:.1f} s")
        test_image = crop(image, test_box)
        judge = score(judge_segment(test_image), labels, test_box)
        results: dict[str, Any] = {}
        for arm in arms:
            arm_pools = [pools["real"], pools["synthetic"]] if arm == "both" else [pools[arm]]
            runs = []
            for seed in seeds:
                t = time.perf_counter()
                net = train_net(arm_pools, config, seed)
                scores = score(predict(net, test_image), labels, test_box)
                runs.append({"seed": int(seed), **scores, "seconds": round(time.perf_counter() - t, 2)})
                if progress:
                    progress(f"{arm} seed {seed}: F1@0.5 {scores['f1']:.3f} ({runs[-1]['seconds']:.0f} s)")
            keys = ("f1", "precision", "recall", "mean_matched_iou", "panoptic_quality", "accuracy_50_95")
            results[arm] = {"runs": runs, **{k: _summary([r[k] for r in runs]) for k in keys}}
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "model": str(model) if isinstance(model, (str, os.PathLike)) else getattr(model, "name", type(model).__name__),
        "train_region": train_region, "test_region": test_region, "seeds": [int(s) for s in seeds],
        "config": asdict(config), "arms": results, "judge_on_real_test": judge,
        "synthesis_seconds": round(synth_s, 2), "seconds": round(time.perf_counter() - started, 2),
    }


# -- folders: the built-in segmenter as an arm runner of ``nucgan downstream`` -------------------------------
def pooled_scores(truths: Sequence[np.ndarray], preds: Sequence[np.ndarray]) -> dict[str, float]:
    """F1, precision, recall at IoU 0.5 and 0.7 and PQ at 0.5 from match counts summed over the images.

    The same pooling as ``stardist.matching.matching_dataset`` (every nucleus weighs the same), so the
    built-in and the StarDist segmenter report comparable figures.
    """
    sums = {t: [0, 0, 0, 0.0] for t in (0.5, 0.7)}  # tp, fp, fn, matched IoU
    for truth, pred in zip(truths, preds, strict=True):
        iou = iou_matrix(np.asarray(truth), np.asarray(pred))[0]
        for t, acc in sums.items():
            m = match(truth, pred, t, iou)
            acc[0] += m.tp
            acc[1] += m.fp
            acc[2] += m.fn
            acc[3] += m.mean_matched_iou * m.tp
    out: dict[str, float] = {}
    for t, (tp, fp, fn, iou_sum) in sums.items():
        tag = f"{round(t * 100)}"
        out[f"f1_{tag}"] = 2 * tp / max(2 * tp + fp + fn, 1)
        out[f"precision_{tag}"] = tp / max(tp + fp, 1)
        out[f"recall_{tag}"] = tp / max(tp + fn, 1)
        if t == 0.5:
            out["pq_50"] = iou_sum / max(tp + fp / 2 + fn / 2, 1e-9)
            out["n_true"], out["n_pred"] = tp + fn, tp + fp
    return out


def train_and_score(train_pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                    test_pairs: Sequence[tuple[np.ndarray, np.ndarray]], config: DownstreamConfig | None = None,
                    seed: int = 0) -> dict[str, Any]:
    """Train the built-in net on ``train_pairs``, score it on ``test_pairs`` (whole images, pooled).

    The result has the keys of the StarDist runner's (``f1_50``, ``f1_70``, ``pq_50``, ..., ``seconds``),
    so ``nucgan downstream`` tabulates either segmenter the same way. The net has fixed thresholds
    (0.5 on its class probabilities), so no validation part is held out.
    """
    config = (config or DownstreamConfig()).validate()
    if not train_pairs or not test_pairs:
        raise InputError("downstream: the built-in segmenter needs training pairs and test pairs")
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        pool = Pool(train_pairs)
        t0 = time.perf_counter()
        net = train_net([pool], config, seed)
        t1 = time.perf_counter()
        preds = [predict(net, image) for image, _ in test_pairs]
    finally:
        torch.set_num_threads(previous_threads)
    t2 = time.perf_counter()
    scores = pooled_scores([np.asarray(lb) for _, lb in test_pairs], preds)
    return {**scores, "n_train": len(train_pairs), "n_test": len(test_pairs), "seed": int(seed),
            "seconds": {"prepare": round(t0 - started, 1), "train": round(t1 - t0, 1),
                        "predict": round(t2 - t1, 1), "total": round(time.perf_counter() - started, 1)},
            "config": asdict(config), "versions": {"torch": torch.__version__}}
