"""seqnet-compare over unrelated runs: short labels (only the keys where a run departs from the
others' usual value), a numbered legend with a printed key when an entry is still long, each
curve's own training step where the runs share none; a profile of one timestep drawn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from seqnet.analysis import find_runs, load_run
from seqnet.analysis.grouped_table import prepare_groups
from seqnet.cli.compare import main
from seqnet.cli.compare.plot import plot_groups

BASE = {
    "model": {"name": "rnn", "hidden_size": 16},
    "data": {"name": "adding", "seq_len": 4},
    "optim": {"lr": 0.001, "betas": "[0.9, 0.999]"},
    "trainer": {"max_steps": 20},
}


def fake_run(path: Path, changes: dict, steps: list[int], seq_len: int = 4) -> Path:
    """A run folder with profiles of h_l0 at ``steps`` and BASE's config with ``changes``."""
    path.mkdir(parents=True)
    norms = np.tile(np.geomspace(1e-3, 1.0, seq_len), (len(steps), 1))
    np.savez(
        path / "gradients.npz", steps=np.array(steps), dtype="float32", loss="last", probe="p",
        h_l0=norms,
    )  # fmt: skip
    config = OmegaConf.merge(OmegaConf.create(BASE), OmegaConf.create(changes))
    (path / ".hydra").mkdir()
    OmegaConf.save(config, path / ".hydra" / "config.yaml")
    (path / "metrics.json").write_text(json.dumps({"val/loss": 0.5}))
    return path


def unrelated(root: Path) -> Path:
    fake_run(root / "a", {}, [0, 10, 20])
    fake_run(root / "b", {"model": {"name": "gru"}}, [0, 10, 20])
    fake_run(root / "c", {"data": {"seq_len": 100}}, [0, 10, 20], seq_len=100)
    long = {"model": {"hidden_size": 128}, "optim": {"lr": 0.01, "betas": "[0.5, 0.9]"}}
    fake_run(root / "d", long, [0, 10, 20])
    fake_run(root / "e", {"trainer": {"max_steps": 2000}}, [1000, 2000])
    return root


def test_unrelated_runs_have_short_labels_and_their_own_steps(tmp_path, capsys) -> None:
    folder = unrelated(tmp_path / "runs")
    out = tmp_path / "c.png"
    assert main([str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    labels = [
        "model.name=rnn",
        "model.name=gru",
        "model.name=rnn, data.seq_len=100",
        "model.name=rnn, model.hidden_size=128, optim.lr=0.01, optim.betas=[0.5, 0.9]",
        "model.name=rnn, trainer.max_steps=2000",
    ]
    profile_rows = printed[2:7]
    assert [row[: len(label)] for row, label in zip(profile_rows, labels, strict=True)] == labels
    assert [row.split()[-7] for row in profile_rows] == ["20", "20", "20", "20", "2000"]
    assert printed[7:14] == [
        f"wrote {out}",
        "its legend's numbers:",
        *(f"  [{i}] {label}" for i, label in enumerate(labels, start=1)),
    ]

    runs = [load_run(p) for p in find_runs([folder])]
    groups, steps, _ = prepare_groups(runs)
    fig = plot_groups(groups, steps, "h_l0", 20, [None] * 5)
    assert fig.axes[0].get_title().splitlines()[0] == (
        "h_l0: gradient norm per timestep at each curve's training step (legend)"
    )
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "[1] rnn (n=1, step 20)",
        "[2] gru (n=1, step 20)",
        "[3] rnn, seq_len=100 (n=1, step 20)",
        "[4] rnn, hidden_size=128, lr=0.01, betas=[0… (n=1, step 20)",
        "[5] rnn, max_steps=2000 (n=1, step 2000)",
    ]
    # Without the long one: plain entries; at one shared step, the title says it.
    short = plot_groups(groups[:3], steps[:3], "h_l0", 20, [None] * 3)
    assert [t.get_text() for t in short.legends[0].get_texts()] == [
        "rnn (n=1)",
        "gru (n=1)",
        "rnn, seq_len=100 (n=1)",
    ]
    assert (
        short.axes[0]
        .get_title()
        .startswith("h_l0: gradient norm per timestep at training step 20\n")
    )


def test_a_profile_of_one_timestep_is_drawn(tmp_path, capsys) -> None:
    """T=1 (the digits task): the median is a marker, inside the axis limits."""
    run = fake_run(tmp_path / "digits", {}, [0, 10], seq_len=1)
    assert main([str(run), "--out", str(tmp_path / "c.png")]) == 0
    groups, steps, _ = prepare_groups([load_run(run)])
    fig = plot_groups(groups, steps, "h_l0", 10, [None])
    (line,) = [ln for ln in fig.axes[0].get_lines() if "(n=" in ln.get_label()]
    assert line.get_marker() == "o" and line.get_xdata().tolist() == [0]
    value = float(line.get_ydata()[0])
    assert value == np.float32(1e-3) or value == 1e-3
    low, high = fig.axes[0].get_ylim()
    assert low < value < high
    assert "log10 t=0" in capsys.readouterr().out
