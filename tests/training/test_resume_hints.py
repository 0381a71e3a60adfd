"""The fix a resume error suggests works: every suggested command, pasted in place of the
refused settings, resumes the checkpoint (a config-group choice such as ``model=gru`` or
``data=adding``, then only the keys that differ from that choice's defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TINY, TINY_RUN
from helpers.runs import tiny
from seqnet.errors import CheckpointError
from seqnet.training.loop import train

#: (the run whose checkpoint is resumed, the refused overrides, the exact suggestion)
CASES = {
    # The choice, then what differs from its defaults (TINY runs have hidden_size=16).
    "model_choice": ("gru", [], "model=gru model.hidden_size=16"),
    "model_key": ("lstm", ["model.hidden_size=32"], "model.hidden_size=16"),
    "task": (
        "lstm",
        [*TINY_RUN, "data=copy_memory"],
        "data=adding data.batch_size=8 data.val_size=32 data.seq_len=12",
    ),
    "optimizer": ("lstm", ["optim=sgd"], "optim=adam"),
    "schedule": ("scheduled", ["scheduler=cosine"], "scheduler=step scheduler.step_size=2"),
}


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An LSTM run of 3 steps with scheduler=step."""
    root = tmp_path_factory.mktemp("scheduled")
    train(tiny(root, "run", "trainer.max_steps=3", "scheduler=step", "scheduler.step_size=2"))
    return root / "run"


@pytest.mark.parametrize("case", list(CASES))
def test_every_suggested_resume_command_runs(runs, scheduled, tmp_path: Path, case: str) -> None:
    source, refused, suggestion = CASES[case]
    run_dir = scheduled if source == "scheduled" else runs[source][2]
    ckpt = run_dir / "checkpoints" / "last.pt"
    base = [] if refused[: len(TINY_RUN)] == TINY_RUN else TINY
    common = [f"ckpt_path={ckpt}", "trainer.max_steps=7"]
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "refused", *base, *refused, *common))
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.endswith(f": {suggestion}")
    assert not (tmp_path / "refused").exists()

    # The command again, the suggested settings in place of the refused ones.
    suggested = suggestion.split()
    keys = {s.split("=")[0] for s in suggested}
    kept = [o for o in refused if o.split("=")[0] not in keys]
    metrics = train(tiny(tmp_path, "resumed", *base, *kept, *suggested, *common))
    assert metrics["step"] == 7


def test_the_suggested_checkpoint_of_a_run_folder_resumes(runs, tmp_path: Path) -> None:
    folder = runs["lstm"][2]
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "refused", f"ckpt_path={folder}", "trainer.max_steps=7"))
    suggested = str(excinfo.value).split("did you mean ")[1].rstrip("?)")
    assert suggested == f"ckpt_path={folder / 'checkpoints' / 'last.pt'}"
    assert train(tiny(tmp_path, "resumed", suggested, "trainer.max_steps=7"))["step"] == 7
