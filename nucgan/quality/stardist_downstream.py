"""Downstream test with an independent segmenter: StarDist2D trained from scratch on one arm's pairs.

The arms of a benchmark differ only in their training pairs (real, synthetic, baseline-painted, ...);
everything else is the fixed :class:`StarDistConfig`. Each run trains StarDist2D from scratch on the
arm's pairs minus a fixed seeded validation part (``val_fraction`` of the arm's OWN images), keeps
the weights of the lowest validation loss, tunes the probability / NMS thresholds on that validation
part (``model.optimize_thresholds``) and only then predicts the real test images, which are never
used for any choice. Scores come from :func:`stardist.matching.matching_dataset`.

Speed: StarDist's NMS and star distances are C with OpenMP. A run keeps them on one OpenMP thread
(through ``threadpoolctl``, part of the extra; else set ``OMP_NUM_THREADS=1``): the results are the
same, and on a shared 2-core machine two spinning OpenMP threads made the threshold tuning 6.5x slower.

StarDist and TensorFlow are optional (``pip install 'nucgan[stardist]'``) and imported lazily; they
install and import beside torch in one environment.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nucgan.errors import InputError

MISSING = "StarDist is not installed: pip install 'nucgan[stardist]'"

#: The keys of :func:`train_and_score`'s result that hold a score in [0, 1].
SCORE_KEYS = ("f1_50", "f1_70", "pq_50", "precision_50", "recall_50", "precision_70", "recall_70")

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class StarDistConfig:
    """Settings shared by every arm and seed; JSON-able via ``asdict``.

    The budget (``epochs`` x ``steps_per_epoch`` batches of ``batch_size`` ``patch`` px patches) was
    sized so one run on the DSB 2018 fluorescence set (train on 344 images + tune on 61 + predict the
    76 test images) takes about 6 minutes on an idle 2-core CPU (measured, few-real+synthetic arm:
    332 s = 207 s training at 0.21 s a step + 86 s threshold tuning + 36 s prediction) and 11 to 17
    minutes on one shared with other jobs.
    StarDist's own default is 400 x 100 steps, so absolute scores are below those of a fully trained
    StarDist, but every arm gets the same budget.
    """

    n_rays: int = 32
    grid: tuple[int, int] = (2, 2)
    patch: int = 128
    norm_low: float = 1.0          # csbdeep percentile normalisation, per image
    norm_high: float = 99.8
    epochs: int = 20
    steps_per_epoch: int = 50
    batch_size: int = 4
    learning_rate: float = 3e-4    # StarDist's default
    val_fraction: float = 0.15     # of the arm's own training images, at least 1
    val_seed: int = 2018           # the validation split is the same for every run seed
    intensity_jitter: float = 0.2  # each training patch is multiplied by U(1 - j, 1 + j)
    nms_threshs: tuple[float, ...] = (0.3, 0.4, 0.5)   # optimize_thresholds' defaults
    iou_threshs: tuple[float, ...] = (0.3, 0.5, 0.7)
    threads: int = 2               # TensorFlow intra-op threads (inter-op: 1)

    def validate(self) -> "StarDistConfig":
        """Raise InputError for a setting that cannot work."""
        div = 2 ** 3 * max(self.grid)  # U-Net depth 3 and the grid: StarDist's patch divisibility
        if self.patch < div or self.patch % div:
            raise InputError(f"stardist: patch must be a positive multiple of {div}, got {self.patch}")
        if min(self.epochs, self.steps_per_epoch, self.batch_size, self.threads, self.n_rays) < 1:
            raise InputError("stardist: epochs, steps_per_epoch, batch_size, threads and n_rays must be >= 1")
        if not 0.0 < self.val_fraction < 1.0:
            raise InputError(f"stardist: val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.intensity_jitter < 1.0:
            raise InputError(f"stardist: intensity_jitter must be in [0, 1), got {self.intensity_jitter}")
        return self

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# -- the optional dependency --------------------------------------------------------------------------
def require_stardist() -> Any:
    """The ``stardist`` module (with TensorFlow behind it); InputError with one line when it is missing."""
    try:
        import stardist
        import stardist.matching  # noqa: F401
        import stardist.models  # noqa: F401
        import csbdeep.utils  # noqa: F401
    except ImportError:
        raise InputError(MISSING) from None
    return stardist


def versions() -> dict[str, str]:
    """Versions of the packages a result depends on (for the record kept beside each score)."""
    import importlib.metadata as md

    out = {}
    for dist in ("nucgan", "stardist", "csbdeep", "tensorflow-cpu", "tensorflow", "keras", "numpy", "torch"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def configure_tensorflow(threads: int) -> None:
    """Pin TensorFlow's thread pools (must happen before its first op; later calls are checked, not re-set)."""
    import tensorflow as tf

    cfg = tf.config.threading
    if (cfg.get_intra_op_parallelism_threads(), cfg.get_inter_op_parallelism_threads()) == (threads, 1):
        return
    try:
        cfg.set_intra_op_parallelism_threads(threads)
        cfg.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran something in this process with other pools
        raise InputError(f"stardist: TensorFlow already started with other thread pools; "
                         f"run with threads={cfg.get_intra_op_parallelism_threads()} or in a fresh process") from None


def one_openmp_thread() -> contextlib.AbstractContextManager[Any]:
    """A context keeping OpenMP (StarDist's C code) on one thread; a no-op when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="openmp")


def _openmp_threads() -> list[int]:
    """Thread counts of the loaded OpenMP runtimes (recorded with a result); empty without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return sorted({int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "openmp"})


# -- data ---------------------------------------------------------------------------------------------
def split_validation(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, validation) of ``n`` images: a seeded ``fraction`` for validation, at least 1 each."""
    if n < 2:
        raise InputError(f"stardist: need at least 2 training images (one goes to validation), got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(n - 1, max(1, int(round(fraction * n))))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def normalise(image: np.ndarray, config: StarDistConfig) -> np.ndarray:
    """One grey image as float32 mapped by its own (low, high) percentiles, as StarDist's examples do."""
    from csbdeep.utils import normalize

    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] in (3, 4):  # an RGB(A) export of a grey image
        img = img[..., :3].mean(-1)
    if img.ndim != 2:
        raise InputError(f"stardist: expected 2-D grey images, got shape {img.shape}")
    return normalize(img.astype(np.float32), config.norm_low, config.norm_high, axis=None)


def _labels(labels: np.ndarray) -> np.ndarray:
    """Instance labels as int32 with holes filled (StarDist's star-convex targets need filled shapes)."""
    from stardist import fill_label_holes

    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.dtype.kind not in "iu":
        raise InputError(f"stardist: labels must be 2-D integer images, got {lab.dtype} {lab.shape}")
    return fill_label_holes(lab.astype(np.int32))


def _pad_to(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad an image smaller than a training patch with background (0 image, 0 labels) at its bottom/right."""
    ph, pw = max(0, size - x.shape[0]), max(0, size - x.shape[1])
    if not (ph or pw):
        return x, y
    return np.pad(x, ((0, ph), (0, pw))), np.pad(y, ((0, ph), (0, pw)))


def _prepare(pairs: Sequence[Pair], config: StarDistConfig, pad: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Normalised images and filled labels of ``pairs`` (padded to a patch for training when ``pad``)."""
    xs, ys = [], []
    for k, (image, labels) in enumerate(pairs):
        if np.shape(image)[:2] != np.shape(labels):
            raise InputError(f"stardist: pair {k}: image {np.shape(image)} and labels {np.shape(labels)} differ")
        x, y = normalise(image, config), _labels(labels)
        if pad:
            x, y = _pad_to(x, y, config.patch)
        xs.append(x)
        ys.append(y)
    return xs, ys


def augmenter(config: StarDistConfig) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Per training patch: a random rot90 and flip (labels alike) and an intensity scale U(1 - j, 1 + j).

    Random numbers come from numpy's global generator, which the run seeds (StarDist draws its patches
    from it too), so a seed reproduces the same patches and augmentations.
    """
    j = config.intensity_jitter

    def aug(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = int(np.random.randint(4))
        x, y = np.rot90(x, k), np.rot90(y, k)
        if np.random.rand() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        if j:
            x = x * np.float32(np.random.uniform(1 - j, 1 + j))
        return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)

    return aug


# -- one run ------------------------------------------------------------------------------------------
def _scores(y_true: list[np.ndarray], y_pred: list[np.ndarray]) -> dict[str, float]:
    """F1, precision, recall at IoU 0.5 and 0.7 and panoptic quality at 0.5, pooled over all test images."""
    from stardist.matching import matching_dataset

    m50, m70 = matching_dataset(y_true, y_pred, thresh=[0.5, 0.7], show_progress=False)
    return {"f1_50": float(m50.f1), "f1_70": float(m70.f1), "pq_50": float(m50.panoptic_quality),
            "precision_50": float(m50.precision), "recall_50": float(m50.recall),
            "precision_70": float(m70.precision), "recall_70": float(m70.recall),
            "n_true": int(m50.n_true), "n_pred": int(m50.n_pred)}


def _model(config: StarDistConfig, seed: int, workdir: Path) -> Any:
    """A fresh StarDist2D from the config, writing its files (config, h5 weights, thresholds) under ``workdir``."""
    from stardist.models import Config2D, StarDist2D

    conf = Config2D(n_rays=config.n_rays, grid=tuple(config.grid), n_channel_in=1, use_gpu=False,
                    train_patch_size=(config.patch, config.patch), train_batch_size=config.batch_size,
                    train_epochs=config.epochs, train_steps_per_epoch=config.steps_per_epoch,
                    train_learning_rate=config.learning_rate, train_tensorboard=False)
    return StarDist2D(conf, name=f"stardist-seed{seed}", basedir=str(workdir))


def _predict(model: Any, images: list[np.ndarray]) -> list[np.ndarray]:
    """Instance labels of whole images (tiled as StarDist guesses, so any size fits in memory)."""
    return [model.predict_instances(x, n_tiles=model._guess_n_tiles(x), show_tile_progress=False)[0]
            for x in images]


def train_and_score(train_pairs: Sequence[Pair], test_pairs: Sequence[Pair], config: StarDistConfig | None = None,
                    seed: int = 0, workdir: str | os.PathLike[str] = "stardist-work",
                    val_pairs: Sequence[Pair] | None = None, pretrain_pairs: Sequence[Pair] | None = None,
                    pretrain_epochs: int = 0) -> dict[str, Any]:
    """Train StarDist2D on ``train_pairs`` (tuning on their own validation part), score it on ``test_pairs``.

    With ``val_pairs``, every train pair trains and the best weights and thresholds are chosen on
    ``val_pairs`` instead (an arm validated on its real images only). With ``pretrain_pairs``, the
    first ``pretrain_epochs`` of the config's epochs train on them and the rest on ``train_pairs``
    (optimiser and best-weights record carried over), both phases validated on the
    same validation part, so the budget is the config's either way. Returns the scores of
    :data:`SCORE_KEYS` (pooled over the test images), the tuned thresholds, image counts, seconds per
    phase and the config. The model's files stay in ``workdir``.
    """
    require_stardist()
    config = (config or StarDistConfig()).validate()
    if not test_pairs:
        raise InputError("stardist: no test pairs to score on")
    if val_pairs is not None and (not val_pairs or not train_pairs):
        raise InputError(f"stardist: explicit validation needs at least 1 train and 1 validation pair, "
                         f"got {len(train_pairs)} and {len(val_pairs)}")
    if pretrain_pairs is not None and not (pretrain_pairs and 1 <= pretrain_epochs < config.epochs):
        raise InputError(f"stardist: pretraining needs at least 1 pair and 1 <= pretrain_epochs < epochs "
                         f"({config.epochs}), got {len(pretrain_pairs)} pairs and {pretrain_epochs} epochs")
    with one_openmp_thread():
        return _train_and_score(train_pairs, test_pairs, config, seed, Path(workdir), val_pairs,
                                pretrain_pairs, pretrain_epochs)


def _pretrain(model: Any, pairs: Sequence[Pair], val: tuple[list[np.ndarray], list[np.ndarray]],
              config: StarDistConfig, epochs: int, seed: int) -> dict[str, Any]:
    """The first phase of a pretrained run: ``epochs`` epochs on ``pairs``, ending on their best weights.

    The model stays prepared, so the second phase goes on with the same optimiser state, learning-rate
    schedule and best-weights record: both phases score the same validation images, so one run whose
    data change halfway keeps the best epoch of all. (Commit 317dd40 compiled a fresh optimiser for the
    second phase instead; benchmarks/results/select_stardist/pretrain-fresh-optimiser holds what it gave.)
    """
    x_pt, y_pt = _prepare(pairs, config, pad=True)
    history = model.train(x_pt, y_pt, validation_data=val, augmenter=augmenter(config), seed=seed, epochs=epochs)
    return {"n": len(pairs), "epochs": epochs,
            "val_loss": [round(float(v), 4) for v in history.history.get("val_loss", [])]}


def _train_and_score(train_pairs: Sequence[Pair], test_pairs: Sequence[Pair], config: StarDistConfig, seed: int,
                     workdir: Path, val_pairs: Sequence[Pair] | None = None,
                     pretrain_pairs: Sequence[Pair] | None = None, pretrain_epochs: int = 0) -> dict[str, Any]:
    """:func:`train_and_score` after its checks, inside the one-OpenMP-thread context."""
    started = time.perf_counter()
    configure_tensorflow(config.threads)
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)  # python, numpy and TensorFlow
    if val_pairs is None:
        train_idx, val_idx = split_validation(len(train_pairs), config.val_fraction, config.val_seed)
        val_pairs = [train_pairs[i] for i in val_idx]
        train_pairs = [train_pairs[i] for i in train_idx]
    x_tr, y_tr = _prepare(train_pairs, config, pad=True)
    x_va, y_va = _prepare(val_pairs, config, pad=True)
    x_te, y_te = _prepare(test_pairs, config, pad=False)
    workdir.mkdir(parents=True, exist_ok=True)
    model = _model(config, seed, workdir)
    t0 = time.perf_counter()
    pretrain = None
    if pretrain_pairs is not None:
        pretrain = _pretrain(model, pretrain_pairs, (x_va, y_va), config, pretrain_epochs, seed)
    history = model.train(x_tr, y_tr, validation_data=(x_va, y_va), augmenter=augmenter(config), seed=seed,
                          epochs=config.epochs - pretrain_epochs)
    t1 = time.perf_counter()
    thresholds = model.optimize_thresholds(x_va, y_va, nms_threshs=list(config.nms_threshs),
                                           iou_threshs=list(config.iou_threshs), optimize_kwargs={"verbose": 0})
    t2 = time.perf_counter()
    scores = _scores(y_te, _predict(model, x_te))
    t3 = time.perf_counter()
    (workdir / model.name / "weights_last.h5").unlink(missing_ok=True)  # the best (by val loss) is kept
    val_loss = [float(v) for v in history.history.get("val_loss", [])]
    every = val_loss + (pretrain["val_loss"] if pretrain else [])  # the best weights may be the first phase's
    return {**scores, "thresholds": {"prob": float(thresholds["prob"]), "nms": float(thresholds["nms"])},
            "n_train": len(train_pairs), "n_val": len(val_pairs), "n_test": len(test_pairs), "seed": int(seed),
            "best_val_loss": min(every) if every else None, "val_loss": [round(v, 4) for v in val_loss],
            "seconds": {"prepare": round(t0 - started, 1), "train": round(t1 - t0, 1),
                        "thresholds": round(t2 - t1, 1), "predict": round(t3 - t2, 1),
                        "total": round(t3 - started, 1)},
            "config": config.to_json(), "workdir": str(workdir / model.name), "versions": versions(),
            "openmp_threads": _openmp_threads(), "tf_onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"), **({"pretrain": pretrain} if pretrain else {})}
