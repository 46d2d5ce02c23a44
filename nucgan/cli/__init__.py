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
    from nucgan.threads import passive_openmp

    passive_openmp()  # before torch starts OpenMP: waiting threads sleep, so a shared CPU does not collapse
    from nucgan.cli.app import app

    warnings.showwarning = _show_warning
    if not os.environ.get("NUCGAN_DEBUG"):
        # numpy's floating-point notes ("invalid value encountered in divide") name no file and no fix: the
        # figures they touch are checked for finiteness where they are made; NUCGAN_DEBUG=1 shows them
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"numpy(\.|$)")
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
