"""Component registry: names → lazy ``"module:Class"`` targets, each with a pydantic config."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from musegen.errors import MusegenError, UnknownComponent, validation_message

KINDS = ("corpus", "encoder", "model", "renderer", "evaluator")


class NoOptions(BaseModel):
    """Config for a component that takes no options."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Component:
    kind: str
    name: str
    target: Any
    config: type[BaseModel] = NoOptions
    aliases: tuple[str, ...] = ()
    summary: str = ""
    plugin: str = ""
    presets: dict = field(default_factory=dict)  # preset name -> this component's options in that preset

    def load(self) -> type:
        """Import and return the component class (only now is its module imported)."""
        if not isinstance(self.target, str):
            return self.target
        module, _, attr = self.target.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ImportError as exc:
            raise MusegenError(f"{self.kind} '{self.name}' (plugin {self.plugin}) cannot be imported: {exc}") from exc
        except AttributeError as exc:
            raise MusegenError(f"{self.kind} '{self.name}': {self.target} not found") from exc
        return obj

    def make_config(self, options: dict | None = None) -> BaseModel:
        try:
            return self.config(**(options or {}))
        except ValidationError as exc:
            raise MusegenError(f"{validation_message(exc, self.kind)} ({self.kind} '{self.name}')") from None

    def build(self, options: dict | BaseModel | None = None, *args):
        config = options if isinstance(options, BaseModel) else self.make_config(options)
        return self.load()(config, *args)


@dataclass
class Registry:
    components: dict[str, dict[str, Component]] = field(default_factory=lambda: {k: {} for k in KINDS})
    aliases: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, component: Component) -> None:
        table = self.components[component.kind]
        if component.name in table:
            other = table[component.name].plugin
            raise MusegenError(
                f"{component.kind} '{component.name}' registered twice (plugins {other} and {component.plugin})"
            )
        table[component.name] = component
        for alias in component.aliases:
            self.aliases[component.kind][alias] = component.name

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def get(self, kind: str, name: str) -> Component:
        table = self.components[kind]
        name = self.aliases[kind].get(name, name)
        if name not in table:
            raise UnknownComponent(kind, name, [*table, *self.aliases[kind]])
        return table[name]

    def has(self, kind: str, name: str) -> bool:
        return self.aliases[kind].get(name, name) in self.components[kind]

    def all(self):
        for kind in KINDS:
            yield from (self.components[kind][n] for n in sorted(self.components[kind]))
