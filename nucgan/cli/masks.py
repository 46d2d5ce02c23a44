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
    labels: Path = typer.Argument(..., help="Instance label image (TIFF, PNG; 0 = background)."),
    out: Path = typer.Option(..., "--out", "-o", help="Model file to write (.safetensors)."),
    region: Optional[str] = typer.Option(None, help="Nuclei to learn from: train / test (the official halves), "
                                                    "r0:r1,c0:c1, or all [all]."),
    steps: int = typer.Option(3000, help="Training steps (batches of 64)."),
    seed: int = typer.Option(0, help="Seed for augmentation, initialisation and batches."),
    size: int = typer.Option(48, help="Mask canvas in pixels (a multiple of 8, above the largest nucleus)."),
    sampler: str = typer.Option("gan", help="Learned sampler to train (one that provides a train method)."),
    threads: int = typer.Option(1, help="Torch CPU threads (0: torch's default)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or log lines."),
) -> None:
    """Train a mask GAN on real nucleus shapes: `nucgan train-masks labels.tif --region train -o m.safetensors`."""
    from nucgan.registry import resolve

    if out.suffix != ".safetensors":
        raise InputError(f"{out}: the model file must end in .safetensors")
    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    from nucgan.interfaces import TrainableSampler

    factory = resolve("samplers", sampler).spec.load()
    if not (isinstance(factory, type) and issubclass(factory, TrainableSampler)):
        raise InputError(f"sampler {sampler!r} is not trainable (not a nucgan.TrainableSampler); try --sampler gan")
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
