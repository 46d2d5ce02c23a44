"""The hooks a nucgan plugin may implement: one per kind of component, each yielding spec objects."""

from __future__ import annotations

from typing import Iterable

import pluggy

from nucgan.specs import DatasetSpec, DiscriminatorSpec, GeneratorSpec, LayererSpec, SamplerSpec

PROJECT = "nucgan"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_generators() -> Iterable[GeneratorSpec]:
    """Yield a GeneratorSpec per generator this plugin provides."""


@hookspec
def register_discriminators() -> Iterable[DiscriminatorSpec]:
    """Yield a DiscriminatorSpec per discriminator this plugin provides."""


@hookspec
def register_layerers() -> Iterable[LayererSpec]:
    """Yield a LayererSpec per layering method this plugin provides."""


@hookspec
def register_datasets() -> Iterable[DatasetSpec]:
    """Yield a DatasetSpec per dataset reader this plugin provides."""


@hookspec
def register_samplers() -> Iterable[SamplerSpec]:
    """Yield a SamplerSpec per mask sampler this plugin provides."""
