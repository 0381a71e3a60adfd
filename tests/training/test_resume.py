"""Resume: a resumed run ends bit for bit where an uninterrupted one ends (weights, optimizer,
RNG, logged losses, gradient history), on another backend too; a finished run trains nothing;
changed settings take effect (the optimizer's) or are refused (the model's), and the gradient
history is carried over only when the profiles measure the same thing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, compose_config
from helpers.runs import assert_same_run, last_ckpt, scalars, tiny
from seqnet.data import TaskSpec
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import CheckpointError
from seqnet.gradients import load_gradients
from seqnet.models import build_model
from seqnet.training.loop import train
from seqnet.training.precision import MixedPrecision
from seqnet.training.resume import Resume

LOOP_LOG = "seqnet.training"


def tiny_at(run_dir: Path, *overrides: str):
    return compose_config([*TINY, *overrides, f"paths.run_dir={run_dir}"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        # Dropout between two layers draws from the global generator: the RNG state must resume.
        ["model=lstm", "model.num_layers=2", "model.dropout=0.3"],
        ["model=gru", "optim=sgd", "optim.momentum=0.9"],
        # Two directions per layer on the engine, dropout on their concatenation between layers.
        ["model=gru", "model.bidirectional=true", "model.num_layers=2", "model.dropout=0.3"],
    ],
    ids=["lstm_dropout_adam", "gru_sgd_momentum", "bidirectional_gru_dropout"],
)
def test_resume_equals_uninterrupted_run(tmp_path: Path, model: list[str]) -> None:
    full = train(tiny(tmp_path, "full", *model))
    half = train(tiny(tmp_path, "half", *model, "trainer.max_steps=3"))
    assert half["step"] == 3
    half_ckpt = tmp_path / "half" / "checkpoints" / "last.pt"
    half_bytes = half_ckpt.read_bytes()
    resumed = train(tiny(tmp_path, "resumed", *model, f"ckpt_path={half_ckpt}"))

    assert resumed == full
    # Weights, optimizer, RNG and the whole gradient history (the resumed run's file holds the
    # profiles from before the resume too), bit for bit.
    assert_same_run(tmp_path / "resumed", tmp_path / "full")
    assert load_gradients(tmp_path / "resumed" / "gradients.npz")[0].tolist() == [0, 3, 6]
    # The resumed run logs only its own steps, with the losses of the uninterrupted run.
    assert (
        scalars(tmp_path / "resumed")["train/loss"] == scalars(tmp_path / "full")["train/loss"][3:]
    )
    assert half_ckpt.read_bytes() == half_bytes  # resuming never writes into the old run


def test_a_checkpoint_resumes_on_another_backend(tmp_path: Path) -> None:
    """The fused and the step-by-step GRU share their parameter names: a checkpoint of one
    resumes on the other, and goes on as the uninterrupted run does (to float rounding: the
    two compute the same function in another order)."""
    full = train(tiny(tmp_path, "full", "model=gru", "model.backend=fused"))
    train(tiny(tmp_path, "fused", "model=gru", "model.backend=fused", "trainer.max_steps=3"))
    ckpt = tmp_path / "fused" / "checkpoints" / "last.pt"
    stepped = ["model=gru", "model.backend=stepped", f"ckpt_path={ckpt}"]
    resumed = train(tiny(tmp_path, "stepped", *stepped))
    assert resumed["step"] == 6
    assert resumed["val/loss"] == pytest.approx(full["val/loss"], rel=1e-5)
    a, b = last_ckpt(tmp_path / "stepped"), last_ckpt(tmp_path / "full")
    for name, value in b["model"].items():
        torch.testing.assert_close(a["model"][name], value, rtol=1e-5, atol=1e-6)
    losses = [v for _, v in scalars(tmp_path / "stepped")["train/loss"]]
    expected = [v for _, v in scalars(tmp_path / "full")["train/loss"][3:]]
    assert losses == pytest.approx(expected, rel=1e-5)


def test_resume_at_the_end_trains_nothing(runs, tmp_path: Path) -> None:
    _, metrics, first = runs["lstm"]
    again = train(tiny(tmp_path, "again", f"ckpt_path={first / 'checkpoints' / 'last.pt'}"))
    assert again == metrics
    assert "train/loss" not in scalars(tmp_path / "again")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.hidden_size=32",
            "holds a different model (hidden_size differ); resume with the checkpoint's "
            "settings: model.hidden_size=16",
        ),
        ("model=gru", "holds a different model"),
        (
            "optim=sgd",
            "was trained with torch.optim.Adam, this run asks for torch.optim.SGD",
        ),
    ],
)
def test_resume_with_another_model_fails_before_any_work(
    runs, tmp_path: Path, override: str, message: str
) -> None:
    ckpt = runs["lstm"][2] / "checkpoints" / "last.pt"
    before = ckpt.read_bytes()
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", override, f"ckpt_path={ckpt}"))
    assert message in str(excinfo.value)
    assert str(ckpt) in str(excinfo.value)
    assert not (tmp_path / "new").exists()  # no tb/, no checkpoints/, nothing
    assert ckpt.read_bytes() == before


# ---------------------------------------------------------------------------- changed settings


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRU run of 6 steps (T=12, val_size 32, profiles of the first 8 sequences at 0, 3, 6)."""
    run_dir = tmp_path_factory.mktemp("first") / "run"
    train(tiny_at(run_dir, "model=gru"))
    return run_dir


def resume(first: Path, run_dir: Path, *overrides: str) -> dict:
    ckpt = first / "checkpoints" / "last.pt"
    return train(
        tiny_at(run_dir, "model=gru", "trainer.max_steps=9", f"ckpt_path={ckpt}", *overrides)
    )


def test_new_optimizer_settings_apply_after_resume(first, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOOP_LOG)
    resume(first, tmp_path / "run", "optim.lr=5e-4", "optim.betas=[0.5,0.9]")

    assert scalars(first)["train/lr"][-1] == (6, pytest.approx(1e-3))
    assert [(s, pytest.approx(v)) for s, v in scalars(tmp_path / "run")["train/lr"]] == [
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


HISTORY_CASES = {
    # Same probe batch: the history goes on. val_size: the first sequences of the validation
    # set do not depend on its size; data.batch_size is the training batch.
    "val_size_and_batch_size": ("data.val_size=64 data.batch_size=4", True, None),
    # Another probe batch (or length): a fresh history, with the reason in the log.
    "seq_len": ("data.seq_len=20", False, "data.seq_len: 12 -> 20"),
    "val_seed": ("data.val_seed=99", False, "data.val_seed: 1234 -> 99"),
    "probe_size": ("grad_log.batch_size=4", False, "grad_log.batch_size: 8 -> 4"),
    "dtype": ("grad_log.dtype=float64", False, "grad_log.dtype: float32 -> float64"),
    # How often profiles are taken is no probe-batch setting: only seq_len is listed.
    "seq_len_and_every_n_steps": (
        "data.seq_len=20 grad_log.every_n_steps=6",
        False,
        "data.seq_len: 12 -> 20",
    ),
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
        T = 20 if case.startswith("seq_len") else 12
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


def test_checkpoint_of_another_task_shape_is_one_line(first):
    """Same model settings, another task shape (here 3 inputs instead of the adding problem's
    2): the encoder's weights do not fit, and the resume stops with one line, no traceback."""
    path = first / "checkpoints" / "last.pt"
    checkpoint = torch.load(path, weights_only=True)
    cfg = tiny_at(first, "model=gru")
    model = build_model(cfg.model, TaskSpec(input_size=3, output_size=1))
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(CheckpointError) as excinfo:
        resume = Resume(path, checkpoint, first)
        resume.restore(model, optimizer, MixedPrecision("32", torch.device("cpu")), None, None)
    assert str(excinfo.value) == (
        "the checkpoint's model does not fit this run's task (size mismatch for encoder.weight: "
        "copying a param with shape torch.Size([32, 2]) from checkpoint, the shape in current "
        "model is torch.Size([32, 3])); resume with the checkpoint's task: data=adding "
        "data.batch_size=8 data.val_size=32 data.seq_len=12"
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
    bit: tests/training/test_cuda.py showed the resumed weights differ there, and equal
    elsewhere. (The device is only named here: the warning depends on where the core runs, not
    on a GPU.)"""
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


def test_resuming_in_place_with_another_probe_keeps_the_earlier_history(tmp_path, caplog):
    """The folder's gradients.npz is never overwritten by a history that starts fresh: the
    earlier profiles move aside, under a name that says up to which step they go."""
    run_dir = tmp_path / "run"
    train(tiny_at(run_dir, "ckpt_path=auto"))  # profiles at steps 0, 3 and 6
    before = (run_dir / "gradients.npz").read_bytes()
    caplog.set_level(logging.INFO, logger=LOOP_LOG)

    more = ["ckpt_path=auto", "trainer.max_steps=9", "grad_log.batch_size=4"]
    assert train(tiny_at(run_dir, *more))["step"] == 9

    aside = run_dir / "gradients.before_step_6.npz"
    assert aside.read_bytes() == before
    assert load_gradients(run_dir / "gradients.npz")[0].tolist() == [6, 9]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.endswith(
        "(changed: grad_log.batch_size: 8 -> 4); the earlier profiles are kept in "
        f"{aside}, and this run's gradients.npz holds only the profiles it measures"
    )
