"""Labelling compared runs by the config keys whose values differ between them
(``model.name=gru, data.seq_len=100``), else by their folder names.

A label stays short over unrelated runs: a key where most runs share one value (more than half
of those that have the key) is named only in the labels of the runs that depart from it, so a
run that changed one setting is labelled by that setting; a key without such a majority (the
swept keys of a grid) is named in every label. ``model.name`` is always named."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from seqnet.tblog.hparams import flatten

#: Config keys left out of labels: where a run was written and how it was displayed or placed
#: do not change what was trained.
IGNORED_KEYS = ("ckpt_path", "trainer.progress_bar", "trainer.device", "trainer.threads")
IGNORED_PREFIXES = ("paths", "hydra")


def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Hashable]:
    """``{"model": {"name": "gru"}}`` -> ``{"model.name": "gru"}``, without the keys that do not
    change what is trained (``paths.*``, ``hydra``, ``ckpt_path``, ...); lists and other
    unhashable values become their ``str``."""
    return {
        name: value if isinstance(value, Hashable) else str(value)
        for name, value in flatten(tree, prefix.rstrip("."), sep=".").items()
        if name not in IGNORED_KEYS and name.split(".")[0] not in IGNORED_PREFIXES
    }


def format_item(key: str, value: Hashable) -> str:
    # optim._target_=torch.optim.SGD is what optim=sgd chose: say "optim=SGD".
    if key.endswith("._target_") and isinstance(value, str):
        return f"{key.removesuffix('._target_')}={value.rsplit('.', 1)[-1]}"
    return f"{key}={value}"


def differing_keys(configs: Sequence[dict[str, Hashable]]) -> list[str]:
    """Keys with two or more different values among the runs that have them.

    A key only some runs have and that is equal wherever present (``model.nonlinearity`` of the
    RNN runs next to a GRU) follows from another key (``model.name``) and is left out. Order:
    ``model.name`` first, then the order of the keys in the configs.
    """
    order: dict[str, None] = {}
    for config in configs:
        order.update(dict.fromkeys(config))
    keys = [
        key
        for key in order
        if len({repr(c[key]) for c in configs if key in c}) > 1  # repr: 1 and True differ
    ]
    return sorted(keys, key=lambda k: k != "model.name")  # stable: the rest keep their order


def label_keys(configs: Sequence[dict[str, Hashable]]) -> list[list[str]]:
    """The keys each config's label names: of ``differing_keys``, those where the config departs
    from the value most configs with the key share (a strict majority), all where there is none;
    ``model.name`` always."""
    keys = differing_keys(configs)
    usual: dict[str, str] = {}
    for key in keys:
        values = Counter(repr(c[key]) for c in configs if key in c)
        value, count = values.most_common(1)[0]
        if key != "model.name" and 2 * count > sum(values.values()):
            usual[key] = value
    return [
        [k for k in keys if k in c and (k not in usual or repr(c[k]) != usual[k])] for c in configs
    ]


#: The label of a run or group that departs from none of the others' usual values.
COMMON_LABEL = "common settings"


def run_labels(configs: Sequence[dict[str, Hashable]], names: Sequence[str]) -> list[str]:
    """``"model.name=gru, data.seq_len=100"`` per run: the values that differ between the runs
    (``label_keys``); a run with none of them is labelled by its name, and equal labels get the
    name appended."""
    labels = [
        ", ".join(format_item(k, c[k]) for k in keys) or name
        for c, keys, name in zip(configs, label_keys(configs), names, strict=True)
    ]
    return [
        f"{label} ({name})" if labels.count(label) > 1 and label != name else label
        for label, name in zip(labels, names, strict=True)
    ]


def run_names(paths: Sequence[Path]) -> list[str]:
    """Folder names, or parent/name where two runs' folders share a name (two sweeps)."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]
