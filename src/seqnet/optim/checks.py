"""The values of an ``optim`` config that its schema cannot check (ranges, finiteness), checked
before any work so that a bad value is one line naming the key and the fix, not a PyTorch
traceback at the first step. The rules go by key name, so an optimizer registered by a plugin
with the same keys (``lr``, ``betas``, ``momentum``, ...) is checked the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from seqnet.errors import ConfigError

#: key: (the rule, a working example for the message). Every number must also be finite.
RANGES: dict[str, tuple[str, str]] = {
    "lr": (">= 0", "optim.lr=0.001"),
    "weight_decay": (">= 0", "optim.weight_decay=0.01, or 0 for none"),
    "momentum": (">= 0", "optim.momentum=0.9, or 0 for none"),
    "dampening": (">= 0", "optim.dampening=0"),
    "eps": ("> 0", "optim.eps=1e-8"),
    "alpha": ("in [0, 1)", "optim.alpha=0.99"),
    "betas": ("in [0, 1)", "optim.betas=[0.9,0.999]"),
}

_TESTS = {
    ">= 0": lambda v: v >= 0,
    "> 0": lambda v: v > 0,
    "in [0, 1)": lambda v: 0 <= v < 1,
}


def check_optimizer(ocfg: Mapping[str, Any]) -> None:
    """Every number of ``ocfg`` finite, and within ``RANGES`` for the keys it names."""
    for key, value in ocfg.items():
        if key.startswith("_") or isinstance(value, bool):
            continue
        numbers = list(value) if _is_list(value) else [value]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            continue
        rule, example = RANGES.get(key, ("finite", f"optim.{key}=<a finite number>"))
        shown = f"[{', '.join(str(v) for v in numbers)}]" if _is_list(value) else str(value)
        if not all(math.isfinite(v) for v in numbers):
            need = "finite" if rule == "finite" else f"finite and {rule}"
            raise ConfigError(f"optim.{key}={shown} must be {need} (e.g. {example})")
        if rule != "finite" and not all(_TESTS[rule](v) for v in numbers):
            each = "each " if _is_list(value) else ""
            raise ConfigError(f"optim.{key}={shown} must {each}be {rule} (e.g. {example})")
    if ocfg.get("nesterov") and (ocfg.get("momentum", 0) <= 0 or ocfg.get("dampening", 0) != 0):
        raise ConfigError(
            "optim.nesterov=true needs optim.momentum > 0 and no dampening "
            "(e.g. optim.momentum=0.9), or optim.nesterov=false"
        )


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple) or type(value).__name__ == "ListConfig"
