"""The root typer app; each command group lives in its own module and is attached here."""

from __future__ import annotations

import typer

from nucgan import __version__
from nucgan.cli import downstream, evaluate, generate, masks, masks_report, models, plugins, synth, train
from nucgan.cli import zoo as zoo_cli
from nucgan.cli.layer import layer_command

app = typer.Typer(
    name="nucgan",
    help="Realistic nucleus microscopy images from instance masks (pix2pix-style GANs).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: "[d4]"-style defaults are text, not markup
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nucgan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Realistic nucleus microscopy images from instance masks (pix2pix-style GANs)."""


app.command("plugins")(plugins.plugins_command)
app.add_typer(models.app, name="models")
app.command("train")(train.train_command)
app.add_typer(zoo_cli.app, name="zoo")
app.command("generate")(generate.generate_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("downstream")(downstream.downstream_command)
app.command("synth")(synth.synth_command)
app.command("layer")(layer_command)
app.command("train-masks")(masks.train_masks_command)
app.add_typer(masks_report.app, name="masks")
