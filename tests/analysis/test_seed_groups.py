"""Seeds as a first-class axis: a 2-model x 3-seed sweep made by ``seqnet-train -m``, grouped by
``seqnet-compare`` and ``seqnet.compare_runs``; every number recomputed here from the runs' own
files (metrics.json, gradients.npz), the p-values with scipy."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import yaml
from matplotlib.collections import PolyCollection

from conftest import TINY, compose_config
from helpers.seed_sweep import MODELS, SEEDS, SWEEP_OVERRIDES, job, run_sweep
from seqnet.analysis import find_runs, group_runs, load_run
from seqnet.analysis.grouped_table import prepare_groups
from seqnet.cli.compare import main
from seqnet.cli.compare.plot import plot_groups
from seqnet.training.loop import train

pytestmark = pytest.mark.slow


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def last_profile(run_dir: Path, quantity: str = "h_l0") -> np.ndarray:
    with np.load(run_dir / "gradients.npz") as data:
        return data[quantity][-1]


def horizon(norms: np.ndarray, threshold: float = 1e-3) -> int:
    """Steps back from the end while the norm stays >= threshold x the end's (written out)."""
    count = 0
    for value in norms[::-1]:
        if value < threshold * norms[-1]:
            break
        count += 1
    return count


def bootstrap_interval(values: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(10_000)]
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as f:
        return {row["group"]: row for row in csv.DictReader(f)}


def test_the_sweep_names_each_job_by_model_and_seed(seed_sweep):
    names = sorted(p.name for p in seed_sweep.iterdir() if (p / "metrics.json").is_file())
    assert names == sorted(f"model={m},seed={s}" for m in MODELS for s in SEEDS)
    record = yaml.safe_load((seed_sweep / "sweep.yaml").read_text())
    assert record["swept"] == ["model", "seed"]
    assert "trainer.max_steps=6" in record["shared"]


def test_grouped_csv_is_recomputed_from_the_runs_files(seed_sweep, tmp_path, capsys):
    out, table = tmp_path / "c.png", tmp_path / "groups.csv"
    args = [str(seed_sweep), "--out", str(out), "--csv", str(table), "--versus", "model=lstm"]
    assert main(args) == 0
    rows = read_csv(table)
    assert set(rows) == {"model.name=lstm", "model.name=gru"}
    for model in MODELS:
        row = rows[f"model.name={model}"]
        runs = [job(seed_sweep, model, s) for s in SEEDS]
        assert (row["model.name"], row["n"], row["grad_step"]) == (model, "3", "6")
        losses = np.array([metrics(r)["val/loss"] for r in runs])
        assert float(row["val/loss/n"]) == 3
        assert float(row["val/loss/mean"]) == pytest.approx(losses.mean(), rel=1e-12)
        assert float(row["val/loss/std"]) == pytest.approx(losses.std(ddof=1), rel=1e-12)
        assert float(row["val/loss/median"]) == pytest.approx(np.median(losses), rel=1e-12)
        low, high = bootstrap_interval(losses)
        assert float(row["val/loss/ci_low"]) == pytest.approx(low, rel=1e-12)
        assert float(row["val/loss/ci_high"]) == pytest.approx(high, rel=1e-12)
        horizons = np.array([horizon(last_profile(r)) for r in runs], dtype=float)
        assert float(row["h_l0/horizon/mean"]) == pytest.approx(horizons.mean(), rel=1e-12)
        ratios = np.array([np.log10(p[0] / p[-1]) for p in map(last_profile, runs)])
        assert float(row["h_l0/log10_ratio/median"]) == pytest.approx(np.median(ratios), abs=1e-9)
        assert float(row["h_l0/log10_ratio/std"]) == pytest.approx(ratios.std(ddof=1), abs=1e-9)
    # --versus: the reference's own row is empty; the other's difference and p-value (n=3: the
    # exact permutation test) as scipy computes them.
    assert rows["model.name=lstm"]["val/loss/diff"] == ""
    assert rows["model.name=lstm"]["val/loss/p"] == ""
    lstm = np.array([metrics(job(seed_sweep, "lstm", s))["val/loss"] for s in SEEDS])
    gru = np.array([metrics(job(seed_sweep, "gru", s))["val/loss"] for s in SEEDS])
    gru_row = rows["model.name=gru"]
    assert float(gru_row["val/loss/diff"]) == pytest.approx(gru.mean() - lstm.mean(), rel=1e-12)
    expected_p = scipy.stats.permutation_test(
        (lstm, gru), lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        permutation_type="independent", n_resamples=np.inf, alternative="two-sided",
        vectorized=True,
    ).pvalue  # fmt: skip
    assert float(gru_row["val/loss/p"]) == pytest.approx(expected_p, rel=1e-12)
    assert gru_row["val/loss/test"] == "permutation"
    low, high = float(gru_row["val/loss/diff_ci_low"]), float(gru_row["val/loss/diff_ci_high"])
    assert low <= gru.mean() - lstm.mean() <= high
    stdout = capsys.readouterr().out
    assert "val/loss:" in stdout and "(reference)" in stdout and "(permutation)" in stdout


def test_the_figure_bands_each_group_and_gives_its_n(seed_sweep):
    runs = [load_run(p) for p in find_runs([seed_sweep])]
    groups, steps, _ = prepare_groups(runs)
    assert [(g.label, g.n, g.seeds) for g in groups] == [
        ("model.name=gru", 3, [0, 1, 2]),
        ("model.name=lstm", 3, [0, 1, 2]),
    ]
    fig = plot_groups(groups, steps, "h_l0", 6, [None, None])
    profile_ax = fig.axes[0]
    bands = [c for c in profile_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 4  # interquartile range and range, per group
    medians = [line for line in profile_ax.get_lines() if "(n=" in line.get_label()]
    assert [line.get_label() for line in medians] == ["gru (n=3)", "lstm (n=3)"]
    for line, model in zip(medians, ("gru", "lstm"), strict=True):
        logs = np.log10([last_profile(job(seed_sweep, model, s)) for s in SEEDS])
        np.testing.assert_allclose(line.get_ydata(), 10 ** np.median(logs, axis=0), rtol=1e-12)


def test_python_api_gives_the_same_table(seed_sweep, tmp_path, monkeypatch):
    import seqnet

    frame = seqnet.compare_runs([seed_sweep], versus="model=lstm")
    main([str(seed_sweep), "--out", str(tmp_path / "c.png"), "--csv", str(tmp_path / "t.csv")])
    rows = read_csv(tmp_path / "t.csv")
    assert list(frame["group"]) == list(rows)
    for _, record in frame.iterrows():
        row = rows[record["group"]]
        for column in ("val/loss/mean", "val/loss/ci_high", "h_l0/horizon/median"):
            assert record[column] == pytest.approx(float(row[column]), rel=1e-12)
    monkeypatch.setitem(sys.modules, "pandas", None)  # without pandas: a list of dicts
    plain = seqnet.compare_runs([seed_sweep])
    assert isinstance(plain, list) and [r["group"] for r in plain] == list(rows)
    assert plain[0]["val/loss/n"] == 3


def test_one_run_per_group_has_no_interval(seed_sweep, tmp_path, capsys):
    table = tmp_path / "t.csv"
    dirs = [str(job(seed_sweep, m, 0)) for m in MODELS]
    assert main([*dirs, "--out", str(tmp_path / "c.png"), "--csv", str(table)]) == 0
    rows = read_csv(table)
    for model in MODELS:
        row = rows[f"model.name={model}"]
        assert row["n"] == "1" and row["val/loss/n"] == "1"
        assert float(row["val/loss/mean"]) == metrics(job(seed_sweep, model, 0))["val/loss"]
        assert row["val/loss/std"] == row["val/loss/ci_low"] == row["val/loss/ci_high"] == ""
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("n=1, no interval"))
    assert "model.name=lstm" in line and "model.name=gru" in line


def test_group_by_keys_and_no_group(seed_sweep, tmp_path, capsys):
    out = str(tmp_path / "c.png")
    assert main([str(seed_sweep), "--out", out, "--group-by", "seed"]) == 0
    stdout = capsys.readouterr().out
    for seed in SEEDS:
        assert any(line.split()[:2] == [f"seed={seed}", "2"] for line in stdout.splitlines())
    assert main([str(seed_sweep), "--out", out, "--no-group"]) == 0
    stdout = capsys.readouterr().out
    header = next(line for line in stdout.splitlines() if line.startswith("run "))
    assert header.split()[:2] == ["run", "step"]
    assert "runs by val/loss (best first)" in stdout
    assert main([str(seed_sweep), "--out", out, "--group-by", "colour"]) == 2
    assert "--group-by colour: no run has this config key" in capsys.readouterr().err


def test_groups_measured_differently_are_refused_by_name(seed_sweep, tmp_path, capsys):
    """A group whose runs' probes differ (float64 against float32), or that logged profiles at
    other steps, is refused with a message naming what differs; nothing is written."""
    folder = tmp_path / "mixed"
    for seed in SEEDS:
        shutil.copytree(job(seed_sweep, "lstm", seed), folder / f"seed={seed}")
    lstm = [o for o in TINY if not o.startswith(("data.val_size", "trainer.ckpt"))]
    shrink = ["model.hidden_size=8", "data.val_size=16", "grad_log.batch_size=8"]
    f64 = [*lstm, *shrink, "grad_log.dtype=float64", f"paths.run_dir={folder / 'f64'}"]
    train(compose_config(f64))
    out = tmp_path / "c.png"
    assert main([str(folder), "--out", str(out), "--group-by", "model"]) == 2
    err = capsys.readouterr().err
    assert "group 'all runs' mixes probe settings (grad_log.dtype:" in err
    assert "f64=float64" in err and "seed=0=float32" in err
    assert not out.exists()

    steps = tmp_path / "steps"
    for seed in SEEDS:
        shutil.copytree(job(seed_sweep, "lstm", seed), steps / f"seed={seed}")
    longer = [*lstm, *shrink, "trainer.max_steps=9", f"paths.run_dir={steps / 'nine'}"]
    train(compose_config(longer))
    assert main([str(steps), "--out", str(out), "--group-by", "model"]) == 2
    assert "logged profiles at other training steps" in capsys.readouterr().err


def test_a_sweep_rerun_with_the_same_seeds_is_bit_for_bit_the_same(seed_sweep, tmp_path):
    again = run_sweep(tmp_path / "outputs", *SWEEP_OVERRIDES)
    for model in MODELS:
        for seed in SEEDS:
            first, second = job(seed_sweep, model, seed), job(again, model, seed)
            assert metrics(first) == metrics(second)
            with np.load(first / "gradients.npz") as a, np.load(second / "gradients.npz") as b:
                assert a.files == b.files
                for key in a.files:
                    assert np.array_equal(a[key], b[key]), key
    runs = [load_run(p) for p in find_runs([again])]
    assert [g.n for g in group_runs(runs)] == [3, 3]
