"""``nucgan models``: the generators and discriminators the registry knows."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from nucgan.cli.output import out

app = typer.Typer(help="Generators and discriminators: list them, inspect one, reproduce the paper's Table 1.",
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
