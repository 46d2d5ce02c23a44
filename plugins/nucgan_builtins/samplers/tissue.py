"""``tissue``: a layout model learned from a folder of real label images: per-image scenes and their shapes.

Training (``nucgan train-masks --data DIR``) measures every label image of the folder
(:func:`nucgan.plugin_api.image_stats`) and keeps one *record* per image, its density, median and
mean nucleus area, touching fraction and covered fraction, and up to ``per_image`` of its whole
nuclei as radial profiles (:mod:`nucgan_builtins.samplers.radial`) with their size relative to the
image's median. The profiles' principal components are the shape model.

Drawing an image: :meth:`TissueSampler.scene` picks a real record at random (density, size and
touching stay as they occur together; the density and the size are jittered a little); a canvas
of the size of some training images draws among those images only, since in real data the image
size belongs to the set-up and the set-up fixes the magnification and the crowding; a canvas of a
size no real image has is a window of the real field of view, so it draws images in proportion to
their pixels (as training draws tiles); with a density asked for (``--density``, ``--nuclei``), among the real images closest in density. Then
:meth:`TissueSampler.shapes` draws that image's nuclei: a nucleus of the same image with its
components perturbed, turned and mirrored at random, at the image's median area times that
nucleus's relative size. So all nuclei of one synthetic image share one magnification and spread
as much as those of a real image do.

The model file is safetensors (no pickle), small; its metadata:

- ``nucgan.format``    ``"tissue-model/1"``
- ``nucgan.training``  JSON of where it came from (folder, images, nuclei, command, seed)
- ``nucgan.version``   the nucgan version that wrote it
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nucgan.plugin_api import (InputError, Scene, SceneSampler, TrainableSampler, __version__, header_from_bytes,
                               load_tensors_bytes, save_tensors)
from nucgan_builtins.samplers import radial

FORMAT = "tissue-model/1"
DEFAULT_MODEL = "dsb2018_tissue.safetensors"  # shipped: nucgan train-masks --data dsb2018-fluo/train (seed 0)
FIELDS = ("height", "width", "density", "median_area", "mean_area", "touching", "coverage")
_MAX_FILE = 64 * 1024 * 1024
_NEAREST = 10  # with a density asked for, draw among at least this many real images closest in density
_SIZE_NOISE = 0.05  # sd of the log-area jitter of one nucleus around its real relative size


class TissueSampler(SceneSampler, TrainableSampler):
    """Scenes and shapes from a tissue model file (``nucgan train-masks --data DIR``); no ``model``: the
    shipped one, learned from the 405 images of dsb2018-fluo/train.

    ``jitter``: sd of the log-normal jitter of a scene's density and size around the real image's;
    ``noise``: sd of the shape components' perturbation, in units of their spread over all nuclei;
    ``min_area``: no shape is smaller (px).
    """

    learns_from = "folder"

    def __init__(self, model: str | os.PathLike[str] | None = None, jitter: float = 0.1, noise: float = 0.25,
                 min_area: int = 12) -> None:
        if not 0.0 <= jitter <= 1.0:
            raise InputError(f"tissue sampler: jitter must be in [0, 1], got {jitter}")
        if not 0.0 <= noise <= 2.0:
            raise InputError(f"tissue sampler: noise must be in [0, 2], got {noise}")
        if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 1:
            raise InputError(f"tissue sampler: min_area must be an integer >= 1, got {min_area!r}")
        if model is None:
            self.model_path = f"nucgan_builtins/samplers/{DEFAULT_MODEL}"
            data = (resources.files("nucgan_builtins.samplers") / DEFAULT_MODEL).read_bytes()
        else:
            path = Path(model)
            if not path.is_file():
                raise InputError(f"{path}: no such tissue model file")
            if path.stat().st_size > _MAX_FILE:
                raise InputError(f"{path}: {path.stat().st_size} bytes is far too large for a tissue model")
            self.model_path, data = str(path), path.read_bytes()
        self.jitter, self.noise, self.min_area = float(jitter), float(noise), int(min_area)
        self._load(data)

    # -- the model file ----------------------------------------------------------------------------
    def _load(self, data: bytes) -> None:
        what = self.model_path
        header = header_from_bytes(data, what)
        if header.metadata.get("nucgan.format") != FORMAT:
            raise InputError(f"{what}: not a nucgan tissue model (format {header.metadata.get('nucgan.format')!r}, "
                             f"expected {FORMAT!r}); make one with `nucgan train-masks --data DIR`")
        t = {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in
             load_tensors_bytes(data, what).items()}
        try:
            records, source, size = t["records"], t["shape_source"].astype(np.int64), t["shape_size"]
            coeffs, mean, comps, sd = t["shape_coeffs"], t["mean"], t["components"], t["coeff_sd"]
            ok = (records.ndim == 2 and records.shape[1] == len(FIELDS) and mean.shape == (radial.K,)
                  and comps.ndim == 2 and comps.shape[1] == radial.K and coeffs.shape == (len(source), len(comps))
                  and sd.shape == (len(comps),) and size.shape == source.shape and len(records) >= 1
                  and source.size >= 1 and source.min() >= 0 and source.max() < len(records))
        except KeyError as exc:
            raise InputError(f"{what}: broken tissue model, tensor {exc} missing") from None
        if not ok or not all(np.isfinite(a).all() for a in (records, size, coeffs, mean, comps, sd)):
            raise InputError(f"{what}: broken tissue model (tensor shapes or values do not fit together)")
        self.records = {k: records[:, j].astype(float) for j, k in enumerate(FIELDS)}
        self.pools = [np.flatnonzero(source == i) for i in range(len(records))]
        if any(p.size == 0 for p in self.pools):
            raise InputError(f"{what}: broken tissue model, an image record has no shape")
        self.size, self.coeffs, self.mean, self.comps, self.sd = size, coeffs, mean, comps, sd
        self.training = json.loads(header.metadata.get("nucgan.training", "{}"))

    # -- drawing -----------------------------------------------------------------------------------
    def scene(self, rng: np.random.Generator, density: float | None = None,
              size: tuple[int, int] | None = None) -> Scene:
        r = self.records
        candidates = np.arange(len(r["density"]))
        if size is not None:  # the image size is the set-up's: draw among real images of this size, if any
            h, w = int(size[0]), int(size[1])
            same = ((r["height"] == h) & (r["width"] == w)) | ((r["height"] == w) & (r["width"] == h))
            if same.any():
                candidates = candidates[same]
        if density is not None:  # real images about that dense: their sizes and touching go with it
            fits = r["coverage"] * density / r["density"] <= r["coverage"].max()
            if not fits[candidates].any():
                candidates = np.arange(len(r["density"]))  # no image of this size can: any image
            candidates = candidates[fits[candidates]]
            if not candidates.size:
                smallest = float(r["mean_area"].min())
                limit = float(r["coverage"].max() * 512 * 512 / smallest)
                raise InputError(f"density {density:g} per 512 x 512: no real image's nuclei are small enough (the "
                                 f"smallest mean area is {smallest:.0f} px, which cover at most "
                                 f"{100 * r['coverage'].max():.0f} % of an image at {limit:.0f} per 512 x 512); "
                                 f"lower the density")
            near = np.argsort(np.abs(np.log(r["density"][candidates] / density)), kind="stable")
            candidates = candidates[near[:max(_NEAREST, candidates.size // 10)]]
        if density is None and candidates.size == len(r["density"]):
            # no real image has this size: the canvas is a window of the real field of view, so set-ups are
            # drawn in proportion to their pixels (as training tiles are), and per nucleus the layouts follow
            # the real nuclei instead of over-weighting the small images
            pixels = (r["height"] * r["width"]).astype(np.float64)
            i = int(rng.choice(candidates.size, p=pixels / pixels.sum()))
        else:
            i = int(candidates[rng.integers(candidates.size)])
        jit = np.exp(self.jitter * rng.standard_normal(2))
        return Scene(density=float(density if density is not None else r["density"][i] * jit[0]),
                     area=float(r["median_area"][i] * jit[1]), mean_area=float(r["mean_area"][i] * jit[1]),
                     touching=float(r["touching"][i]), source=i)

    def image_sizes(self) -> list[tuple[int, int]]:
        return [(int(h), int(w)) for h, w in zip(self.records["height"], self.records["width"])]

    def shapes(self, n: int, rng: np.random.Generator, scene: Scene | None = None) -> list[np.ndarray]:
        if scene is None:
            scene = self.scene(rng)
        if not 0 <= scene.source < len(self.pools):
            raise InputError(f"tissue sampler: scene source {scene.source} is not one of this model's "
                             f"{len(self.pools)} image records")
        if n <= 0:
            return []
        pool = self.pools[scene.source]
        pick = pool[rng.integers(pool.size, size=n)]
        coeffs = self.coeffs[pick] + self.noise * self.sd * rng.standard_normal((n, len(self.sd)))
        radii = np.exp(self.mean + coeffs @ self.comps)
        mirror = rng.random(n) < 0.5
        radii[mirror] = radii[mirror][:, (-np.arange(radial.K)) % radial.K]
        radii /= np.sqrt(radial.polygon_area(radii))[:, None]
        areas = np.maximum(scene.area * np.exp(self.size[pick] + _SIZE_NOISE * rng.standard_normal(n)),
                           self.min_area)
        turns = rng.uniform(0, radial.K, n)
        out = radial.rasterise(radii, areas, turns)
        for _ in range(20):  # a tiny nucleus can lose a pixel or two to rasterising: draw it a little larger
            small = [k for k, s in enumerate(out) if s.sum() < self.min_area]
            if not small:
                return out
            areas[small] *= 1.25
            for k, s in zip(small, radial.rasterise(radii[small], areas[small], turns[small])):
                out[k] = s
        raise InputError(f"{self.model_path}: cannot draw shapes of at least {self.min_area} px; lower min_area")

    # -- training ----------------------------------------------------------------------------------
    @staticmethod
    def train(labels: str | os.PathLike[str], out: str | os.PathLike[str], region: str | None = None, *,
              seed: int = 0, per_image: int = 24, components: int = 12,
              on_step: Callable[[int, int], None] | None = None, command: str = "", **_: Any) -> dict[str, Any]:
        """Learn a tissue model from the folder ``labels`` and write it to ``out``; returns its summary.

        ``on_step(done, total)`` reports images measured. Keyword arguments of the mask-GAN trainers
        (steps, size, threads) do not apply and are ignored.
        """
        if region is not None:
            raise InputError("the tissue sampler learns from whole label images of a folder; --region does not apply")
        if per_image < 1 or not 1 <= components <= radial.K:
            raise InputError(f"tissue training needs per_image >= 1 and 1 <= components <= {radial.K}, "
                             f"got {per_image}, {components}")
        records, source, size, profiles, skipped = _measure(labels, seed, per_image, on_step)
        logs = np.log(np.asarray(profiles))
        components = min(components, len(profiles) - 1) or 1
        mean, comps, coeffs = radial.fit_components(logs, components)
        sd = coeffs.std(0)
        import torch

        tensors = {"records": torch.tensor(np.asarray(records), dtype=torch.float32),
                   "shape_source": torch.tensor(source, dtype=torch.int32),
                   "shape_size": torch.tensor(size, dtype=torch.float32),
                   "shape_coeffs": torch.tensor(coeffs, dtype=torch.float16),
                   "mean": torch.tensor(mean, dtype=torch.float32),
                   "components": torch.tensor(comps, dtype=torch.float32),
                   "coeff_sd": torch.tensor(sd, dtype=torch.float32)}
        explained = float((coeffs.var(0).sum()) / max(logs.var(0).sum(), 1e-12))
        summary = {"data": Path(labels).name, "images": len(records) + len(skipped), "records": len(records),
                   "skipped": skipped, "nuclei": int(round(sum(r[2] * r[0] * r[1] for r in records) / 512 / 512)),
                   "shapes": len(profiles), "per_image": per_image, "components": components,
                   "variance_explained": round(explained, 4), "seed": seed, "command": command}
        save_tensors(out, tensors, {"nucgan.format": FORMAT, "nucgan.training": json.dumps(summary),
                                    "nucgan.version": __version__})
        return summary


def _measure(folder: str | os.PathLike[str], seed: int, per_image: int,
             on_step: Callable[[int, int], None] | None) -> tuple[list, list, list, list, list]:
    """Per-image records and, per kept nucleus, its image, log size relative to the image median, and profile."""
    from scipy import ndimage as ndi

    from nucgan.plugin_api import image_stats, label_files, largest_component, read_labels

    files = label_files(folder)
    rng = np.random.default_rng(seed)
    records: list[list[float]] = []
    source: list[int] = []
    size: list[float] = []
    profiles: list[np.ndarray] = []
    skipped: list[str] = []
    for k, path in enumerate(files, start=1):
        labels = read_labels(path)
        stats = image_stats(labels, path.name)
        if not stats.area.size:
            skipped.append(path.name)  # every nucleus cut by the border: no whole shape to learn
        else:
            ids = np.unique(labels)
            ids = ids[ids > 0][~stats.cut]
            boxes = ndi.find_objects(labels)
            chosen = rng.choice(ids.size, size=min(per_image, ids.size), replace=False)
            median = stats.median_area
            for j in np.sort(chosen).tolist():
                i = int(ids[j])
                shape = largest_component(labels[boxes[i - 1]] == i)
                radii, area = radial.profile(shape)
                profiles.append(radii)
                size.append(float(np.log(area / median)))
                source.append(len(records))
            h, w = labels.shape
            records.append([h, w, stats.density, median, float(stats.area.mean()), stats.touching_fraction,
                            float((labels > 0).mean())])
        if on_step:
            on_step(k, len(files))
    if not records:
        raise InputError(f"{folder}: no label image with a nucleus that is not cut by the image border")
    return records, source, size, profiles, skipped
