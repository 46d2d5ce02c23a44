"""``python -m nucgan`` runs the CLI."""

from nucgan.cli import main

main()
