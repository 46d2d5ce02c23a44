"""The plugin host: discovers entry points of group ``nucgan``, reports broken plugins, builds the registry.

The built-ins (``nucgan_builtins.hooks``) are registered by import, exactly once, whether or not the
installed metadata declares their entry point, so a bare source tree on PYTHONPATH works too.

Nothing here runs at ``import nucgan``; the registry is built on first use and cached.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os

import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

import pluggy

from nucgan import hookspecs
from nucgan._version import __version__
from nucgan.errors import PluginError
from nucgan.specs import SPEC_TYPES, Spec

GROUP = "nucgan"
BUILTIN_DIST = "nucgan"
BUILTIN_NAME = "builtins"
BUILTIN_MODULE = "nucgan_builtins.hooks"  # also declared as entry point ``builtins`` in pyproject.toml
KINDS = {hook[len("register_"):]: cls for hook, cls in SPEC_TYPES.items()}  # "generators" -> GeneratorSpec


class PluginWarning(UserWarning):
    """A plugin was skipped or one of its names shadowed; the message is one line."""


@dataclass
class PluginInfo:
    """What ``nucgan plugins`` shows for one plugin."""

    name: str
    package: str
    version: str
    builtin: bool
    status: str = "active"  # active | failed | disabled
    error: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "package": self.package, "version": self.version, "builtin": self.builtin,
            "status": self.status, "error": self.error, "provides": self.provides,
        }


@dataclass(frozen=True)
class Entry:
    """One registered component: its spec and who provides it."""

    spec: Spec
    package: str
    builtin: bool

    @property
    def qualified(self) -> str:
        return f"{self.package}:{self.spec.name}"


@dataclass
class Registry:
    """Every active component by kind, and the state of every plugin."""

    plugins: list[PluginInfo]
    entries: dict[str, list[Entry]]  # kind -> entries in load order (built-ins first)


def _strict() -> bool:
    return os.environ.get("NUCGAN_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _allowed() -> set[str] | None:
    """Names from ``NUCGAN_LOAD_PLUGINS`` (entry-point or package names); None means all."""
    raw = os.environ.get("NUCGAN_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class _Host:
    def __init__(self) -> None:
        self._manual: list[tuple[str, object]] = []
        self._registry: Registry | None = None

    def reset(self) -> None:
        """Forget the cached registry (and entry points), so the next use discovers plugins again."""
        self._registry = None
        with contextlib.suppress(AttributeError):
            md.distributions.cache_clear()  # type: ignore[attr-defined]

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build()
        return self._registry

    def add(self, plugin: object, name: str) -> None:
        self._manual.append((name, plugin))
        self._registry = None

    def remove(self, name: str) -> None:
        self._manual = [(n, p) for n, p in self._manual if n != name]
        self._registry = None

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> Registry:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        allowed = _allowed()
        infos: list[PluginInfo] = []
        entries: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        candidates: list[tuple[PluginInfo, Any]] = []

        eps = sorted(md.entry_points(group=GROUP), key=lambda ep: (_dist_name(ep) != BUILTIN_DIST, ep.name))
        # The built-ins load by import, so a source tree on PYTHONPATH (no installed metadata) has them too;
        # their entry point, when installed, only supplies the version and is not registered a second time.
        builtin_ep = next((ep for ep in eps if ep.value == BUILTIN_MODULE), None)
        version = (_dist_version(builtin_ep) if builtin_ep is not None else "") or __version__
        builtin = PluginInfo(BUILTIN_NAME, BUILTIN_DIST, version, builtin=True)
        infos.append(builtin)
        candidates.append((builtin, md.EntryPoint(name=BUILTIN_NAME, value=BUILTIN_MODULE, group=GROUP)))
        seen: set[tuple[str, str]] = set()
        for ep in eps:
            if ep.value == BUILTIN_MODULE:  # registered above, by import
                continue
            dist = _dist_name(ep)
            if (dist, ep.name) in seen:  # the same distribution found twice on sys.path
                continue
            seen.add((dist, ep.name))
            info = PluginInfo(ep.name, dist, _dist_version(ep), builtin=dist == BUILTIN_DIST)
            infos.append(info)
            if not info.builtin and allowed is not None and not ({ep.name, dist} & allowed):
                info.status = "disabled"
                continue
            candidates.append((info, ep))
        for name, obj in self._manual:
            infos.append(PluginInfo(name, name, "", builtin=False))
            candidates.append((infos[-1], obj))

        for info, source in candidates:
            try:
                module = source.load() if isinstance(source, md.EntryPoint) else source
                provided = self._register(pm, info, module)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break nucgan
                info.status, info.error = "failed", _one_line(exc)
                if _strict():
                    raise PluginError(
                        f"plugin {info.name!r} ({info.package} {info.version}) failed: {info.error} "
                        f"(NUCGAN_STRICT_PLUGINS is set)"
                    ) from exc
                warnings.warn(
                    f"nucgan plugin {info.name!r} ({info.package} {info.version}) skipped: {info.error}",
                    PluginWarning, stacklevel=2,
                )
                continue
            for kind, specs in provided.items():
                entries[kind].extend(Entry(spec, info.package, info.builtin) for spec in specs)
                info.provides[kind] = [spec.name for spec in specs]
        _warn_shadowed(entries)
        return Registry(infos, entries)

    @staticmethod
    def _register(pm: pluggy.PluginManager, info: PluginInfo, module: object) -> dict[str, list[Spec]]:
        """Register one plugin, validate its hooks and collect its specs; raise if anything is wrong."""
        pm.register(module, name=f"{info.package}:{info.name}")
        try:
            pm.check_pending()  # a hook whose name matches no spec (a typo) fails here
        except pluggy.PluginValidationError as exc:
            pm.unregister(module)
            raise PluginError(f"unknown hook: {exc}") from None
        provided: dict[str, list[Spec]] = {}
        for hook, spec_type in SPEC_TYPES.items():
            impl = getattr(module, hook, None)
            if impl is None:
                continue
            specs = list(impl() or [])
            bad = [s for s in specs if not isinstance(s, spec_type)]
            if bad:
                pm.unregister(module)
                raise PluginError(f"{hook} yielded {type(bad[0]).__name__}, expected {spec_type.__name__}")
            names = [s.name for s in specs]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                pm.unregister(module)
                raise PluginError(f"{hook} yielded the name {dupes[0]!r} twice")
            provided[hook[len("register_"):]] = specs
        return provided


def _warn_shadowed(entries: dict[str, list[Entry]]) -> None:
    for kind, items in entries.items():
        builtin_names = {e.spec.name for e in items if e.builtin}
        for e in items:
            if not e.builtin and e.spec.name in builtin_names:
                warnings.warn(
                    f"nucgan plugin package {e.package!r}: {KINDS[kind].kind} name {e.spec.name!r} is reserved "
                    f"by nucgan's built-ins; use {e.qualified!r} to reach the plugin's one",
                    PluginWarning, stacklevel=3,
                )


def _dist_name(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None and dist.metadata["Name"] else ep.module.split(".")[0]


def _dist_version(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else ""


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PluginError) else str(exc)
    return " ".join(text.split())


_host = _Host()


def registry() -> Registry:
    """The registry of active components, discovered on first call and cached."""
    return _host.registry()


def reset() -> None:
    """Rediscover plugins on next use (after installing one, or changing NUCGAN_* variables)."""
    _host.reset()


def register(plugin: object, name: str) -> None:
    """Register a plugin object (module, class or instance with hookimpls) without installing it."""
    _host.add(plugin, name)


def unregister(name: str) -> None:
    """Remove a plugin added with :func:`register`."""
    _host.remove(name)


@contextlib.contextmanager
def temporary_plugin(plugin: object, name: str = "test-plugin") -> Iterator[None]:
    """Register ``plugin`` for the duration of a ``with`` block (handy in a plugin's own tests)."""
    register(plugin, name)
    try:
        yield
    finally:
        unregister(name)


def plugin_infos() -> list[PluginInfo]:
    """Every discovered plugin with its status and what it provides."""
    return registry().plugins


