"""Look components up by name across plugins: ``create_*`` builds one, ``list_*`` shows what exists."""

from __future__ import annotations

import difflib
import inspect
from typing import Any, NamedTuple

from nucgan.errors import AmbiguousNameError, InputError, NucganError, UnknownNameError
from nucgan.plugins import KINDS, Entry, registry


class Provided(NamedTuple):
    """One available component: the name to ask for, the package providing it, what it is."""

    name: str
    package: str
    description: str


def resolve(kind: str, name: str) -> Entry:
    """The entry for ``name`` (bare or ``package:name``) among active ``kind`` components."""
    entries = registry().entries[kind]
    label = KINDS[kind].kind
    if ":" in name:
        found = [e for e in entries if e.qualified == name]
        if found:
            return found[0]
    else:
        found = [e for e in entries if e.spec.name == name]
        builtin = [e for e in found if e.builtin]
        if builtin:
            return builtin[0]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            providers = ", ".join(e.qualified for e in found)
            raise AmbiguousNameError(f"{label} {name!r} is provided by several plugins; choose one of: {providers}")
    known = [p.name for p in available(kind)]
    close = difflib.get_close_matches(name, known + [e.qualified for e in entries], n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "(none: is a plugin failing? see `nucgan plugins`)"
    raise UnknownNameError(f"unknown {label} {name!r}{hint or ';'} known: {listing}")


def available(kind: str) -> list[Provided]:
    """Active components of one kind, bare names where unambiguous, ``package:name`` otherwise."""
    entries = registry().entries[kind]
    out = []
    for e in entries:
        same = [o for o in entries if o.spec.name == e.spec.name]
        unique = e.builtin or (len(same) == 1)
        out.append(Provided(e.spec.name if unique else e.qualified, e.package, e.spec.description))
    return sorted(out, key=lambda p: (p.package != "nucgan", p.name))


def create(kind: str, name: str, **kwargs: Any) -> Any:
    """Build the ``kind`` component called ``name`` with ``kwargs``, checking them against its signature."""
    entry = resolve(kind, name)
    factory = entry.spec.load()
    _check_kwargs(KINDS[kind].kind, name, factory, kwargs)
    return factory(**kwargs)


def _check_kwargs(label: str, name: str, factory: Any, kwargs: dict[str, Any]) -> None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{label} {name!r} takes no argument {key!r}{hint or ';'} it takes: {', '.join(accepted)}")
    missing = [n for n in accepted if params[n].default is inspect.Parameter.empty and n not in kwargs]
    if missing:
        raise InputError(f"{label} {name!r} needs argument(s): {', '.join(missing)}")


def create_generator(name: str, **kwargs: Any) -> Any:
    """Build a registered generator, e.g. ``create_generator("chain3", in_channels=5, kernel_size=7)``."""
    from nucgan.interfaces import Generator

    return _checked(create("generators", name, **kwargs), Generator, "generator", name)


def upgrade_generator_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A stored config of generator ``name`` in today's terms (its factory's ``upgrade_config``, if it has one)."""
    factory = resolve("generators", name).spec.load()
    upgrade = getattr(factory, "upgrade_config", None)
    return upgrade(dict(config)) if callable(upgrade) else dict(config)


def create_discriminator(name: str, **kwargs: Any) -> Any:
    """Build a registered discriminator, e.g. ``create_discriminator("patchgan-paper", in_channels=5)``."""
    from nucgan.interfaces import Discriminator

    return _checked(create("discriminators", name, **kwargs), Discriminator, "discriminator", name)


def create_layerer(name: str, **kwargs: Any) -> Any:
    """Build a registered layerer (``"coloring"``, ``"first-fit"``, ...)."""
    from nucgan.interfaces import Layerer

    return _checked(create("layerers", name, **kwargs), Layerer, "layerer", name)


def create_dataset(name: str, **kwargs: Any) -> Any:
    """Build a registered dataset reader with its sources, ``input=`` (an ``InputSettings``) and sampling options.

    Keywords named like an input setting (``tile=32``, ``gap=3``) replace that field of ``input``, so
    a reader receives the settings whole and a new setting needs no change in any reader.
    """
    from nucgan.inputs import InputSettings, split_settings
    from nucgan.interfaces import Dataset

    given, kwargs = split_settings(kwargs)
    if given:
        kwargs["input"] = (kwargs.get("input") or InputSettings()).replace(**given)
    return _checked(create("datasets", name, **kwargs), Dataset, "dataset", name)


def create_sampler(name: str, **kwargs: Any) -> Any:
    """Build a registered mask sampler (``"ellipse"``, ``"bank"``, ...)."""
    from nucgan.interfaces import Sampler

    return _checked(create("samplers", name, **kwargs), Sampler, "sampler", name)


def _checked(obj: Any, base: type, label: str, name: str) -> Any:
    if not isinstance(obj, base):
        raise NucganError(f"{label} {name!r}: factory returned {type(obj).__name__}, not a nucgan.{base.__name__}")
    return obj


def list_generators() -> list[Provided]:
    """Registered generators with their providing package."""
    return available("generators")


def list_discriminators() -> list[Provided]:
    """Registered discriminators with their providing package."""
    return available("discriminators")


def list_layerers() -> list[Provided]:
    """Registered layerers with their providing package."""
    return available("layerers")


def list_datasets() -> list[Provided]:
    """Registered dataset readers with their providing package."""
    return available("datasets")


def list_samplers() -> list[Provided]:
    """Registered mask samplers with their providing package."""
    return available("samplers")
