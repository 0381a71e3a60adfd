"""End-to-end training through ``seqnet.training.loop.train``: files, TensorBoard contents,
determinism, resume, non-finite steps, clipping and configuration errors."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import DictConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import TINY, compose_config
from seqnet.data.adding import AddingProblem
from seqnet.errors import CheckpointError, ConfigError, TrainingDiverged
from seqnet.gradients import batch_fingerprint, load_gradients
from seqnet.logging.hparams import all_hparam_keys, flat_hparams
from seqnet.models import build_model
from seqnet.training import checkpoint as checkpoint_module
from seqnet.training.checkpoint import REQUIRED_KEYS, load_checkpoint, save_checkpoint
from seqnet.training.loop import train

MODELS = ("rnn", "lstm", "gru")
# TINY: 6 steps, log every step, validate and checkpoint every 3, gradient profiles every 3.
TRAIN_STEPS = [1, 2, 3, 4, 5, 6]
VAL_STEPS = [3, 6]

# ---------------------------------------------------------------------------- helpers


def accumulator(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a run: [(step, value), ...] in the order written."""
    acc = accumulator(run_dir)
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def hparams(run_dir: Path) -> dict[str, Any]:
    """The HPARAMS plugin's session-start hyperparameters written into ``tb/``."""
    content = accumulator(run_dir).PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = {}
    for key, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        values[key] = getattr(value, kind)
    return values


def assert_state_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Nested state dicts equal, tensors bit for bit."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_state_equal(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_state_equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def last_ckpt(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)


def tiny(tmp: Path, run: str, *overrides: str) -> DictConfig:
    return compose_config([*TINY, *overrides, f"paths.run_dir={tmp / run}"])


def nan_loss_on(steps: Iterable[int]) -> Callable:
    """AddingProblem.loss returning NaN on the given (0-based) training steps.

    ``loss`` is called once per training step (validation and gradient probes use other
    methods), so the call count is the step index.
    """
    original = AddingProblem.loss
    calls = itertools.count()
    bad = set(steps)

    def loss(self, pred, y):
        value = original(self, pred, y)
        return value * float("nan") if next(calls) in bad else value

    return loss


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name -> bytes)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[DictConfig, dict, Path]]:
    """One TINY run per model: (cfg, returned metrics, run dir)."""
    tmp = tmp_path_factory.mktemp("runs")
    out = {}
    for name in MODELS:
        cfg = tiny(tmp, name, f"model={name}")
        out[name] = (cfg, train(cfg), tmp / name)
    return out


@pytest.mark.parametrize("name", MODELS)
def test_run_writes_metrics_checkpoint_and_gradients(runs, name: str) -> None:
    cfg, metrics, run_dir = runs[name]
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == metrics
    assert set(saved) == {
        "val/loss",
        "val/mse",
        "val/baseline_ratio",
        "step",
        "nonfinite_steps",
        "clipped_steps",
    }
    assert (saved["step"], saved["nonfinite_steps"], saved["clipped_steps"]) == (6, 0, 0)
    assert saved["val/mse"] == saved["val/loss"]
    assert saved["val/baseline_ratio"] == saved["val/mse"] / (1 / 6)

    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.pt"]
    ckpt = last_ckpt(run_dir)
    assert set(REQUIRED_KEYS) <= set(ckpt)
    assert ckpt["step"] == 6
    assert ckpt["config"]["model"]["name"] == name
    assert ckpt["config"]["model"]["hidden_size"] == 16

    # The reported val/loss is the MSE of the saved model on the validation set, recomputed here.
    task = AddingProblem(seq_len=12, batch_size=8, val_size=32, val_seed=1234)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(ckpt["model"])
    model.eval()
    x, y = task.val_set()
    with torch.no_grad():
        pred = model(x)[0].squeeze(-1)
    assert metrics["val/loss"] == pytest.approx(float(((pred.double() - y) ** 2).mean()), rel=1e-6)

    steps, norms, meta = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    states = ["h_l0", "c_l0"] if name == "lstm" else ["h_l0"]
    assert sorted(norms) == sorted(["x", *states])
    for q in norms:
        assert norms[q].shape == (3, 12)
        assert bool(np.isfinite(norms[q]).all())
        assert bool((norms[q] > 0).all())
    probe = batch_fingerprint(tuple(t[:8] for t in task.val_set()))  # grad_log.batch_size=8
    assert meta == {"dtype": "float32", "loss": "last", "probe": probe}


@pytest.mark.parametrize("name", MODELS)
def test_tensorboard_scalars(runs, name: str) -> None:
    _, metrics, run_dir = runs[name]
    events = list((run_dir / "tb").glob("events.out.tfevents.*"))
    assert len(events) == 1
    tags = scalars(run_dir)
    for tag in ("train/loss", "train/grad_norm", "train/grad_norm_clipped", "train/lr"):
        assert [s for s, _ in tags[tag]] == TRAIN_STEPS, tag
    for tag in ("val/loss", "val/mse", "val/baseline_ratio"):
        assert [s for s, _ in tags[tag]] == VAL_STEPS, tag
    for tag in ("final/val_loss", "final/val_mse", "final/val_baseline_ratio"):
        assert [s for s, _ in tags[tag]] == [6], tag
    assert [v for _, v in tags["train/lr"]] == pytest.approx([1e-3] * 6, rel=1e-6)
    # Without clipping the "clipped" norm is the norm itself.
    assert tags["train/grad_norm_clipped"] == tags["train/grad_norm"]
    assert all(v > 0 for _, v in tags["train/grad_norm"])
    # TensorBoard stores float32: the last val/loss is the returned metric to that precision.
    assert tags["val/loss"][-1][1] == pytest.approx(metrics["val/loss"], rel=1e-6)
    assert tags["final/val_loss"][0][1] == pytest.approx(metrics["val/loss"], rel=1e-6)
    assert tags["val/baseline_ratio"][-1][1] == pytest.approx(
        metrics["val/baseline_ratio"], rel=1e-6
    )
    # Gradient profiles: one curve per measured step, TensorBoard step = timestep.
    profile = tags["grad_profile/h_l0/step_0000003"]
    assert [s for s, _ in profile] == list(range(12))
    assert [s for s, _ in tags["grad_summary/h_l0/log10_ratio"]] == [0, 3, 6]


@pytest.mark.parametrize("name", MODELS)
def test_hparams_in_the_run_folder(runs, name: str) -> None:
    cfg, _, run_dir = runs[name]
    tb = run_dir / "tb"
    # add_hparams would have made a sub-folder (a second run in TensorBoard); there is none.
    assert [p.name for p in tb.iterdir() if p.is_dir()] == []
    values = hparams(run_dir)
    assert values["model/hidden_size"] == 16
    assert values["model/name"] == name
    assert values["data/seq_len"] == 12
    assert values["optim/lr"] == pytest.approx(1e-3)
    assert values["optim/_target_"] == "torch.optim.Adam"
    assert values["seed"] == 42
    assert values["model/nonlinearity"] == ("tanh" if name == "rnn" else "n/a")
    assert values["model/forget_bias"] == (1.0 if name == "lstm" else "n/a")
    assert values["grad_log/dtype"] == "float32"
    assert values["trainer/clip_grad_norm"] == "None"
    assert set(values) == set(flat_hparams(cfg))
    content = accumulator(run_dir).PluginTagToContent("hparams")
    assert set(content) == {
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
    }


def test_hparam_keys_are_the_same_for_every_model(runs) -> None:
    key_sets = {name: set(hparams(run_dir)) for name, (_, _, run_dir) in runs.items()}
    assert key_sets["rnn"] == key_sets["lstm"] == key_sets["gru"]
    assert key_sets["rnn"] == set(all_hparam_keys())
    assert {"model/hidden_size", "model/nonlinearity", "model/forget_bias"} <= key_sets["rnn"]
    assert not any(k.endswith("_partial_") for k in key_sets["rnn"])
    # The same key set also for another optimizer.
    assert set(flat_hparams(compose_config(["optim=sgd"]))) == key_sets["rnn"]


# ---------------------------------------------------------------------------- determinism


@pytest.mark.slow
def test_same_seed_same_run_different_seed_different_run(runs, tmp_path: Path) -> None:
    _, metrics, first = runs["lstm"]
    second_metrics = train(tiny(tmp_path, "again", "model=lstm"))
    other_metrics = train(tiny(tmp_path, "other", "model=lstm", "seed=43"))
    second, other = tmp_path / "again", tmp_path / "other"

    assert scalars(first)["train/loss"] == scalars(second)["train/loss"]
    assert scalars(first)["val/loss"] == scalars(second)["val/loss"]
    assert second_metrics == metrics
    assert_state_equal(last_ckpt(first)["model"], last_ckpt(second)["model"])
    assert_state_equal(last_ckpt(first)["optimizer"], last_ckpt(second)["optimizer"])

    losses = [v for _, v in scalars(first)["train/loss"]]
    other_losses = [v for _, v in scalars(other)["train/loss"]]
    assert all(a != b for a, b in zip(losses, other_losses, strict=True))
    assert other_metrics["val/loss"] != metrics["val/loss"]


# ---------------------------------------------------------------------------- resume


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        # Dropout between two layers draws from the global generator: the RNG state must resume.
        ["model=lstm", "model.num_layers=2", "model.dropout=0.3"],
        ["model=gru", "optim=sgd", "optim.momentum=0.9"],
    ],
    ids=["lstm_dropout_adam", "gru_sgd_momentum"],
)
def test_resume_equals_uninterrupted_run(tmp_path: Path, model: list[str]) -> None:
    full = train(tiny(tmp_path, "full", *model))
    half = train(tiny(tmp_path, "half", *model, "trainer.max_steps=3"))
    assert half["step"] == 3
    half_ckpt = tmp_path / "half" / "checkpoints" / "last.pt"
    half_bytes = half_ckpt.read_bytes()
    resumed = train(tiny(tmp_path, "resumed", *model, f"ckpt_path={half_ckpt}"))

    a, b = last_ckpt(tmp_path / "full"), last_ckpt(tmp_path / "resumed")
    assert a["step"] == b["step"] == 6
    assert_state_equal(a["model"], b["model"])
    assert_state_equal(a["optimizer"], b["optimizer"])
    assert_state_equal(a["rng"], b["rng"])
    assert resumed == full
    # The resumed run logs only its own steps, with the losses of the uninterrupted run.
    assert (
        scalars(tmp_path / "resumed")["train/loss"] == scalars(tmp_path / "full")["train/loss"][3:]
    )
    assert half_ckpt.read_bytes() == half_bytes  # resuming never writes into the old run
    # The resumed run's gradient file holds the whole history, as the uninterrupted one does.
    full_steps, full_norms, _ = load_gradients(tmp_path / "full" / "gradients.npz")
    steps, norms, _ = load_gradients(tmp_path / "resumed" / "gradients.npz")
    assert steps.tolist() == full_steps.tolist() == [0, 3, 6]
    assert norms.keys() == full_norms.keys()
    for q in norms:
        np.testing.assert_array_equal(norms[q], full_norms[q])


def test_checkpoint_contents(tmp_path: Path) -> None:
    train(tiny(tmp_path, "run", "trainer.max_steps=3"))
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert set(ckpt) >= {"model", "optimizer", "step", "rng", "config"}
    assert ckpt["step"] == 3
    assert ckpt["config"]["trainer"]["max_steps"] == 3
    assert ckpt["config"]["model"] == {
        "name": "lstm",
        "hidden_size": 16,
        "num_layers": 1,
        "dropout": 0.0,
        "encoder_size": 32,
        "forget_bias": 1.0,
        "chrono_tmax": None,
        "zoneout": 0.0,
        "recurrent_init": "default",
        "backend": "auto",
    }
    assert ckpt["config"]["paths"]["run_dir"] == str(tmp_path / "run")
    assert isinstance(ckpt["rng"]["torch"], torch.Tensor)
    assert ckpt["model"].keys() == {
        "encoder.weight",
        "encoder.bias",
        "core.weight_ih_l0",
        "core.weight_hh_l0",
        "core.bias_ih_l0",
        "core.bias_hh_l0",
        "head.linear.weight",
        "head.linear.bias",
    }
    assert len(ckpt["optimizer"]["state"]) == 8
    assert int(ckpt["optimizer"]["state"][0]["step"]) == 3
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["last.pt"]
    # Written through a temporary file, yet with the usual permissions (not mkstemp's 0600).
    umask = os.umask(0)
    os.umask(umask)
    mode = (tmp_path / "run" / "checkpoints" / "last.pt").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask


def test_resume_at_the_end_trains_nothing(runs, tmp_path: Path) -> None:
    _, metrics, first = runs["lstm"]
    again = train(tiny(tmp_path, "again", f"ckpt_path={first / 'checkpoints' / 'last.pt'}"))
    assert again == metrics
    assert "train/loss" not in scalars(tmp_path / "again")


def test_save_checkpoint_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}, "step": 1})
    original = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "step": 2})
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left


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


def test_resume_from_missing_checkpoint(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "last.pt"
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={missing}"))
    assert str(excinfo.value) == f"checkpoint {str(missing)!r} does not exist"
    assert not (tmp_path / "new").exists()


def test_resume_from_a_run_folder_suggests_its_checkpoint(runs, tmp_path: Path) -> None:
    folder = runs["lstm"][2]
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={folder}"))
    assert f"did you mean ckpt_path={folder / 'checkpoints' / 'last.pt'}?" in str(excinfo.value)
    assert not (tmp_path / "new").exists()


CORRUPT = {
    "binary_garbage": bytes(range(256)) * 4,
    "empty": b"",
    # Short text files, e.g. a log or notes saved as .pt: the unpickler reads them as opcodes.
    "text_hello": b"hello",
    "text_line": b"abc\n",
    "zip_header_only": b"PK\x03\x04" + bytes(100),
}


@pytest.mark.parametrize("payload", [*CORRUPT, "truncated_checkpoint"])
def test_resume_from_corrupt_checkpoint(runs, tmp_path: Path, payload: str) -> None:
    corrupt = tmp_path / "corrupt.pt"
    if payload == "truncated_checkpoint":  # a copy cut short
        whole = (runs["lstm"][2] / "checkpoints" / "last.pt").read_bytes()
        data = whole[: len(whole) // 2]
    else:
        data = CORRUPT[payload]
    corrupt.write_bytes(data)
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={corrupt}"))
    assert str(excinfo.value).startswith(
        f"checkpoint {str(corrupt)!r} is corrupt or not a seqnet checkpoint"
    )
    assert not (tmp_path / "new").exists()
    assert corrupt.read_bytes() == data


def test_resume_from_a_foreign_torch_file(tmp_path: Path) -> None:
    foreign = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, foreign)
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={foreign}"))
    assert "is not a seqnet checkpoint: expected keys" in str(excinfo.value)
    assert "found ['state_dict']" in str(excinfo.value)
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------------------- non-finite


@pytest.mark.slow
def test_nonfinite_steps_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NaN on the last three of six steps: the weights stay those after step 3."""
    clean = train(tiny(tmp_path, "clean", "trainer.max_steps=3"))
    monkeypatch.setattr(AddingProblem, "loss", nan_loss_on({3, 4, 5}))
    metrics = train(tiny(tmp_path, "nan"))

    assert metrics["nonfinite_steps"] == 3
    assert metrics["step"] == 6
    assert metrics["val/loss"] == clean["val/loss"]
    a, b = last_ckpt(tmp_path / "clean"), last_ckpt(tmp_path / "nan")
    assert_state_equal(a["model"], b["model"])
    assert_state_equal(a["optimizer"], b["optimizer"])
    assert b["nonfinite_steps"] == 3

    tags = scalars(tmp_path / "nan")
    counts = dict(tags["train/nonfinite_steps"])  # the last value logged at each step
    assert counts == {1: 0.0, 2: 0.0, 3: 0.0, 4: 1.0, 5: 2.0, 6: 3.0}
    assert all(np.isnan(v) for s, v in tags["train/loss"] if s > 3)


def test_nonfinite_limit_counts_steps_in_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AddingProblem, "loss", nan_loss_on({1, 3, 5}))
    metrics = train(tiny(tmp_path, "run", "trainer.max_nonfinite_steps=2"))
    assert metrics["nonfinite_steps"] == 3
    assert metrics["step"] == 6


@pytest.mark.slow
def test_too_many_nonfinite_steps_stop_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(tiny(tmp_path, "clean", "trainer.max_steps=3"))
    monkeypatch.setattr(AddingProblem, "loss", nan_loss_on(range(3, 100)))
    run_dir = tmp_path / "nan"
    ckpt_file = run_dir / "checkpoints" / "last.pt"
    with pytest.raises(TrainingDiverged) as excinfo:
        train(tiny(tmp_path, "nan", "trainer.max_steps=20", "trainer.max_nonfinite_steps=3"))
    message = str(excinfo.value)
    assert "NaN/inf for 3 steps in a row (up to step 6)" in message
    assert f"The last good checkpoint is kept at {ckpt_file}." in message

    kept = load_checkpoint(ckpt_file)
    assert kept["step"] == 3
    assert_state_equal(kept["model"], last_ckpt(tmp_path / "clean")["model"])
    tags = scalars(run_dir)
    assert dict(tags["train/nonfinite_steps"])[6] == 3.0
    assert not (run_dir / "metrics.json").exists()


def test_huge_learning_rate_diverges(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged) as excinfo:
        train(tiny(tmp_path, "run", "optim=sgd", "optim.lr=1e30", "trainer.max_nonfinite_steps=2"))
    message = str(excinfo.value)
    assert "NaN/inf for 2 steps in a row (up to step 3)" in message
    assert "(none written yet)" in message
    assert "optim.lr" in message


# ---------------------------------------------------------------------------- clipping


def test_gradient_clipping(tmp_path: Path) -> None:
    metrics = train(tiny(tmp_path, "run", "trainer.clip_grad_norm=1e-6"))
    assert metrics["clipped_steps"] == 6
    tags = scalars(tmp_path / "run")
    assert [s for s, _ in tags["train/grad_norm_clipped"]] == TRAIN_STEPS
    assert [v for _, v in tags["train/grad_norm_clipped"]] == pytest.approx([1e-6] * 6, rel=1e-6)
    assert all(v > 1e-3 for _, v in tags["train/grad_norm"])
    assert [v for _, v in tags["train/clipped_fraction"]] == [1.0] * 6
    assert last_ckpt(tmp_path / "run")["clipped_steps"] == 6


def test_clipping_bounds_the_update(tmp_path: Path) -> None:
    """With SGD (no momentum) one clipped step moves the weights by exactly lr * clip."""
    lr, clip = 1e4, 1e-6
    cfg = tiny(
        tmp_path,
        "run",
        "optim=sgd",
        f"optim.lr={lr}",
        f"trainer.clip_grad_norm={clip}",
        "trainer.max_steps=1",
    )
    train(cfg)
    torch.manual_seed(cfg.seed)  # the loop seeds, then builds the model: the same initial weights
    initial = build_model(cfg.model, AddingProblem.spec).state_dict()
    final = last_ckpt(tmp_path / "run")["model"]
    delta = torch.cat([(final[k].double() - initial[k].double()).flatten() for k in initial])
    grad_norm = scalars(tmp_path / "run")["train/grad_norm"][0][1]
    # clip_grads_with_norm_ scales by clip / (norm + 1e-6).
    expected = lr * clip * grad_norm / (grad_norm + 1e-6)
    assert float(delta.norm()) == pytest.approx(expected, rel=1e-3)


# ---------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.device=tpu",
            "trainer.device='tpu' is not a device; use one of auto, cpu, cuda, cuda:N",
        ),
        (
            "trainer.clip_grad_norm=-1",
            "trainer.clip_grad_norm=-1.0 must be > 0, or null to turn clipping off",
        ),
        ("trainer.clip_grad_norm=0", "trainer.clip_grad_norm=0.0 must be > 0"),
        (
            "grad_log.batch_size=64",
            "grad_log.batch_size=64 is larger than the validation set (data.val_size=32) it is "
            "drawn from; lower it or raise val_size",
        ),
        ("trainer.max_steps=0", "trainer.max_steps=0 must be a positive integer"),
        ("optim.lr=-0.001", "optim.lr=-0.001 must be >= 0"),
        ("grad_log.every_n_steps=-1", "grad_log.every_n_steps=-1 must be >= 0 (0 = off)"),
        (
            "data.seq_len=1",
            "the adding problem needs data.seq_len >= 2 (one marker per half), got 1",
        ),
        (
            "model.dropout=0.2",
            "model.dropout=0.2 acts only between recurrent layers, and model.num_layers=1 has "
            "none: set model.num_layers >= 2 or model.dropout=0",
        ),
    ],
)
def test_config_errors_before_any_work(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        train(tiny(tmp_path, "run", override))
    assert message in str(excinfo.value)
    run_dir = tmp_path / "run"
    assert not (run_dir / "tb").exists()
    assert not run_dir.exists()


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_on_a_machine_without_cuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    # Patched so that the test means the same on a GPU machine as on this CPU one.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as excinfo:
        train(tiny(tmp_path, "run", f"trainer.device={device}"))
    assert str(excinfo.value) == (
        f"trainer.device={device} but CUDA is not available on this machine; "
        "use trainer.device=cpu or trainer.device=auto"
    )
    assert not (tmp_path / "run" / "tb").exists()
    assert not (tmp_path / "run").exists()
