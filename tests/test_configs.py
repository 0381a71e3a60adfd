"""Every config group composes with Hydra's compose API, and bad values stop at composition."""

from __future__ import annotations

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ValidationError
from torch import nn, optim

from conftest import compose_config
from seqnet.config import ProbeDtype, TrainerConfig
from seqnet.data import TASK_REGISTRY
from seqnet.models import MODEL_REGISTRY
from seqnet.optim.adam import AdamConfig
from seqnet.optim.rmsprop import RMSpropConfig
from seqnet.optim.sgd import SGDConfig
from seqnet.train import CONFIG_DIR


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    """The composed config including the ``hydra`` node (mode, sweeper, runtime choices)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


# ---------------------------------------------------------------------------- the files


def test_config_files_match_registries() -> None:
    """One YAML per registered model / task, so every registered name can be chosen."""
    assert {p.stem for p in (CONFIG_DIR / "model").glob("*.yaml")} == set(MODEL_REGISTRY)
    assert {p.stem for p in (CONFIG_DIR / "data").glob("*.yaml")} == set(TASK_REGISTRY)
    assert {p.stem for p in (CONFIG_DIR / "optim").glob("*.yaml")} == {"adam", "rmsprop", "sgd"}


def test_train_yaml_placeholders_are_null() -> None:
    defaults = yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())["defaults"]
    entries = {k: v for d in defaults if isinstance(d, dict) for k, v in d.items()}
    assert entries["experiment"] is None
    assert entries["hparams_search"] is None
    assert entries["debug"] is None
    cfg = compose_with_hydra([])
    choices = cfg.hydra.runtime.choices
    assert choices.experiment is None
    assert choices.hparams_search is None
    assert choices.debug is None
    assert cfg.hydra.mode is None  # a plain run, not a sweep


def test_default_config_values() -> None:
    cfg = compose_config()
    assert cfg.model.name == "lstm"
    assert cfg.data.name == "adding"
    assert cfg.optim._target_ == "torch.optim.Adam"
    assert cfg.seed == 42
    assert cfg.ckpt_path is None
    assert cfg.trainer.max_steps == 2000
    assert cfg.trainer.clip_grad_norm is None
    assert cfg.trainer.device == "auto"
    assert cfg.paths.output_dir == "outputs"
    assert OmegaConf.get_type(cfg.trainer) is TrainerConfig


# ---------------------------------------------------------------------------- groups


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        (
            "rnn",
            {
                "nonlinearity": "tanh",
                "recurrent_init": "default",
                "backend": "auto",
                "compile": False,
            },
        ),
        (
            "lstm",
            {
                "forget_bias": 1.0,
                "chrono_tmax": None,
                "zoneout": 0.0,
                "recurrent_init": "default",
                "backend": "auto",
                "compile": False,
            },
        ),
        (
            "gru",
            {"zoneout": 0.0, "recurrent_init": "default", "backend": "auto", "compile": False},
        ),
    ],
)
def test_each_model_composes(name: str, extra: dict) -> None:
    cfg = compose_config([f"model={name}"])
    model = OmegaConf.to_container(cfg.model, enum_to_str=True)
    assert model == {
        "name": name,
        "hidden_size": 128,
        "num_layers": 1,
        "dropout": 0.0,
        "encoder_size": 32,
        **extra,
    }
    # The YAML is validated by the schema its model registered.
    assert OmegaConf.get_type(cfg.model) is MODEL_REGISTRY[name].config


def test_rnn_relu_composes() -> None:
    cfg = compose_config(["model=rnn", "model.nonlinearity=relu"])
    assert cfg.model.nonlinearity.name == "relu"


@pytest.mark.parametrize(
    ("name", "target", "cls", "schema", "values"),
    [
        (
            "adam",
            "torch.optim.Adam",
            optim.Adam,
            AdamConfig,
            {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
        ),
        (
            "rmsprop",
            "torch.optim.RMSprop",
            optim.RMSprop,
            RMSpropConfig,
            {"lr": 0.001, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0},
        ),
        (
            "sgd",
            "torch.optim.SGD",
            optim.SGD,
            SGDConfig,
            {"lr": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0},
        ),
    ],
)
def test_each_optim_composes_and_instantiates(
    name: str, target: str, cls: type, schema: type, values: dict
) -> None:
    cfg = compose_config([f"optim={name}"])
    assert cfg.optim._target_ == target
    assert cfg.optim._partial_ is True
    assert OmegaConf.get_type(cfg.optim) is schema
    # _partial_: the optimizer is completed with the model's parameters later.
    optimizer = instantiate(cfg.optim)(nn.Linear(2, 1).parameters())
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    for key, value in values.items():
        got = tuple(group[key]) if isinstance(value, tuple) else group[key]
        assert got == value, key


def test_data_adding_composes() -> None:
    cfg = compose_config(["data=adding"])
    assert OmegaConf.to_container(cfg.data) == {
        "name": "adding",
        "seq_len": 50,
        "batch_size": 64,
        "val_size": 1024,
        "val_seed": 1234,
    }
    assert OmegaConf.get_type(cfg.data) is TASK_REGISTRY["adding"].config


def test_debug_fast() -> None:
    cfg = compose_config(["debug=fast"])
    assert cfg.trainer.max_steps == 20
    assert cfg.trainer.val_every_n_steps == 10
    assert cfg.trainer.ckpt_every_n_steps == 10
    assert cfg.trainer.log_every_n_steps == 1
    assert cfg.grad_log.every_n_steps == 10
    assert cfg.grad_log.batch_size == 16
    # Untouched values keep their defaults; no data keys, so it composes with every task.
    assert cfg.model.name == "lstm"
    assert cfg.data.batch_size == 64 and cfg.data.seq_len == 50


def test_experiment_adding_long() -> None:
    cfg = compose_with_hydra(["experiment=adding_long"])
    assert cfg.hydra.runtime.choices.model == "lstm"
    assert cfg.model.name == "lstm"
    assert cfg.model.forget_bias == 1.0
    assert cfg.data.seq_len == 200
    assert cfg.trainer.max_steps == 3000
    assert cfg.trainer.clip_grad_norm == 1.0
    assert cfg.hydra.mode is None  # a single run


def test_experiment_adding_long_command_line_wins() -> None:
    """Command-line overrides apply after the experiment's values."""
    cfg = compose_config(["experiment=adding_long", "model=gru", "data.seq_len=30"])
    assert cfg.model.name == "gru"
    assert cfg.data.seq_len == 30
    assert cfg.trainer.clip_grad_norm == 1.0


def test_experiment_vanishing_is_a_sweep() -> None:
    cfg = compose_with_hydra(["experiment=vanishing"])
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert OmegaConf.to_container(cfg.hydra.sweeper.params) == {"model": "rnn,lstm,gru"}
    assert cfg.data.seq_len == 100
    assert cfg.trainer.max_steps == 1000
    assert cfg.trainer.val_every_n_steps == 250
    assert cfg.grad_log.every_n_steps == 100
    assert cfg.grad_log.dtype == ProbeDtype.float64


def test_hparams_search_lr_grid_is_a_sweep() -> None:
    cfg = compose_with_hydra(["hparams_search=lr_grid"])
    assert cfg.hydra.mode == RunMode.MULTIRUN
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params == {"optim.lr": "1e-4,3e-4,1e-3,3e-3"}
    assert [float(v) for v in params["optim.lr"].split(",")] == [1e-4, 3e-4, 1e-3, 3e-3]
    # The grid's values are valid for the optimizer schema (float lr).
    assert compose_config(["optim.lr=3e-4"]).optim.lr == 3e-4


# ---------------------------------------------------------------------------- errors


def test_wrong_type_fails_at_composition() -> None:
    with pytest.raises(ConfigCompositionException) as excinfo:
        compose_config(["trainer.max_steps=abc"])
    assert "trainer.max_steps=abc" in str(excinfo.value)
    cause = excinfo.value.__cause__
    assert isinstance(cause, ValidationError)
    assert "Value 'abc' of type 'str' could not be converted to Integer" in str(cause)
    assert "full_key: trainer.max_steps" in str(cause)


def test_unknown_key_fails_at_composition() -> None:
    with pytest.raises(ConfigCompositionException) as excinfo:
        compose_config(["model.hiden_size=3"])
    assert "Could not override 'model.hiden_size'" in str(excinfo.value)
    cause = excinfo.value.__cause__
    assert isinstance(cause, ConfigAttributeError)
    assert "Key 'hiden_size' not in 'LSTMConfig'" in str(cause)


def test_rnn_nonlinearity_outside_enum_fails() -> None:
    with pytest.raises(ConfigCompositionException) as excinfo:
        compose_config(["model=rnn", "model.nonlinearity=sigmoid"])
    assert "model.nonlinearity=sigmoid" in str(excinfo.value)
    cause = excinfo.value.__cause__
    assert isinstance(cause, ValidationError)
    assert "Invalid value 'sigmoid', expected one of [tanh, relu]" in str(cause)


def test_forget_bias_is_not_a_gru_option() -> None:
    with pytest.raises(ConfigCompositionException) as excinfo:
        compose_config(["model=gru", "model.forget_bias=2"])
    assert "Could not override 'model.forget_bias'" in str(excinfo.value)
    assert "Key 'forget_bias' not in 'GRUConfig'" in str(excinfo.value.__cause__)


def test_probe_dtype_outside_enum_fails() -> None:
    with pytest.raises(ConfigCompositionException) as excinfo:
        compose_config(["grad_log.dtype=float16"])
    assert "Invalid value 'float16', expected one of [float32, float64]" in str(
        excinfo.value.__cause__
    )


def test_unknown_model_lists_the_options() -> None:
    with pytest.raises(MissingConfigException) as excinfo:
        compose_config(["model=transformer"])
    message = str(excinfo.value)
    assert "Could not find 'model/transformer'" in message
    options = message.split("Available options in 'model':")[1].split("Config search path")[0]
    assert options.split() == sorted(MODEL_REGISTRY)
