"""``nucgan downstream``: train a segmenter per arm (real, synthetic, both, baselines) and score it on real test images."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nucgan.cli.output import err, out


def downstream_command(
    data: Path = typer.Option(..., "--data", help="Real folder holding train/ and test/ (StarDist or Cellpose layout), or the test folder with --train-data."),
    output: Path = typer.Option(..., "--out", "-o", help="Results folder (resumable: a rerun skips the done runs)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Zoo id, run directory or file that paints the synthetic arms [synth's default]."),
    train_data: Optional[Path] = typer.Option(None, "--train-data", help="Real train folder [DATA/train]."),
    segmenter: str = typer.Option("builtin", "--segmenter", help="builtin (PyTorch, minutes) or stardist (StarDist2D, needs nucgan[stardist])."),
    arms: str = typer.Option(",".join(("real", "synthetic", "real+synthetic", "few-real+synthetic", "painter", "flat")), "--arms", help="Comma list of arms; also synthetic-then-real (stardist only: the first half of the budget on the synthetic images, the second on the real ones)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Segmenter seeds, comma-separated; figures are mean ± sd over them."),
    max_train_images: Optional[int] = typer.Option(None, "--max-train-images", help="A seeded subset of the real train images (quick runs)."),
    synth_size: Optional[int] = typer.Option(None, "--synth-size", help="Side of each synthetic image in px [512; not with --layout tissue-real, whose images take real sizes]."),
    synth_count: Optional[int] = typer.Option(None, "--synth-count", help="Synthetic images [as many pixels as the real train images]."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Training steps per run [the segmenter's fixed budget; change only for quick looks]."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads per run [the segmenter config's]."),
    python: Optional[str] = typer.Option(None, "--python", help="Interpreter that runs each arm (one with StarDist) [this one]."),
    sensor_noise: Optional[bool] = typer.Option(None, "--sensor-noise/--no-sensor-noise", help="The synthetic arms with or without synth's sensor noise [synth's default: on for a model with a style input]."),
    signal_noise: Optional[bool] = typer.Option(None, "--signal-noise/--no-signal-noise", help="The synthetic arms' sensor noise growing with the signal or not, as synth takes it [synth's default]."),
    nucleus_spread: Optional[float] = typer.Option(None, "--nucleus-spread", help="The synthetic arms' nucleus spread factor, as synth takes it (>= 1; 1: as painted) [synth's default]."),
    validation: str = typer.Option("own", "--validation", help="Where each arm's validation part (best weights, thresholds) comes from: own (a seeded 15 % of the arm's pairs) or real (arms with real pairs: their real pairs only, the real arm's split; stardist only)."),
    layout: str = typer.Option("bank", "--layout", help="Synthetic layouts: bank (real train shapes at the train density, 2 px apart) tissue (synth's layout model: touching nuclei, border cuts) gan (synth's gan shape sampler at its default density and gap) or tissue-real (the layout model at real image sizes, synth --size real; one image per real train image)."),
) -> None:
    """Downstream test: nucgan downstream --data dsb2018-fluo --segmenter stardist --out ds/"""
    from nucgan.cli.evaluate import parse_seeds
    from nucgan.errors import InputError
    from nucgan.quality.downstream_table import run_table
    from nucgan.quality.folder import split_folders
    from nucgan.synth import DEFAULT_MODEL

    test_folder, train_folder = split_folders(data, train_data)
    arm_list = [a.strip() for a in arms.split(",") if a.strip()]
    if model is None:
        model = DEFAULT_MODEL
    elif Path(model).exists():
        model = str(Path(model).resolve())  # the synth child process and the cache key see one path
    if threads is not None and threads < 1:
        raise InputError(f"--threads {threads}: must be at least 1")
    if steps is not None and steps < 1:
        raise InputError(f"--steps {steps}: must be at least 1")
    command = shlex.join(["nucgan", *sys.argv[1:]]) if sys.argv and "downstream" in sys.argv else "nucgan downstream"
    result = run_table(train_folder.resolve(), test_folder.resolve(), model, output, segmenter=segmenter,
                       arms=arm_list, seeds=parse_seeds(seeds, "--seeds"), max_train_images=max_train_images,
                       synth_size=synth_size, synth_count=synth_count, steps=steps, threads=threads,
                       python=python, command=command, layout=layout, sensor_noise=sensor_noise,
                       nucleus_spread=nucleus_spread, signal_noise=signal_noise, validation=validation, log=lambda m: err.print(m, markup=False, highlight=False, soft_wrap=True))
    out.print(summary_table(result))
    err.print(f"wrote {Path(output) / 'table.md'} and {Path(output) / 'results.json'}")
    if result["failed"]:
        raise InputError(f"downstream: {len(result['failed'])} run(s) failed ({', '.join(result['failed'])}); "
                         f"their logs are in {Path(output) / 'logs'}; a rerun retries only them")


def summary_table(result: dict) -> Table:
    """One row per arm: F1@0.5, F1@0.7, PQ as mean ± sd over seeds."""
    table = Table(title=f"nucgan downstream: {result['segmenter']} on {result['test_folder']} (mean ± sd over seeds)")
    for column in ("arm", "seeds", "train images", "F1@0.5", "F1@0.7", "PQ"):
        table.add_column(column, justify="left" if column == "arm" else "right", no_wrap=True)
    for arm, s in result["summary"].items():
        table.add_row(arm, str(len(s["seeds"])), str(s["train_images"]),
                      *(f"{s[k]['mean']:.3f} ± {s[k]['sd']:.3f}" for k in ("f1_50", "f1_70", "pq_50")))
    return table
