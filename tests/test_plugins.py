"""Plugins (entry point group ``seqnet.plugins``) and ``seqnet.run``, in this process: the
example project of ``examples/custom_cell`` is imported through a stand-in entry point. The
installed-package path (a wheel in a fresh virtual environment) is tests/test_install.py."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException

import seqnet
from conftest import TINY, compose_config
from seqnet import plugins
from seqnet.config import CONFIG_DIR
from seqnet.data import TASK_REGISTRY
from seqnet.errors import ConfigError
from seqnet.models import MODEL_REGISTRY, RNNCell, core_factory
from seqnet.plugins import PluginError, load_plugins
from seqnet.tblog.hparams import all_hparam_keys, flat_hparams

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "custom_cell"
EXAMPLE_ENTRY = EntryPoint("example_cell", "seqnet_example_cell", plugins.ENTRY_POINT_GROUP)


@pytest.fixture(autouse=True)
def plugin_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the plugins a test names are loaded (none by default, whatever this environment has
    installed), and whatever they register is forgotten afterwards: registries, ConfigStore
    schemas, config paths and the plugin modules themselves."""
    models, tasks = dict(MODEL_REGISTRY), dict(TASK_REGISTRY)
    paths, loaded = list(plugins._config_paths), set(plugins._loaded)
    modules = set(sys.modules)
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    use_entry_points(monkeypatch)
    yield
    schemas = ConfigStore.instance().repo["schema"]
    for registry, saved, group in (
        (MODEL_REGISTRY, models, "model"),
        (TASK_REGISTRY, tasks, "data"),
    ):
        for name in set(registry) - set(saved):
            schemas[group].pop(f"{name}.yaml", None)
        registry.clear()
        registry.update(saved)
    plugins._config_paths[:] = paths
    plugins._loaded.clear()
    plugins._loaded.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith(("seqnet_example_cell", "broken_plugin")):
            del sys.modules[name]


def use_entry_points(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> None:
    monkeypatch.setattr(plugins, "plugin_entry_points", lambda: list(entries))


# ---------------------------------------------------------------------------- loading


def test_plugin_model_is_a_choice_with_its_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    use_entry_points(monkeypatch, EXAMPLE_ENTRY)
    assert load_plugins() == ["example_cell"]
    assert load_plugins() == ["example_cell"]  # idempotent: nothing registered twice

    # The plugin's model/example_cell.yaml (its own config folder) and its schema's defaults.
    cfg = compose_config(["model=example_cell"])
    assert dict(cfg.model) == {
        "name": "example_cell",
        "hidden_size": 64,
        "num_layers": 1,
        "dropout": 0.0,
        "encoder_size": 32,
        "compile": False,
        "leak": 0.5,
    }
    assert compose_config(["model=example_cell", "model.leak=0.1"]).model.leak == 0.1
    # Schema checks apply as to the built-in models: unknown keys and wrong types stop.
    with pytest.raises(ConfigCompositionException, match=r"Could not override 'model\.leek'"):
        compose_config(["model=example_cell", "model.leek=0.1"])
    with pytest.raises(ConfigCompositionException, match=r"model\.leak=abc"):
        compose_config(["model=example_cell", "model.leak=abc"])

    # The registered core is the plugin's cell on seqnet's engine, its option passed through.
    make_core, _ = core_factory(cfg.model)
    core = make_core(5)
    assert core.cell_class.__name__ == "ExampleCell"
    assert core.cell_options() == {"leak": 0.5}

    # Every run logs the same HPARAMS keys: the plugin's option is part of the union.
    assert "model/leak" in all_hparam_keys()
    lstm = flat_hparams(compose_config(["paths.run_dir=unused"]))
    assert lstm["model/leak"] == "n/a"
    assert lstm["model/forget_bias"] == 1.0
    example = flat_hparams(compose_config(["model=example_cell", "paths.run_dir=unused"]))
    assert example["model/leak"] == 0.5
    assert example["model/forget_bias"] == "n/a"
    assert set(example) == set(lstm)


def test_example_cell_is_a_leaky_tanh_rnn(monkeypatch: pytest.MonkeyPatch) -> None:
    """h_t = (1 - leak) h_{t-1} + leak * (the tanh RNN's h_t), checked against RNNCell."""
    use_entry_points(monkeypatch, EXAMPLE_ENTRY)
    load_plugins()
    cell_class = MODEL_REGISTRY["example_cell"].cls
    torch.manual_seed(0)
    cell = cell_class(3, 4, leak=0.25)
    rnn = RNNCell(3, 4)
    rnn.load_state_dict(cell.state_dict())
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    (expected,) = rnn.step(rnn.project_input(x), (h,))
    (got,) = cell.step(cell.project_input(x), (h,))
    torch.testing.assert_close(got, 0.75 * h + 0.25 * expected)
    with pytest.raises(ValueError, match=r"model.leak must be in \(0, 1\], got 0.0"):
        cell_class(3, 4, leak=0.0)


def test_plugin_that_raises_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('boom\\non import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    use_entry_points(
        monkeypatch,
        EntryPoint("broken", "broken_plugin", plugins.ENTRY_POINT_GROUP),
        EXAMPLE_ENTRY,
    )
    with pytest.raises(PluginError) as caught:
        load_plugins()
    assert str(caught.value) == (
        "plugin 'broken' (module broken_plugin) failed to import: RuntimeError: boom on import. "
        "Fix it or uninstall the package that declares it (entry point group 'seqnet.plugins')"
    )


def test_missing_plugin_module_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    use_entry_points(monkeypatch, EntryPoint("gone", "no_such_module_x", plugins.ENTRY_POINT_GROUP))
    with pytest.raises(
        PluginError,
        match=r"^plugin 'gone' \(module no_such_module_x\) failed to "
        r"import: ModuleNotFoundError: No module named 'no_such_module_x'\. Fix",
    ):
        load_plugins()


def test_plugin_registering_a_taken_name_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "broken_plugin_taken.py").write_text(
        "from seqnet.models import register_model\n"
        "from seqnet.models.zoo.rnn import RNNConfig\n"
        "register_model('lstm', config=RNNConfig)(object)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    use_entry_points(
        monkeypatch, EntryPoint("taken", "broken_plugin_taken", plugins.ENTRY_POINT_GROUP)
    )
    with pytest.raises(PluginError, match=r"'taken' .* ValueError: model 'lstm' is already"):
        load_plugins()


def test_config_dir_is_the_repository_configs_in_a_checkout() -> None:
    assert CONFIG_DIR == ROOT / "configs"
    assert (CONFIG_DIR / "train.yaml").is_file()


# ---------------------------------------------------------------------------- seqnet.run


@pytest.mark.slow
def test_run_composes_trains_and_returns_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
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


def test_run_refuses_sweeps_and_bad_arguments() -> None:
    with pytest.raises(ConfigError, match=r"experiment=vanishing is a sweep \(hydra.mode=MULTIRUN"):
        seqnet.run(["experiment=vanishing"])
    with pytest.raises(TypeError, match=r"seqnet.run\(\['model=gru'\]\)"):
        seqnet.run("model=gru")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^config_dir=nowhere is not a folder"):
        seqnet.run([], config_dir="nowhere")


@pytest.mark.slow
def test_run_raises_the_loops_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^model\.hidden_size=0 must be a positive integer$"):
        seqnet.run(["model.hidden_size=0"])
    assert "Error executing job" not in capfd.readouterr().err  # raised once, not also logged
