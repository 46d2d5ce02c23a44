"""A downstream table (``nucgan downstream``'s results.json) as the ``downstream`` record of a zoo manifest.

Publishing with ``--downstream`` puts the train-on-synthetic figures of the very weights being
published into the manifest and the card; a table made with other weights is refused, so a card
cannot show figures of a model it does not ship.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nucgan.errors import InputError
from nucgan.quality.downstream_table import FORMAT
MODEL_ARMS = ("synthetic", "real+synthetic", "few-real+synthetic")  # the arms the published model paints


def read_downstream(path: str | Path, weights_sha256: str) -> dict[str, Any]:
    """The manifest record of the table at ``path`` (a results.json or its folder), made with ``weights_sha256``."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        table = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (run `nucgan downstream --out DIR` first)") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({' '.join(str(exc).split())})") from None
    if not isinstance(table, dict) or table.get("format") != FORMAT:
        raise InputError(f"{path}: not a downstream table (format {FORMAT!r} expected)")
    summary = table.get("summary") or {}
    painted = [arm for arm in MODEL_ARMS if arm in summary]
    if not painted:
        raise InputError(f"{path}: no arm painted by the model ({', '.join(MODEL_ARMS)}); nothing to publish")
    used = ((table.get("data") or {}).get("synthetic") or {}).get("model_sha256")
    if used != weights_sha256:
        raise InputError(f"{path}: the table was made with weights sha256 {used}, not the published run's "
                         f"{weights_sha256}; run `nucgan downstream --model RUN` on this run")
    if table.get("failed"):
        raise InputError(f"{path}: {len(table['failed'])} run(s) failed ({', '.join(table['failed'])}); "
                         f"rerun `nucgan downstream` with the same --out to finish them")
    arms = {arm: {k: s[k] for k in ("seeds", "train_images", "f1_50", "f1_70", "pq_50", "per_seed_f1_50")}
            for arm, s in summary.items()}
    return {"source": "nucgan downstream", "segmenter": table.get("segmenter"), "layout": table.get("layout"),
            "train_folder": table.get("train_folder"), "test_folder": table.get("test_folder"),
            "config": table.get("config"), "command": table.get("command"), "model_sha256": used, "arms": arms}


def card_lines(record: dict[str, Any]) -> list[str]:
    """Markdown lines of the card's downstream section: one row per arm, mean ± sd over the seeds."""
    cell = lambda s: f"{s['mean']:.3f} ± {s['sd']:.3f}"  # noqa: E731
    lines = ["## Downstream (train a segmenter, test on real images)", "",
             f"Segmenter `{record['segmenter']}` trained per arm, scored on `{record['test_folder']}`; "
             f"layout `{record['layout']}`. Command: `{record['command']}`", "",
             "| arm | seeds | train images | F1@0.5 | F1@0.7 | PQ |", "| --- | --- | --- | --- | --- | --- |"]
    for arm, s in record["arms"].items():
        lines.append(f"| {arm} | {len(s['seeds'])} | {s['train_images']} | {cell(s['f1_50'])} | {cell(s['f1_70'])} | "
                     f"{cell(s['pq_50'])} |")
    return lines
