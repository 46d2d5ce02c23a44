"""Match image files to mask files, refusing anything left unmatched or matched twice."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from nucgan.plugin_api import InputError


def pair_up(root: Path, images: dict[str, Path], masks: dict[str, Path],
            candidates: Callable[[str], list[str]], where: str) -> list[tuple[Path, Path]]:
    """(image, mask) pairs sorted by image name; ``candidates(image_name)`` lists mask names in preference order."""
    if not images:
        raise InputError(f"{root}: no image files found")
    pairs, missing, used = [], [], set()
    for name in sorted(images):
        found = [m for m in candidates(name) if m in masks]
        if not found:
            missing.append(name)
            continue
        if found[0] in used:
            raise InputError(f"{root}: mask {found[0]} matches more than one image; rename the images")
        used.add(found[0])
        pairs.append((images[name], masks[found[0]]))
    if missing:
        raise InputError(f"{root}: no mask in {where} for {len(missing)} image(s): {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}")
    extra = sorted(set(masks) - used)
    if extra:
        raise InputError(f"{root}: {len(extra)} mask file(s) without an image: {', '.join(extra[:5])}"
                         f"{' ...' if len(extra) > 5 else ''}")
    return pairs
