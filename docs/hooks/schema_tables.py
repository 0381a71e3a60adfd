"""MkDocs hook: tables of config keys and their defaults, read from seqnet's config dataclasses.

The dataclasses are the one place a default is written (the YAML files under ``configs/`` name
their schema and set only what they change), so the pages do not retype them. A marker on a line
of its own:

    <!-- schema: seqnet.config:TrainerConfig prefix=trainer -->
    <!-- schema: seqnet.models.zoo.gru:GRUConfig skip=seqnet.models.options:ModelConfig -->

becomes a table of the dataclass's fields: the key (``prefix.`` + field name), its default (as
``seqnet-train --cfg job`` prints it), and what it means, taken from the comment above the field
(or after it) in the source. ``skip=MODULE:CLASS`` leaves out the fields of that base class,
``exclude=a,b`` the named ones; ``name`` and fields starting with ``_`` are always left out.

    <!-- schema-matrix: model skip=seqnet.models.options:ModelConfig -->

becomes one table with a row per registered model (``model``, ``data`` or ``optim``) and a column
per option beyond ``skip``'s: the default where the model has the option, a dash where it has not.

Lines after the first, up to ``-->``, are ``field: what it means`` for fields whose source has
no comment (or one written for developers); they take the place of the source's comment.

A marker naming a class or field that does not exist, or a note for a field the table does not
show, stops the build.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(
    r"^(?P<indent>[ \t]*)<!--[ \t]*schema(?P<matrix>-matrix)?:[ \t]*(?P<args>[^\n]*?)[ \t]*"
    r"(?:\n(?P<notes>(?:.*\n)*?))?[ \t]*-->[ \t]*$",
    re.M,
)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def render(match: re.Match[str]) -> str:
        target, options = parse(match["args"], page.file.src_uri)
        try:
            if match["matrix"]:
                text = matrix(target, options)
            else:
                text = table(load(target), options, parse_notes(match["notes"] or ""))
        except (ImportError, AttributeError, KeyError, ValueError) as e:
            raise PluginError(f"{page.file.src_uri}: {match.group(0).strip()}: {e}") from e
        # A marker indented inside a list item gives a table indented the same way.
        return "\n".join(match["indent"] + line for line in text.rstrip("\n").split("\n"))

    return MARKER.sub(render, markdown)


def parse(args: str, page: str) -> tuple[str, dict[str, str]]:
    target, *rest = args.split()
    options = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep or key not in ("prefix", "skip", "exclude"):
            raise PluginError(
                f"{page}: schema marker option {item!r}: use prefix=, skip=, exclude="
            )
        options[key] = value
    return target, options


def parse_notes(text: str) -> dict[str, str]:
    notes: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, note = line.strip().partition(":")
        if not sep:
            raise ValueError(f"note {line.strip()!r} is not 'field: what it means'")
        notes[name.strip()] = note.strip()
    return notes


def load(target: str) -> type:
    module, sep, name = target.partition(":")
    if not sep:
        raise ValueError(f"{target!r} is not MODULE:CLASS")
    cls = getattr(importlib.import_module(module), name)
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"{target} is not a dataclass")
    return cls


def shown_fields(cls: type, options: dict[str, str]) -> list[dataclasses.Field]:
    skipped = (
        {f.name for f in dataclasses.fields(load(options["skip"]))} if "skip" in options else set()
    )
    excluded = set(filter(None, options.get("exclude", "").split(",")))
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = excluded - names
    if unknown:
        raise KeyError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return [
        f
        for f in dataclasses.fields(cls)
        if f.name != "name"
        and not f.name.startswith("_")
        and f.name not in skipped
        and f.name not in excluded
    ]


def table(cls: type, options: dict[str, str], notes: dict[str, str]) -> str:
    prefix = options.get("prefix", "")
    fields = shown_fields(cls, options)
    stale = set(notes) - {f.name for f in fields}
    if stale:
        raise KeyError(f"notes for field(s) {sorted(stale)} that the table of {cls.__name__} lacks")
    rows = ["| key | default | what |", "| --- | --- | --- |"]
    for f in fields:
        key = f"{prefix}.{f.name}" if prefix else f.name
        what = notes[f.name] if f.name in notes else escape(comment(cls, f.name))
        rows.append(f"| `{key}` | {default(f)} | {what} |")
    if len(rows) == 2:
        return f"*{cls.__name__} has no keys of its own.*\n"
    return "\n".join(rows) + "\n"


def matrix(group: str, options: dict[str, str]) -> str:
    import seqnet.config  # noqa: F401  (imports every registry)
    from seqnet.data import TASK_REGISTRY
    from seqnet.models import MODEL_REGISTRY
    from seqnet.optim import OPTIMIZER_REGISTRY

    registry = {"model": MODEL_REGISTRY, "data": TASK_REGISTRY, "optim": OPTIMIZER_REGISTRY}[group]
    per_entry = {
        name: shown_fields(entry.config, options) for name, entry in sorted(registry.items())
    }
    columns: list[str] = []
    for fields in per_entry.values():
        columns += [f.name for f in fields if f.name not in columns]
    head = [f"| `{group}=` | " + " | ".join(f"`{c}`" for c in columns) + " |"]
    head.append("| --- |" + " --- |" * len(columns))
    rows = []
    for name, fields in per_entry.items():
        by_name = {f.name: f for f in fields}
        cells = [default(by_name[c]) if c in by_name else "—" for c in columns]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(head + rows) + "\n"


def default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    return f"`{yaml_value(value)}`"


def yaml_value(value: Any) -> str:
    """The value as ``--cfg job`` prints it (null, true, enum values, ``'???'`` for MISSING)."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if value == "???":
        return "(required)"
    return str(value)


def comment(cls: type, name: str) -> str:
    """The comment lines directly above the field ``name`` in the class that declares it, or
    the comment after it on its line."""
    for klass in cls.__mro__:
        if name not in vars(klass).get("__annotations__", {}):
            continue
        lines = inspect.getsource(klass).splitlines()
        for i, line in enumerate(lines):
            m = re.match(rf"\s+{name}\s*:[^#]*(#\s*(?P<inline>.*))?$", line)
            if not m:
                continue
            above = []
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("#"):
                above.insert(0, lines[j].strip().lstrip("#").strip())
                j -= 1
            text = " ".join(above) or (m["inline"] or "")
            return text.strip()
        return ""
    return ""


def escape(text: str) -> str:
    return text.replace("|", "\\|")
