"""Early stopping (``trainer.early_stopping.*``): the rule (min/max, min_delta, patience in
validations) on given values; a run that stops ends with a checkpoint, says why in train.log's
logger and metrics.json, keeps ``checkpoints/best.pt`` chosen by the same metric, is reported
finished when resumed in place, and resumes its record where a run is interrupted; bad keys are
one line before any work."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import TINY, compose_config
from helpers.runs import last_ckpt, scalars, tiny
from seqnet.config import EarlyStoppingConfig
from seqnet.errors import ConfigError
from seqnet.training.early_stopping import EarlyStopping
from seqnet.training.loop import train


def stopper(**values) -> EarlyStopping:
    return EarlyStopping(OmegaConf.structured(EarlyStoppingConfig(metric="val/loss", **values)))


@pytest.mark.parametrize(
    ("values", "losses", "best_step", "stops_at"),
    [
        # min: strictly lower is better; patience 2 stops at the second validation without.
        ({"patience": 2}, [3.0, 2.0, 2.0, 2.5, 1.0], 2, 4),
        # min_delta: 1.95 is not better than 2.0 by more than 0.1.
        ({"patience": 2, "min_delta": 0.1}, [3.0, 2.0, 1.95, 1.0, 0.95, 0.92], 4, 6),
        # max: higher is better; patience 0 stops at the first validation without.
        ({"mode": "max", "patience": 0}, [1.0, 2.0, 2.0, 3.0], 2, 3),
        # NaN never improves.
        ({"patience": 2}, [float("nan"), 1.0, float("nan"), float("nan")], 2, 4),
        ({"patience": 3}, [3.0, 2.0, 1.0], 3, None),
    ],
)
def test_the_rule(values, losses, best_step, stops_at) -> None:
    es = stopper(**values)
    stopped_at = None
    for step, loss in enumerate(losses, start=1):
        es.update(step, {"loss": loss})
        if es.stopped:
            stopped_at = step
            break
    assert (es.best_step, stopped_at) == (best_step, stops_at)


#: lr=0 keeps the weights: every validation equals the first, so none improves on it.
STOPPING = [
    "optim.lr=0",
    "trainer.max_steps=20",
    "trainer.val_every_n_steps=1",
    "trainer.early_stopping.metric=val/loss",
    "trainer.early_stopping.patience=2",
    "trainer.early_stopping.save_best=true",
]


def test_a_run_stops_early_with_its_checkpoints_and_says_why(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="seqnet.training")
    metrics = train(tiny(tmp_path, "run", *STOPPING))
    run = tmp_path / "run"

    assert metrics["step"] == 3 and metrics["stopped_early"] is True and metrics["best_step"] == 1
    reason = (
        "val/loss has not improved by more than min_delta=0 for 2 validation(s) "
        f"(trainer.early_stopping.patience=2); best {metrics['best_value']:.6g} at step 1"
    )
    assert metrics["stop_reason"] == reason
    assert json.loads((run / "metrics.json").read_text()) == metrics
    assert f"stopped early at step 3: {reason}" in caplog.text
    for step in (1, 2, 3):  # every validation, with every metric, in the log
        assert f"validation at step {step}: val/loss {metrics['val/loss']:.6g}, val/mse " in (
            caplog.text
        )
    assert last_ckpt(run)["step"] == 3  # the run ends with a checkpoint
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["step"] == 1 and best["early_stopping"]["best_step"] == 1
    assert [s for s, _ in scalars(run)["train/loss"]] == [1, 2, 3]

    # Resumed in its own folder, the run is finished: nothing trains, it says so.
    caplog.clear()
    again = train(tiny(tmp_path, "run", *STOPPING, "ckpt_path=auto"))
    assert again == metrics
    assert f"{run} already finished at step 3 (stopped early: {reason}); nothing to do" in (
        caplog.text
    )
    assert [s for s, _ in scalars(run)["train/loss"]] == [1, 2, 3]


def test_a_resume_continues_the_record(tmp_path) -> None:
    """Interrupted after the second validation, the resumed run stops where the whole one
    does: the count of validations without improvement came back from the checkpoint."""
    patience = [*STOPPING, "trainer.early_stopping.patience=3"]
    full = train(tiny(tmp_path, "full", *patience))
    train(tiny(tmp_path, "half", *patience, "trainer.max_steps=2"))
    ckpt = tmp_path / "half" / "checkpoints" / "last.pt"
    resumed = train(tiny(tmp_path, "resumed", *patience, f"ckpt_path={ckpt}"))
    assert full["step"] == resumed["step"] == 4
    assert resumed == full


ERRORS = {
    "metric": (
        ["trainer.early_stopping.metric=val/accuracy"],
        "trainer.early_stopping.metric=val/accuracy is not a validation metric of data=adding; "
        "use one of val/loss, val/mse, val/baseline_ratio",
    ),
    "not_val": (
        ["trainer.early_stopping.metric=train/loss"],
        "trainer.early_stopping.metric=train/loss is not a validation metric of data=adding; "
        "use one of val/loss, val/mse, val/baseline_ratio",
    ),
    "mode": (
        ["trainer.early_stopping.metric=val/loss", "trainer.early_stopping.mode=lower"],
        "trainer.early_stopping.mode=lower must be min (lower is better, a loss) or max "
        "(higher is better)",
    ),
    "patience": (
        ["trainer.early_stopping.metric=val/mse", "trainer.early_stopping.patience=-1"],
        "trainer.early_stopping.patience=-1 must be >= 0 (validations without improvement "
        "before the run stops)",
    ),
    "min_delta": (
        ["trainer.early_stopping.metric=val/mse", "trainer.early_stopping.min_delta=-0.1"],
        "trainer.early_stopping.min_delta=-0.1 must be a finite number >= 0",
    ),
    "save_best_alone": (
        ["trainer.early_stopping.save_best=true"],
        "trainer.early_stopping.save_best=true picks checkpoints/best.pt by "
        "trainer.early_stopping.metric, which is unset: set it (e.g. "
        "trainer.early_stopping.metric=val/loss)",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_early_stopping_keys_are_one_line_before_any_work(tmp_path: Path, case) -> None:
    overrides, message = ERRORS[case]
    with pytest.raises(ConfigError) as excinfo:
        train(compose_config([*TINY, *overrides, f"paths.run_dir={tmp_path / 'run'}"]))
    assert str(excinfo.value) == message
    assert list(tmp_path.iterdir()) == []
