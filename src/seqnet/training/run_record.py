"""A finished run's folder stays a true record of that run: relaunching it with other settings
is refused, before Hydra would rewrite its ``.hydra/`` (``ClaimRunFolder``) and before
``train()`` does anything (``Resume.find``); the same settings report it and change nothing.

"Settings" are the whole resolved config but for keys that choose how or where a run executes,
not what it trains (``RUNTIME_KEYS``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from seqnet.errors import ConfigError

#: Keys (and groups) that may differ between a finished run and its relaunch.
RUNTIME_KEYS = (
    "ckpt_path",
    "paths",
    "trainer.progress_bar",
    "trainer.device",
    "trainer.threads",
    "model.backend",
)


class FinishedRunChanged(ConfigError):
    """A finished run relaunched in its folder with other settings."""


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _runtime(key: str) -> bool:
    return any(key == k or key.startswith(f"{k}.") for k in RUNTIME_KEYS)


def settings(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The flat settings of a config (a composed one, with or without its ``hydra`` node, or
    a checkpoint's plain one), runtime keys left out; ``paths`` is not resolved (it may need
    Hydra's runtime, which does not exist yet when Hydra's callbacks run)."""
    if isinstance(cfg, DictConfig):
        cfg = copy.deepcopy(cfg)
        with open_dict(cfg):
            cfg.pop("hydra", None)
            cfg.pop("paths", None)
        tree = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    else:
        tree = dict(cfg)
    assert isinstance(tree, dict)
    return {k: v for k, v in _flat(tree).items() if not _runtime(k)}


def changed_settings(saved: Mapping[str, Any], cfg: DictConfig) -> list[str]:
    """``"data.seq_len: 12 -> 200"`` for every setting ``cfg`` changes from ``saved``. A key
    that only one side has (a setting added to or dropped from seqnet since the run) does not
    count: the run was trained without it."""
    old, new = settings(saved), settings(cfg)
    return [f"{k}: {old[k]} -> {new[k]}" for k in old if k in new and old[k] != new[k]]


def check_unchanged(saved: Mapping[str, Any], cfg: DictConfig, folder: Path, step: int) -> None:
    """Refuse relaunching the finished run of ``folder`` (its checkpoint's config ``saved``,
    at ``step``) with other settings; nothing has been written when this raises."""
    changes = changed_settings(saved, cfg)
    if changes:
        raise FinishedRunChanged(
            f"run folder {str(folder)!r} holds a finished run (step {step}) trained with other "
            f"settings ({', '.join(changes)}); nothing was changed. Rerun it with its own "
            "settings to see its metrics, continue it with a larger trainer.max_steps, or train "
            "these settings in another folder: another paths.run_dir (or none, for a new "
            "timestamped folder)"
        )


def refuse_changed_finished_run(cfg: DictConfig, folder: Path) -> None:
    """Called before Hydra writes into ``folder`` (``ClaimRunFolder``): a run that resumes
    ``folder``'s own checkpoint where that run has finished (its step at ``trainer.max_steps``
    or past it, ``metrics.json`` written) must ask for the same settings. A checkpoint that
    cannot be read is left to ``train()``, which refuses it with its own message."""
    from seqnet.errors import CheckpointError
    from seqnet.training.checkpoint import checkpoint_to_resume, load_checkpoint, own_checkpoint

    path = checkpoint_to_resume(cfg.get("ckpt_path"), folder)
    own = own_checkpoint(folder)
    if path is None or not own.is_file() or path.resolve() != own.resolve():
        return
    if not (folder / "metrics.json").is_file():
        return
    try:
        checkpoint = load_checkpoint(path)
        step, saved = checkpoint["step"], checkpoint["config"]
    except CheckpointError:
        return
    if isinstance(step, int) and isinstance(saved, Mapping) and step >= cfg.trainer.max_steps:
        check_unchanged(saved, cfg, folder, step)
