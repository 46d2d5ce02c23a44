"""The model card (README.md of a zoo entry), rendered from what publish knows."""

from __future__ import annotations

import json
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value, sort_keys=True)}`"
    return str(value)


def _flat(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def render_card(manifest: dict[str, Any], notes: list[str], cover_file: str | None,
                half_drift: float | None = None) -> str:
    """Markdown model card: what the model is, how it was trained and scored, how to use and cite it."""
    m = manifest
    ident = f"{m['id']}@{m['version']}"
    lines = [f"# {m['id']} (version {m['version']})", "", m["description"], ""]
    if cover_file:
        lines += [f"![mask | real | generated]({cover_file})", ""]
    lines += ["## Use", "", "```", f"nucgan zoo pull {ident}",
              f"nucgan generate --model {ident} --labels my_labels.tif -o my_image.tif", "```", "",
              "```python", "import nucgan", f'model = nucgan.zoo.load("{ident}")',
              "image = nucgan.generate(model, labels, seed=0)", "```", ""]
    g, i, w, t = m["generator"], m["input"], m["weights"], m["training"]
    lines += ["## Model", "", f"- generator: `{g['name']}` with `{json.dumps(g['config'], sort_keys=True)}`",
              f"- input: {i['channels']} layer channel(s){' + merged channel' if i['merged'] else ''}, "
              f"gap {i['gap']} px, layerer {i.get('layerer') or 'unspecified'}, tile {i.get('tile') or 'any'}",
              f"- normalization: `{json.dumps(i['normalization'], sort_keys=True)}`",
              f"- weights: `{w['file']}`, safetensors, {w['dtype']}, {w['size']:,} bytes, sha256 `{w['sha256']}`"]
    if half_drift is not None:
        lines.append(f"- float16 storage changes the test output by at most {half_drift:.3g} (range -1..1)")
    lines += ["", "## Training", ""]
    for key in ("data", "split", "steps", "seed", "preset", "command"):
        if key in t:
            lines.append(f"- {key}: {_fmt(t[key]) if t[key] is not None else 'unknown'}")
    for resume in t.get("resumed") or []:
        lines.append(f"- then resumed at step {resume.get('from_step')} to {resume.get('steps')}: "
                     f"{_fmt(resume.get('command'))}")
    lines += ["", "## Metrics", ""]
    metrics = m.get("metrics")
    if metrics:
        lines += [f"From `{metrics['source']}` on split {metrics.get('split') or 'unspecified'}:", "",
                  "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in _flat(metrics["values"])]
    else:
        lines.append("Not evaluated: the run had no `evaluation/metrics.json` (run `nucgan evaluate`).")
    if m.get("downstream"):
        from nucgan.zoo.downstream_record import card_lines

        lines += [""] + card_lines(m["downstream"])
    lines += ["", "## Test", "",
              f"`nucgan zoo verify {m['id']}` re-hashes the files and runs `{m['test']['file']}` (a small input "
              f"and its expected output) with tolerance {m['test']['atol']:g}.", "",
              "## License and authors", "", f"- license: {m['license']}",
              f"- authors: {', '.join(m['authors'])}"]
    if m.get("reference"):
        lines.append(f"- reference: {m['reference']}")
    if notes:
        lines += ["", "## Known gaps", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
