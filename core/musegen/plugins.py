"""The plugin manager: default plugins from ``registry.toml``, third-party ones from entry points."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as md
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pluggy

from musegen import hookspecs
from musegen.registry import Component, Registry

ENTRY_POINT_GROUP = "musegen"
_HOOKS = {
    "corpus": "register_corpora",
    "encoder": "register_encoders",
    "model": "register_models",
    "renderer": "register_renderers",
    "evaluator": "register_evaluators",
}


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # "default" or "entry point (dist)"
    error: str = ""


def registry_path() -> Path:
    """``registry.toml``: inside the installed package, else at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "registry.toml", here.parents[1] / "registry.toml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("registry.toml not found beside musegen")


@functools.cache
def registry_file() -> dict:
    with open(registry_path(), "rb") as fh:
        return tomllib.load(fh)


def musegen_version() -> str:
    try:
        return md.version("musegen")
    except md.PackageNotFoundError:
        return "0+unknown"


class Manager:
    """Loads plugins once and collects their components into a :class:`Registry`."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("musegen")
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.registry = Registry()
        settings = registry_file().get("plugins", {})
        disabled = set(settings.get("disabled", []))
        for modname in settings.get("default", []):
            if modname in disabled:
                continue
            self._add(modname, lambda m=modname: importlib.import_module(m), musegen_version(), "default")
        if load_entry_points:
            for ep in md.entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in disabled or ep.name in self.info:
                    continue
                dist = ep.dist.name if ep.dist else "?"
                version = ep.dist.version if ep.dist else "?"
                self._add(ep.name, ep.load, version, f"entry point ({dist})")
        self.pm.check_pending()
        self._collect()

    def _add(self, name: str, loader, version: str, source: str) -> None:
        try:
            module = loader()
            self.pm.register(module, name=name)
            self.info[name] = PluginInfo(name, version, source)
        except Exception as exc:  # a broken plugin is reported, never fatal for the others
            self.info[name] = PluginInfo(name, version, source, error=f"{type(exc).__name__}: {exc}")

    def _collect(self) -> None:
        for kind, hook in _HOOKS.items():
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                plugin = impl.plugin_name
                found: list[Component] = []

                def register(
                    name, target, *, config=None, aliases=(), summary="", presets=None, _k=kind, _p=plugin, _f=found
                ):
                    kw = {"config": config} if config is not None else {}
                    _f.append(
                        Component(
                            _k,
                            name,
                            target,
                            aliases=tuple(aliases),
                            summary=summary,
                            plugin=_p,
                            presets=dict(presets or {}),
                            **kw,
                        )
                    )

                if self._call(plugin, hook, impl.function, register):  # a name taken already: that one skipped
                    for comp in found:
                        self._call(plugin, hook, self.registry.add, comp)

    def _call(self, plugin: str, hook: str, function, *args) -> bool:
        """Call one plugin's hook; one that raises is reported (``gen plugins``) and skipped, never fatal."""
        try:
            function(*args)
            return True
        except Exception as exc:
            info = self.info.get(plugin)
            if info is not None and not info.error:
                info.error = f"{hook} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            return False

    def add_commands(self, app) -> None:
        for impl in self.pm.hook.register_commands.get_hookimpls():
            self._call(impl.plugin_name, "register_commands", impl.function, app)

    def setup_process(self) -> None:
        for impl in self.pm.hook.setup_process.get_hookimpls():
            self._call(impl.plugin_name, "setup_process", impl.function)

    def errors(self) -> list[PluginInfo]:
        return [i for i in self.info.values() if i.error]


_manager: Manager | None = None


def get_manager() -> Manager:
    global _manager
    if _manager is None:
        _manager = Manager()
    return _manager


def get_registry() -> Registry:
    return get_manager().registry


def reset() -> None:
    """Forget loaded plugins (tests install and remove plugins between calls)."""
    global _manager
    _manager = None
    registry_file.cache_clear()
