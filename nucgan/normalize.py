"""Per-image percentile normalisation to [-1, 1], reversible to the source intensity range and dtype."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nucgan.errors import InputError

DEFAULT_PERCENTILES = (1.0, 99.8)


def check_percentiles(percentiles: Any) -> tuple[float, float]:
    """Two numbers ``0 <= low < high <= 100``, or InputError."""
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise InputError(f"percentiles must be two numbers like (1, 99.8), got {percentiles!r}") from None
    if not 0 <= low < high <= 100:
        raise InputError(f"percentiles must satisfy 0 <= low < high <= 100, got ({low:g}, {high:g})")
    return low, high


@dataclass(frozen=True)
class Normalization:
    """Maps intensities ``low .. high`` (two percentiles of one image) linearly onto -1 .. 1.

    ``forward`` clips to [-1, 1] (the range of a tanh generator), so the brightest 0.2 % and darkest
    1 % saturate by default; ``inverse`` maps a model's output back to ``low .. high`` in the
    source dtype (rounded and clipped for integer types). Store ``to_json()`` with a model.
    """

    low: float
    high: float
    dtype: str
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES
    clip: bool = True

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high > self.low):
            raise InputError(f"normalisation needs finite low < high, got {self.low!r}, {self.high!r}")
        try:
            kind = np.dtype(self.dtype).kind
        except TypeError:
            kind = ""
        if kind not in "uif":
            raise InputError(f"normalisation: unsupported source dtype {self.dtype!r}")
        object.__setattr__(self, "percentiles", check_percentiles(self.percentiles))

    @classmethod
    def fit(cls, image: Any, percentiles: Any = DEFAULT_PERCENTILES, what: str = "image") -> Normalization:
        """Measure ``image``'s percentiles (falling back to min/max when they coincide)."""
        arr = np.asarray(image)
        if arr.size == 0 or arr.dtype.kind not in "biuf":
            raise InputError(f"{what}: cannot normalise an empty or non-numeric image ({arr.dtype} {arr.shape})")
        p = check_percentiles(percentiles)
        low, high = (float(v) for v in np.percentile(arr, p))
        if high <= low:
            low, high = float(arr.min()), float(arr.max())
        if high <= low:
            raise InputError(f"{what}: the image is constant (every pixel {low:g}); there is nothing to normalise")
        dtype = np.uint8 if arr.dtype == bool else arr.dtype
        return cls(low=low, high=high, dtype=np.dtype(dtype).name, percentiles=p)

    def forward(self, image: Any) -> np.ndarray:
        """Intensities -> float32 in [-1, 1] (clipped unless ``clip`` is False)."""
        x = np.asarray(image, dtype=np.float32)
        out = (x - np.float32(self.low)) * np.float32(2.0 / (self.high - self.low)) - np.float32(1.0)
        return np.clip(out, -1.0, 1.0, out=out) if self.clip else out

    def inverse(self, x: Any) -> np.ndarray:
        """Values in [-1, 1] (numpy or torch) -> intensities in the source dtype."""
        if hasattr(x, "detach"):
            x = x.detach().cpu().float().numpy()
        v = np.asarray(x, dtype=np.float64) + 1.0  # a new float64 array, then worked on in place (8192 px: 0.5 GB each)
        v *= (self.high - self.low) / 2.0
        v += self.low
        dtype = np.dtype(self.dtype)
        if dtype.kind in "ui":
            info = np.iinfo(dtype)
            return np.clip(np.rint(v, out=v), info.min, info.max, out=v).astype(dtype)
        return v.astype(dtype)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able record of the mapping."""
        return {"method": "percentile", "percentiles": list(self.percentiles), "low": self.low, "high": self.high,
                "dtype": self.dtype, "clip": self.clip}

    @classmethod
    def from_json(cls, data: Any) -> Normalization:
        """Rebuild from :meth:`to_json` output, refusing anything else."""
        if not isinstance(data, dict) or data.get("method") != "percentile":
            raise InputError(f"normalisation record must be a dict with method 'percentile', got {data!r}")
        unknown = set(data) - {"method", "percentiles", "low", "high", "dtype", "clip"}
        if unknown:
            raise InputError(f"normalisation record: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            return cls(low=float(data["low"]), high=float(data["high"]), dtype=str(data["dtype"]),
                       percentiles=tuple(data.get("percentiles", DEFAULT_PERCENTILES)),
                       clip=bool(data.get("clip", True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"normalisation record is incomplete or malformed: {exc}") from None


__all__ = ["Normalization", "DEFAULT_PERCENTILES", "check_percentiles"]
