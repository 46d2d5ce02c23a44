"""The root typer app; each command group lives in its own module and is attached here."""

from __future__ import annotations

from typing import Optional

import typer

from nucgan import __version__
from nucgan.cli import models, plugins
from nucgan.cli import zoo as zoo_cli
from nucgan.cli.layer import layer_command

app = typer.Typer(
    name="nucgan",
    help="Realistic nucleus microscopy images from instance masks (pix2pix-style GANs).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nucgan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Realistic nucleus microscopy images from instance masks (pix2pix-style GANs)."""


app.command("plugins")(plugins.plugins_command)
app.add_typer(models.app, name="models")
app.command("layer")(layer_command)
app.add_typer(zoo_cli.app, name="zoo")
