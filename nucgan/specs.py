"""Typed spec objects that plugin hooks return; they name a component and say how to build it, lazily."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Union

from nucgan.errors import PluginError

Factory = Union[str, Callable[..., Any]]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Spec:
    """A named component: ``factory`` is a callable or a lazy ``"module:attr"`` string.

    ``"module:attr"`` lets ``nucgan plugins`` and ``list_*`` show what a plugin provides
    without importing torch-heavy modules; the import happens on first ``create_*``.
    """

    name: str
    factory: Factory
    description: str = ""
    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PluginError(
                f"invalid {self.kind} name {self.name!r}: use lower-case letters, digits, '.', '_' or '-'"
            )
        if isinstance(self.factory, str):
            if not re.match(r"^[\w.]+:[\w.]+$", self.factory):
                raise PluginError(f"{self.kind} {self.name!r}: factory {self.factory!r} is not 'module:attr'")
        elif not callable(self.factory):
            raise PluginError(f"{self.kind} {self.name!r}: factory must be callable or a 'module:attr' string")

    def load(self) -> Callable[..., Any]:
        """Import and return the factory callable."""
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:  # noqa: BLE001 - any import failure is the plugin's fault
            raise PluginError(
                f"{self.kind} {self.name!r}: cannot import factory {self.factory!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return obj


@dataclass(frozen=True)
class GeneratorSpec(Spec):
    """A generator: conditioning channels (B, C, H, W) -> image (B, 1, H, W)."""

    kind: ClassVar[str] = "generator"


@dataclass(frozen=True)
class DiscriminatorSpec(Spec):
    """A discriminator: (conditioning, image) -> patch logits."""

    kind: ClassVar[str] = "discriminator"


@dataclass(frozen=True)
class LayererSpec(Spec):
    """A layerer: instance labels (H, W) -> bool layers (K, H, W)."""

    kind: ClassVar[str] = "layerer"


@dataclass(frozen=True)
class DatasetSpec(Spec):
    """A dataset reader: sources -> map-style dataset of (conditioning, target) tensors."""

    kind: ClassVar[str] = "dataset"


@dataclass(frozen=True)
class SamplerSpec(Spec):
    """A mask sampler: random nucleus shapes for de novo synthesis."""

    kind: ClassVar[str] = "sampler"


#: hook name -> spec class, one per kind of component
SPEC_TYPES: dict[str, type[Spec]] = {
    "register_generators": GeneratorSpec,
    "register_discriminators": DiscriminatorSpec,
    "register_layerers": LayererSpec,
    "register_datasets": DatasetSpec,
    "register_samplers": SamplerSpec,
}

__all__ = [
    "Spec", "GeneratorSpec", "DiscriminatorSpec", "LayererSpec", "DatasetSpec", "SamplerSpec", "SPEC_TYPES",
]
