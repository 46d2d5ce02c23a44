"""``nucgan generate``: paint an image for a label image (or a layered stack) with a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from nucgan.cli.output import err
from nucgan.errors import InputError, LayeringError


def read_stack(path: Path) -> np.ndarray:
    """A pre-layered (K, H, W) binary stack from a TIFF."""
    import tifffile

    try:
        arr = np.asarray(tifffile.imread(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - unreadable file
        raise InputError(f"{path}: cannot read as TIFF: {' '.join(str(exc).split())}") from None
    if arr.ndim != 3:
        raise InputError(f"{path}: --layered expects a (channels, height, width) stack, got shape {arr.shape}")
    return arr


def generate_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Zoo id, run directory or .safetensors file "
                                        "[synth's default, chosen by downstream F1]."),
    labels: Path = typer.Option(..., "--labels", "-l", help="Instance labels (TIFF/PNG), or a layered stack with --layered."),
    output: Path = typer.Option(..., "--out", "-o", help="Output TIFF; a PNG preview is written beside it."),
    layered: bool = typer.Option(False, help="LABELS is a pre-layered (channels, H, W) binary stack."),
    seed: int = typer.Option(0, help="Seed for the layering and the dropout noise."),
    samples: int = typer.Option(1, min=1, help="Images per mask (different noise); written as a stack."),
    noise: bool = typer.Option(True, "--noise/--no-noise", help="The generator's noise (pix2pix dropout, and noise injection where the model has it) on or off."),
    raw: bool = typer.Option(False, help="Write the model's float output in [-1, 1] instead of source intensities."),
    tile: Optional[int] = typer.Option(None, help="Largest tile for large images, a multiple of the model's size multiple; the fewest tiles that cover the image are used, each as short as covers it [1024]."),
    overlap: Optional[int] = typer.Option(None, help="Overlap between tiles, blended [64, or the size multiple if larger]."),
    device: str = typer.Option("cpu", help="cpu, cuda or mps."),
    png: bool = typer.Option(True, "--png/--no-png", help="Also write a PNG preview."),
    like: Optional[Path] = typer.Option(None, help="An image of yours (unannotated): paint in its style (models trained with --style)."),
    threads: int = typer.Option(0, help="Torch CPU threads (0: OMP_NUM_THREADS, else the CPUs this process may use)."),
    precision: str = typer.Option("fp32", help="fp32, or bf16: bfloat16 autocast (about 2x faster on a CPU with native bf16, several times slower without it: nucgan warns; the image moves by ~0.1 %)."),
    sensor_noise: bool = typer.Option(False, "--sensor-noise/--no-sensor-noise", help="Add the style's background noise (the reference's with --like, else the drawn training image's): the grain a smooth painting lacks (models trained with --style; off here, on by default in synth)."),
    signal_noise: bool = typer.Option(False, "--signal-noise/--no-signal-noise", help="With --sensor-noise: let the noise grow with the signal inside the nuclei, as shot noise and fine texture do (off here; synth's default is in docs/generation.md)."),
    nucleus_spread: float = typer.Option(1.0, help="Widen the brightness differences between nuclei by this factor (>= 1; 1: as painted, the default here; synth's default differs for models trained with --style)."),
) -> None:
    """Generate an image from masks: nucgan generate --model dsb2018-fluo-1x-k3 --labels my_labels.tif -o out.tif"""
    from nucgan.atomic import check_output_file
    from rich.progress import Progress

    from nucgan.generation import check_precision, check_spread, generate, resolve_sensor_noise, resolve_signal_noise, load_model
    from nucgan.pictures import stretch
    from nucgan.synth import DEFAULT_MODEL
    from nucgan.io import read_labels, write_png, write_tiff

    if output.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{output}: the output must be a .tif/.tiff file")
    check_precision(precision)
    check_spread(nucleus_spread)
    check_output_file(output)
    if png:
        check_output_file(output.with_suffix(".png"))
    source = read_stack(labels) if layered else read_labels(labels)
    from nucgan.threads import set_threads

    set_threads(threads)
    zm = load_model(model or DEFAULT_MODEL)
    from nucgan.generation import pick_style

    style = pick_style(zm.input, like, seed, zm.name)  # a --like the model cannot use fails before any work
    resolve_signal_noise(resolve_sensor_noise(zm, sensor_noise), signal_noise, zm)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("generate", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total * samples)

        try:
            image = generate(zm, source, seed=seed, samples=samples, noise=noise, tile=tile, overlap=overlap,
                             output="float" if raw else "source", device=device, progress=tick, like=style,
                             precision=precision, sensor_noise=sensor_noise, nucleus_spread=nucleus_spread,
                             signal_noise=signal_noise)
        except LayeringError as exc:
            raise exc.named(str(labels)) from None
    write_tiff(output, image.astype(np.float32) if raw else image)
    written = [str(output)]
    if png:
        first = image[0] if samples > 1 else image
        written.append(str(write_png(output.with_suffix(".png"), stretch(first))))
    err.print(f"{zm.name}: wrote {' and '.join(written)} ({image.shape[-2]} x {image.shape[-1]}, {image.dtype})")
