"""seqnet-compare on runs trained without gradient profiles (grad_log.every_n_steps=0, as an
Optuna search is): a note instead of an error, the grouped metrics table and its CSV with the
same columns as with profiles, the per-run table; a run without profiles beside one with them."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from pathlib import Path

import pytest

from conftest import TINY, compose_config
from seqnet.cli.compare import main
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")
NOTE = (
    "note: no run has gradient profiles (trained with grad_log.every_n_steps=0): metrics only, "
    "no figure and no profile table\n"
)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rnn with seeds 0 and 1, gru with seed 0: tiny runs without profiles, as a sweep's jobs."""
    root = tmp_path_factory.mktemp("no_profiles") / "sweep"
    for job, (model, seed) in enumerate((("rnn", 0), ("rnn", 1), ("gru", 0))):
        overrides = [*TINY, f"model={model}", f"seed={seed}", "grad_log.every_n_steps=0"]
        train(
            compose_config([*overrides, "trainer.max_steps=3", f"paths.run_dir={root / str(job)}"])
        )
    return root


def metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())


def test_grouped_metrics_table_and_csv(sweep: Path, tmp_path: Path, capsys) -> None:
    out, table = tmp_path / "c.png", tmp_path / "groups.csv"
    assert not list(sweep.rglob("gradients.npz"))

    assert main([str(sweep), "--out", str(out), "--csv", str(table)]) == 0

    captured = capsys.readouterr()
    assert captured.err == NOTE
    assert not out.exists()
    printed = captured.out.splitlines()
    assert printed[0].startswith(
        "metrics by group, best first by the mean val/loss; gradient summaries none (no "
        "profiles). 95% CI"
    )
    assert printed[-1] == f"wrote {table}"
    with table.open() as f:
        rows = {row["group"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"model.name=rnn", "model.name=gru"}
    fields = ("n", "mean", "std", "median", "ci_low", "ci_high")
    assert list(rows["model.name=rnn"])[:10] == [
        "group",
        "model.name",
        "n",
        "grad_step",
        *(f"val/loss/{f}" for f in fields),
    ]
    assert not any(k.startswith(("h_l0/", "x/")) for k in rows["model.name=rnn"])
    rnn = [metrics(sweep / job)["val/loss"] for job in ("0", "1")]
    row = rows["model.name=rnn"]
    assert (row["n"], row["grad_step"], row["val/loss/n"]) == ("2", "", "2")
    assert float(row["val/loss/mean"]) == pytest.approx(statistics.mean(rnn), rel=1e-12)
    assert float(row["val/loss/std"]) == pytest.approx(statistics.stdev(rnn), rel=1e-12)
    gru = rows["model.name=gru"]
    assert float(gru["val/loss/mean"]) == metrics(sweep / "2")["val/loss"]
    assert (gru["val/loss/n"], gru["val/loss/ci_low"]) == ("1", "")


def test_per_run_table(sweep: Path, tmp_path: Path, capsys) -> None:
    table = tmp_path / "runs.csv"
    args = ["--no-group", "--out", str(tmp_path / "c.png"), "--csv", str(table)]
    assert main([str(sweep), *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == NOTE
    head = captured.out.splitlines()[1].split()
    assert head[:6] == ["#", "run", "val/loss", "val/mse", "val/baseline_ratio", "step"]
    assert "grad_step" not in head
    with table.open() as f:
        rows = list(csv.DictReader(f))
    losses = sorted(metrics(sweep / job)["val/loss"] for job in ("0", "1", "2"))
    assert [float(r["val/loss"]) for r in rows] == losses
    assert {r["grad_step"] for r in rows} == {""}


def test_a_run_without_profiles_beside_runs_with_them(sweep, runs, tmp_path, capsys) -> None:
    """The profiled runs are drawn; the other is a row of the tables and a note."""
    folder = tmp_path / "mixed"
    shutil.copytree(runs["gru"][2], folder / "gru")
    shutil.copytree(sweep / "0", folder / "rnn")
    out = tmp_path / "c.png"
    assert main([str(folder), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        "note: model.name=rnn, trainer.max_steps=3, grad_log.every_n_steps=0: has no gradient "
        "profiles (trained with "
        "grad_log.every_n_steps=0); left out of the figure\n"
    )
    lines = captured.out.splitlines()
    assert lines[2].split()[2:5] == ["grad_log.every_n_steps=3", "1", "6"]
    assert lines[3].split()[-9:] == ["grad_log.every_n_steps=0", *["-"] * 8]
    assert out.is_file()
