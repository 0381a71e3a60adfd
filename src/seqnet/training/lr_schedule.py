"""The learning-rate schedule of a run (``scheduler=<name>``, configs in
``seqnet.optim.schedulers``): a linear warm-up, then a ``torch.optim.lr_scheduler``.

Why a small wrapper rather than ``SequentialLR(LinearLR, main)``: ``ReduceLROnPlateau`` steps on
a validation metric and cannot sit inside ``SequentialLR``, and ``OneCycleLR`` sets the lr (and
the momentum) when it is built; the wrapper treats every schedule alike. During the warm-up it
sets the lr itself, scaling the schedule's own first value; when the warm-up ends it puts that
value back and only then steps the schedule, which so runs exactly as it would alone, its step
k at update ``warmup_steps + k`` (tests/training/test_lr_schedule.py compares it with torch's).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqnet.errors import CheckpointError, ConfigError
from seqnet.optim.schedulers import SCHEDULERS
from seqnet.training.suggest import override

log = logging.getLogger(__name__)

#: Keys of seqnet's own in a scheduler config: not passed to torch.
OWN_KEYS = ("name", "warmup_steps", "monitor")


class LrSchedule:
    """Linear warm-up over ``warmup_steps`` updates, then ``make(optimizer)`` (a torch
    scheduler; None: a constant lr), stepped once per training step, or, with ``monitor``, on
    that validation metric at each validation after the warm-up."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        make: Callable[[torch.optim.Optimizer], Any] | None,
        warmup_steps: int,
        monitor: str | None = None,
    ) -> None:
        self.optimizer, self.warmup, self.monitor = optimizer, warmup_steps, monitor
        self.main = make(optimizer) if make is not None else None
        #: The schedule's first lr per group, which the warm-up ramps up to.
        self.target = [group["lr"] for group in optimizer.param_groups]
        self.updates = 0  # training steps taken
        #: The param-group keys this schedule sets: OneCycleLR cycles the momentum too.
        self.driven = ["lr"]
        if getattr(self.main, "cycle_momentum", False):
            self.driven.append("betas" if self.main.use_beta1 else "momentum")
        if self.warmup > 0:
            self._set_lr([lr * 1 / self.warmup for lr in self.target])

    def step(self) -> None:
        """After a training step: the lr of the next one."""
        self.updates += 1
        if self.updates < self.warmup:
            self._set_lr([lr * (self.updates + 1) / self.warmup for lr in self.target])
        elif self.updates == self.warmup:
            self._set_lr(self.target)  # the schedule's own step 0
        elif self.main is not None and self.monitor is None:
            self.main.step()

    def validated(self, metrics: Mapping[str, float]) -> None:
        """After a validation: ``ReduceLROnPlateau`` steps on its metric (once warmed up)."""
        if self.monitor is not None and self.updates >= self.warmup:
            self.main.step(metrics[self.monitor.removeprefix("val/")])

    def state_dict(self) -> dict[str, Any]:
        groups = self.optimizer.param_groups
        return {
            "updates": self.updates,
            "target": list(self.target),
            "main": self.main.state_dict() if self.main is not None else None,
            # The values the schedule set last: a resume continues from them bit for bit.
            "groups": {key: [group[key] for group in groups] for key in self.driven},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.updates, self.target = int(state["updates"]), list(state["target"])
        if self.main is not None:
            self.main.load_state_dict(state["main"])
        for key, values in state["groups"].items():
            for group, value in zip(self.optimizer.param_groups, values, strict=True):
                group[key] = value

    def _set_lr(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr


def torch_arguments(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The scheduler's arguments for torch (a plain dict, ``_target_`` and ``_partial_``
    included), the ``null`` ones filled from the run: ``T_max``/``total_steps`` = the steps
    after the warm-up, ``max_lr`` = ``optim.lr``."""
    scheduler = dict(cfg.get("scheduler") or {"name": "none", "_target_": None})
    arguments = {k: v for k, v in scheduler.items() if k not in OWN_KEYS}
    after_warmup = cfg["trainer"]["max_steps"] - scheduler.get("warmup_steps", 0)
    for key, value in (("T_max", after_warmup), ("total_steps", after_warmup)):
        if key in arguments and arguments[key] is None:
            arguments[key] = value
    if "max_lr" in arguments and arguments["max_lr"] is None:
        arguments["max_lr"] = cfg["optim"]["lr"]
    return arguments


def schedule_view(cfg: DictConfig) -> dict[str, Any]:
    """The parts of a config a schedule depends on, resolved, as a checkpoint holds them."""
    return {
        "scheduler": OmegaConf.to_container(cfg.scheduler, resolve=True),
        "trainer": {"max_steps": cfg.trainer.max_steps},
        "optim": {"lr": cfg.optim.lr},
    }


def build_schedule(cfg: DictConfig, optimizer: torch.optim.Optimizer) -> LrSchedule | None:
    """The run's schedule over ``optimizer``; None for a constant lr (``scheduler=none`` with
    no warm-up: nothing to step or to checkpoint)."""
    scfg = cfg.scheduler
    if scfg._target_ is None and scfg.warmup_steps == 0:
        return None
    arguments = torch_arguments(schedule_view(cfg))
    make = instantiate(arguments) if arguments["_target_"] is not None else None
    monitor = scfg.get("monitor")
    try:
        return LrSchedule(optimizer, make, scfg.warmup_steps, monitor)
    except (ValueError, TypeError) as e:  # torch's own checks of its arguments
        raise ConfigError(f"scheduler={scfg.name}: {str(e).rstrip('.')}") from e


def check_schedule(cfg: DictConfig) -> None:
    """The scheduler's values the schema cannot check, before any work (one line each)."""
    s, max_steps = cfg.scheduler, cfg.trainer.max_steps
    if not 0 <= s.warmup_steps < max_steps:
        raise ConfigError(
            f"scheduler.warmup_steps={s.warmup_steps} must be >= 0 and less than "
            f"trainer.max_steps={max_steps} (0 = no warm-up)"
        )
    for key, value in s.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"scheduler.{key}={value} must be a finite number")
    after_warmup = max_steps - s.warmup_steps
    for key, least in (("T_max", 1), ("step_size", 1), ("total_steps", after_warmup)):
        value = s.get(key)
        if value is not None and value < least:
            raise ConfigError(
                f"scheduler.{key}={value} must be >= {least}"
                + (" (the steps after the warm-up), or null for those" if least > 1 else "")
            )
    if "monitor" in s:
        check_val_metric("scheduler.monitor", s.monitor, cfg)
        check_mode("scheduler.mode", s.mode)


def check_val_metric(key: str, metric: str, cfg: DictConfig) -> None:
    """``metric`` must be ``val/<name>`` for a metric this run's task logs."""
    from seqnet.data import TASK_REGISTRY

    entry = TASK_REGISTRY.get(cfg.data.name)
    names = (entry.cls.metric_names if entry is not None else ()) or ("loss",)
    choices = [f"val/{name}" for name in names]
    if metric not in choices:
        raise ConfigError(
            f"{key}={metric} is not a validation metric of data={cfg.data.name}; use one of "
            f"{', '.join(choices)}"
        )


def check_mode(key: str, mode: str) -> None:
    if mode not in ("min", "max"):
        raise ConfigError(
            f"{key}={mode} must be min (lower is better, a loss) or max (higher is better)"
        )


def schedule_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's lr schedule is, from its resolved config (a checkpoint's, or this run's):
    the choice, the warm-up, torch's arguments and the lr it scales; only the choice for a
    constant lr. A checkpoint of a run written before schedules existed reads as ``none``."""
    scheduler = config.get("scheduler") or {"name": "none", "warmup_steps": 0}
    name, warmup = scheduler["name"], scheduler.get("warmup_steps", 0)
    if scheduler.get("_target_") is None and warmup == 0:
        return {"name": name, "warmup_steps": 0}
    settings = {"name": name, "warmup_steps": warmup}
    settings.update({k: v for k, v in torch_arguments(config).items() if not k.startswith("_")})
    if "monitor" in scheduler:
        settings["monitor"] = scheduler["monitor"]
    settings["lr"] = config["optim"]["lr"]
    return settings


def check_same_schedule(saved: Mapping[str, Any], cfg: DictConfig, path: Any) -> None:
    """A resume continues the checkpoint's schedule bit for bit, so it must be the same one:
    otherwise one line naming what differs and the overrides that resume it."""
    current = schedule_view(cfg)
    old, new = schedule_settings(saved), schedule_settings(current)
    if old == new:
        return
    differ = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    wanted = []
    if old["name"] != new["name"]:  # the choice, then what differs from its defaults
        wanted.append(f"scheduler={old['name']}")
        defaults = OmegaConf.to_container(OmegaConf.structured(SCHEDULERS[old["name"]]))
        new = schedule_settings({**current, "scheduler": defaults})
    for key, value in old.items():
        if value != new.get(key):
            wanted.append(override("optim.lr" if key == "lr" else f"scheduler.{key}", value))
    raise CheckpointError(
        f"checkpoint {path} continues another learning-rate schedule ({', '.join(differ)} "
        f"differ); resume with the checkpoint's schedule: {' '.join(wanted)}"
    )
