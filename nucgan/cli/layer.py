"""``nucgan layer``: spread instance labels over binary channels; write the stack (TIFF) and a colour preview."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from nucgan.cli.output import out as console
from nucgan.errors import InputError, LayeringError
from nucgan.pictures import colour_layers

def masks_per_channel(layers: np.ndarray) -> list[int]:
    """How many masks each channel holds (masks on one channel never touch, so: its 8-connected pieces)."""
    from scipy import ndimage as ndi

    return [int(ndi.label(plane, structure=np.ones((3, 3), bool))[1]) for plane in layers]


def layer_command(
    labels: Path = typer.Argument(..., help="Instance labels (TIFF or PNG; 0 = background, one id per nucleus)."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Output TIFF: channels x H x W, 0/255; a PNG preview goes beside it."),
    channels: int = typer.Option(4, help="Mask channels."),
    gap: int = typer.Option(2, help="Background pixels kept between masks on one channel (chessboard distance > gap)."),
    merged: bool = typer.Option(False, "--merged/--no-merged", help="Put the union of all channels first."),
    seed: Optional[int] = typer.Option(None, help="The same seed gives the same layering (default: a random one)."),
    method: str = typer.Option("coloring", help="Layering method: coloring or first-fit (or a plugin's)."),
) -> None:
    """Layer LABELS onto binary channels; write OUT (multi-channel TIFF) and OUT's .png preview."""
    from nucgan.atomic import atomic_path, check_output_file
    from nucgan.io import read_labels, write_png, write_tiff
    from nucgan.layering import layer

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{out}: the output must be a .tif or .tiff file")
    if out.resolve() == labels.resolve():
        raise InputError(f"{out}: would overwrite the input labels; choose another output name")
    check_output_file(out)
    check_output_file(out.with_suffix(".png"))
    picture = out.with_suffix(".png")
    arr = read_labels(labels)
    try:
        stack = layer(arr, channels=channels, gap=gap, merged=merged, seed=seed, method=method)
    except LayeringError as exc:
        raise exc.named(str(labels)) from None
    plain = stack[1:] if merged else stack
    counts = masks_per_channel(plain)
    with atomic_path(out) as tmp_stack, atomic_path(picture) as tmp_picture:
        write_tiff(tmp_stack, stack.astype(np.uint8) * 255, axes="CYX")
        write_png(tmp_picture, colour_layers(plain))
    shape = " x ".join(map(str, stack.shape))
    console.print(f"wrote {out} ({shape}{', merged channel first' if merged else ''}) and {picture}")
    first = 2 if merged else 1  # TIFF plane of mask channel 1
    console.print(f"{sum(counts)} masks: " + ", ".join(
        f"channel {c + 1}{f' (plane {c + first})' if merged else ''}: {n}" for c, n in enumerate(counts)))
