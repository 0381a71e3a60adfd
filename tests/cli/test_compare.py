"""seqnet-compare on tiny real runs: finding runs, labels, steps, table numbers, the figure, the
sweep table, encoder-decoders; unreadable files as one line or notes."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from omegaconf import OmegaConf

from conftest import TINY, TINY_RUN, compose_config
from seqnet.cli.compare import differing_keys, find_runs, flatten_config, main, run_labels
from seqnet.training.loop import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def table_rows(stdout: str) -> dict[str, list[str]]:
    """``{label: [step, log10 t=0, log10 t=T-1, log10_ratio, horizon, zero_steps, val/loss]}``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run "))
    rows = {}
    for line in lines[start + 1 :]:
        if line.startswith("wrote "):
            break
        cells = line.split()
        rows[" ".join(cells[:-7])] = cells[-7:]
    return rows


def npz(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "gradients.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture
def runs(runs) -> dict[str, Path]:
    """The session's RNN, GRU and LSTM runs (TINY: profiles at steps 0, 3, 6 of 12 timesteps),
    by model; tests copy them when they change anything."""
    return {model: run_dir for model, (_, _, run_dir) in runs.items()}


@pytest.fixture
def two_runs(runs: dict[str, Path]) -> tuple[Path, Path]:
    return runs["rnn"], runs["gru"]


def test_two_runs_table_labels_and_figure(two_runs, tmp_path, capsys):
    rnn, gru = two_runs
    out = tmp_path / "c.png"

    assert main([str(rnn), str(gru), "--no-group", "--out", str(out)]) == 0

    stdout = capsys.readouterr().out
    lines = stdout.splitlines()
    assert lines[0] == "gradient norm of h_l0, log10 ||dL/dh_l0(t)||:"
    assert [line.split()[0] for line in lines[2:4]] == ["model.name=rnn", "model.name=gru"]
    assert lines[4] == f"wrote {out}"  # then the sweep table
    rows = table_rows(stdout)
    # Only the model differs between the two configs; the RNN's nonlinearity follows from it.
    assert list(rows) == ["model.name=rnn", "model.name=gru"]
    for label, run_dir in (("model.name=rnn", rnn), ("model.name=gru", gru)):
        data = npz(run_dir)
        assert data["steps"].tolist() == [0, 3, 6]
        norm = data["h_l0"][-1]  # default step: the largest in every run (6), the last row
        assert norm.shape == (12,) and (norm > 0).all()
        step, first, last, ratio, _horizon, zeros, val_loss = rows[label]
        assert step == "6"
        assert float(first) == pytest.approx(np.log10(norm[0]), abs=5e-4)
        assert float(last) == pytest.approx(np.log10(norm[-1]), abs=5e-4)
        assert float(ratio) == pytest.approx(np.log10(norm[0] / norm[-1]), abs=5e-4)
        assert zeros == "0"
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert float(val_loss) == pytest.approx(metrics["val/loss"], rel=1e-3)
    assert f"wrote {out}" in stdout

    assert out.read_bytes()[:8] == PNG_MAGIC
    height, width, channels = matplotlib.image.imread(out).shape
    assert width > 1000 and 400 < height < width and channels in (3, 4)


def test_sweep_directory_is_searched_recursively(two_runs, tmp_path, capsys):
    sweep = tmp_path / "multirun" / "2025-01-01_00-00-00"
    for run_dir, name in zip(two_runs, ("model=rnn", "model=gru"), strict=True):
        shutil.copytree(run_dir, sweep / name)

    # Sorted by path: model=gru before model=rnn. The runs given alone as well are shown once.
    assert find_runs([sweep]) == [sweep / "model=gru", sweep / "model=rnn"]
    assert find_runs([sweep, sweep / "model=rnn"]) == [sweep / "model=gru", sweep / "model=rnn"]

    assert main([str(tmp_path / "multirun"), "--no-group", "--out", str(tmp_path / "s.png")]) == 0
    assert list(table_rows(capsys.readouterr().out)) == ["model.name=gru", "model.name=rnn"]


def test_step_option_and_nearest_step_note(runs, make_cfg, tmp_path, capsys):
    train(make_cfg("model=gru", "grad_log.every_n_steps=2", run="every2"))  # steps 0, 2, 4, 6
    every2, every3 = tmp_path / "every2", runs["rnn"]  # steps 0, 3, 6
    two, three = (
        "model.name=gru, grad_log.every_n_steps=2",
        "model.name=rnn, grad_log.every_n_steps=3",
    )
    out = tmp_path / "c.png"
    args = [str(every2), str(every3), "--out", str(out)]

    assert main([*args, "--no-group", "--step", "3"]) == 0
    captured = capsys.readouterr()
    rows = table_rows(captured.out)
    assert list(rows) == [two, three]
    assert rows[three][0] == "3"
    assert rows[two][0] == "2"  # 2 and 4 are as near: the earlier one
    assert (
        f"note: {two}: step 3 was not logged; showing its nearest logged step 2 "
        "(logged: 0, 2, 4, 6)" in captured.err
    )
    assert f"{three}: step" not in captured.err
    norm = npz(every3)["h_l0"][1]  # the row of step 3
    assert float(rows[three][3]) == pytest.approx(np.log10(norm[0] / norm[-1]), abs=5e-4)
    norm = npz(every2)["h_l0"][1]  # the row of step 2
    assert float(rows[two][3]) == pytest.approx(np.log10(norm[0] / norm[-1]), abs=5e-4)

    assert main([*args, "--no-group", "--step", "4"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows[two][0] == "4"
    assert rows[three][0] == "3"

    # No option: the largest step both runs logged is the last one, 6.
    assert main([*args, "--no-group"]) == 0
    captured = capsys.readouterr()
    assert [r[0] for r in table_rows(captured.out).values()] == ["6", "6"]
    assert "note:" not in captured.err


def test_bad_step_and_quantity_are_errors(two_runs, tmp_path, capsys):
    out = tmp_path / "c.png"
    dirs = [str(d) for d in two_runs]

    assert main([*dirs, "--step", "-1", "--out", str(out)]) == 2
    assert "--step -1 must be an integer >= 0" in capsys.readouterr().err
    assert main([*dirs, "--step", "7", "--out", str(out)]) == 2
    assert "--step 7 is beyond every run: the latest logged step is 6" in capsys.readouterr().err
    assert main([*dirs, "--quantity", "c_l0", "--out", str(out)]) == 2
    assert "'c_l0' was logged in none of the runs; they have: h_l0, x" in capsys.readouterr().err
    assert not out.exists()


def test_quantity_missing_in_one_run_is_left_out_with_a_note(runs, tmp_path, capsys):
    out = tmp_path / "c.png"

    dirs = [str(runs[m]) for m in ("rnn", "gru", "lstm")]
    assert main([*dirs, "--no-group", "--quantity", "c_l0", "--out", str(out)]) == 0

    captured = capsys.readouterr()
    rows = table_rows(captured.out)
    assert rows["model.name=gru"] == ["6", "-", "-", "-", "-", "-", "-"]
    norm = npz(runs["lstm"])["c_l0"][-1]
    assert float(rows["model.name=lstm"][1]) == pytest.approx(np.log10(norm[0]), abs=5e-4)
    assert "note: model.name=gru: has no 'c_l0' (it logged h_l0, x)" in captured.err
    assert out.is_file()


def test_empty_directory_exits_2_and_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "sweep"
    (empty / "job0").mkdir(parents=True)
    out = tmp_path / "c.png"

    assert main([str(empty), "--out", str(out)]) == 2

    err = capsys.readouterr().err
    assert err == (
        f"seqnet-compare: error: no runs in '{empty}': no gradients.npz, metrics.json, "
        "checkpoints/last.pt in it or below it; give run or sweep folders (outputs/runs/<run>, "
        "outputs/multirun/<sweep>)\n"
    )
    assert not out.exists()
    assert main([str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_labels_come_from_the_checkpoints_own_config(runs, tmp_path, capsys):
    """The config a run's checkpoint was trained with names it, not .hydra/config.yaml (which
    a later launch into the folder could have rewritten): here b's .hydra/ claims seed=7, its
    weights were trained with seed=42 like a's, so nothing tells them apart but their folders."""
    shutil.copytree(runs["rnn"], tmp_path / "a")
    shutil.copytree(runs["rnn"], tmp_path / "b")
    # What seqnet-train writes: the composed config, unresolved, with ${hydra:...} in it.
    cfg = compose_config([*TINY, "model=rnn", "seed=7"])
    (tmp_path / "b" / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / "b" / ".hydra" / "config.yaml")
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]

    assert main([*dirs, "--no-group", "--out", str(tmp_path / "c.png")]) == 0
    assert list(table_rows(capsys.readouterr().out)) == ["a", "b"]
    # Without a checkpoint (a run stopped before its first one), .hydra/config.yaml is used.
    (tmp_path / "b" / "checkpoints" / "last.pt").unlink()
    assert main([*dirs, "--no-group", "--out", str(tmp_path / "c.png")]) == 0
    assert list(table_rows(capsys.readouterr().out)) == ["seed=42", "seed=7"]


def write_npz(run_dir: Path, arrays: dict[str, np.ndarray]) -> Path:
    path = run_dir / "gradients.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("duplicated_steps", "step 3 appears more than once"),
        ("no_timesteps", "its profiles have no timesteps (h_l0, x)"),
        ("negative_norms", "h_l0 holds negative norms (at step 6), which no norm can be"),
    ],
)
def test_damaged_gradient_files_are_one_line(runs, tmp_path, capsys, damage, problem):
    broken = tmp_path / "broken"
    shutil.copytree(runs["gru"], broken)
    arrays = npz(broken)
    if damage == "duplicated_steps":
        arrays["steps"] = np.array([0, 3, 3])
    elif damage == "no_timesteps":
        arrays = {k: v[:, :0] if v.ndim == 2 else v for k, v in arrays.items()}
    else:
        arrays["h_l0"][2, 4] = -1.0
    path = write_npz(broken, arrays)
    out = tmp_path / "c.png"

    assert main([str(runs["rnn"]), str(broken), "--out", str(out)]) == 2

    assert capsys.readouterr().err == (
        f"seqnet-compare: error: gradients file '{path}' is damaged: {problem}; it was not "
        "written by seqnet, or was changed since: leave this run out, or re-run it\n"
    )
    assert not out.exists()


def test_nan_norms_and_metrics_that_are_a_list_are_notes(runs, tmp_path, capsys):
    a = tmp_path / "a"
    shutil.copytree(runs["rnn"], a)
    arrays = npz(a)
    arrays["h_l0"][1:, 2] = np.nan  # steps 3 and 6
    write_npz(a, arrays)
    (a / "metrics.json").write_text("[0.5]")

    assert main([str(a), str(runs["gru"]), "--no-group", "--out", str(tmp_path / "c.png")]) == 0

    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: '{a / 'gradients.npz'}': h_l0 has NaN norms at step(s) 3, 6; they are not "
        "drawn, and any number computed from them is nan",
        f"note: '{a / 'metrics.json'}' is not a mapping of metrics (it holds a list); no val/loss",
    ]
    assert table_rows(captured.out)["model.name=rnn"][-1] == "-"


def test_a_read_only_out_folder_is_one_line(runs, tmp_path, capsys):
    from helpers.filesystems import make_read_only, tmpfs

    with tmpfs(tmp_path / "disk", size="1m") as disk:
        make_read_only(disk)
        out = disk / "c.png"
        assert main([str(runs["rnn"]), "--no-group", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"seqnet-compare: error: cannot write --out {out}: Read-only file system (EROFS); "
        "choose another --out\n"
    )


def test_flatten_config_drops_paths_and_stringifies_lists():
    tree = {
        "model": {"name": "rnn", "hidden_size": 16},
        "optim": {"betas": [0.9, 0.999]},
        "trainer": {"device": "cpu", "progress_bar": False, "max_steps": 6},
        "paths": {"run_dir": "/x"},
        "hydra": {"job": {"name": "train"}},
        "ckpt_path": None,
        "seed": 1,
    }
    assert flatten_config(tree) == {
        "model.name": "rnn",
        "model.hidden_size": 16,
        "optim.betas": "[0.9, 0.999]",
        "trainer.max_steps": 6,
        "seed": 1,
    }


def test_labels_name_only_what_differs():
    rnn = {"model.name": "rnn", "model.nonlinearity": "tanh", "data.seq_len": 50, "seed": 1}
    relu = {"model.name": "rnn", "model.nonlinearity": "relu", "data.seq_len": 100, "seed": 1}
    gru = {"model.name": "gru", "data.seq_len": 100, "seed": 1}
    names = ["a", "b", "c"]

    assert differing_keys([rnn, relu, gru]) == ["model.name", "model.nonlinearity", "data.seq_len"]
    # data.seq_len=100 is the usual value (two runs of three): named only where a run departs
    # from it; nonlinearity has no majority (one each) and model.name is always named.
    assert run_labels([rnn, relu, gru], names) == [
        "model.name=rnn, model.nonlinearity=tanh, data.seq_len=50",
        "model.name=rnn, model.nonlinearity=relu",
        "model.name=gru",
    ]
    # model.name first even when the config lists it later; a key only one run has and that is
    # equal wherever present (nonlinearity, from model.name) is left out.
    late = {"data.seq_len": 20, "model.name": "lstm"}
    assert run_labels([rnn, late], ["a", "b"]) == [
        "model.name=rnn, data.seq_len=50",
        "model.name=lstm, data.seq_len=20",
    ]
    # Nothing differs: the folder names. Equal labels get their folder name appended.
    assert run_labels([rnn, dict(rnn)], names[:2]) == ["a", "b"]
    assert run_labels([rnn, dict(rnn), gru], names) == [
        "model.name=rnn (a)",
        "model.name=rnn (b)",
        "model.name=gru, data.seq_len=100",
    ]
    # The optimizer choice reads as optim=SGD, not optim._target_=torch.optim.SGD.
    adam = {"optim._target_": "torch.optim.Adam", "optim.lr": 0.001}
    sgd = {"optim._target_": "torch.optim.SGD", "optim.lr": 0.01}
    assert run_labels([adam, sgd], names[:2]) == [
        "optim=Adam, optim.lr=0.001",
        "optim=SGD, optim.lr=0.01",
    ]
    # A run without any config (no .hydra, no checkpoint): nothing is known to differ.
    assert run_labels([{}, gru], names[:2]) == ["a", "b"]


def fake_run(
    path: Path, name: str, rows: list[list[float]], threshold: float = 1e-3, dtype="float32"
) -> Path:
    """A run folder with known profiles of h_l0 at steps 0, 5, ... and a minimal config."""
    path.mkdir(parents=True)
    norms = np.array(rows, dtype=np.float64)
    steps = np.arange(len(rows)) * 5
    np.savez(path / "gradients.npz", steps=steps, dtype=dtype, loss="last", probe="p", h_l0=norms)
    config = {"model": {"name": name}, "grad_log": {"horizon_threshold": threshold}}
    (path / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create(config), path / ".hydra" / "config.yaml")
    (path / "metrics.json").write_text(json.dumps({"val/loss": 0.125}))
    return path


def test_table_numbers_of_known_profiles(tmp_path, capsys):
    """Each run's numbers at the last step, worked out by hand: the horizon counts the last
    timesteps whose norm stays >= the run's own threshold x the norm at t=T-1."""
    runs = [
        # 1e-4 < 1e-3 x 1: the last two timesteps stay above.
        fake_run(tmp_path / "a", "decay", [[1, 1, 1, 1, 1], [1e-8, 1e-6, 1e-4, 1e-2, 1]]),
        # Flat: every timestep stays above, the horizon is T.
        fake_run(tmp_path / "b", "flat", [[1] * 5, [2, 2, 2, 2, 2]]),
        # Its own threshold 0.6: 0.5 at t=1 falls below; t=0 underflowed to zero (float32).
        fake_run(tmp_path / "c", "zero", [[1] * 5, [0, 0.5, 1, 1, 1]], threshold=0.6),
    ]
    assert main([*map(str, runs), "--no-group", "--out", str(tmp_path / "c.png")]) == 0
    assert table_rows(capsys.readouterr().out) == {
        "model.name=decay": [
            "5", "-8.000", "0.000", "-8.000", "2", "0", "0.125"
        ],
        "model.name=flat": [
            "5", "0.301", "0.301", "0.000", "5", "0", "0.125"
        ],
        "model.name=zero, grad_log.horizon_threshold=0.6": [
            "5", "zero", "0.000", "-46.000", "3", "1", "0.125"
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        ("empty", "EOFError: No data left in file"),
        ("truncated", "BadZipFile: File is not a zip file"),
    ],
)
def test_unreadable_gradients_file_is_one_line(two_runs, tmp_path, capsys, damage, error):
    broken = tmp_path / "broken"
    shutil.copytree(two_runs[0], broken)
    npz = broken / "gradients.npz"
    data = npz.read_bytes()
    npz.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    out = tmp_path / "c.png"

    assert main([str(two_runs[1]), str(broken), "--out", str(out)]) == 2

    assert capsys.readouterr().err == (
        f"seqnet-compare: error: gradients file '{npz}' is unreadable ({error}); it is empty, "
        "truncated or not a seqnet gradients.npz: leave this run out, or re-run it\n"
    )
    assert not out.exists()


def test_unreadable_config_and_metrics_are_notes(runs, tmp_path, capsys):
    """The profiles are readable, the files around them are not: the run is shown, with one
    note per unreadable file (labelled by its folder name when no config can be read)."""
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(runs["rnn"], a)
    shutil.copytree(runs["gru"], b)
    (a / "metrics.json").write_text('{"val/loss": 0.1')  # cut short
    (b / ".hydra").mkdir()
    (b / ".hydra" / "config.yaml").write_text("model: [unclosed\n")
    ckpt = b / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])

    assert main([str(a), str(b), "--no-group", "--out", str(tmp_path / "c.png")]) == 0

    captured = capsys.readouterr()
    rows = table_rows(captured.out)
    assert list(rows) == ["a", "b"]  # b has no config: nothing is known to differ
    assert rows["a"][-1] == "-"
    notes = [line for line in captured.err.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: '{a / 'metrics.json'}' is unreadable (JSONDecodeError); no val/loss",
        f"note: checkpoint '{ckpt}' is corrupt or not a seqnet checkpoint (torch.load failed "
        "with RuntimeError)",
        f"note: '{b / '.hydra' / 'config.yaml'}' is unreadable (ParserError)",
        f"note: '{b}': no readable config; it is labelled by its folder name",
    ]


def test_sweep_table_sorted_by_val_loss_and_written_as_csv(runs, tmp_path, capsys):
    dirs = [str(runs[m]) for m in ("rnn", "gru", "lstm")]
    out, table = tmp_path / "c.png", tmp_path / "tables" / "sweep.csv"

    assert main([*dirs, "--no-group", "--out", str(out), "--csv", str(table)]) == 0

    with table.open() as f:
        rows = list(csv.DictReader(f))
    losses = {m: json.loads((runs[m] / "metrics.json").read_text())["val/loss"] for m in runs}
    best_first = sorted(losses, key=losses.get)
    assert [r["model.name"] for r in rows] == best_first
    assert [r["run"] for r in rows] == [f"model.name={m}" for m in best_first]
    quantities = dict.fromkeys(q for m in best_first for q in npz(runs[m]) if "_l" in q or q == "x")
    assert list(rows[0]) == [
        "run",
        "model.name",  # what differs
        "val/loss",
        "val/mse",
        "val/baseline_ratio",
        "step",
        "nonfinite_steps",
        "clipped_steps",
        "grad_step",
        *(f"{q}/{s}" for q in quantities for s in ("log10_ratio", "horizon", "zero_steps")),
        "path",
    ]
    for row in rows:
        model = row["model.name"]
        assert float(row["val/loss"]) == losses[model]
        assert (row["step"], row["grad_step"], row["path"]) == ("6", "6", str(runs[model]))
        data = npz(runs[model])
        for q in ("x", "h_l0", "c_l0"):
            if q not in data:  # only the LSTM has a cell state: empty cells for the others
                assert row[f"{q}/log10_ratio"] == "" and model != "lstm"
                continue
            norm = data[q][-1]
            assert float(row[f"{q}/log10_ratio"]) == pytest.approx(np.log10(norm[0] / norm[-1]))
            below = np.flatnonzero(norm < 1e-3 * norm[-1])
            assert int(row[f"{q}/horizon"]) == (12 if below.size == 0 else 11 - below[-1])
            assert row[f"{q}/zero_steps"] == "0"

    printed = capsys.readouterr().out.split("runs by val/loss (best first)")[1].splitlines()
    ranked = [line.split()[:2] for line in printed[2:5]]
    assert ranked == [[str(i), f"model.name={m}"] for i, m in enumerate(best_first, start=1)]
    assert printed[-1] == f"wrote {table}"


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_encoder_decoder_runs_default_to_the_encoders_state(tmp_path, capsys):
    data = ["data=seq2seq", "data.batch_size=8", "data.val_size=32", "data.max_digits=2"]
    for model in ("lstm", "gru"):
        run = [*data, *TINY_RUN, f"model={model}", "model.encoder_size=8"]
        train(compose_config([*run, f"paths.run_dir={tmp_path / model}"]))
    capsys.readouterr()
    out = tmp_path / "compare.png"
    runs = [str(tmp_path / m) for m in ("lstm", "gru")]
    assert main([*runs, "--no-group", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("gradient norm of enc_h_l0")  # the default for encoder-decoders
    assert list(table_rows(printed)) == ["model.name=lstm", "model.name=gru"]
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert main([*runs, "--no-group", "--quantity", "dec_c_l0", "--out", str(out)]) == 0
    rows = table_rows(capsys.readouterr().out)
    norm = npz(tmp_path / "lstm")["dec_c_l0"][-1]
    assert float(rows["model.name=lstm"][1]) == pytest.approx(np.log10(norm[0]), abs=5e-4)
    assert rows["model.name=gru"][1:] == ["-"] * 6  # the GRU has no cell state
