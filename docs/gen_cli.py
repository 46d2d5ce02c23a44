"""Render the CLI reference (docs/cli.md) from the typer app: ``python docs/gen_cli.py [--check]``.

Walks the click command tree of ``nucgan.cli.app.app`` and writes every command's usage, arguments
and options as plain Markdown, independent of the terminal width (no rich boxes, no ANSI codes).
``--check`` writes nothing and exits 1 when docs/cli.md differs from what would be generated.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Iterator

TARGET = Path(__file__).resolve().parent / "cli.md"
COMMAND = "python docs/gen_cli.py"


def _walk(cmd: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (command, context) depth-first in the order ``--help`` lists the commands; hidden ones are skipped."""
    yield cmd, ctx
    for name in getattr(cmd, "list_commands", lambda _ctx: [])(ctx):
        sub = cmd.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        yield from _walk(sub, sub.context_class(sub, info_name=name, parent=ctx))


def _cell(text: str) -> str:
    """One Markdown table cell: a single line, pipes and angle brackets escaped."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """Text for a code span inside a table cell (GFM splits cells at any unescaped pipe)."""
    return text.replace("|", "\\|")


def _table(title: str, head: str, rows: list[tuple[str, str]]) -> list[str]:
    """A titled two-column table, or nothing when there are no rows."""
    if not rows:
        return []
    lines = [f"**{title}**", "", f"| {head} | Description |", "| --- | --- |"]
    lines += [f"| `{_code(name)}` | {_cell(help_text)} |" for name, help_text in rows]
    return [*lines, ""]


def _section(cmd: Any, ctx: Any) -> list[str]:
    """The Markdown for one command: heading, help, usage, arguments, options, subcommands."""
    lines = [f"## `{ctx.command_path}`", ""]
    if cmd.help:
        lines += [inspect.cleandoc(cmd.help), ""]
    usage = " ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)])
    lines += ["```text", f"Usage: {usage}", "```", ""]
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        (arguments if param.param_type_name == "argument" else options).append(record)
    lines += _table("Arguments", "Argument", arguments)
    lines += _table("Options", "Option", options)
    subcommands = []
    for name in getattr(cmd, "list_commands", lambda _ctx: [])(ctx):
        sub = cmd.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            summary = sub.short_help or inspect.cleandoc(sub.help or "").split("\n\n")[0]
            subcommands.append((name, summary))
    lines += _table("Commands", "Command", subcommands)
    return lines


def render() -> str:
    """The whole reference as Markdown text."""
    import typer.main

    from nucgan.cli.app import app

    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="nucgan")
    lines = [
        "# Command-line reference",
        "",
        f"<!-- Generated from nucgan.cli.app by `{COMMAND}`; do not edit by hand. "
        "tests/test_docs.py fails when this file is out of date. -->",
        "",
        "Every command prints its own help with `--help`. Errors are one line on stderr starting with "
        "`error:` and exit code 2.",
        "",
    ]
    for cmd, sub_ctx in _walk(root, ctx):
        lines += _section(cmd, sub_ctx)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/cli.md, or with ``--check`` report whether it is current (exit 1 if stale)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date; run: {COMMAND}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
