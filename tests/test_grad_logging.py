"""Gradient logging during training: TensorBoard tags, gradients.npz, no effect on training,
and the seqnet-grads command."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2

from conftest import TINY, compose_config
from seqnet.cli import grads as grads_cli
from seqnet.data.task import Batch
from seqnet.data.tasks.adding import AddingProblem
from seqnet.gradients import batch_fingerprint, load_gradients, measure_profile
from seqnet.models import build_model
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train


def events(run_dir):
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_tags_and_file_for_an_lstm(make_cfg, tmp_path):
    cfg = make_cfg("model=lstm", "model.num_layers=2", "grad_log.depth_points=3")
    train(cfg)
    run = tmp_path / "run"
    acc = events(run)
    tags = set(acc.Tags()["scalars"])
    T = 12
    logged = [0, 3, 6]  # step 0, every 3 steps, and the last step (6)
    for q in ["x", "h_l0", "c_l0", "h_l1", "c_l1"]:
        for s in logged:
            assert f"grad_profile/{q}/step_{s:07d}" in tags
        for t in (0, 6, 11):  # 3 depth points spread from first to last timestep
            assert f"grad_depth/{q}/t_{t:04d}" in tags
        for name in ("log10_ratio", "horizon", "zero_steps"):
            assert [e.step for e in acc.Scalars(f"grad_summary/{q}/{name}")] == logged
    assert {f"grad_heatmap/{q}" for q in ["x", "h_l0", "c_l0", "h_l1", "c_l1"]} <= set(
        acc.Tags()["images"]
    )

    steps, norms, meta = load_gradients(run / "gradients.npz")
    assert steps.tolist() == logged
    x, y = AddingProblem(seq_len=T, val_size=32).val_set()  # the probe batch: its first 8
    assert meta == {"dtype": "float32", "loss": "last", "probe": batch_fingerprint((x[:8], y[:8]))}
    assert set(norms) == {"x", "h_l0", "c_l0", "h_l1", "c_l1"}
    assert norms["h_l1"].shape == (3, T) and norms["h_l1"].dtype == np.float64
    # The profile chart's x-axis is the timestep, and its values are log10 of the file's norms.
    profile = acc.Scalars("grad_profile/h_l1/step_0000003")
    assert [e.step for e in profile] == list(range(T))
    np.testing.assert_allclose([e.value for e in profile], np.log10(norms["h_l1"][1]), rtol=1e-6)
    depth = acc.Scalars("grad_depth/c_l0/t_0006")
    np.testing.assert_allclose([e.value for e in depth], np.log10(norms["c_l0"][:, 6]), rtol=1e-6)
    ratio = [e.value for e in acc.Scalars("grad_summary/h_l0/log10_ratio")]
    expected = np.log10(norms["h_l0"][:, 0]) - np.log10(norms["h_l0"][:, -1])
    np.testing.assert_allclose(ratio, expected, rtol=1e-5)
    # The custom-scalars layout groups the charts.
    raw = acc.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0]
    layout = layout_pb2.Layout.FromString(raw)
    charts = {
        category.title: {chart.title: list(chart.multiline.tag) for chart in category.chart}
        for category in layout.category
    }
    assert charts["gradient profiles (x: timestep)"]["c_l1"] == ["grad_profile/c_l1/step_"]
    assert charts["gradient depth (x: training step)"]["x"] == ["grad_depth/x/t_"]
    assert charts["gradient summary (x: training step)"]["horizon"] == ["grad_summary/.*/horizon$"]


def test_logging_does_not_change_training(make_cfg, tmp_path):
    with_log = make_cfg("model=gru", "model.num_layers=2", "model.dropout=0.3", run="on")
    without = make_cfg(
        "model=gru",
        "model.num_layers=2",
        "model.dropout=0.3",
        "grad_log.every_n_steps=0",
        run="off",
    )
    with_float64 = make_cfg(
        "model=gru",
        "model.num_layers=2",
        "model.dropout=0.3",
        "grad_log.dtype=float64",
        "grad_log.every_n_steps=1",
        run="f64",
    )
    m_on, m_off, m_64 = train(with_log), train(without), train(with_float64)
    assert m_on["val/loss"] == m_off["val/loss"] == m_64["val/loss"]
    ckpts = [
        load_checkpoint(tmp_path / r / "checkpoints" / "last.pt") for r in ("on", "off", "f64")
    ]
    for name, tensor in ckpts[1]["model"].items():
        assert torch.equal(ckpts[0]["model"][name], tensor), name
        assert torch.equal(ckpts[2]["model"][name], tensor), name
    assert not (tmp_path / "off" / "gradients.npz").exists()
    acc = events(tmp_path / "off")
    assert not [t for t in acc.Tags()["scalars"] if t.startswith("grad_")]


def test_float64_probe_file_keeps_tiny_norms(make_cfg, tmp_path):
    cfg = make_cfg(
        "model=rnn",
        "data.seq_len=250",
        "model.hidden_size=64",
        "trainer.max_steps=1",
        "grad_log.dtype=float64",
        "grad_log.every_n_steps=1",
    )
    train(cfg)
    steps, norms, meta = load_gradients(tmp_path / "run" / "gradients.npz")
    assert meta["dtype"] == "float64" and steps.tolist() == [0, 1]
    assert np.all(norms["h_l0"] > 0)
    assert norms["h_l0"][0, 0] < 1e-38  # below what float32 (and TensorBoard) can hold
    acc = events(tmp_path / "run")
    first = acc.Scalars("grad_profile/h_l0/step_0000000")[0].value
    assert math.isfinite(first) and first == pytest.approx(np.log10(norms["h_l0"][0, 0]), rel=1e-6)


def test_grads_cli_on_a_checkpoint(make_cfg, tmp_path, capsys):
    train(make_cfg("model=lstm"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    out = tmp_path / "profile.json"
    assert grads_cli.main([f"ckpt={ckpt}", "dtype=float64", f"out={out}", "batch_size=8"]) == 0
    result = json.loads(out.read_text())
    assert result["step"] == 6 and result["model"] == "lstm" and result["seq_len"] == 12
    assert set(result["norms"]) == {"x", "h_l0", "c_l0"}
    # The same numbers as the training run's own last profile (float32 there, float64 here).
    _, norms, _ = load_gradients(tmp_path / "run" / "gradients.npz")
    np.testing.assert_allclose(result["norms"]["h_l0"], norms["h_l0"][-1], rtol=1e-5)
    h = np.asarray(result["norms"]["h_l0"])
    assert result["summary"]["h_l0"]["log10_ratio"] == pytest.approx(np.log10(h[0] / h[-1]))
    printed = capsys.readouterr().out
    assert "lstm on adding (T=12), step 6" in printed and f"written: {out}" in printed
    # Another length: the task is rebuilt from the checkpoint's config with seq_len=20.
    assert grads_cli.main([f"ckpt={ckpt}", "seq_len=20", f"out={out}", "batch_size=8"]) == 0
    assert len(json.loads(out.read_text())["norms"]["x"]) == 20


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TINY tanh RNN run with float64 probes and a horizon threshold of 0.25."""
    run_dir = tmp_path_factory.mktemp("grads") / "rnn"
    overrides = ["model=rnn", "grad_log.dtype=float64", "grad_log.horizon_threshold=0.25"]
    train(compose_config([*TINY, *overrides, f"paths.run_dir={run_dir}"]))
    return run_dir


def test_grads_cli_uses_the_checkpoints_own_grad_log_settings(rnn_run, tmp_path, capsys):
    """No dtype, loss or batch_size given: those the run was trained with; the horizon uses the
    run's grad_log.horizon_threshold, so it equals the one training logged."""
    ckpt = rnn_run / "checkpoints" / "last.pt"
    out = tmp_path / "profile.json"
    assert grads_cli.main([f"ckpt={ckpt}", f"out={out}"]) == 0
    result = json.loads(out.read_text())
    assert (result["dtype"], result["loss"], result["batch_size"]) == ("float64", "last", 8)
    assert result["horizon_threshold"] == 0.25
    _, norms, _ = load_gradients(rnn_run / "gradients.npz")
    np.testing.assert_allclose(result["norms"]["h_l0"], norms["h_l0"][-1], rtol=1e-12)
    logged = events(rnn_run).Scalars("grad_summary/h_l0/horizon")
    assert (logged[-1].step, logged[-1].value) == (6, 3.0)  # 3 steps stay >= 0.25 x the end
    assert result["summary"]["h_l0"]["horizon"] == 3
    assert "horizon threshold 0.25" in capsys.readouterr().out


def test_grads_cli_probe_batch_beyond_val_size_starts_with_the_training_probe_batch(
    rnn_run, tmp_path
):
    """batch_size=40 with val_size=32: the validation set is regenerated larger, and its first
    32 sequences are the ones training validated and probed on."""
    ckpt = rnn_run / "checkpoints" / "last.pt"  # val_size=32, probe batch = its first 8
    out = tmp_path / "profile.json"
    args = [f"ckpt={ckpt}", f"out={out}", "dtype=float64", "batch_size=40"]
    assert grads_cli.main(args) == 0
    result = json.loads(out.read_text())
    assert result["batch_size"] == 40

    trained_on = AddingProblem(seq_len=12, val_size=32).val_set()
    larger = AddingProblem(seq_len=12, val_size=1000).val_set()
    assert torch.equal(larger.x[:32], trained_on.x) and torch.equal(larger.y[:32], trained_on.y)
    task = AddingProblem(seq_len=12)
    model = build_model(load_checkpoint(ckpt)["config"]["model"], task.spec)
    model.load_state_dict(load_checkpoint(ckpt)["model"])
    batch = Batch(larger.x[:40], larger.y[:40])
    expected = measure_profile(model, task, batch, 6, dtype="float64")
    for q, norm in expected.norms.items():
        np.testing.assert_allclose(result["norms"][q], norm, rtol=1e-12, err_msg=q)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "ckpt=PATH is required"),
        (["ckpt=x.pt", "colour=red"], "unknown argument 'colour=red'"),
        (["ckpt=x.pt", "batch_size=0"], "batch_size=0 must be a positive integer"),
        (["ckpt=x.pt", "dtype=float16"], "dtype=float16 must be one of float32, float64"),
        (["ckpt=x.pt", "loss=mean"], "loss=mean must be one of last, total"),
        (
            ["ckpt=x.pt", "device=tpu"],
            "device='tpu' is not a device; use one of auto, cpu, cuda, cuda:N",
        ),
        (
            ["ckpt=x.pt", "device=cuda"],
            "device=cuda but CUDA is not available on this machine; use device=cpu or device=auto",
        ),
    ],
)
def test_grads_cli_argument_errors_name_its_own_arguments(
    args, message, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a GPU machine
    assert grads_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"seqnet-grads: error: {message}"
    assert "trainer." not in err and "grad_log." not in err


def test_grads_cli_checkpoint_errors(rnn_run, tmp_path, capsys):
    assert grads_cli.main([f"ckpt={tmp_path / 'none.pt'}"]) == 2
    assert capsys.readouterr().err == (
        f"seqnet-grads: error: checkpoint '{tmp_path / 'none.pt'}' does not exist\n"
    )
    ckpt = rnn_run / "checkpoints" / "last.pt"
    assert grads_cli.main([f"ckpt={ckpt}", "seq_len=1"]) == 2
    assert capsys.readouterr().err == (
        "seqnet-grads: error: seq_len=1: the adding problem needs data.seq_len >= 2 "
        "(one marker per half), got 1\n"
    )
    for damage in (b"", ckpt.read_bytes()[:1000]):  # empty, truncated
        broken = tmp_path / "broken.pt"
        broken.write_bytes(damage)
        assert grads_cli.main([f"ckpt={broken}"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"seqnet-grads: error: checkpoint '{broken}' is corrupt or not a seqnet checkpoint"
        )
        assert err.count("\n") == 1


def test_resumed_run_keeps_the_gradient_history(make_cfg, tmp_path):
    train(make_cfg("model=gru", run="first"))
    ckpt = tmp_path / "first" / "checkpoints" / "last.pt"
    train(make_cfg("model=gru", "trainer.max_steps=12", f"ckpt_path={ckpt}", run="resumed"))
    steps0, norms0, _ = load_gradients(tmp_path / "first" / "gradients.npz")
    steps, norms, _ = load_gradients(tmp_path / "resumed" / "gradients.npz")
    assert steps0.tolist() == [0, 3, 6]
    assert steps.tolist() == [0, 3, 6, 9, 12]
    np.testing.assert_array_equal(norms["h_l0"][:2], norms0["h_l0"][:2])
    # Step 6 is measured again by the resumed run, on the same weights: the same profile.
    np.testing.assert_allclose(norms["h_l0"][2], norms0["h_l0"][2], rtol=1e-6)
    umask = os.umask(0)
    os.umask(umask)
    for written in (
        tmp_path / "resumed" / "gradients.npz",
        tmp_path / "resumed" / "checkpoints" / "last.pt",
    ):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
