"""The ``nucgan`` command line: a typer app; every NucganError ends as one line on stderr and exit 2."""

from __future__ import annotations

import os
import sys
import warnings

from nucgan.errors import NucganError


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    """Console-script entry point."""
    from nucgan.cli.app import app

    warnings.showwarning = _show_warning
    try:
        app()
    except NucganError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug; keep the terminal readable unless asked
        if os.environ.get("NUCGAN_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
              "(set NUCGAN_DEBUG=1 for the traceback)",
              file=sys.stderr)
        sys.exit(1)
