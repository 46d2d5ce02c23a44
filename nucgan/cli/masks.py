"""``nucgan train-masks``: train a learned mask sampler (the paper's mask GAN) on the nuclei of a label image."""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from nucgan.cli.output import err
from nucgan.errors import InputError


def train_masks_command(
    labels: Optional[Path] = typer.Argument(None, help="Instance label image (TIFF, PNG; 0 = background), for a "
                                                       "sampler that learns from one image (gan)."),
    out: Path = typer.Option(..., "--out", "-o", help="Model file to write (.safetensors)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Folder of label images (or with masks/) to learn "
                                                             "shapes and per-image layouts from (sampler tissue)."),
    region: Optional[str] = typer.Option(None, help="Nuclei to learn from: train / test (the official halves), "
                                                    "r0:r1,c0:c1, or all [all]."),
    steps: int = typer.Option(3000, help="Training steps (batches of 64)."),
    seed: int = typer.Option(0, help="Seed for augmentation, initialisation and batches."),
    size: int = typer.Option(48, help="Mask canvas in pixels (a multiple of 8, above the largest nucleus)."),
    sampler: Optional[str] = typer.Option(None, help="Learned sampler to train (one that provides a train method) "
                                                     "[tissue with --data, else gan]."),
    threads: int = typer.Option(1, help="Torch CPU threads (0: torch's default)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or log lines."),
) -> None:
    """Learn nucleus shapes: `nucgan train-masks --data train/ -o t.safetensors` (layout model) or
    `nucgan train-masks labels.tif --region train -o m.safetensors` (mask GAN)."""
    from nucgan.registry import resolve

    if out.suffix != ".safetensors":
        raise InputError(f"{out}: the model file must end in .safetensors")
    if (labels is None) == (data is None):
        raise InputError("give a label image (LABELS) or a folder of label images (--data), not both or neither")
    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    from nucgan.interfaces import TrainableSampler

    sampler = sampler or ("tissue" if data is not None else "gan")
    factory = resolve("samplers", sampler).spec.load()
    if not (isinstance(factory, type) and issubclass(factory, TrainableSampler)):
        raise InputError(f"sampler {sampler!r} is not trainable (not a nucgan.TrainableSampler); try --sampler gan")
    learns = getattr(factory, "learns_from", "image")
    if data is not None:
        if learns != "folder":
            raise InputError(f"sampler {sampler!r} learns from one label image, not a folder: give LABELS instead "
                             f"of --data (or --sampler tissue)")
        if not data.is_dir():
            raise InputError(f"--data {data}: no such folder")
        if region is not None:
            raise InputError("--region applies to one label image; --data learns from whole images")
        _train_folder(factory, data, out, seed, quiet)
        return
    if learns == "folder":
        raise InputError(f"sampler {sampler!r} learns from a folder of label images: give --data DIR")
    train = factory.train
    kwargs: dict[str, Any] = {"region": region, "steps": steps, "seed": seed, "size": size, "threads": threads,
                              "command": shlex.join(["nucgan", *sys.argv[1:]])}
    if quiet:
        summary = train(str(labels), str(out), **kwargs)
    elif not err.is_terminal:  # a log file or pipe: plain lines, no bar
        def log(step: int, loss_d: float, loss_g: float) -> None:
            if step % 500 == 0 or step == steps:
                err.print(f"step {step}/{steps}  D {loss_d:.3f}  G {loss_g:.3f}")

        summary = train(str(labels), str(out), on_step=log, **kwargs)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        columns = [TextColumn("[bold]train-masks"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
        with contextlib.ExitStack() as stack:
            bar: list[Any] = []  # started at the first step, so bad input ends as one error line, no bar

            def update(step: int, loss_d: float, loss_g: float) -> None:
                if not bar:
                    progress = stack.enter_context(Progress(*columns, console=err, transient=False))
                    bar.extend([progress, progress.add_task("train-masks", total=steps, info="")])
                if step % 10 == 0 or step == steps:
                    bar[0].update(bar[1], completed=step, info=f"D {loss_d:.3f} G {loss_g:.3f}")

            summary = train(str(labels), str(out), on_step=update, **kwargs)
    err.print(f"mask model written to {out} ({summary.get('shapes', '?')} real shapes, "
              f"{summary.get('seconds', '?')} s); use it with: sampler gan, model={out}")


def _train_folder(factory: Any, data: Path, out: Path, seed: int, quiet: bool) -> None:
    """``train-masks --data``: a sampler that learns from a folder; progress per image measured."""
    command = shlex.join(["nucgan", *sys.argv[1:]])
    if quiet or not err.is_terminal:
        def log(done: int, total: int) -> None:
            if not quiet and (done % 50 == 0 or done == total):
                err.print(f"measured {done}/{total} label images")

        summary = factory.train(str(data), str(out), seed=seed, on_step=log, command=command)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]train-masks"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("train-masks", total=None)
            summary = factory.train(str(data), str(out), seed=seed, command=command,
                                    on_step=lambda done, total: progress.update(task, completed=done, total=total))
    skipped = summary.get("skipped", [])
    note = f"; {len(skipped)} image(s) left out, every nucleus cut by the border: {', '.join(skipped[:5])}" \
        if skipped else ""
    err.print(f"tissue model written to {out} ({summary.get('records', '?')} image records, "
              f"{summary.get('shapes', '?')} shapes{note}); use it with: --sampler tissue --sampler-arg model={out}")
