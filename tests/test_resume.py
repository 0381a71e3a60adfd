"""Resuming with changed settings: new optimizer settings take effect, and the gradient history
is carried over only when the profiles measure the same thing (same probe batch, dtype, loss)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import TINY, compose_config
from seqnet.data import TaskSpec
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import CheckpointError, GradientsFileError
from seqnet.gradients import GradientStore, load_gradients
from seqnet.models import build_model
from seqnet.training.loop import train
from seqnet.training.precision import MixedPrecision
from seqnet.training.resume import Resume

LOOP_LOG = "seqnet.training"


def tiny(run_dir: Path, *overrides: str):
    return compose_config([*TINY, *overrides, f"paths.run_dir={run_dir}"])


def scalar(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRU run of 6 steps (T=12, val_size 32, profiles of the first 8 sequences at 0, 3, 6)."""
    run_dir = tmp_path_factory.mktemp("first") / "run"
    train(tiny(run_dir, "model=gru"))
    return run_dir


def resume(first: Path, run_dir: Path, *overrides: str) -> dict:
    ckpt = first / "checkpoints" / "last.pt"
    return train(tiny(run_dir, "model=gru", "trainer.max_steps=9", f"ckpt_path={ckpt}", *overrides))


def test_new_optimizer_settings_apply_after_resume(first, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOOP_LOG)
    resume(first, tmp_path / "run", "optim.lr=5e-4", "optim.betas=[0.5,0.9]")

    assert scalar(first, "train/lr")[-1] == (6, pytest.approx(1e-3))
    assert [(s, pytest.approx(v)) for s, v in scalar(tmp_path / "run", "train/lr")] == [
        (7, 5e-4),
        (8, 5e-4),
        (9, 5e-4),
    ]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    group = ckpt["optimizer"]["param_groups"][0]
    assert group["lr"] == 5e-4 and list(group["betas"]) == [0.5, 0.9]
    # The optimizer's state is the checkpoint's: Adam's step counts go on from 6.
    assert {int(s["step"]) for s in ckpt["optimizer"]["state"].values()} == {9}
    assert "optim.lr: 0.001 in the checkpoint, 0.0005 from now on" in caplog.text
    assert "optim.betas: (0.9, 0.999) in the checkpoint, (0.5, 0.9) from now on" in caplog.text


def test_zero_learning_rate_trains_a_fixed_model(tmp_path):
    """optim.lr=0 is allowed: every step measures the same model, whose weights never move."""
    cfg = tiny(tmp_path / "run", "model=gru", "optim.lr=0")
    metrics = train(cfg)
    torch.manual_seed(cfg.seed)  # the loop seeds, then builds: the same initial weights
    initial = build_model(cfg.model, AddingProblem.spec).state_dict()
    final = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert final.keys() == initial.keys()
    for key, value in initial.items():
        assert torch.equal(final[key], value), key
    assert metrics["step"] == 6
    assert [v for _, v in scalar(tmp_path / "run", "train/lr")] == [0.0] * 6


HISTORY_CASES = {
    # Same probe batch: the history goes on. val_size: the first sequences of the validation
    # set do not depend on its size; data.batch_size is the training batch.
    "val_size_and_batch_size": ("data.val_size=64 data.batch_size=4", True, None),
    # Another probe batch (or length): a fresh history, with the reason in the log.
    "seq_len": ("data.seq_len=20", False, "data.seq_len: 12 -> 20"),
    "val_seed": ("data.val_seed=99", False, "data.val_seed: 1234 -> 99"),
    "probe_size": ("grad_log.batch_size=4", False, "grad_log.batch_size: 8 -> 4"),
    "dtype": ("grad_log.dtype=float64", False, "grad_log.dtype: float32 -> float64"),
}


@pytest.mark.parametrize("case", list(HISTORY_CASES))
def test_gradient_history_after_a_resume_with_changed_settings(first, tmp_path, caplog, case):
    override, kept, change = HISTORY_CASES[case]
    caplog.set_level(logging.INFO, logger=LOOP_LOG)
    metrics = resume(first, tmp_path / "run", *override.split())

    assert metrics["step"] == 9
    _, first_norms, _ = load_gradients(first / "gradients.npz")
    steps, norms, _ = load_gradients(tmp_path / "run" / "gradients.npz")
    first_file = first / "gradients.npz"
    if kept:
        assert steps.tolist() == [0, 3, 6, 9]
        np.testing.assert_array_equal(norms["h_l0"][:2], first_norms["h_l0"][:2])
        assert f"2 profile(s) before step 6 taken over from {first_file}" in caplog.text
        assert "starts fresh" not in caplog.text
    else:
        assert steps.tolist() == [6, 9]  # measured by this run only
        T = 20 if case == "seq_len" else 12
        assert norms["h_l0"].shape == (2, T)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "\n" not in warnings[0]
        assert warnings[0].startswith(
            f"gradient history starts fresh at step 6: {str(first_file)!r} was measured "
        )
        assert f"(changed: {change})" in warnings[0]


def test_unreadable_gradient_history_is_one_warning(first, tmp_path, caplog):
    """The checkpoint is fine, its run's gradients.npz is not (cut short): the resume goes on
    with a fresh history and one line that names the file."""
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    npz = copy / "gradients.npz"
    npz.write_bytes(npz.read_bytes()[:200])
    caplog.set_level(logging.INFO, logger=LOOP_LOG)

    assert resume(copy, tmp_path / "run")["step"] == 9

    steps, _, _ = load_gradients(tmp_path / "run" / "gradients.npz")
    assert steps.tolist() == [6, 9]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(
        f"gradient history starts fresh at step 6: gradients file {str(npz)!r} is unreadable "
        "(BadZipFile: File is not a zip file); it is empty, truncated or not a seqnet "
        "gradients.npz; this run's gradients.npz holds only the profiles it measures"
    )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "EOFError: No data left in file"),
        (b"notes", "ValueError: This file contains pickled (object) data."),
        (None, "ValueError: its arrays are not one (steps, T) profile matrix per quantity"),
    ],
    ids=["empty", "text", "no_profiles"],
)
def test_unreadable_gradients_file_is_one_line(tmp_path, content, error):
    path = tmp_path / "gradients.npz"
    if content is None:  # a zip of arrays, but not of profiles
        np.savez(path, steps=np.arange(3), dtype="float32", loss="last")
    else:
        path.write_bytes(content)
    reason = GradientStore(tmp_path / "new.npz").extend_from(path, before_step=10)
    assert reason is not None and "\n" not in reason
    assert reason.startswith(f"gradients file {str(path)!r} is unreadable ({error}")
    with pytest.raises(GradientsFileError) as excinfo:
        load_gradients(path)
    assert str(excinfo.value) == reason


def test_checkpoint_of_another_task_shape_is_one_line(first):
    """Same model settings, another task shape (here 3 inputs instead of the adding problem's
    2): the encoder's weights do not fit, and the resume stops with one line, no traceback."""
    path = first / "checkpoints" / "last.pt"
    checkpoint = torch.load(path, weights_only=True)
    cfg = tiny(first, "model=gru")
    model = build_model(cfg.model, TaskSpec(input_size=3, output_size=1))
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(CheckpointError) as excinfo:
        resume = Resume(path, checkpoint, first)
        resume.restore(model, optimizer, MixedPrecision("32", torch.device("cpu")), None, None)
    assert str(excinfo.value) == (
        "the checkpoint's model does not fit this run's task (size mismatch for encoder.weight: "
        "copying a param with shape torch.Size([32, 2]) from checkpoint, the shape in current "
        "model is torch.Size([32, 3])); it was trained with data.name=adding: resume with that "
        "task"
    )


@pytest.mark.parametrize(
    ("overrides", "device", "warns"),
    [
        (["model.num_layers=2", "model.dropout=0.3"], "cuda", True),
        (["model.num_layers=2", "model.dropout=0.3", "model.backend=stepped"], "cuda", False),
        (["model.num_layers=2"], "cuda", False),
        (["model.num_layers=2", "model.dropout=0.3"], "cpu", False),
    ],
    ids=["cudnn_dropout", "engine_dropout", "no_dropout", "cpu"],
)
def test_resuming_with_cudnn_dropout_warns(caplog, overrides, device, warns):
    """Only dropout inside cuDNN (a fused core on the GPU, between layers) cannot resume bit for
    bit: tests/test_cuda.py showed the resumed weights differ there, and equal elsewhere. (The
    device is only named here: the warning depends on where the core runs, not on a GPU.)"""
    from seqnet.training.resume import warn_if_cudnn_dropout

    cfg = compose_config([*TINY, "model=lstm", *overrides])
    model = build_model(cfg.model, AddingProblem.spec)
    with caplog.at_level(logging.WARNING, logger="seqnet.training.resume"):
        warn_if_cudnn_dropout(model, torch.device(device))
    expected = [
        "model.dropout=0.3 between the layers of FusedLSTM runs inside cuDNN, whose dropout "
        "masks a checkpoint cannot restore: this resumed run draws other masks than an "
        "uninterrupted one would (from the same distribution). For a bit-exact resume on the "
        "GPU use model.backend=stepped (the engine, with its own dropout)"
    ]
    assert [r.getMessage() for r in caplog.records] == (expected if warns else [])
