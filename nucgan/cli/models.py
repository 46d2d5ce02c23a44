"""``nucgan models``: the generators and discriminators the registry knows."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Optional

import typer
from rich.table import Table

from nucgan.cli.output import out
from nucgan.cli.kv import parse_kv
from nucgan.errors import InputError

app = typer.Typer(rich_markup_mode=None, help="Generators and discriminators: list them, inspect one, reproduce the paper's Table 1.",
                  no_args_is_help=True)


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines instead of a table."),
) -> None:
    """List registered generators and discriminators with the package providing each."""
    from nucgan.registry import list_discriminators, list_generators

    rows = [("generator", p) for p in list_generators()] + [("discriminator", p) for p in list_discriminators()]
    if as_json:
        out.print_json(json.dumps([{"kind": k, **p._asdict()} for k, p in rows]))
        return
    table = Table(title="nucgan models")
    for col in ("kind", "name", "package", "description"):
        table.add_column(col)
    for kind, p in rows:
        table.add_row(kind, p.name, p.package, p.description)
    out.print(table)


def parse_kwargs(items: list[str]) -> dict[str, Any]:
    """Model arguments for ``models show``: :func:`nucgan.cli.kv.parse_kv`'s rules."""
    return parse_kv(items, "model argument")


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    try:
        return int(h), int(w or h)
    except ValueError:
        raise InputError(f"--size must be N or HxW (e.g. 128 or 128x256), got {text!r}") from None


def _shape(shape: tuple[int, ...] | None) -> str:
    return " x ".join(map(str, shape)) if shape else "-"


def _flops(n: int) -> str:
    return f"{n / 1e9:,.3f} G" if n else "-"


@app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Registry name of a generator or discriminator, e.g. chain3."),
    kwargs: Optional[list[str]] = typer.Argument(
        None, help="Model arguments as key=value, e.g. in_channels=5 kernel_size=7 activations=tanh,gelu,tanh."),
    size: str = typer.Option("128", "--size", help="Tile size for shapes and FLOPs: N or HxW."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size for shapes and FLOPs."),
    depth: int = typer.Option(2, "--depth", min=1, help="How deep the layer summary goes."),
    kind: Optional[str] = typer.Option(None, "--kind", help="generator or discriminator (default: whichever has NAME)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines instead of tables."),
) -> None:
    """Layer summary, output size per stage, parameter counts and forward FLOPs of one model (no memory used)."""
    from nucgan.modelinfo import describe_model

    rep = describe_model(name, parse_kwargs(kwargs or []), kind=kind, size=_size(size), batch=batch, depth=depth)
    if as_json:
        out.print_json(json.dumps(rep.to_dict()))
        return
    args = ", ".join(f"{k}={v!r}" for k, v in rep.config.items())
    out.print(f"[bold]{rep.kind} {rep.name}[/]({args})")
    layers = Table(title=f"layers (depth {depth})")
    for col, justify in (("module", "left"), ("type", "left"), ("output", "right"), ("params", "right"),
                         ("FLOPs", "right")):
        layers.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rep.rows:
        layers.add_row("  " * (r.depth - 1) + r.name, r.type, _shape(r.output), f"{r.params:,}", _flops(r.flops))
    out.print(layers)
    stages = Table(title="output size per stage (in execution order)")
    for col in ("stage", "type", "output"):
        stages.add_column(col)
    for r in rep.stages:
        stages.add_row(r.name, r.type, _shape(r.output))
    out.print(stages)
    c = rep.counts
    out.print(f"input:  {' + '.join(_shape(s) for s in rep.inputs)}")
    out.print(f"output: {_shape(rep.output)}")
    out.print(f"trainable parameters: {c.trainable:,}" + (f" (+ {c.frozen:,} frozen)" if c.frozen else ""))
    out.print(f"parameters + BatchNorm running statistics (Keras count, the paper's Table 1): {c.paper:,}")
    out.print(f"forward FLOPs at batch {batch}, {rep.inputs[0][2]} x {rep.inputs[0][3]} px: {rep.flops:,} "
              f"({rep.flops / 1e9:,.3f} GFLOPs = {rep.flops / 2e9:,.3f} G multiply-adds; convolutions and matmuls)")


@app.command("table")
def table_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines instead of a table."),
) -> None:
    """Reproduce the paper's Table 1: every model built through the registry, counted as Keras did.

    Exits with status 1 if any count differs from the paper's.
    """
    from nucgan.modelinfo import reproduce_table1

    entries = reproduce_table1()
    bad = [e for e in entries if not e.ok]
    if as_json:
        out.print_json(json.dumps([{**asdict(e), "ok": e.ok} for e in entries]))
    else:
        table = Table(title="The paper's Table 1, reproduced: parameters + BatchNorm running statistics")
        for col in ("model", "F", "K", "levels", "in ch", "paper", "nucgan", "same"):
            table.add_column(col, justify="left" if col == "model" else "right")
        legend: dict[str, str] = {}
        for e in entries:
            acts = ",".join(e.kwargs.get("activations", [e.kwargs.get("activation", "")]))
            legend[e.variant] = f"{e.variant}: {e.generator} ({acts})"
            table.add_row(e.variant, str(e.filters), str(e.kernel_size), str(e.levels), str(e.in_channels),
                          f"{e.paper:,}", f"{e.ours:,}", "[green]yes[/]" if e.ok else "[red]NO[/]")
        out.print(table)
        out.print("; ".join(legend.values()))
        out.print(f"{len(entries) - len(bad)} of {len(entries)} entries equal the paper's Table 1")
    if bad:
        raise typer.Exit(1)
