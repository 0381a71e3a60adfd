"""Learning-rate schedules (``scheduler=...``): each schedule's lr, update by update, equals
torch's own scheduler run alone (exactly), after a linear warm-up that follows its closed form;
plateau steps on the validation metric it names; the scheduler's values are checked before any
work; ``train/lr`` shows the schedule, and a resume continues it bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from conftest import TINY, compose_config
from helpers.runs import assert_same_run, last_ckpt, scalars, tiny
from seqnet.errors import ConfigError
from seqnet.training.loop import train
from seqnet.training.lr_schedule import build_schedule

LR, STEPS = 0.01, 12


def optimizer(name: str = "adam") -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(3))]
    if name == "sgd":
        return torch.optim.SGD(params, lr=LR, momentum=0.9)
    return torch.optim.Adam(params, lr=LR)


def scheduled_lrs(overrides: list[str], opt: torch.optim.Optimizer, metrics=None) -> list[float]:
    """The lr of each of STEPS updates under ``build_schedule``, as the loop steps it."""
    cfg = compose_config([f"optim.lr={LR}", f"trainer.max_steps={STEPS}", *overrides])
    schedule = build_schedule(cfg, opt)
    lrs = []
    for step in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
        if metrics is not None:
            schedule.validated({"loss": metrics[step]})
    return lrs


def torch_lrs(make, n: int, opt: torch.optim.Optimizer, metrics=None) -> list[float]:
    """The lrs of torch's own scheduler alone: its step k is the k-th value."""
    scheduler = make(opt)
    lrs = []
    for k in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step(metrics[k]) if metrics is not None else scheduler.step()
    return lrs


def warmup(w: int, first: float) -> list[float]:
    """The warm-up's closed form: update s uses first * (s + 1) / w."""
    return [first * (s + 1) / w for s in range(w)]


CASES = {
    "cosine": (["scheduler=cosine"], lambda o, t: lr_scheduler.CosineAnnealingLR(o, T_max=t)),
    "cosine_eta_min": (
        ["scheduler=cosine", "scheduler.eta_min=0.001", "scheduler.T_max=5"],
        lambda o, t: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
    ),
    "step": (
        ["scheduler=step", "scheduler.step_size=4", "scheduler.gamma=0.5"],
        lambda o, t: lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
    ),
    "onecycle": (
        ["scheduler=onecycle"],
        lambda o, t: lr_scheduler.OneCycleLR(o, max_lr=LR, total_steps=t),
    ),
}


@pytest.mark.parametrize("warm", [0, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_each_schedule_is_torchs_own_after_the_warmup(case: str, warm: int) -> None:
    overrides, make = CASES[case]
    got = scheduled_lrs([*overrides, f"scheduler.warmup_steps={warm}"], optimizer())
    expected = torch_lrs(lambda o: make(o, STEPS - warm), STEPS - warm, optimizer())
    assert got == warmup(warm, expected[0]) + expected


def test_cosine_follows_its_closed_form() -> None:
    got = scheduled_lrs(["scheduler=cosine", "scheduler.warmup_steps=2"], optimizer())
    assert got[:2] == [LR * 1 / 2, LR * 2 / 2]
    closed = [LR * (1 + math.cos(math.pi * k / 10)) / 2 for k in range(10)]
    assert got[2:] == pytest.approx(closed, rel=1e-12, abs=1e-18)


def test_onecycle_cycles_sgd_momentum_as_torch_does() -> None:
    opt, ref = optimizer("sgd"), optimizer("sgd")
    cfg = compose_config(["optim=sgd", f"trainer.max_steps={STEPS}", "scheduler=onecycle"])
    schedule = build_schedule(cfg, opt)
    reference = lr_scheduler.OneCycleLR(ref, max_lr=cfg.optim.lr, total_steps=STEPS)
    for _ in range(STEPS):
        assert opt.param_groups[0]["momentum"] == ref.param_groups[0]["momentum"]
        opt.step(), ref.step()
        schedule.step(), reference.step()
    assert schedule.driven == ["lr", "momentum"]


def test_none_with_a_warmup_then_constant() -> None:
    got = scheduled_lrs(["scheduler.warmup_steps=4"], optimizer())
    assert got == [LR * 1 / 4, LR * 2 / 4, LR * 3 / 4, LR * 4 / 4] + [LR] * (STEPS - 4)
    cfg = compose_config([f"trainer.max_steps={STEPS}"])
    assert build_schedule(cfg, optimizer()) is None  # the default: nothing to step or save


def test_plateau_steps_on_its_validation_metric_after_the_warmup() -> None:
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    plateau = ["scheduler=plateau", "scheduler.patience=1", "scheduler.factor=0.5"]
    got = scheduled_lrs([*plateau, "scheduler.warmup_steps=2"], optimizer(), metrics)
    # The schedule sees the validations from the end of the warm-up on (the one after update
    # 1, the warm-up's last): torch's lrs after each of its steps.
    make = lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5)  # noqa: E731
    expected = torch_lrs(make, STEPS - 1, optimizer(), metrics[1:])
    assert got == warmup(2, LR) + expected[1:]
    assert got[-1] == LR / 8  # reduced three times, by torch's rule


# ---------------------------------------------------------------------------- bad values

ERRORS = {
    "warmup": (
        ["scheduler.warmup_steps=6"],
        "scheduler.warmup_steps=6 must be >= 0 and less than trainer.max_steps=6 (0 = no warm-up)",
    ),
    "onecycle_total_steps": (
        ["scheduler=onecycle", "scheduler.total_steps=3"],
        "scheduler.total_steps=3 must be >= 6 (the steps after the warm-up), or null for those",
    ),
    "step_size": (
        ["scheduler=step", "scheduler.step_size=0"],
        "scheduler.step_size=0 must be >= 1",
    ),
    "monitor": (
        ["scheduler=plateau", "scheduler.monitor=val/accuracy"],
        "scheduler.monitor=val/accuracy is not a validation metric of data=adding; use one of "
        "val/loss, val/mse, val/baseline_ratio",
    ),
    "mode": (
        ["scheduler=plateau", "scheduler.mode=up"],
        "scheduler.mode=up must be min (lower is better, a loss) or max (higher is better)",
    ),
    "gamma": (
        ["scheduler=step", "scheduler.gamma=nan"],
        "scheduler.gamma=nan must be a finite number",
    ),
    "torch_check": (
        ["scheduler=plateau", "scheduler.factor=2"],
        "scheduler=plateau: Factor should be < 1.0",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_scheduler_values_are_one_line_before_any_work(tmp_path: Path, case: str) -> None:
    overrides, message = ERRORS[case]
    with pytest.raises(ConfigError) as excinfo:
        train(compose_config([*TINY, *overrides, f"paths.run_dir={tmp_path / 'run'}"]))
    assert str(excinfo.value) == message
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- in a run

RESUMED = {
    # A warm-up, then OneCycleLR, which also cycles Adam's beta1 (the checkpoint brings it
    # back). total_steps is given: the interrupted run (max_steps=3) has the same schedule.
    "warmup_onecycle": [
        "scheduler=onecycle",
        "scheduler.warmup_steps=2",
        "scheduler.total_steps=4",
    ],
    # mode=max on a falling loss: no validation improves, so the lr falls at each one.
    "plateau": [
        "scheduler=plateau",
        "scheduler.mode=max",
        "scheduler.patience=0",
        "trainer.val_every_n_steps=1",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(RESUMED))
def test_train_lr_shows_the_schedule_and_a_resume_continues_it(tmp_path: Path, case: str) -> None:
    overrides = ["optim.lr=0.01", *RESUMED[case]]
    full = train(tiny(tmp_path, "full", *overrides))
    train(tiny(tmp_path, "half", *overrides, "trainer.max_steps=3"))
    ckpt = tmp_path / "half" / "checkpoints" / "last.pt"
    resumed = train(tiny(tmp_path, "resumed", *overrides, f"ckpt_path={ckpt}"))

    lrs = [v for _, v in scalars(tmp_path / "full")["train/lr"]]
    if case == "warmup_onecycle":  # torch's own, after the warm-up; float32 in TensorBoard
        make = lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.01, total_steps=4)  # noqa: E731
        onecycle = torch_lrs(make, 4, optimizer())
        np.testing.assert_array_equal(np.float32(lrs), np.float32(warmup(2, 4e-4) + onecycle))
    if case == "plateau":  # validations at every step: reduced after each but the first
        np.testing.assert_allclose(lrs, [0.01, 0.01, 1e-3, 1e-4, 1e-5, 1e-6], rtol=1e-6)
    assert resumed == full
    assert_same_run(tmp_path / "resumed", tmp_path / "full")
    assert last_ckpt(tmp_path / "resumed")["scheduler"] == last_ckpt(tmp_path / "full")["scheduler"]
    assert scalars(tmp_path / "resumed")["train/lr"] == scalars(tmp_path / "full")["train/lr"][3:]
