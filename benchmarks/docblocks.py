"""Generated sections of the docs: the text between ``<!-- name -->`` and ``<!-- /name -->`` lines.

Benchmark scripts own their sections and rewrite only those, so hand-written prose around them stays.
"""

from __future__ import annotations

import re
from pathlib import Path

MARK = re.compile(r"(<!-- (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(\n<!-- /(?P=name) -->)", re.S)


def splice(text: str, blocks: dict[str, str]) -> str:
    """``text`` with the body of every marker pair named in ``blocks`` replaced."""
    return MARK.sub(lambda m: m.group(1) + blocks.get(m.group("name"), m.group("body")) + m.group(4), text)


def blocks(text: str) -> dict[str, str]:
    """Every marked section of ``text``: name -> body."""
    return {m.group("name"): m.group("body") for m in MARK.finditer(text)}


def rewrite(path: Path, new_blocks: dict[str, str], require: bool = False) -> bool:
    """Splice ``new_blocks`` into ``path`` (atomically); whether it changed.

    An opening marker without its closing one is an error; so is an absent block when ``require``.
    """
    from nucgan.atomic import atomic_path

    old = path.read_text()
    present = blocks(old)
    broken = [n for n in new_blocks if f"<!-- {n} -->" in old and n not in present]
    absent = [n for n in new_blocks if n not in present] if require else []
    if broken or absent:
        raise SystemExit(f"{path}: no complete <!-- name --> ... <!-- /name --> section for {', '.join(broken + absent)}")
    new = splice(old, new_blocks)
    if new != old:
        with atomic_path(path) as tmp:
            tmp.write_text(new)
    return new != old
