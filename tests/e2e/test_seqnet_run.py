"""``seqnet.run``: one run from Python, composed and placed as seqnet-train does (with a user's
config_dir and the example plugin), leaving the caller's Hydra and logging alone; a sweep with
``multirun=True`` (one result per job, a failed job's error in its result), refused without it
with advice that applies; bad arguments are refused, and the loop's errors are raised once."""

from __future__ import annotations

import json
import logging
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import seqnet
from conftest import TINY, use_entry_points
from seqnet import plugins
from seqnet.config import CONFIG_DIR
from seqnet.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_cell"
EXAMPLE_ENTRY = EntryPoint("example_cell", "seqnet_example_cell", plugins.ENTRY_POINT_GROUP)

pytestmark = pytest.mark.usefixtures("plugin_sandbox")


@pytest.mark.slow
def test_run_composes_trains_and_returns_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    use_entry_points(monkeypatch, EXAMPLE_ENTRY)
    monkeypatch.chdir(tmp_path)
    overrides = ["experiment=leaky_long", *TINY]
    result = seqnet.run(overrides, config_dir=EXAMPLE / "conf")

    # The folder the CLI would use: Hydra's hydra.run.dir under ./outputs of the caller.
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    assert result.run_dir == run_dir
    assert yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) == overrides
    assert (run_dir / "train.log").is_file()
    assert result.metrics == json.loads((run_dir / "metrics.json").read_text())
    assert result.metrics["step"] == 6
    # The user's experiment (from config_dir) chose the plugin's model and set its values;
    # the overrides still come last.
    assert result.config["model"]["name"] == "example_cell"
    assert result.config["model"]["leak"] == 0.2
    assert result.config["grad_log"]["dtype"] == "float64"
    assert result.config["data"]["seq_len"] == 12
    assert result.config["paths"]["run_dir"] == str(run_dir)
    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert saved["model"] == result.config["model"]
    steps, norms, meta = result.gradients()
    assert steps.tolist() == [0, 3, 6]
    assert norms["h_l0"].shape == (3, 12)
    assert meta["dtype"] == "float64"


@pytest.mark.slow
def test_run_with_own_primary_config_leaves_the_callers_hydra_and_logging_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()  # a user's primary config that extends seqnet's train.yaml
    (conf / "my_train.yaml").write_text(
        "defaults:\n  - train\n  - override model: rnn\n  - _self_\nseed: 7\n"
    )
    monkeypatch.chdir(tmp_path)
    root_handlers = list(logging.getLogger().handlers)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        mine = compose("train", ["model=gru"])
        result = seqnet.run(TINY, config_dir=conf, config_name="my_train")
        assert compose("train").model.name == "lstm"  # the caller's Hydra still works
    assert not GlobalHydra.instance().is_initialized()
    assert mine.model.name == "gru"
    assert (result.config["model"]["name"], result.config["seed"]) == ("rnn", 7)
    assert (result.run_dir / "train.log").is_file()
    assert logging.getLogger().handlers == root_handlers


def test_run_refuses_sweeps_and_bad_arguments(tmp_path: Path) -> None:
    advice = "seqnet.run(overrides, multirun=True) runs it and returns one RunResult per job"
    with pytest.raises(ConfigError) as excinfo:  # once Hydra's "add --multirun"
        seqnet.run(["model=rnn,gru", "seed=1"])
    assert str(excinfo.value) == (
        f"seqnet.run trains one config, but model=rnn,gru is a sweep: {advice}"
    )
    with pytest.raises(ConfigError) as excinfo:
        seqnet.run(["experiment=vanishing"])
    assert str(excinfo.value) == (
        f"seqnet.run trains one config, but experiment=vanishing (hydra.mode=MULTIRUN) is a sweep: "
        f"{advice}"
    )
    with pytest.raises(ConfigError, match=r"^seqnet.run\(multirun=True\) runs the jobs one after "):
        seqnet.run(["seed=1,2", "hydra/launcher=joblib"], multirun=True)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as excinfo:  # refused before any job
        seqnet.run(["seed=1,2", f"paths.output_dir={out}", "paths.run_dir=x"], multirun=True)
    assert str(excinfo.value).startswith("paths.run_dir=x names one run's folder, and a sweep ")
    assert not out.exists()
    with pytest.raises(TypeError, match=r"seqnet.run\(\['model=gru'\]\)"):
        seqnet.run("model=gru")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^config_dir=nowhere is not a folder"):
        seqnet.run([], config_dir="nowhere")


@pytest.mark.slow
def test_run_a_sweep_returns_one_result_per_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    root_handlers = list(logging.getLogger().handlers)
    tiny = [o for o in TINY if not o.startswith("data.seq_len")]
    tiny += ["trainer.max_steps=2", "grad_log.every_n_steps=0"]
    first, second = seqnet.run(["data.seq_len=1,12", *tiny], multirun=True)
    (sweep,) = (tmp_path / "outputs" / "multirun").iterdir()
    assert (first.run_dir, second.run_dir) == (sweep / "data.seq_len=1", sweep / "data.seq_len=12")
    message = "the adding problem needs data.seq_len >= 2 (one marker per half), got 1"
    assert isinstance(first.error, ConfigError) and str(first.error) == message
    assert (first.metrics, first.config["data"]["seq_len"]) == ({}, 1)
    assert second.error is None
    assert second.metrics == json.loads((second.run_dir / "metrics.json").read_text())
    assert (second.metrics["step"], second.config["paths"]["run_dir"]) == (2, str(second.run_dir))
    assert (second.run_dir / "train.log").is_file()
    assert logging.getLogger().handlers == root_handlers  # Hydra's logging left as it was
    assert message not in capfd.readouterr().err  # in the result, not printed


@pytest.mark.slow
def test_run_raises_the_loops_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^model\.hidden_size=0 must be a positive integer$"):
        seqnet.run(["model.hidden_size=0"])
    assert "model.hidden_size=0" not in capfd.readouterr().err  # raised once, not also logged
