"""How a model sees its input: one frozen record, built once for training, stored with the model, read by generation.

``InputSettings`` is to nucgan what timm's ``PretrainedCfg`` is to timm: the layering (channels, gap,
merged channel, layerer), the tile geometry and the intensity mapping a generator was trained with.
Training builds it from the configuration, the dataset fills in the intensity mapping it measured,
the model file and the zoo manifest store ``to_json()``, and generation reads it back with
``from_json``. A new input setting is a new field here and the code that uses it; nothing between
passes fields one by one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nucgan.errors import InputError
from nucgan.normalize import DEFAULT_PERCENTILES, Normalization, check_percentiles
from nucgan.style import FEATURES as STYLE_FEATURES
from nucgan.style import StyleRecord

#: keys that 0.1 model files and zoo manifests wrote beside the settings; they describe the training
#: data (now in the model file's training record) and are accepted and set aside when read back
LEGACY_KEYS = frozenset({
    "normalization_scope", "randomize", "region", "region_border", "samples", "seed", "sources", "tiles", "views",
    "output",
})


@dataclass(frozen=True)
class InputSettings:
    """How conditioning is made from instance labels, and how output maps back to intensities.

    ``channels`` layer channels (plus a merged channel first when ``merged``), at least ``gap`` px of
    background between two masks on one channel, assigned by ``layerer``; ``tile`` px training tiles
    every ``stride`` px; targets normalised per image between the ``percentiles``; ``normalization``
    is the intensity mapping generation returns to (measured on the training data; None until then).
    ``style`` names the image statistics (:mod:`nucgan.style`) the generator takes as constant extra
    channels, ``styles`` holds each training image's measured style (filled in by the dataset), from
    which generation draws when no reference image is given.
    """

    channels: int = 4
    gap: int = 2
    merged: bool = True
    layerer: str = "coloring"
    tile: int = 128
    stride: int = 4
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES
    normalization: Normalization | None = None
    style: tuple[str, ...] = ()
    styles: tuple[StyleRecord, ...] = ()

    def __post_init__(self) -> None:
        from nucgan.layering import check_channels_gap

        channels, gap = check_channels_gap(self.channels, self.gap)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "gap", gap)
        for name in ("tile", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.merged, (bool, np.bool_)):
            raise InputError(f"merged must be true or false, got {self.merged!r}")
        object.__setattr__(self, "merged", bool(self.merged))
        if not isinstance(self.layerer, str) or not self.layerer:
            raise InputError(f"layerer must be a registered layerer's name, got {self.layerer!r}")
        object.__setattr__(self, "percentiles", check_percentiles(self.percentiles))
        if self.normalization is not None and not isinstance(self.normalization, Normalization):
            raise InputError(f"normalization must be a nucgan.normalize.Normalization, got {self.normalization!r}")
        style = (STYLE_FEATURES if self.style is True else ()) if isinstance(self.style, bool) else tuple(self.style)
        unknown = [f for f in style if f not in STYLE_FEATURES]
        if unknown or len(set(style)) != len(style):
            raise InputError(f"style must name distinct style statistics among {', '.join(STYLE_FEATURES)} (or be "
                             f"true for all), got {self.style!r}")
        object.__setattr__(self, "style", style)
        styles = tuple(self.styles)
        if not all(isinstance(r, StyleRecord) for r in styles):
            raise InputError("styles must be nucgan.style.StyleRecord objects")
        object.__setattr__(self, "styles", styles)

    def __getitem__(self, key: str) -> Any:
        """Deprecated: 0.1 gave this record as a dict; read the attributes instead (removed in 0.3)."""
        import warnings

        warnings.warn(f"input settings are an InputSettings now; use .{key} or .to_json()[{key!r}] (the dict "
                      f"access is removed in 0.3)", DeprecationWarning, stacklevel=2)
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Deprecated: dict-style access, as :meth:`__getitem__`."""
        try:
            return self[key]
        except KeyError:
            return default

    @property
    def in_channels(self) -> int:
        """Conditioning channels a generator takes: the layer channels, the merged one, one per style statistic."""
        return self.channels + int(self.merged) + len(self.style)

    def style_values(self, record: StyleRecord) -> np.ndarray:
        """The style channels' values for ``record``: its statistics of :attr:`style`, standardised by :attr:`styles`."""
        from nucgan.style import standardise

        if not self.styles:
            raise InputError("this model's input settings hold no training styles to standardise a style with")
        picked = [STYLE_FEATURES.index(f) for f in self.style]
        z = standardise(record.values, self.styles)
        return z[picked]

    def replace(self, **changes: Any) -> "InputSettings":
        """A copy with ``changes`` applied (and checked)."""
        unknown = sorted(set(changes) - FIELDS)
        if unknown:
            raise InputError(f"unknown input setting(s): {', '.join(unknown)}; known: {', '.join(sorted(FIELDS))}")
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The JSON record stored in config.json, the model file (``nucgan.input``) and the zoo manifest."""
        return {
            "channels": self.channels, "merged": self.merged, "gap": self.gap, "layerer": self.layerer,
            "tile": self.tile, "stride": self.stride, "percentiles": list(self.percentiles),
            "in_channels": self.in_channels,
            "normalization": None if self.normalization is None else self.normalization.to_json(),
            "style": list(self.style), "styles": [r.to_json() for r in self.styles],
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "input") -> "InputSettings":
        """Rebuild from :meth:`to_json` (or a 0.1 record); an unknown key or a bad value is an error naming ``source``."""
        if not isinstance(data, Mapping):
            raise InputError(f"{source}: input settings must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - FIELDS - LEGACY_KEYS - {"in_channels"})
        if unknown:
            raise InputError(f"{source}: unknown input setting(s) {', '.join(unknown)} (written by a newer nucgan?)")
        missing = [k for k in ("channels", "merged", "gap") if k not in data]
        if missing:
            raise InputError(f"{source}: input settings lack {', '.join(missing)}; they say how to layer masks "
                             f"for this model")
        values = {k: data[k] for k in FIELDS if k in data and data[k] is not None}
        for key in ("style", "percentiles"):  # JSON lists; the dataclass holds tuples
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        if "styles" in values:
            if not isinstance(values["styles"], list):
                raise InputError(f"{source}: styles must be a list of style records")
            try:
                values["styles"] = tuple(StyleRecord.from_json(r) for r in values["styles"])
            except InputError as exc:
                raise InputError(f"{source}: {exc}") from None
        norm = data.get("normalization")
        values.pop("normalization", None)
        try:
            if isinstance(norm, Mapping) and norm.get("method") == "percentile":
                values["normalization"] = Normalization.from_json(dict(norm))
            elif norm is not None and not _descriptive(norm):
                raise InputError(f"normalisation record must be a dict with method 'percentile', got {norm!r}")
            settings = cls(**values)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
        if "in_channels" in data and data["in_channels"] != settings.in_channels:
            raise InputError(f"{source}: in_channels {data['in_channels']!r} disagrees with {settings.channels} "
                             f"channel(s){' + merged' if settings.merged else ''} = {settings.in_channels}")
        return settings


FIELDS = frozenset(f.name for f in dataclasses.fields(InputSettings))


def _descriptive(norm: Any) -> bool:
    """The paper-model placeholders describe their mapping in words (no numbers to apply)."""
    return isinstance(norm, Mapping) and "method" not in norm and all(isinstance(v, str) for v in norm.values())


def representative(normalizations: Sequence[Normalization]) -> Normalization:
    """One intensity mapping for a model trained on several images: the median low and the median high.

    With per-image normalisation the model learns in [-1, 1]; returning to the median image's range
    gives intensities typical of the training set (one image: its own mapping).
    """
    if not normalizations:
        raise InputError("no normalisation to choose from: the dataset has no sources")
    if len(normalizations) == 1:
        return normalizations[0]
    dtypes = [n.dtype for n in normalizations]
    dtype = max(set(dtypes), key=dtypes.count)
    low = float(np.median([n.low for n in normalizations]))
    high = float(np.median([n.high for n in normalizations]))
    first = normalizations[0]
    return Normalization(low=low, high=max(high, low + 1e-6), dtype=dtype, percentiles=first.percentiles,
                         clip=first.clip)


def split_settings(options: Mapping[str, Any], names: Iterable[str] = FIELDS) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` split into (input settings given as separate keywords, the rest)."""
    names = set(names)
    return ({k: v for k, v in options.items() if k in names}, {k: v for k, v in options.items() if k not in names})


__all__ = ["InputSettings", "representative", "split_settings", "FIELDS", "LEGACY_KEYS"]
