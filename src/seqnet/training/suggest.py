"""Command-line overrides that an error message suggests, written so that pasting them works:
a config-group choice (``model=gru``) and then only the keys whose value differs from that
choice's defaults, each in Hydra's syntax (``null``, ``true``, ``[0.9,0.999]``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def value_text(value: Any) -> str:
    """``value`` as Hydra's override grammar reads it back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(value_text(v) for v in value) + "]"
    if isinstance(value, str):
        plain = value and all(c.isalnum() or c in "._-/:+" for c in value)
        return value if plain and value not in ("null", "true", "false") else json.dumps(value)
    return repr(value)


def override(key: str, value: Any) -> str:
    return f"{key}={value_text(value)}"


def choice_overrides(
    group: str,
    saved: Mapping[str, Any],
    defaults: Mapping[str, Any] | None,
    skip: tuple[str, ...] = (),
) -> list[str]:
    """``group=<saved name>`` and ``group.key=value`` for each key of ``saved`` whose value
    differs from ``defaults`` (that choice's defaults; None when it is unknown here)."""
    wanted = [f"{group}={saved['name']}"]
    if defaults is None:
        return wanted
    for key, value in saved.items():
        if key != "name" and key not in skip and key in defaults and defaults[key] != value:
            wanted.append(override(f"{group}.{key}", value))
    return wanted
