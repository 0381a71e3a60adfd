"""A name -> (class, config schema) registry, shared by models and tasks.

Only registered names can be built, from a config or a checkpoint: a config names a choice,
it never imports arbitrary code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
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
        """The class named ``cfg["name"]`` and the remaining fields as keyword arguments."""
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
            )
        return entry.cls, params
