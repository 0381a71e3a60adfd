"""The "Extending seqnet" proofs: the files of examples/extending/, exactly as the docs show
them, made into a plugin package (a copy with a ``.dist-info`` that declares its
``seqnet.plugins`` entry point) add a cell (``model=lstm_nog``), a task (``data=parity``) and a
gradient summary (``half_life``). seqnet-train trains the cell on the task through the console
script; the run's files, its TensorBoard summaries and seqnet-compare's table hold what the
new pieces compute, recomputed here."""

from __future__ import annotations

import os
import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import SRC, compose_config, use_entry_points
from helpers.processes import declare_plugin, run_script, seqnet_env
from helpers.runs import last_ckpt, only_child, scalars
from seqnet import plugins
from seqnet.data import TASK_REGISTRY, build_task
from seqnet.gradients import load_gradients
from seqnet.gradients.summaries import SUMMARIES, Measure
from seqnet.models import MODEL_REGISTRY, build_model
from seqnet.plugins import load_plugins
from seqnet.training.evaluation import evaluate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "extending"
PACKAGE = "seqnet_extending"  # the copy's name (tests/conftest.py forgets its modules)
ENTRY = EntryPoint("extending", PACKAGE, plugins.ENTRY_POINT_GROUP)
T = 10
#: A few seconds: 4 steps, validated and profiled (float64) at 0, 2 and 4.
RUN = [
    "model=lstm_nog",
    "data=parity",
    "model.hidden_size=8",
    f"data.seq_len={T}",
    "data.batch_size=8",
    "data.val_size=32",
    "trainer.max_steps=4",
    "trainer.val_every_n_steps=2",
    "trainer.ckpt_every_n_steps=2",
    "trainer.log_every_n_steps=1",
    "trainer.progress_bar=false",
    "grad_log.every_n_steps=2",
    "grad_log.batch_size=8",
    "grad_log.dtype=float64",
]


def half_life_by_hand(norms: np.ndarray) -> int:
    """Steps back from t = T-1, the end included, while the norm stays >= half the end's."""
    end, steps = norms[-1], 0
    if end == 0:
        return 0
    while steps < len(norms) and norms[len(norms) - 1 - steps] >= end / 2:
        steps += 1
    return steps


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder to put on PYTHONPATH: examples/extending as the package seqnet_extending, and
    the metadata that declares it a seqnet plugin."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLE, site / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    declare_plugin(site, "seqnet-extending", ENTRY.name, PACKAGE)
    return site


@pytest.fixture(scope="module")
def plugin_env(site: Path) -> dict[str, str]:
    return seqnet_env(PYTHONPATH=os.pathsep.join([str(SRC), str(site)]))


@pytest.fixture(scope="module")
def run_dir(plugin_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``seqnet-train model=lstm_nog data=parity ...`` run by its console script."""
    cwd = tmp_path_factory.mktemp("work")
    result = run_script("seqnet-train", *RUN, cwd=cwd, env=plugin_env)
    assert result.returncode == 0, result.stderr[-3000:]
    return only_child(cwd / "outputs" / "runs")


@pytest.fixture
def loaded(site: Path, plugin_sandbox: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin loaded in this process (and forgotten after the test)."""
    monkeypatch.syspath_prepend(str(site))
    use_entry_points(monkeypatch, ENTRY)
    assert load_plugins() == ["extending"]


# ---------------------------------------------------------------------------- in this process


@pytest.mark.usefixtures("loaded")
def test_the_cell_is_the_lstm_without_an_output_gate() -> None:
    """One step by hand: i, f, g from the three gate blocks, c = f c + i g, h = tanh(c)."""
    cell_class = MODEL_REGISTRY["lstm_nog"].cls
    torch.manual_seed(0)
    cell = cell_class(3, 4, dtype=torch.float64)
    assert cell.weight_ih.shape == (12, 3) and cell.weight_hh.shape == (12, 4)
    x = torch.randn(2, 3, dtype=torch.float64)
    h, c = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    a = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    i, f, g = torch.sigmoid(a[:, :4]), torch.sigmoid(a[:, 4:8]), torch.tanh(a[:, 8:])
    c_expected = f * c + i * g
    with torch.no_grad():
        h_new, c_new = cell.step(cell.project_input(x), (h, c))
    torch.testing.assert_close(c_new, c_expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_new, torch.tanh(c_expected), rtol=0, atol=1e-12)
    # The LSTM's forget bias applies to its forget block (the second).
    assert cell_class(3, 4, forget_bias=2.0).bias_ih[4:8].tolist() == [2.0] * 4


@pytest.mark.usefixtures("loaded")
def test_the_task_is_the_parity_of_random_bits() -> None:
    task = build_task({"name": "parity", "seq_len": 7, "batch_size": 500})
    assert TASK_REGISTRY["parity"].cls is type(task)
    x, y = task.train_batch(seed=0, step=0)
    assert x.shape == (500, 7, 1) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert set(x.unique().tolist()) == {0.0, 1.0}
    bits = x[..., 0].long().tolist()
    assert y.tolist() == [sum(b) % 2 for b in bits]
    assert 0.4 < y.double().mean().item() < 0.6  # both labels, about equally often
    assert torch.equal(task.train_batch(seed=0, step=0).x, x)  # a function of (seed, step)
    assert not torch.equal(task.train_batch(seed=0, step=1).x, x)
    with pytest.raises(ValueError, match=r"^data\.seq_len must be >= 1 .*, got 0$"):
        build_task({"name": "parity", "seq_len": 0})


@pytest.mark.usefixtures("loaded")
def test_the_configs_name_their_schemas() -> None:
    cfg = compose_config(["model=lstm_nog", "data=parity"])
    assert (cfg.model.name, cfg.data.name, cfg.data.seq_len) == ("lstm_nog", "parity", 20)
    assert {"forget_bias", "zoneout", "compile"} <= set(cfg.model)
    assert "backend" not in cfg.model  # an engine model: no fused kernel to choose


@pytest.mark.usefixtures("loaded")
def test_the_summary_is_registered_for_every_view() -> None:
    summary = SUMMARIES["half_life"]
    assert (summary.integer, summary.label) == (True, "steps with norm >= half the norm at T-1")
    measure = Measure(dtype="float64", horizon_threshold=1e-3)
    for norms, expected in (
        ([1.0, 0.4, 0.6, 1.0, 1.0], 3),  # 0.4 < 1/2 at t=1: t=2, 3, 4 stay above
        ([2.0, 2.0, 2.0], 3),  # never below: T
        ([1.0, 0.5, 0.0], 0),  # the end is 0
        ([0.0, 1.0, 2.0, 4.0], 2),  # 2.0 is exactly half: kept; 1.0 is below
    ):
        assert summary(np.array(norms), measure) == expected == half_life_by_hand(np.array(norms))


# ---------------------------------------------------------------------------- seqnet-train


@pytest.mark.slow
def test_the_run_trains_the_plugins_cell_on_its_task(run_dir: Path, loaded: None) -> None:
    metrics = yaml.safe_load((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 4
    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert (saved["model"]["name"], saved["data"]["name"]) == ("lstm_nog", "parity")
    assert (saved["model"]["hidden_size"], saved["data"]["seq_len"]) == (8, T)
    # The reported metrics are the saved model's on the parity validation set.
    ckpt = last_ckpt(run_dir)
    task = build_task(ckpt["config"]["data"])
    model = build_model(ckpt["config"]["model"], task.spec)
    model.load_state_dict(ckpt["model"])
    assert type(model.core.cells()[0]).__name__ == "NoOutputGateLSTMCell"
    for name, value in evaluate(model, task).items():
        assert metrics[f"val/{name}"] == pytest.approx(value, rel=1e-6), name


@pytest.mark.slow
def test_the_half_life_is_logged_with_the_values_it_computes(run_dir: Path) -> None:
    steps, norms, meta = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 2, 4] and meta["dtype"] == "float64"
    assert set(norms) == {"x", "h_l0", "c_l0"}
    assert norms["h_l0"].shape == norms["c_l0"].shape == (3, T)
    tags = scalars(run_dir)
    for q in ("h_l0", "c_l0"):
        expected = [
            (int(s), float(half_life_by_hand(row))) for s, row in zip(steps, norms[q], strict=True)
        ]
        assert tags[f"grad_summary/{q}/half_life"] == expected, q


@pytest.mark.slow
def test_seqnet_compare_shows_the_half_life(
    run_dir: Path, plugin_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_script(
        "seqnet-compare", str(run_dir), "--out", str(tmp_path / "c.png"), env=plugin_env
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "half_life" in line.split())  # the profile table
    columns = header.split()
    assert "half_life" in columns
    row = lines[lines.index(header) + 1].split()
    _, norms, _ = load_gradients(run_dir / "gradients.npz")
    position = columns.index("half_life") - len(columns)  # counted from the right
    assert int(row[position]) == half_life_by_hand(norms["h_l0"][-1])
    assert "h_l0/half_life:" in lines  # and a table of its own among the metrics
