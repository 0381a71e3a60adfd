"""Every config group composes with Hydra's compose API: one YAML per registered choice, each
validated by the schema its choice registered, with only the keys that choice has."""

from __future__ import annotations

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from conftest import compose_config
from seqnet.config import CONFIG_DIR, ProbeDtype, TrainerConfig
from seqnet.data import TASK_REGISTRY
from seqnet.models import MODEL_REGISTRY
from seqnet.optim.base import OPTIMIZER_REGISTRY
from seqnet.train import CONFIG_DIR as TRAIN_CONFIG_DIR

ROOT = CONFIG_DIR.parents[0]


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    """The composed config including the ``hydra`` node (mode, sweeper, runtime choices)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


def test_config_dir_is_the_repository_configs_in_a_checkout() -> None:
    assert CONFIG_DIR == TRAIN_CONFIG_DIR == ROOT / "configs"
    assert (CONFIG_DIR / "train.yaml").is_file()


def test_config_files_match_registries() -> None:
    """One YAML per registered model / task / optimizer, so every registered name can be chosen."""
    assert {p.stem for p in (CONFIG_DIR / "model").glob("*.yaml")} == set(MODEL_REGISTRY)
    assert {p.stem for p in (CONFIG_DIR / "data").glob("*.yaml")} == set(TASK_REGISTRY)
    assert {p.stem for p in (CONFIG_DIR / "optim").glob("*.yaml")} == set(OPTIMIZER_REGISTRY)
    assert set(OPTIMIZER_REGISTRY) == {"adam", "rmsprop", "sgd"}


def test_train_yaml_placeholders_are_null() -> None:
    defaults = yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())["defaults"]
    entries = {k: v for d in defaults if isinstance(d, dict) for k, v in d.items()}
    assert (entries["experiment"], entries["hparams_search"], entries["debug"]) == (None,) * 3
    cfg = compose_with_hydra([])
    choices = cfg.hydra.runtime.choices
    assert (choices.experiment, choices.hparams_search, choices.debug) == (None,) * 3
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
    assert cfg.grad_log.dtype == ProbeDtype.float32
    assert OmegaConf.get_type(cfg.trainer) is TrainerConfig


#: The keys of each choice, beside ``name``: an option that does not apply to a model or task is
#: not a key of its config (tests/configs/test_composition_errors.py: it is refused by name).
MODEL = {"hidden_size", "num_layers", "dropout", "encoder_size", "bidirectional", "compile"}
GATED = {"zoneout", "recurrent_init"}
FORGET = {"forget_bias", "chrono_tmax"}
GENERATED = {"batch_size", "val_size", "val_seed"}
FILE = {"batch_size", "path", "allow_changed_file"}
KEYS = {
    ("model", "rnn"): MODEL | {"backend", "nonlinearity", "recurrent_init"},
    ("model", "lstm"): MODEL | {"backend"} | GATED | FORGET,
    ("model", "gru"): MODEL | {"backend"} | GATED,
    ("model", "lstm_peephole"): MODEL | GATED | FORGET,
    ("model", "lstm_cifg"): MODEL | GATED | FORGET,
    ("model", "lstm_layernorm"): MODEL | GATED | FORGET,
    ("model", "gru_layernorm"): MODEL | GATED,
    ("model", "indrnn"): MODEL | {"nonlinearity", "recurrent_max"},
    ("model", "irnn"): MODEL,
    ("model", "mingru"): MODEL,
    ("model", "minlstm"): MODEL | FORGET,
    ("data", "adding"): GENERATED | {"seq_len"},
    ("data", "copy_memory"): GENERATED | {"seq_len"},
    ("data", "sine_gen"): GENERATED | {"seq_len"},
    ("data", "seq2seq"): GENERATED | {"max_digits"},
    ("data", "char_lm"): {"batch_size", "seq_len"},
    ("data", "digits"): {"batch_size"},
    ("data", "digit_caption"): {"batch_size"},
    ("data", "mackey_glass"): {"batch_size", "seq_len", "horizon", "tau", "series_length"},
    ("data", "mnist1d"): {"batch_size", "shuffle_seq", "val_size"},
    ("data", "seq_digits"): {"batch_size", "read", "permute", "permute_seed"},
    ("data", "timeseries"): FILE
    | {
        "columns",
        "target",
        "window",
        "horizon",
        "stride",
        "split",
        "standardize",
        "group",
        "nan_policy",
    },
    ("data", "arrays"): FILE | {"shape", "lengths", "split", "split_seed", "classes"},
    ("data", "text"): FILE | {"seq_len", "split"},
    ("data", "idx"): FILE | {"order", "permute", "permute_seed", "val_size", "classes"},
}


def test_every_registered_choice_has_its_keys_listed() -> None:
    assert {name for group, name in KEYS if group == "model"} == set(MODEL_REGISTRY)
    assert {name for group, name in KEYS if group == "data"} == set(TASK_REGISTRY)


@pytest.mark.parametrize(("group", "name"), list(KEYS), ids=[f"{g}={n}" for g, n in KEYS])
def test_each_choice_composes_with_its_schema(group: str, name: str) -> None:
    node = compose_config([f"{group}={name}"])[group]
    registry = MODEL_REGISTRY if group == "model" else TASK_REGISTRY
    assert OmegaConf.get_type(node) is registry[name].config  # the schema validates the YAML
    assert node.name == name
    assert set(node) == {"name", *KEYS[group, name]}


def test_enum_values_compose() -> None:
    assert compose_config(["model=rnn", "model.nonlinearity=relu"]).model.nonlinearity.name == (
        "relu"
    )
    assert compose_config(["data=seq_digits", "data.read=rows"]).data.read.name == "rows"
    assert compose_config(["grad_log.dtype=float64"]).grad_log.dtype == ProbeDtype.float64


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
