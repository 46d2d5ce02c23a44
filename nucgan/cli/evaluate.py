"""``nucgan evaluate``: score a model (or a baseline) on the held-out region of a real image."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nucgan.cli.output import err, out


def evaluate_command(
    model: str = typer.Option(..., "--model", "-m", help="Zoo id, run directory, .safetensors file, or 'painter'."),
    image: Path = typer.Option(..., help="The real image."),
    labels: Path = typer.Option(..., help="Its instance labels."),
    region: str = typer.Option("test", help="Region to score: test, train, all or r0:r1,c0:c1."),
    train_region: str = typer.Option("train", help="Region a baseline is fitted on."),
    output: Path = typer.Option(..., "--out", "-o", help="Folder for metrics.json and figure.png."),
    seed: int = typer.Option(0, help="Seed for layering and noise."),
    downstream: bool = typer.Option(False, "--downstream", help="Also train a small segmenter on real / synthetic / both (about 10 min on a CPU)."),
    downstream_seeds: str = typer.Option("0,1,2", help="Seeds of the downstream segmenter, comma-separated."),
) -> None:
    """Measure fidelity, intensity realism, spectra and the judge's segmentation consistency."""
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
        from nucgan.errors import InputError
        from nucgan.quality.downstream import downstream as run_downstream

        try:
            seeds = [int(s) for s in downstream_seeds.split(",") if s.strip()]
        except ValueError:
            raise InputError(f"--downstream-seeds {downstream_seeds!r}: expected integers like 0,1,2") from None
        result_ds = run_downstream(model, img, lbl, seeds=seeds, train_region=train_region, test_region=region)
        with atomic_path(output / "downstream.json") as tmp:
            tmp.write_text(json.dumps(result_ds, indent=2) + "\n")
        for arm, r in result_ds["arms"].items():
            rows.append((f"downstream F1@0.5 {arm}", f"{r['f1']['mean']:.3f} ± {r['f1']['std']:.3f}"))
    for name, value in rows:
        table.add_row(name, value if isinstance(value, str) else f"{value:.4f}")
    out.print(table)
    err.print(f"wrote {output / 'metrics.json'} and {output / 'figure.png'}")
