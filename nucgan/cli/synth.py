"""``nucgan synth``: random masks -> image + label pairs for training a segmenter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from nucgan.cli.output import err
from nucgan.errors import InputError
from nucgan.synth import DEFAULT_SAMPLER


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8)."""
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m:
        raise InputError(f"--shard {text!r}: expected i/n, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))


def _has_layout_model(sampler: str) -> bool:
    """Whether the registered sampler ``sampler`` is a SceneSampler (draws each image's density itself)."""
    from nucgan.interfaces import SceneSampler
    from nucgan.registry import resolve

    factory = resolve("samplers", sampler).spec.load()
    return isinstance(factory, type) and issubclass(factory, SceneSampler)


def parse_size(text: str) -> tuple[int, int] | str:
    """``--size``: N, HxW or real."""
    from nucgan.synth import REAL_SIZE

    value = text.strip().lower()
    if value == REAL_SIZE:
        return REAL_SIZE
    match = re.fullmatch(r"(\d+)(?:\s*x\s*(\d+))?", value)
    if not match:
        raise InputError(f"--size must be N, HxW (e.g. 520x696) or real, got {text!r}")
    h = int(match.group(1))
    return (h, int(match.group(2)) if match.group(2) else h)


def synth_command(
    output: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Zoo id, run directory or file [dsb2018-fluo-1x-k3@2, chosen by StarDist F1 on held-out train images]."),
    count: int = typer.Option(4, help="Number of image/label pairs."),
    size: Optional[str] = typer.Option(None, help="Image size: N (N x N px), HxW (e.g. 520x696), or real: each image the size of a real image the layout model learned from, so nuclei per image and border cuts match the real folder [real with a layout model (the default tissue sampler), 512 otherwise or with a placement mask]."),
    density: Optional[float] = typer.Option(None, help="Nuclei per 512 x 512 px [the layout model's, per image; 150 for a sampler without one]."),
    nuclei: Optional[int] = typer.Option(None, help="Nuclei per image (instead of --density)."),
    gap: Optional[int] = typer.Option(None, help="Minimum background pixels between nuclei [the layout model's: its share of nuclei touch, the rest 1 px apart; 2 for a sampler without one]."),
    overlap: float = typer.Option(0.0, help="Allowed overlap, as a fraction of a nucleus's area (then gap is 0)."),
    region: Optional[Path] = typer.Option(None, "--placement-mask", "--region", help="Image (PNG/TIFF): place nuclei only where it is non-zero (--region: its old name)."),
    sampler: str = typer.Option(DEFAULT_SAMPLER, help="Mask sampler: tissue (layout model learned from dsb2018-fluo/train: per-image density and size, touching nuclei, border cuts), gan, bank, ellipse or a plugin's."),
    border: Optional[str] = typer.Option(None, help="cut (nuclei run off the image, as in a real crop) or whole [cut with a layout model, whole otherwise]."),
    sampler_arg: list[str] = typer.Option([], help="Sampler kwarg key=value (repeatable), e.g. labels=lbl.tif for bank."),
    seed: int = typer.Option(0, help="Seed; the same seed reproduces identical files."),
    fmt: str = typer.Option("stardist", "--format", help="stardist (images/, masks/), cellpose (X.tif, X_masks.tif) or plain."),
    shard: str = typer.Option("0/1", help="Write only part i of n (i/n), for cluster array jobs."),
    like: Optional[Path] = typer.Option(None, help="An image of yours (unannotated): paint in its style (models trained with --style)."),
    threads: int = typer.Option(0, help="Torch CPU threads (0: OMP_NUM_THREADS, else the CPUs this process may use)."),
    precision: str = typer.Option("fp32", help="fp32, or bf16: bfloat16 autocast (about 2x faster on a CPU with native bf16, several times slower without it: nucgan warns; the image moves by ~0.1 %)."),
    sensor_noise: Optional[bool] = typer.Option(None, "--sensor-noise/--no-sensor-noise", help="Add the style's background noise (the reference's with --like, else the drawn training image's): the grain a smooth painting lacks [on for models trained with --style]."),
    signal_noise: Optional[bool] = typer.Option(None, "--signal-noise/--no-signal-noise", help="Let the sensor noise grow with the signal inside the nuclei, as shot noise and fine texture do [see docs/generation.md; needs sensor noise]."),
    nucleus_spread: Optional[float] = typer.Option(None, help="Widen the brightness differences between nuclei by this factor (>= 1; 1: as painted), which a generator evens out [nucgan.nucleus_spread.DEFAULT_FACTOR for models trained with --style, else 1]."),
) -> None:
    """Synthesise training data: nucgan synth --count 50 --size 512 --density 150 --out synth/"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from nucgan.cli.train import parse_kv
    from nucgan.generation import load_model
    from nucgan.synth import DEFAULT_MODEL, SynthPlan, synthesise

    if density is None and nuclei is None and not _has_layout_model(sampler):
        density = 150.0
    plan = SynthPlan(count=count, size=parse_size(size) if size is not None else None, nuclei=nuclei, density=density, gap=0 if overlap else gap,
                     overlap=overlap, placement_mask=str(region) if region else None, sampler=sampler,
                     sampler_kwargs=parse_kv(sampler_arg, "--sampler-arg"), seed=seed, fmt=fmt,
                     shard=parse_shard(shard), border=border, like=str(like) if like else None,
                     precision=None if precision == "fp32" else precision, sensor_noise=sensor_noise,
                     nucleus_spread=nucleus_spread, signal_noise=signal_noise).validate()
    from nucgan.threads import set_threads

    set_threads(threads)
    zm = load_model(model or DEFAULT_MODEL)  # a bad model fails before the progress bar appears
    from nucgan.generation import resolve_sensor_noise, resolve_signal_noise

    resolve_signal_noise(resolve_sensor_noise(zm, plan.sensor_noise), plan.signal_noise, zm)
    columns = [TextColumn("[bold]synth"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeRemainingColumn()]
    import time

    started = time.perf_counter()
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("synth", total=len(plan.indices), rate="")

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, rate=f"{done / (time.perf_counter() - started):.2f} images/s")

        manifest = synthesise(zm, plan, output, progress=tick)
    err.print(f"{manifest['model']}: wrote {len(manifest['images'])} pairs ({fmt} layout) to {output}")
