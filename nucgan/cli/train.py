"""``nucgan train``: train a generator against a discriminator on layered masks -> images."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from nucgan.cli.kv import parse_kv  # noqa: F401 - re-exported for cli.synth
from nucgan.cli.output import err
from nucgan.errors import InputError
from nucgan.folders import detect_layout


def generator_kwargs(generator: str, act: Optional[str], kernel: Optional[int], filters: Optional[int],
                     levels: Optional[int], extra: dict[str, Any]) -> dict[str, Any]:
    """The generator's kwargs from the short flags plus ``--gen-arg``; ``--act`` maps to the right kwarg."""
    import inspect

    from nucgan.registry import resolve

    kwargs: dict[str, Any] = {}
    if kernel is not None:
        kwargs["kernel_size"] = kernel
    if filters is not None:
        kwargs["filters"] = filters
    if levels is not None:
        kwargs["levels"] = levels
    if act is not None:
        names = [a.strip() for a in act.split(",") if a.strip()]
        params = inspect.signature(resolve("generators", generator).spec.load()).parameters
        if "activations" in params:
            kwargs["activations"] = names
        elif "activation" in params:
            if len(names) != 1:
                raise InputError(f"--act: generator {generator!r} has one output activation, got {act!r}")
            kwargs["activation"] = names[0]
        else:
            raise InputError(f"--act: generator {generator!r} takes no activation setting")
    kwargs.update(extra)
    return kwargs


def train_command(
    data: Optional[Path] = typer.Argument(None, help="A data folder (StarDist or Cellpose layout); or use --data or --image/--labels."),
    data_dirs: list[Path] = typer.Option([], "--data", help="A data folder (StarDist or Cellpose layout); repeat for several."),
    image: Optional[Path] = typer.Option(None, help="Training image (TIFF, PNG, JPEG)."),
    labels: Optional[Path] = typer.Option(None, help="Instance labels for --image (0 = background)."),
    layout: Optional[str] = typer.Option(None, help="Folder layout: stardist or cellpose (default: detected)."),
    region: Optional[str] = typer.Option(None, help="Keep to a region: train / test (the official halves) or r0:r1,c0:c1."),
    tile: Optional[int] = typer.Option(None, help="Tile size in pixels [128]."),
    stride: Optional[int] = typer.Option(None, help="Step between tiles in pixels [4]."),
    randomize: Optional[int] = typer.Option(None, help="Layerings per image [10]."),
    views: Optional[str] = typer.Option(None, help="Views per tile: none, paper5 or d4 [d4]."),
    merged: Optional[bool] = typer.Option(None, "--merged/--no-merged", help="Add the merged mask channel first [on]."),
    channels: Optional[int] = typer.Option(None, help="Layer channels [4]."),
    gap: Optional[int] = typer.Option(None, help="Background pixels between masks on one channel [2]."),
    layerer: Optional[str] = typer.Option(None, help="Layering method [coloring]."),
    style: Optional[bool] = typer.Option(None, "--style/--no-style", help="Give the generator each image's style (background, brightness, noise, sharpness) as input, for training on many images; generation then takes --like [off]."),
    generator: Optional[str] = typer.Option(None, "--generator", "-g", help="Registered generator [chain3]."),
    act: Optional[str] = typer.Option(None, help="Output activation(s), one per stage: e.g. tanh,gelu,tanh."),
    kernel: Optional[int] = typer.Option(None, help="Generator kernel size (3, 5, 7)."),
    filters: Optional[int] = typer.Option(None, help="Generator base filters (16, 32, 64)."),
    levels: Optional[int] = typer.Option(None, help="U-Net levels (skip connections; 4 or 6)."),
    gen_arg: list[str] = typer.Option([], help="Any other generator kwarg, key=value (repeatable)."),
    discriminator: Optional[str] = typer.Option(None, "--discriminator", "-d", help="Registered discriminator [patchgan-paper]."),
    disc_arg: list[str] = typer.Option([], help="Discriminator kwarg, key=value (repeatable)."),
    gan_loss: Optional[str] = typer.Option(None, help="Adversarial loss: bce, lsgan, or none (the L1-only baseline) [bce]."),
    lambda_l1: Optional[float] = typer.Option(None, help="Weight of the L1 loss [100]."),
    l1_blur: Optional[float] = typer.Option(None, "--l1-blur", help="Take the L1 between the generated and the real tile both blurred by a Gaussian of this sigma in px, so the nuclei's profile stays tied to the real tile and finer texture is left to the discriminator [0: plain L1]."),
    feature_matching: Optional[float] = typer.Option(None, help="Weight of the discriminator feature-matching loss (pix2pixHD; e.g. 10) [0: off]."),
    d_pass: Optional[str] = typer.Option(None, "--d-pass", help="The discriminator over the real and the generated batch: separate passes (the paper's; BatchNorm sees one class at a time) or joint (one pass over both, so BatchNorm mixes them and batch-wide differences such as missing texture stay visible) [separate]."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate [2e-4]."),
    d_noise: Optional[bool] = typer.Option(None, "--d-noise/--no-d-noise", help="Show the discriminator each generated tile with white noise up to its real tile's fine-noise level, as synth's sensor noise paints it, so it judges texture rather than grain (the L1 sees the clean tile) [off]."),
    d_cond_scale: Optional[float] = typer.Option(None, "--d-cond-scale", help="Multiply the masks the discriminator sees by this (e.g. 0.05): at 1 their sharp +-1 edges swamp the image's grain and texture and a conditional discriminator stays near chance [1]."),
    ema: Optional[float] = typer.Option(None, "--ema", help="Save a moving average of the generator's weights with this decay (e.g. 0.999) instead of the last step's; training itself is unchanged [0: off]."),
    lr_d: Optional[float] = typer.Option(None, "--lr-d", help="The discriminator's Adam learning rate, for two time-scale updates (e.g. 4x --lr) [--lr]."),
    betas: Optional[str] = typer.Option(None, help="Adam betas, e.g. 0.5,0.999."),
    batch: Optional[int] = typer.Option(None, help="Batch size per process [8]."),
    steps: Optional[int] = typer.Option(None, help="Training steps [1000]."),
    seed: Optional[int] = typer.Option(None, help="Seed for initialisation, layering, data order and dropout [0]."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or mps [auto]."),
    amp: Optional[bool] = typer.Option(None, "--amp/--no-amp", help="bfloat16 autocast [on for CUDA with native bf16 (Ampere or newer), off elsewhere; slower than fp32 without native bf16: nucgan warns]."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="Channels-last memory format [on]."),
    threads: Optional[int] = typer.Option(None, help="Torch CPU threads (0: torch's default)."),
    workers: Optional[int] = typer.Option(None, help="Data-loading worker processes [0]."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory [runs/nucgan]."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint."),
    init: Optional[str] = typer.Option(None, help="Start from a model's weights: zoo id, run directory or .safetensors."),
    preset: Optional[str] = typer.Option(None, help="Apply a recipe first: paper (Adam 1e-4/0.9, batch 20, 5 views, 10 layerings, merged)."),
    log_every: Optional[int] = typer.Option(None, help="Log losses every N steps [10]."),
    sample_every: Optional[int] = typer.Option(None, help="Write a sample grid every N steps [200]."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Checkpoint every N steps [100]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; plain log lines instead."),
) -> None:
    """Train a generator (e.g. --generator chain3 --act tanh,gelu,tanh --kernel 7) on masks -> images."""
    from nucgan.training import PRESETS, TrainConfig
    from nucgan.training.loop import Run

    config = TrainConfig(preset=preset)  # the preset's settings first; the flags below override them
    given: dict[str, Any] = {
        "region": region, "tile": tile, "stride": stride, "randomize": randomize, "views": views, "merged": merged,
        "channels": channels, "gap": gap, "layerer": layerer, "style": style, "generator": generator,
        "discriminator": discriminator,
        "gan_loss": gan_loss, "lambda_l1": lambda_l1, "l1_blur": l1_blur, "feature_matching": feature_matching, "d_pass": d_pass, "d_noise": d_noise, "d_cond_scale": d_cond_scale, "ema": ema, "lr": lr, "lr_d": lr_d, "batch": batch,
        "steps": steps, "seed": seed,
        "device": device, "amp": amp, "channels_last": channels_last, "threads": threads, "workers": workers,
        "init": init, "log_every": log_every, "sample_every": sample_every, "checkpoint_every": checkpoint_every,
        "out": str(out) if out is not None else None,
    }
    if betas is not None:
        try:
            given["betas"] = tuple(float(b) for b in betas.split(","))
        except ValueError:
            raise InputError(f"--betas {betas!r}: expected two numbers like 0.5,0.999") from None
    for key, value in given.items():
        if value is not None:
            setattr(config, key, value)
    asked = {k for k, v in given.items() if v is not None}
    folders = [*([data] if data is not None else []), *data_dirs]
    if folders and (image or labels):
        raise InputError("give either data folders or --image/--labels, not both")
    if folders:
        config.dataset = layout or _one_layout(folders)
        config.sources = {"folder": str(folders[0]) if len(folders) == 1 else [str(f) for f in folders]}
        asked |= {"dataset", "sources"}
    elif image is not None and labels is not None:
        config.dataset, config.sources = "files", {"image": str(image), "labels": str(labels)}
        asked |= {"dataset", "sources"}
    elif not resume:
        raise InputError("no training data: give a data folder, or both --image and --labels")
    elif image is not None or labels is not None:
        raise InputError("--image and --labels go together")
    if not resume or any(v is not None for v in (act, kernel, filters, levels)) or gen_arg:
        config.generator_kwargs = generator_kwargs(config.generator, act, kernel, filters, levels,
                                                   parse_kv(gen_arg, "--gen-arg"))
        asked.add("generator_kwargs")
    if not resume or disc_arg:
        config.discriminator_kwargs = parse_kv(disc_arg, "--disc-arg")
        asked.add("discriminator_kwargs")
    if preset is not None:
        asked |= {"preset", *PRESETS[preset]}
    config.command = shlex.join(["nucgan", *sys.argv[1:]])
    run = Run(config, resume=resume, on_step=None, given=asked)
    _train_with_progress(run, quiet)


def _one_layout(folders: list[Path]) -> str:
    """The layout all ``folders`` share; folders of different layouts are refused, naming them."""
    layouts = {str(f): detect_layout(f) for f in folders}
    if len(set(layouts.values())) > 1:
        listed = ", ".join(f"{f} ({kind})" for f, kind in layouts.items())
        raise InputError(f"--data folders of different layouts: {listed}; give folders of one layout")
    return next(iter(layouts.values()))


def _train_with_progress(run: Any, quiet: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    c = run.config
    if quiet or not run.world.main or not err.is_terminal:
        run.prepare()  # bad data or settings fail here, before a progress bar is drawn
    else:
        with err.status("reading the training data (every image, its labels and its layerings)"):
            run.prepare()
    if run.world.main and not run.start >= c.steps:
        err.print(f"data: {run.dataset!r}", highlight=False)
    if run.start >= c.steps:
        if run.world.main:
            err.print(f"{run.out}: the run is at step {run.start}, at or past --steps {c.steps}; no step runs "
                      f"(give a larger --steps to train on)", highlight=False)
        return
    if quiet or not run.world.main or not err.is_terminal:
        def log(step: int, losses: Any, rate: float) -> None:
            if run.world.main and (step % c.log_every == 0 or step == c.steps):
                err.print(f"step {step}/{c.steps}  G gan {float(losses.g_gan):.3f}  L1 {float(losses.g_l1):.4f}  "
                          f"D {float(losses.d):.3f}  {rate:.1f} samples/s", highlight=False)
        run.on_step = log
        out = run.run()
    else:
        columns = [TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
        with Progress(*columns, console=err, transient=False) as progress:
            task = progress.add_task("train", total=c.steps, info="starting")

            def update(step: int, losses: Any, rate: float) -> None:
                info = (f"G {float(losses.g_gan):.3f} L1 {float(losses.g_l1):.4f} D {float(losses.d):.3f} "
                        f"{rate:.1f} samples/s")
                progress.update(task, completed=step, info=info)

            run.on_step = update
            progress.update(task, completed=0)
            out = run.run()
    if run.world.main:
        err.print(f"run written to {out} (generator.safetensors, checkpoint, metrics.jsonl, samples/)")
