"""Plugins (entry point group ``seqnet.plugins``), loaded in this process: the example project
of ``examples/custom_cell`` through a stand-in entry point is a model choice with its schema,
its cell's equation, its HPARAMS keys; a plugin that fails is one line. (Installed as a wheel:
tests/e2e/test_install.py; the examples/extending proofs: tests/e2e/test_extending.py.)"""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException

from conftest import compose_config, use_entry_points
from seqnet import plugins
from seqnet.models import MODEL_REGISTRY, RNNCell, core_factory
from seqnet.plugins import PluginError, load_plugins
from seqnet.tblog.hparams import all_hparam_keys, flat_hparams

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_cell"
EXAMPLE_ENTRY = EntryPoint("example_cell", "seqnet_example_cell", plugins.ENTRY_POINT_GROUP)

pytestmark = pytest.mark.usefixtures("plugin_sandbox")


@pytest.fixture(autouse=True)
def example_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))


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
        "bidirectional": False,
        "compile": False,
        "leak": 0.5,
    }
    assert compose_config(["model=example_cell", "model.leak=0.1"]).model.leak == 0.1
    # Schema checks apply as to the built-in models: unknown keys and wrong types stop, naming
    # the key.
    for bad, key in (("model.leek=0.1", "model.leek"), ("model.leak=abc", "model.leak")):
        with pytest.raises(ConfigCompositionException) as excinfo:
            compose_config(["model=example_cell", bad])
        assert key in str(excinfo.value)

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
