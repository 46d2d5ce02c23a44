"""De novo synthesis: random nucleus layouts painted by a model, written as segmentation training pairs."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nucgan.atomic import atomic_path
from nucgan.errors import InputError

#: `synth`'s default: the shipped model whose synthetic data trains the best StarDist, judged on a held-out
#: part of the DSB train folder (benchmarks/select_stardist.py), never on test data; pinned to its version so a
#: newer entry of the same id does not change synth's output unannounced
DEFAULT_MODEL = "dsb2018-fluo-1x-k3@2"
#: `synth`'s default sampler: the layout model learned from dsb2018-fluo/train (density, size, touching per
#: image). Chosen on the train split's held-out part (benchmarks/select_stardist.py --layout): StarDist F1@0.5
#: 0.803 against 0.693 with the old default ``gan`` (density 150, gap 2), same generator (the default model)
DEFAULT_SAMPLER = "tissue"
FORMATS = ("stardist", "cellpose", "plain")
#: ``SynthPlan.size`` / ``--size real``: each image the size of a real image the layout model learned from
REAL_SIZE = "real"
#: the image size without --size for a sampler that knows no real image sizes (or with a placement mask); a
#: layout model's default is REAL_SIZE: held-out StarDist F1@0.5 0.797 vs 0.803 at 512 (a tie), F1@0.7 0.513 vs
#: 0.490, and only real sizes match nuclei per image (benchmarks/select_stardist.py --layout tissue-real)
DEFAULT_SIZE = (512, 512)
#: the largest image side synth accepts; memory grows as side^2 (labels, image, layers, working copies)
MAX_SIDE = 32768
BYTES_PER_PIXEL = 48  # rough peak: int32 labels + float32 image + bool layers + layout/generation buffers


@dataclass
class SynthPlan:
    """What to synthesise; ``indices`` are this shard's image numbers out of ``count``."""

    count: int
    #: (H, W), or "real": per image a real image's size (REAL_SIZE); None: "real" with a layout model that
    #: knows its images' sizes and no placement mask, DEFAULT_SIZE otherwise (resolved by with_size)
    size: tuple[int, int] | str | None = None
    nuclei: int | None = None
    density: float | None = None
    gap: int | None = None  # None: the layout model's touching (2 for a sampler without scenes)
    overlap: float = 0.0
    placement_mask: str | None = None  # an image file: nuclei only where it is non-zero
    sampler: str = DEFAULT_SAMPLER
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    fmt: str = "stardist"
    shard: tuple[int, int] = (0, 1)
    prefix: str = "synth"
    region: str | None = None  # deprecated name of placement_mask (a path, not a Region box); removed in 0.3
    like: str | None = None  # an image file: paint in its style (models trained with a style input)
    border: str | None = None  # "cut" or "whole"; None: cut with a layout model, whole otherwise
    precision: str | None = None  # "bf16": paint under bfloat16 autocast; None: float32
    sensor_noise: bool | None = None  # add the style's background noise (nucgan.sensor); None: for models with a style input
    signal_noise: bool | None = None  # the sensor noise grows with the signal (nucgan.sensor); None: synth's default
    nucleus_spread: float | None = None  # widen nuclei's brightness differences (nucgan.nucleus_spread); None: synth's default

    def __post_init__(self) -> None:
        if self.region is not None:
            import warnings

            warnings.warn("SynthPlan(region=...) is deprecated; use placement_mask=", DeprecationWarning, stacklevel=3)
            if self.placement_mask is None:
                self.placement_mask = self.region
            self.region = None
        if self.size is None and self.placement_mask is not None:
            self.size = DEFAULT_SIZE  # a placement mask has one fixed size

    def validate(self) -> "SynthPlan":
        if self.count < 1:
            raise InputError(f"--count must be >= 1, got {self.count}")
        if isinstance(self.size, str) and self.size != REAL_SIZE:
            raise InputError(f"size must be (H, W) or {REAL_SIZE!r}, got {self.size!r}")
        if self.size == REAL_SIZE:
            if self.placement_mask is not None:
                raise InputError("--size real draws each image's size; a --placement-mask has one fixed size: "
                                 "give --size H x W with it")
        elif self.size is not None:
            check_size(self.size)
        if self.nuclei is not None and self.nuclei < 1:
            raise InputError(f"--nuclei must be >= 1, got {self.nuclei}")
        if self.density is not None and not (np.isfinite(self.density) and self.density > 0):
            raise InputError(f"--density must be a positive number of nuclei per 512 x 512 px, got {self.density}")
        if self.nuclei is not None and self.density is not None:
            raise InputError("give one of --nuclei (per image) or --density (per 512 x 512), not both")
        if self.gap is not None and (isinstance(self.gap, bool) or not isinstance(self.gap, (int, np.integer))
                                     or self.gap < 0):
            raise InputError(f"--gap must be an integer >= 0, got {self.gap!r}")
        from nucgan.layout import BORDERS

        if self.border is not None and self.border not in BORDERS:
            raise InputError(f"--border must be one of {', '.join(BORDERS)}, got {self.border!r}")
        if self.precision is not None:
            from nucgan.generation import check_precision

            check_precision(self.precision)
        if self.nucleus_spread is not None:
            from nucgan.generation import check_spread

            self.nucleus_spread = check_spread(self.nucleus_spread)
        if self.fmt not in FORMATS:
            raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {self.fmt!r}")
        if self.placement_mask is None and self.size not in (REAL_SIZE, None):
            self.check_capacity(self.size)
        i, n = self.shard
        if not (n >= 1 and 0 <= i < n):
            raise InputError(f"--shard {i}/{n}: expected i/n with 0 <= i < n")
        return self

    def check_capacity(self, size: tuple[int, int]) -> None:
        """Refuse, before any shape is drawn, a --nuclei or --density that a canvas of ``size`` cannot hold."""
        if self.nuclei is None and self.density is None:
            return
        from nucgan.layout import DENSITY_AREA, check_capacity

        h, w = size
        n = self.nuclei if self.nuclei is not None else int(round(self.density * h * w / DENSITY_AREA))
        check_capacity(n, h, w, 0 if self.overlap or self.gap is None else self.gap, self.overlap)

    def image_size(self, index: int, sizes: list[tuple[int, int]]) -> tuple[int, int]:
        """Image ``index``'s (H, W): the plan's, or with --size real one of ``sizes`` drawn by (seed, index)."""
        if self.size is None:
            raise ValueError("SynthPlan.size is unresolved: pass the plan through with_size(sampler, plan) first")
        if self.size != REAL_SIZE:
            return tuple(self.size)  # type: ignore[return-value]
        pick = np.random.SeedSequence([self.seed, index, 1]).generate_state(1)[0] % len(sizes)
        return sizes[int(pick)]

    @property
    def indices(self) -> list[int]:
        i, n = self.shard
        return list(range(i, self.count, n))

    def image_seed(self, index: int) -> int:
        """A seed per image from (seed, index) alone, so shards and re-runs agree file by file."""
        return int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0])


def check_size(size: tuple[int, int]) -> None:
    """Refuse a side under 16 px, or over MAX_SIDE with the memory it would need."""
    h, w = size
    if min(h, w) < 16:
        raise InputError(f"--size must be at least 16 px, got {h} x {w}")
    if max(h, w) > MAX_SIDE:
        need = h * w * BYTES_PER_PIXEL / 2**30
        raise InputError(f"--size {h} x {w} needs about {need:.1f} GiB ({BYTES_PER_PIXEL} bytes per px); "
                         f"the limit is {MAX_SIDE} px per side")


def real_sizes(sampler: Any, plan: SynthPlan) -> list[tuple[int, int]]:
    """The sizes --size real draws from (checked, with the plan's density, before any work); [] otherwise."""
    if plan.size != REAL_SIZE:
        return []
    from nucgan.interfaces import SceneSampler

    sizes = sampler.image_sizes() if isinstance(sampler, SceneSampler) else []
    if not sizes:
        raise InputError(f"--size real needs a layout model that knows its real images' sizes (--sampler tissue); "
                         f"sampler {plan.sampler!r} has none: give --size N or H x W")
    for size in sizes:
        check_size(size)
    plan.check_capacity(min(sizes, key=lambda s: s[0] * s[1]))
    return sizes


def paths(out: Path, fmt: str, name: str) -> tuple[Path, Path]:
    """Image and label paths of one pair in the layout the segmentation tool trains from."""
    if fmt == "stardist":
        return out / "images" / f"{name}.tif", out / "masks" / f"{name}.tif"
    if fmt == "cellpose":
        return out / f"{name}.tif", out / f"{name}_masks.tif"
    return out / f"{name}_image.tif", out / f"{name}_labels.tif"


def synthesise(model: Any, plan: SynthPlan, out: str | Path, *,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write this shard's image/label pairs and its manifest into ``out``; returns the manifest.

    ``out`` must be new, empty, or a synth output of the same settings (another shard, or a run that
    was interrupted: it is redone): a folder of other files, or of another synth run, is refused
    before any work, so the manifest always lists exactly the pairs in the folder.
    """
    from nucgan.atomic import output_folder
    from nucgan.generation import load_model
    from nucgan.layout import read_placement_mask
    from nucgan.registry import create_sampler

    plan.validate()
    out = Path(out)
    with output_folder(out):
        zm = load_model(model)
        sampler = create_sampler(plan.sampler, **plan.sampler_kwargs)
        plan = with_size(sampler, with_density(sampler, plan))
        sizes = real_sizes(sampler, plan)
        settings = {
            "nucgan_synth": 1, "model": zm.name, "model_sha256": zm.info.sha256, "sampler": plan.sampler,
            "sampler_kwargs": plan.sampler_kwargs, "seed": plan.seed, "count": plan.count,
            "size": plan.size if plan.size == REAL_SIZE else list(plan.size),
            "nuclei": plan.nuclei, "density": plan.density, "gap": plan.gap, "overlap": plan.overlap,
            "placement_mask": plan.placement_mask, "format": plan.fmt, "border": plan.border, "like": plan.like,
            "precision": plan.precision,
        }
        from nucgan.generation import resolve_nucleus_spread, resolve_sensor_noise, resolve_signal_noise

        noisy = resolve_sensor_noise(zm, plan.sensor_noise)
        if noisy:  # only when on: a folder written without it before the option resumes as it was
            settings["sensor_noise"] = True
        signal = resolve_signal_noise(noisy, plan.signal_noise, zm)
        if signal:
            settings["signal_noise"] = True
        spread = resolve_nucleus_spread(zm, plan.nucleus_spread)
        if spread != 1.0:  # likewise only when it applies
            settings["nucleus_spread"] = spread
        check_folder(out, plan, settings)
        style = _reference_style(zm, plan.like)
        region = read_placement_mask(plan.placement_mask, plan.size) if plan.placement_mask else None
        i, n = plan.shard
        manifest_path = out / ("manifest.json" if n == 1 else f"manifest-shard{i}-of{n}.json")
        fresh = not manifest_path.exists()
        _write_manifest(manifest_path, {**settings, "shard": list(plan.shard), "complete": False, "images": []})
        records: list[dict[str, Any]] = []
        written: list[Path] = []
        try:
            for done, index in enumerate(plan.indices, start=1):
                records.append(_one(zm, sampler, region, plan, index, out, written, first=done == 1, like=style, sensor_noise=noisy,
                                    nucleus_spread=spread, signal_noise=signal, size=plan.image_size(index, sizes)))
                if progress:
                    progress(done, len(plan.indices))
        except BaseException:
            for path in written:  # no partial data set: a failed run removes what it wrote
                path.unlink(missing_ok=True)
            if fresh:
                manifest_path.unlink(missing_ok=True)
            for folder in {p.parent for p in written} - {out}:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty
            raise
        manifest = {**settings, "shard": list(plan.shard), "complete": True, "images": records}
        _write_manifest(manifest_path, manifest)
    return manifest


#: nuclei per 512 x 512 px for a sampler without a layout model, when neither --nuclei nor --density is given
DEFAULT_DENSITY = 150.0


def with_density(sampler: Any, plan: SynthPlan) -> SynthPlan:
    """``plan``, with the default density for a sampler that has no layout model to draw one per image."""
    import dataclasses

    from nucgan.interfaces import SceneSampler

    if plan.nuclei is None and plan.density is None and not isinstance(sampler, SceneSampler):
        return dataclasses.replace(plan, density=DEFAULT_DENSITY)
    return plan


def with_size(sampler: Any, plan: SynthPlan) -> SynthPlan:
    """``plan`` with its default size resolved: real image sizes where ``sampler`` knows them, else DEFAULT_SIZE.

    Real sizes are the default because no fixed canvas matches real nuclei per image and border cuts at
    once (benchmarks/layout_weighting.py); a fixed size given by the user is checked against the density here.
    """
    import dataclasses

    from nucgan.interfaces import SceneSampler

    if plan.size is not None:
        return plan
    if isinstance(sampler, SceneSampler) and sampler.image_sizes():  # a placement mask set DEFAULT_SIZE already
        return dataclasses.replace(plan, size=REAL_SIZE)
    resolved = dataclasses.replace(plan, size=DEFAULT_SIZE)
    resolved.check_capacity(DEFAULT_SIZE)
    return resolved


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")


def pair_name(plan: SynthPlan, index: int) -> str:
    """The file stem of pair ``index`` (zero-padded to the width of ``count - 1``, at least 4 digits)."""
    return f"{plan.prefix}_{index:0{max(4, len(str(plan.count - 1)))}d}"


def check_folder(out: Path, plan: SynthPlan, settings: dict[str, Any]) -> None:
    """Refuse a non-empty ``out`` unless it is a synth output of exactly these settings holding only its files."""
    if not out.is_dir() or not any(p.is_file() for p in out.rglob("*")):
        return  # new, or only empty folders
    manifests = sorted(out.glob("manifest*.json"))
    if not manifests:
        raise InputError(f"{out}: not empty and not a nucgan synth output (no manifest.json); give an empty or "
                         "new folder")
    for path in manifests:
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable synth manifest ({exc}); give an empty or new folder") from None
        if not isinstance(old, dict) or "nucgan_synth" not in old:
            raise InputError(f"{path}: not a nucgan synth manifest; give an empty or new folder")
        differ = [k for k in settings if old.get(k) != settings[k]]
        if differ:
            k = differ[0]
            raise InputError(f"{out}: holds a synth output made with other settings ({k} {old.get(k)!r} there, "
                             f"{settings[k]!r} now); give an empty or new folder, or the same settings to resume")
    expected = {out / "preview.png", *manifests}
    for index in range(plan.count):
        expected.update(paths(out, plan.fmt, pair_name(plan, index)))
    folders = {p for e in expected for p in e.relative_to(out).parents if str(p) != "."}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if path not in expected and not (path.is_dir() and rel in folders):
            raise InputError(f"{out}: holds {rel}, which nucgan synth did not write; give an empty or new folder")


def _reference_style(zm: Any, like: str | None) -> Any:
    """The style of ``--like`` measured once (None without it); a model without a style input refuses it."""
    from nucgan.generation import pick_style

    return pick_style(zm.input, like, 0, zm.name) if like is not None else None


def _one(zm: Any, sampler: Any, region: Any, plan: SynthPlan, index: int, out: Path, written: list[Path], *,
         first: bool, size: tuple[int, int], like: Any = None, sensor_noise: bool = False,
         nucleus_spread: float = 1.0, signal_noise: bool = False) -> dict[str, Any]:
    """Lay out, paint and write image ``index``; returns its manifest record."""
    from nucgan.generation import generate
    from nucgan.pictures import colour_labels, side_by_side, stretch
    from nucgan.io import write_png, write_tiff
    from nucgan.layout import place

    seed = plan.image_seed(index)
    labels = place(sampler, size=size, nuclei=plan.nuclei, density=plan.density,
                   gap=None if plan.overlap else plan.gap, overlap=plan.overlap, placement_mask=region, seed=seed,
                   border=plan.border)
    image = generate(zm, labels, seed=seed, like=like,  # no reference: a training image's style, drawn by seed
                     precision=plan.precision or "fp32", sensor_noise=sensor_noise, nucleus_spread=nucleus_spread,
                     signal_noise=signal_noise)
    image_path, label_path = paths(out, plan.fmt, pair_name(plan, index))
    written.append(write_tiff(label_path, labels.astype(np.uint16 if labels.max() < 65536 else np.uint32)))
    written.append(write_tiff(image_path, image))
    if first:
        picture = side_by_side([colour_labels(labels), stretch(image)])
        written.append(write_png(out / "preview.png", picture))
    return {"index": index, "seed": seed, "image": str(image_path.relative_to(out)),
            "labels": str(label_path.relative_to(out)), "nuclei": int(len(np.unique(labels)) - 1),
            "size": list(labels.shape)}
