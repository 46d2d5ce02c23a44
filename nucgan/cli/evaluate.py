"""``nucgan evaluate``: score a model beside both baselines on a real folder, or on a held-out region of one image."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from nucgan.cli.output import err, out


def evaluate_command(
    model: str = typer.Option(..., "--model", "-m", help="Zoo id, run directory, .safetensors file, 'painter' or 'flat'."),
    data: Optional[Path] = typer.Option(None, "--data", help="Real folder to score (StarDist or Cellpose layout, or one holding train/ and test/)."),
    train_data: Optional[Path] = typer.Option(None, "--train-data", help="Real folder the baselines are fitted on and the realism classifier trained on [DATA/train]."),
    max_images: Optional[int] = typer.Option(None, "--max-images", help="Score only N images, evenly spaced over the folder (quick runs)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Generation seeds, comma-separated; figures are mean ± sd over them."),
    image: Optional[Path] = typer.Option(None, help="One real image (instead of --data)."),
    labels: Optional[Path] = typer.Option(None, help="Its instance labels."),
    region: str = typer.Option("test", help="With --image: region to score: test, train, all or r0:r1,c0:c1."),
    train_region: str = typer.Option("train", help="Region a baseline is fitted on."),
    output: Path = typer.Option(..., "--out", "-o", help="Folder for metrics.json and figure.png."),
    seed: int = typer.Option(0, help="Seed for layering and noise."),
    downstream: bool = typer.Option(False, "--downstream", help="Also train a small segmenter on real / synthetic / both (about 10 min on a CPU)."),
    downstream_seeds: str = typer.Option("0,1,2", help="Seeds of the downstream segmenter, comma-separated."),
) -> None:
    """Score a model and the painter and flat baselines: MAE, SSIM, nucleus W1, grid peak, realism AUC."""
    from nucgan.errors import InputError

    if data is not None:
        if image is not None or labels is not None:
            raise InputError("evaluate: give --data or --image with --labels, not both")
        unused = [flag for flag, given in (("--region", region != "test"), ("--train-region", train_region != "train"),
                                           ("--seed", seed != 0), ("--downstream", downstream)) if given]
        if unused:
            raise InputError(f"evaluate: {', '.join(unused)} cannot apply with --data (they are for --image; with "
                             "--data use --seeds, and nucgan downstream for the downstream table)")
        evaluate_folder_command(model, data, train_data, max_images, parse_seeds(seeds, "--seeds"), output)
        return
    if image is None or labels is None:
        raise InputError("evaluate: give --data DIR (a real folder), or --image and --labels")
    unused = [flag for flag, given in (("--train-data", train_data is not None), ("--max-images", max_images is not None),
                                       ("--seeds", seeds != "0,1,2")) if given]
    if unused:
        raise InputError(f"evaluate: {', '.join(unused)} cannot apply with --image (they are for --data)")
    from nucgan.io import read_pair
    from nucgan.quality.evaluate import evaluate

    img, lbl = read_pair(image, labels)
    result = evaluate(model, img, lbl, region=region, seed=seed, out=output, train_region=train_region)
    table = Table(title=f"nucgan evaluate: {model} on {region} ({result['nuclei']} nuclei)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [(f"fidelity {k}", v) for k, v in result["fidelity"].items()]
    rows += [(f"intensity {k}", result["intensity"][k]) for k in ("nucleus_w1", "nucleus_corr", "background_real",
                                                                    "background_generated")]
    rows += [(f"spectrum {k}", result["spectrum"][k]) for k in ("spectrum_log_mae", "high_freq_log_ratio")]
    for key in ("f1", "mean_matched_iou", "panoptic_quality", "accuracy_50_95"):
        rows.append((f"judge {key} real / generated",
                     f"{result['judge_real'][key]:.3f} / {result['judge_generated'][key]:.3f}"))
        rows.append((f"consistency {key}", result["consistency"][key]))
    if downstream:
        import json

        from nucgan.atomic import atomic_path
        from nucgan.quality.downstream import downstream as run_downstream

        result_ds = run_downstream(model, img, lbl, seeds=parse_seeds(downstream_seeds, "--downstream-seeds"),
                                   train_region=train_region, test_region=region)
        with atomic_path(output / "downstream.json") as tmp:
            tmp.write_text(json.dumps(result_ds, indent=2) + "\n")
        for arm, r in result_ds["arms"].items():
            rows.append((f"downstream F1@0.5 {arm}", f"{r['f1']['mean']:.3f} ± {r['f1']['std']:.3f}"))
    for name, value in rows:
        table.add_row(name, value if isinstance(value, str) else f"{value:.4f}")
    out.print(table)
    err.print(f"wrote {output / 'metrics.json'} and {output / 'figure.png'}")


def parse_seeds(text: str, flag: str) -> list[int]:
    """Comma-separated integers, at least one, none repeated."""
    from nucgan.errors import InputError

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected integers like 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"{flag} {text!r}: expected distinct integers like 0,1,2")
    return seeds


def evaluate_folder_command(model: str, data: Path, train_data: Optional[Path], max_images: Optional[int],
                            seeds: list[int], output: Path) -> None:
    """Score ``model`` and both baselines on a folder and print the table (mean ± sd over seeds)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from nucgan.quality.folder import FolderEvalConfig, evaluate_folder

    config = FolderEvalConfig(seeds=tuple(seeds), max_images=max_images).validate()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("evaluate", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        result = evaluate_folder(model, data, train_data=train_data, config=config, out=output, progress=progress)
    out.print(folder_table(result))
    err.print(f"wrote {output / 'metrics.json'} and {output / 'figure.png'} ({result['seconds']:.0f} s)")


def folder_table(result: dict[str, Any]) -> Table:
    """One row per source (model, painter, flat, real), one column per figure, as mean ± sd."""
    from nucgan.quality.folder import METRICS

    seeds = len(result["settings"]["seeds"])
    table = Table(title=f"nucgan evaluate: {result['images']} images, {result['nuclei']} nuclei, "
                        f"{seeds} seed{'s' if seeds > 1 else ''} (mean ± sd)")
    table.add_column("source")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    for name, figures in result["results"].items():
        label = result["sources"].get(name, {}).get("model", name) if name == "model" else name
        table.add_row(label, *(f"{figures[m]['mean']:.4g} ± {figures[m]['sd']:.2g}" if m in figures else "–"
                               for m in METRICS))
    return table
