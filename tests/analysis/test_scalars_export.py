"""Every TensorBoard scalar of a run as a table: ``seqnet.scalars`` and ``seqnet-compare
--scalars [FILE]``, equal to what the run's event files hold and to what the run logged."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

import seqnet
from seqnet.cli.compare import main


def raw_events(run_dir: Path) -> Counter:
    """(tag, step, value, wall_time) of every scalar in the event files, read record by record
    as written (the legacy loader: no conversion of simple values to tensors)."""
    found: Counter = Counter()
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        for event in LegacyEventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    item = (value.tag, event.step, float(value.simple_value), event.wall_time)
                    found[item] += 1
    return found


@pytest.fixture
def gru(runs) -> tuple[dict, Path]:
    cfg, _, run_dir = runs["gru"]
    return cfg, run_dir


def test_scalars_of_a_run_equal_its_event_files_and_what_it_logged(gru) -> None:
    cfg, run_dir = gru
    table = seqnet.scalars(run_dir)
    assert list(table.columns) == ["run", "tag", "step", "value", "wall_time"]
    assert set(table["run"]) == {"gru"}
    rows = Counter((r.tag, r.step, r.value, r.wall_time) for r in table.itertuples(index=False))
    assert rows == raw_events(run_dir)
    # What the run logged: its final metrics (float32 in TensorBoard) and its learning rate.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    val_loss = table[(table.tag == "val/loss") & (table.step == 6)]["value"].tolist()
    assert val_loss == [float(np.float32(metrics["val/loss"]))]
    assert sorted(table[table.tag == "val/loss"]["step"]) == [3, 6]
    lr = table[table.tag == "train/lr"]
    assert lr["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert set(lr["value"]) == {float(np.float32(cfg["optim"]["lr"]))}


def test_compare_scalars_writes_every_scalar_of_every_run(runs, tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep"
    for model in ("rnn", "gru"):
        shutil.copytree(runs[model][2], sweep / model)
    out = tmp_path / "tables" / "all.csv"

    assert main([str(sweep), "--scalars", str(out)]) == 0

    expected = seqnet.scalars(sweep)
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["run", "tag", "step", "value", "wall_time"]
    assert [
        (r["run"], r["tag"], int(r["step"]), float(r["value"]), float(r["wall_time"])) for r in rows
    ] == list(expected.itertuples(index=False, name=None))
    assert {r["run"] for r in rows} == {"rnn", "gru"}
    tags = len(set(expected["tag"]))
    assert capsys.readouterr().out == (
        f"wrote {out}: {len(rows)} values of {tags} tags from 2 runs\n"
    )
    # --scalars alone (before a folder, or last): scalars.csv in the working directory.
    monkeypatch.chdir(tmp_path)
    assert main(["--scalars", str(sweep / "rnn")]) == 0
    assert (tmp_path / "scalars.csv").read_text().count("\n") == 1 + (expected.run == "rnn").sum()
    assert main([str(sweep / "gru"), "--scalars"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("wrote scalars.csv: ")
    assert main([str(sweep), f"--scalars={tmp_path}"]) == 2
    assert capsys.readouterr().err == (
        f"seqnet-compare: error: --scalars {tmp_path}: is a folder; give a file, e.g. "
        f"{tmp_path / 'scalars.csv'}\n"
    )
