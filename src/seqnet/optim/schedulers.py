"""Learning-rate schedules: ``scheduler=<name>`` picks one of these configs, each a thin layer
over a ``torch.optim.lr_scheduler`` class (its ``_target_``), built with ``_partial_: true``
once the optimizer exists (``seqnet.training.lr_schedule.build_schedule``). The dataclasses
hold every default; ``configs/scheduler/<name>.yaml`` only selects one.

Keys of seqnet's own, not passed to torch: ``name`` (the choice), ``warmup_steps`` (a linear
warm-up before any schedule, ``none`` included) and, for ``plateau``, ``monitor`` (the
validation metric it steps on). A value left ``null`` where torch needs one is filled from the
run: ``T_max`` and ``total_steps`` with the steps after the warm-up, ``max_lr`` with
``optim.lr``.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class SchedulerConfig:
    """Fields every schedule has."""

    _target_: str | None = MISSING
    # The scheduler wraps an optimizer that exists only after the model is built.
    _partial_: bool = True
    name: str = MISSING
    # Optimizer steps of linear warm-up: update s (from 0) uses lr * (s + 1) / warmup_steps,
    # then the schedule starts from its own first value; 0 = none.
    warmup_steps: int = 0


@dataclass
class NoScheduleConfig(SchedulerConfig):
    """``scheduler=none``: a constant ``optim.lr`` (after the warm-up, if any)."""

    _target_: str | None = None
    name: str = "none"


@dataclass
class CosineConfig(SchedulerConfig):
    """``scheduler=cosine``: ``CosineAnnealingLR``, from ``optim.lr`` down to ``eta_min``."""

    _target_: str | None = "torch.optim.lr_scheduler.CosineAnnealingLR"
    name: str = "cosine"
    # Steps of the half cosine; null = every step after the warm-up (max_steps - warmup_steps).
    T_max: int | None = None
    eta_min: float = 0.0


@dataclass
class StepConfig(SchedulerConfig):
    """``scheduler=step``: ``StepLR``, lr times ``gamma`` every ``step_size`` steps."""

    _target_: str | None = "torch.optim.lr_scheduler.StepLR"
    name: str = "step"
    step_size: int = 500
    gamma: float = 0.1


@dataclass
class PlateauConfig(SchedulerConfig):
    """``scheduler=plateau``: ``ReduceLROnPlateau``, stepped at each validation on ``monitor``
    (``patience`` and ``cooldown`` count validations, not steps)."""

    _target_: str | None = "torch.optim.lr_scheduler.ReduceLROnPlateau"
    name: str = "plateau"
    # Any val/* metric the task logs (val/loss, val/accuracy, ...).
    monitor: str = "val/loss"
    # min: lower is better (a loss); max: higher is better (an accuracy).
    mode: str = "min"
    factor: float = 0.1
    patience: int = 2
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8


@dataclass
class OneCycleConfig(SchedulerConfig):
    """``scheduler=onecycle``: ``OneCycleLR`` (it cycles Adam's beta1 or SGD's momentum too,
    unless ``cycle_momentum=false``)."""

    _target_: str | None = "torch.optim.lr_scheduler.OneCycleLR"
    name: str = "onecycle"
    # The peak lr; null = optim.lr.
    max_lr: float | None = None
    # Steps of the cycle; null = every step after the warm-up (max_steps - warmup_steps).
    total_steps: int | None = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    cycle_momentum: bool = True
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False


#: ``scheduler=<name>``: its config schema.
SCHEDULERS: dict[str, type[SchedulerConfig]] = {
    c.name: c for c in (NoScheduleConfig, CosineConfig, StepConfig, PlateauConfig, OneCycleConfig)
}
