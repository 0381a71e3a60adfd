"""A name -> (class, config schema) registry, shared by models and tasks.

Only registered names can be built, from a config or a checkpoint: a config names a choice,
it never imports arbitrary code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import fields
from enum import Enum
from typing import Any, Generic, NamedTuple, TypeVar

from omegaconf import DictConfig, OmegaConf

C = TypeVar("C", bound=type)


class Entry(NamedTuple):
    cls: type
    config: type  # the dataclass schema of the config group entry


class Registry(dict[str, Entry], Generic[C]):
    """``registry.register(name, config)`` decorates a class; ``registry.resolve(cfg)`` returns
    the registered class and its constructor arguments, checked against the schema."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str, config: type) -> Callable[[C], C]:
        def decorate(cls: C) -> C:
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is already registered by {self[name].cls}")
            self[name] = Entry(cls, config)
            return cls

        return decorate

    def resolve(self, cfg: DictConfig | dict[str, Any]) -> tuple[type, dict[str, Any]]:
        """The class named ``cfg["name"]`` and every other field of its schema as keyword
        arguments: the values in ``cfg``, the schema's defaults for the fields it leaves out."""
        params = (
            OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
            if isinstance(cfg, DictConfig)
            else dict(cfg)
        )
        assert isinstance(params, dict)
        name = params.pop("name", None)
        if name not in self:
            raise KeyError(
                f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(sorted(self))}"
            )
        entry = self[name]
        known = {f.name for f in fields(entry.config)} - {"name"}
        unknown = set(params) - known
        if unknown:
            raise KeyError(
                f"{self.kind} {name!r} has no option(s) {sorted(unknown)}; known: {sorted(known)}"
                + self._elsewhere(unknown)
            )
        return entry.cls, {**schema_defaults(entry.config), **params}

    def _elsewhere(self, options: set[str]) -> str:
        """``"; 'x' is an option of a, b"`` for each option that other entries have."""
        notes = []
        for option in sorted(options):
            owners = [n for n, e in sorted(self.items()) if option in _field_names(e.config)]
            if owners:
                notes.append(f"{option!r} is an option of {self.kind}s {', '.join(owners)}")
        return "".join(f"; {note}" for note in notes)


def schema_defaults(schema: type) -> dict[str, Any]:
    """The default of every field of the dataclass ``schema`` but ``name`` (enums by value)."""
    defaults: dict[str, Any] = {}
    for f in fields(schema):
        if f.name == "name":
            continue
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            continue
        defaults[f.name] = value.value if isinstance(value, Enum) else value
    return defaults


def plain(value: Any) -> Any:
    """A config value as code uses it: an enum member (a dataclass default) as its value, the
    form a composed config gives it in."""
    return value.value if isinstance(value, Enum) else value


def _field_names(schema: type) -> set[str]:
    return {f.name for f in fields(schema)}
