"""Early stopping (``trainer.early_stopping``): the run stops once the watched validation metric
has not improved by more than ``min_delta`` for ``patience`` validations in a row, and can keep
the checkpoint of its best validation (``checkpoints/best.pt``). Its record (best value and
step, validations without improvement, whether it stopped) goes into every checkpoint, so a
resumed run stops where the uninterrupted one would."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from seqnet.errors import ConfigError

log = logging.getLogger(__name__)


def best_checkpoint(run_dir: Path) -> Path:
    """Beside ``last.pt``: the checkpoint of the best validation (``save_best=true``)."""
    return run_dir / "checkpoints" / "best.pt"


class EarlyStopping:
    """Watches ``ecfg.metric`` (off when it is null) over the validations of a run."""

    def __init__(self, ecfg: DictConfig) -> None:
        self.metric: str | None = ecfg.metric
        self.mode, self.patience, self.min_delta = ecfg.mode, ecfg.patience, ecfg.min_delta
        self.save_best = bool(ecfg.save_best) and self.metric is not None
        self.best: float | None = None
        self.best_step: int | None = None
        self.bad = 0  # validations in a row without improvement
        self.stopped = False

    @property
    def enabled(self) -> bool:
        return self.metric is not None

    def improves(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, step: int, val_metrics: Mapping[str, float]) -> bool:
        """Record the validation at ``step``; True when it is the best so far."""
        if self.metric is None:
            return False
        value = float(val_metrics[self.metric.removeprefix("val/")])
        if self.improves(value):
            self.best, self.best_step, self.bad = value, step, 0
            return True
        self.bad += 1
        self.stopped = self.bad >= self.patience
        return False

    @property
    def reason(self) -> str:
        return (
            f"{self.metric} has not improved by more than min_delta={self.min_delta:g} for "
            f"{self.bad} validation(s) (trainer.early_stopping.patience={self.patience}); "
            f"best {self.best:.6g} at step {self.best_step}"
        )

    def summary(self) -> dict[str, Any]:
        """For metrics.json, with early stopping on: ``stopped_early``, ``best_step`` and
        ``best_value`` (and ``stop_reason`` once it stopped); nothing when it is off."""
        if not self.enabled:
            return {}
        summary: dict[str, Any] = {"stopped_early": self.stopped}
        summary.update(best_step=self.best_step, best_value=self.best)
        if self.stopped:
            summary["stop_reason"] = self.reason
        return summary

    def state_dict(self) -> dict[str, Any]:
        keys = ("metric", "best", "best_step", "bad", "stopped")
        return {key: getattr(self, key) for key in keys}

    def load_state_dict(self, state: Mapping[str, Any] | None, in_place: bool) -> None:
        """Continue the record of the same metric. A stopped run continued in another folder
        trains on (its own folder reports it finished): patience counts afresh."""
        if not state or state.get("metric") != self.metric:
            return
        self.best, self.best_step = state["best"], state["best_step"]
        self.bad, self.stopped = int(state["bad"]), bool(state["stopped"])
        if self.stopped and not in_place:
            log.info("the checkpoint's run stopped early; this run trains on: patience anew")
            self.bad, self.stopped = 0, False


def stopped_early(checkpoint: Mapping[str, Any]) -> bool:
    """Whether the run that wrote ``checkpoint`` ended by early stopping."""
    return bool((checkpoint.get("early_stopping") or {}).get("stopped"))


def check_early_stopping(cfg: DictConfig) -> None:
    """``trainer.early_stopping``'s values, before any work (one line each)."""
    from seqnet.training.lr_schedule import check_mode, check_val_metric

    e = cfg.trainer.early_stopping
    if e.metric is None:
        if e.save_best:
            raise ConfigError(
                "trainer.early_stopping.save_best=true picks checkpoints/best.pt by "
                "trainer.early_stopping.metric, which is unset: set it (e.g. "
                "trainer.early_stopping.metric=val/loss)"
            )
        return
    check_val_metric("trainer.early_stopping.metric", e.metric, cfg)
    check_mode("trainer.early_stopping.mode", e.mode)
    if e.patience < 0:
        raise ConfigError(
            f"trainer.early_stopping.patience={e.patience} must be >= 0 (validations without "
            "improvement before the run stops)"
        )
    if not (math.isfinite(e.min_delta) and e.min_delta >= 0):
        raise ConfigError(
            f"trainer.early_stopping.min_delta={e.min_delta} must be a finite number >= 0"
        )
