"""A bidirectional run's per-direction profiles (``h_l0_fwd``, ``h_l0_bwd``, ...) in every
view: gradients.npz, TensorBoard's tags, ``seqnet-grads`` and ``seqnet-compare``, all the same
numbers."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from helpers.runs import accumulator as events
from seqnet.cli import grads as grads_cli
from seqnet.cli.compare import main as compare
from seqnet.gradients import load_gradients
from seqnet.gradients.summaries import Measure, summarize
from seqnet.training.loop import train

QUANTITIES = ["x", "h_l0_fwd", "h_l0_bwd", "h_l1_fwd", "h_l1_bwd"]


def test_per_direction_profiles_in_every_view(make_cfg, tmp_path, capsys):
    train(make_cfg("model=gru", "model.bidirectional=true", "model.num_layers=2"))
    run = tmp_path / "run"
    steps, norms, _ = load_gradients(run / "gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    assert list(norms) == QUANTITIES
    assert all(norms[q].shape == (3, 12) and (norms[q] > 0).all() for q in QUANTITIES)

    acc = events(run)
    profile = acc.Scalars("grad_profile/h_l0_bwd/step_0000006")
    assert [e.step for e in profile] == list(range(12))
    np.testing.assert_allclose(
        [e.value for e in profile], np.log10(norms["h_l0_bwd"][2]), rtol=1e-6
    )
    horizons = [e.value for e in acc.Scalars("grad_summary/h_l1_fwd/horizon")]
    measure = Measure("float32", 1e-3)
    assert horizons == [summarize(row, measure)["horizon"] for row in norms["h_l1_fwd"]]
    assert {f"grad_heatmap/{q}" for q in QUANTITIES} <= set(acc.Tags()["images"])

    # seqnet-grads on the last checkpoint, as training measured it: the same profile.
    out = tmp_path / "grads.json"
    ckpt = run / "checkpoints" / "last.pt"
    assert grads_cli.main([f"ckpt={ckpt}", f"out={out}"]) == 0
    result = json.loads(out.read_text())
    assert list(result["norms"]) == QUANTITIES
    for q in QUANTITIES:
        np.testing.assert_allclose(result["norms"][q], norms[q][-1], rtol=1e-6, err_msg=q)
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[2:7]] == QUANTITIES

    # seqnet-compare: h_l0_fwd by default; every direction's summaries in its CSV.
    figure, table_csv = tmp_path / "c.png", tmp_path / "c.csv"
    assert compare([str(run), "--no-group", "--out", str(figure), "--csv", str(table_csv)]) == 0
    assert "h_l0_fwd" in capsys.readouterr().out.splitlines()[0]
    (row,) = csv.DictReader(table_csv.open())
    expected = summarize(norms["h_l0_bwd"][-1], measure)
    assert float(row["h_l0_bwd/log10_ratio"]) == pytest.approx(expected["log10_ratio"])
    assert int(row["h_l0_bwd/horizon"]) == expected["horizon"]
