"""Pictures for people: coloured mask layers and contrast-stretched greys, shared by every command that draws."""

from __future__ import annotations

import numpy as np

#: colour per channel: blue, green, red, light grey as in the paper's Fig. S1, then more
CHANNEL_COLOURS = np.array([(40, 90, 255), (40, 200, 60), (235, 40, 40), (200, 200, 200), (240, 210, 40),
                            (210, 60, 220), (40, 210, 220), (250, 140, 30)], dtype=np.uint8)


def colour_layers(layers: np.ndarray) -> np.ndarray:
    """(K, H, W) bool layers -> (H, W, 3) uint8 picture, one colour per channel on black."""
    rgb = np.zeros((*layers.shape[1:], 3), dtype=np.uint8)
    for c, plane in enumerate(layers):
        rgb[plane] = CHANNEL_COLOURS[c % len(CHANNEL_COLOURS)]
    return rgb


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """(H, W) instance labels -> (H, W, 3) uint8, instances cycling through the channel colours."""
    from nucgan.labelids import compact_labels

    compact, ids = compact_labels(labels)  # ids of any magnitude: a table per present id only
    colours = np.zeros((ids.size, 3), np.uint8)
    colours[1:] = CHANNEL_COLOURS[np.arange(ids.size - 1) % len(CHANNEL_COLOURS)]
    return colours[compact]


def stretch(image: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """An 8-bit grey picture of an image of any dtype (0.5 / 99.8 percentiles unless given)."""
    x = np.asarray(image, dtype=np.float64)
    if low is None or high is None:
        low, high = np.percentile(x, (0.5, 99.8))
    return np.clip((x - low) / max(high - low, 1e-12) * 255, 0, 255).astype(np.uint8)


def side_by_side(panels: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Panels of one height (grey or RGB uint8) in a row, white gaps between."""
    rgb = [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=2) for p in panels]
    spacer = np.full((rgb[0].shape[0], gap, 3), 255, np.uint8)
    row = [rgb[0]]
    for p in rgb[1:]:
        row += [spacer, p]
    return np.concatenate(row, axis=1)
