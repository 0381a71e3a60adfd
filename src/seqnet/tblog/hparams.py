"""Flat hyperparameters for TensorBoard's HPARAMS dashboard.

TensorBoard takes its HPARAMS columns from the first run it reads, so every run logs the same
key set: the fields of every registered model, task, optimizer and lr schedule schema, with
``"n/a"`` for those that the run's own choice does not have; and the same metric columns, those
of every registered task (``all_metric_tags``).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqnet.config import GradLogConfig, TrainerConfig
from seqnet.data import TASK_REGISTRY
from seqnet.models import MODEL_REGISTRY
from seqnet.optim import OPTIMIZER_REGISTRY
from seqnet.optim.schedulers import SCHEDULERS

HParamValue = int | float | str | bool
NOT_APPLICABLE = "n/a"
_GROUPS = ("model", "data", "optim", "scheduler", "trainer", "grad_log")


def flatten(tree: dict[str, Any], prefix: str = "", sep: str = "/") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"<prefix><sep>a<sep>b": 1}`` (no prefix: ``"a<sep>b"``)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name, sep))
        else:
            flat[name] = value
    return flat


def _as_hparam(value: Any) -> HParamValue:
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)  # None, lists, enums: TensorBoard takes only int/float/str/bool


def all_hparam_keys() -> list[str]:
    """Every key any run can log: the union over all registered schemas."""
    schemas = {
        "model": [e.config for e in MODEL_REGISTRY.values()],
        "data": [e.config for e in TASK_REGISTRY.values()],
        "optim": [e.config for e in OPTIMIZER_REGISTRY.values()],
        "scheduler": list(SCHEDULERS.values()),
        "trainer": [TrainerConfig],
        "grad_log": [GradLogConfig],
    }
    keys = {key for group, classes in schemas.items() for c in classes for key in _keys(c, group)}
    # n: how many runs a row stands for (1; an aggregate run of a group of seeds, its n).
    return [*sorted(keys), "seed", "n"]


def _keys(cls: type, prefix: str) -> list[str]:
    """``prefix/field`` for each field of the dataclass ``cls``, nested ones flattened."""
    keys = []
    for f in fields(cls):
        if f.name == "_partial_":
            continue
        nested = f.default_factory  # type: ignore[misc]
        if isinstance(nested, type) and is_dataclass(nested):
            keys.extend(_keys(nested, f"{prefix}/{f.name}"))
        else:
            keys.append(f"{prefix}/{f.name}")
    return keys


def all_metric_tags() -> list[str]:
    """The HPARAMS metric columns, the same in every run: ``final/val_<m>`` and
    ``final/test_<m>`` for every metric of every registered task (a run fills those it has)."""
    names = sorted({m for entry in TASK_REGISTRY.values() for m in entry.cls.metric_names})
    return [f"final/{split}_{m}" for split in ("val", "test") for m in names]


def flat_hparams(cfg: DictConfig) -> dict[str, HParamValue]:
    """The run's hyperparameters as one flat dict with the same keys in every run."""
    flat: dict[str, HParamValue] = dict.fromkeys(all_hparam_keys(), NOT_APPLICABLE)
    for group in _GROUPS:
        tree = OmegaConf.to_container(cfg[group], resolve=True, enum_to_str=True)
        assert isinstance(tree, dict)
        for key, value in flatten(tree, group).items():
            if not key.endswith("/_partial_"):
                flat[key] = _as_hparam(value)
    flat["seed"] = int(cfg.seed)
    flat["n"] = 1
    return flat


def group_hparams(configs: list[dict[str, object]]) -> dict[str, HParamValue]:
    """An aggregate run's hyperparameters, the key set of ``flat_hparams``: the values its
    runs share (their flat configs, ``model.name`` style), their seeds as a list, their n."""
    flat: dict[str, HParamValue] = dict.fromkeys(all_hparam_keys(), NOT_APPLICABLE)
    for key in flat:
        values = {repr(c.get(key.replace("/", "."))) for c in configs}
        if len(values) == 1 and key.replace("/", ".") in configs[0]:
            flat[key] = _as_hparam(configs[0][key.replace("/", ".")])
    flat["seed"] = ",".join(str(c.get("seed")) for c in configs)
    flat["n"] = len(configs)
    return flat
