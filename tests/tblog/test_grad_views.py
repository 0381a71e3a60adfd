"""The gradient views in TensorBoard: profile curves over the timestep, depth points and
summaries over training, heatmaps, the custom-scalars layout, all from the same numbers as
gradients.npz, and float64 profiles whose norms are below float32's range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorboard.plugins.custom_scalar import layout_pb2

from helpers.runs import accumulator as events
from seqnet.data.tasks.adding import AddingProblem
from seqnet.gradients import batch_fingerprint, load_gradients
from seqnet.training.loop import train


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
