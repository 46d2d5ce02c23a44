"""How close synthetic layouts are to real ones: ``nucgan masks report``'s figures, table and JSON.

Each statistic of :mod:`nucgan.labelstats` is compared as a distribution between a real label
folder and another folder: the Kolmogorov-Smirnov statistic (the headline, scale-free, so the
figures of different statistics can be read side by side) and the Wasserstein-1 distance (in the
statistic's own unit). A second real folder (the reference, e.g. test against train) gives the
distance two real samples lie apart; a synthetic folder is as real as it gets when its distances
are within ``TOLERANCE`` times the reference's.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from nucgan.errors import InputError
from nucgan.labelstats import FolderStats, folder_stats

#: (key, what is compared, per-image or per-nucleus values, the statistic)
STATS: tuple[tuple[str, str, str, str], ...] = (
    ("touching", "touching fraction", "image", "touching"),
    ("density", "nuclei per 512^2 px", "image", "density"),
    ("nuclei", "nuclei per image", "image", "nuclei"),
    ("area", "nucleus area (px)", "nucleus", "area"),
    ("eccentricity", "eccentricity", "nucleus", "eccentricity"),
    ("solidity", "solidity", "nucleus", "solidity"),
    ("nn_distance", "nearest-neighbour distance (px)", "nucleus", "nn_distance"),
    ("median_area", "median nucleus area per image (px)", "image", "median_area"),
    ("size_spread", "size spread per image (sd log area)", "image", "size_spread"),
    ("cut", "fraction cut by the border", "image", "cut"),
)
TOLERANCE = 2.0  # a synthetic distance within this many times the real-vs-real one counts as real


def values(stats: FolderStats, level: str, key: str) -> np.ndarray:
    """The values one statistic takes over a folder: one per image or one per nucleus."""
    return stats.image_values(key) if level == "image" else stats.nucleus_values(key)


def compare(real: FolderStats, other: FolderStats) -> dict[str, dict[str, float]]:
    """Per statistic: KS and W1 between ``real`` and ``other``, and both medians."""
    from scipy.stats import ks_2samp, wasserstein_distance

    out = {}
    for key, _, level, stat in STATS:
        a, b = values(real, level, stat), values(other, level, stat)
        if not a.size or not b.size:
            out[key] = {"ks": float("nan"), "w1": float("nan"), "real_median": float("nan"),
                        "median": float("nan")}
            continue
        out[key] = {"ks": float(ks_2samp(a, b).statistic), "w1": float(wasserstein_distance(a, b)),
                    "real_median": float(np.median(a)), "median": float(np.median(b))}
    return out


def summary(stats: FolderStats) -> dict[str, Any]:
    """A folder's headline figures: images, nuclei, pooled touching and border-cut fractions, image sizes."""
    sizes: dict[str, int] = {}
    for s in stats.images:
        key = f"{s.height}x{s.width}"
        sizes[key] = sizes.get(key, 0) + 1
    return {"folder": stats.folder, "images": len(stats.images), "nuclei": stats.nuclei,
            "touching": stats.fraction("touching"), "cut": stats.fraction("cut"),
            "nuclei_per_image": stats.nuclei / max(len(stats.images), 1), "sizes": sizes}


def layout_report(real: str | os.PathLike[str], others: list[str | os.PathLike[str]],
                  reference: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Compare each folder of ``others`` (and ``reference``, a second real folder) with the real folder.

    Returns a JSON-able dict: ``real`` (its summary), ``rows`` (per folder: its summary and the
    distances), and, with a reference, per synthetic row ``ratio`` (its KS / the reference's) and
    ``within`` (ratio <= TOLERANCE) per statistic.
    """
    if not others and reference is None:
        raise InputError("masks report: give at least one folder to compare with the real one")
    real_stats = folder_stats(real)
    rows = []
    ref_row = None
    if reference is not None:
        ref_stats = folder_stats(reference)
        ref_row = {"name": f"reference: {os.fspath(reference)}", "reference": True, **summary(ref_stats),
                   "distances": compare(real_stats, ref_stats)}
        rows.append(ref_row)
    for folder in others:
        st = folder_stats(folder)
        row = {"name": os.fspath(folder), "reference": False, **summary(st), "distances": compare(real_stats, st)}
        if ref_row is not None:
            row["ratio"], row["within"] = {}, {}
            for key in row["distances"]:
                ref_ks, ks = ref_row["distances"][key]["ks"], row["distances"][key]["ks"]
                ratio = ks / ref_ks if ref_ks > 0 else (float("inf") if ks > 0 else 1.0)
                row["ratio"][key] = ratio
                row["within"][key] = bool(ratio <= TOLERANCE)
        rows.append(row)
    return {"nucgan_masks_report": 1, "real": summary(real_stats), "tolerance": TOLERANCE,
            "statistics": {key: {"label": label, "per": level} for key, label, level, _ in STATS}, "rows": rows}


def format_table(report: dict[str, Any]) -> str:
    """The report as plain text: headline fractions, then the KS distance of every statistic per row."""
    real = report["real"]
    lines = [f"real: {real['folder']}  {real['images']} images, {real['nuclei']} nuclei, "
             f"touching {100 * real['touching']:.1f} %, cut by the border {100 * real['cut']:.1f} %"]
    for row in report["rows"]:
        lines.append(f"{row['name']}: {row['images']} images, {row['nuclei']} nuclei, touching "
                     f"{100 * row['touching']:.1f} %, cut by the border {100 * row['cut']:.1f} %")
    width = max(len(r["name"]) for r in report["rows"]) + 2
    lines.append("")
    lines.append("KS distance to the real folder (lower is closer; x: times the reference's)")
    lines.append(f"{'statistic':<38}" + "".join(f"{_short(r['name']):>{min(width, 28)}}" for r in report["rows"]))
    for key, label, *_ in STATS:
        cells = []
        for r in report["rows"]:
            d = r["distances"][key]["ks"]
            cell = f"{d:.3f}"
            if "ratio" in r:
                cell += f" ({r['ratio'][key]:.1f}x{'' if r['within'][key] else ' !'})"
            cells.append(f"{cell:>{min(width, 28)}}")
        lines.append(f"{label:<38}" + "".join(cells))
    lines.append("")
    lines.append("medians: real / each row")
    for key, label, *_ in STATS:
        first = report["rows"][0]["distances"][key]["real_median"]
        lines.append(f"{label:<38}{first:>10.3g}" + "".join(f"{r['distances'][key]['median']:>12.3g}"
                                                            for r in report["rows"]))
    return "\n".join(lines)


def _short(name: str) -> str:
    return name if len(name) <= 26 else "..." + name[-23:]


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Save the report as JSON, atomically."""
    from nucgan.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
