"""Every built-in component by kind; factories are lazy ``"module:attr"`` strings."""

from __future__ import annotations

from nucgan import DatasetSpec, DiscriminatorSpec, GeneratorSpec, LayererSpec, SamplerSpec

_P = "nucgan_builtins"

GENERATORS: list[GeneratorSpec] = [
]

DISCRIMINATORS: list[DiscriminatorSpec] = [
]

LAYERERS: list[LayererSpec] = [
]

DATASETS: list[DatasetSpec] = [
]

SAMPLERS: list[SamplerSpec] = [
    SamplerSpec("ellipse", f"{_P}.samplers.ellipse:EllipseSampler",
                "Parametric ellipses with jittered axes, orientation and a smooth boundary wobble."),
]
