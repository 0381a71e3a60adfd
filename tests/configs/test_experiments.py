"""Experiments, searches and launchers compose: what each sets, which sweeps they are, and that
every value a sweep will try composes."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from conftest import compose_config
from helpers.references import VARIANTS
from seqnet.config import CONFIG_DIR, ProbeDtype


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    """The composed config including the ``hydra`` node (mode, sweeper, runtime choices)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


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
    assert OmegaConf.to_container(cfg.hydra.sweeper.params) == {
        "model": "rnn,lstm,gru",
        "seed": "range(5)",  # five seeds per configuration
    }
    assert cfg.data.seq_len == 100
    assert cfg.trainer.max_steps == 1000
    assert cfg.trainer.val_every_n_steps == 250
    assert cfg.grad_log.every_n_steps == 100
    assert cfg.grad_log.dtype == ProbeDtype.float64


def test_experiment_variants_sweeps_every_variant() -> None:
    cfg = compose_with_hydra(["experiment=variants"])
    assert cfg.hydra.mode == RunMode.MULTIRUN
    models = cfg.hydra.sweeper.params.model.split(",")
    assert sorted(models) == sorted(["lstm", "gru", *VARIANTS])
    assert (cfg.data.name, cfg.data.seq_len, cfg.model.hidden_size) == ("adding", 200, 64)
    assert (cfg.trainer.max_steps, cfg.grad_log.every_n_steps) == (1000, 100)


def test_hparams_search_lr_grid_is_a_sweep() -> None:
    cfg = compose_with_hydra(["hparams_search=lr_grid"])
    assert cfg.hydra.mode == RunMode.MULTIRUN
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params == {"optim.lr": "1e-4,3e-4,1e-3,3e-3"}


@pytest.mark.parametrize(
    "choice",
    [f"experiment={p.stem}" for p in sorted((CONFIG_DIR / "experiment").glob("*.yaml"))]
    + ["hparams_search=lr_grid"],
)
def test_every_value_a_sweep_tries_is_valid(choice: str) -> None:
    """Each value of a basic sweep, read as its sweeper reads it (``a,b``, ``range(5)``), is
    valid with the experiment: a swept group's choice composes with the experiment's values
    (every model of experiment=variants with its model.hidden_size), a swept key's value has
    its schema's type (a float optim.lr, a bool data.permute)."""
    cfg = compose_with_hydra([choice])
    swept = OmegaConf.to_container(cfg.hydra.sweeper.params) if cfg.hydra.mode else {}
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in swept.items()])
    for override in parsed:
        key = override.key_or_group
        # One value (model: gru) is a sweep of one job, as on the command line.
        single = not override.is_sweep_override()
        for value in (
            [override.get_value_element_as_str()] if single else override.sweep_string_iterator()
        ):
            if key == "model":
                assert compose_config([choice, f"model={value}"]).model.name == value
            else:  # typed by the schema: 1e-4 is a float, false a bool, 3 an int
                job = cfg.copy()
                OmegaConf.update(job, key, OmegaConf.create(f"v: {value}").v)
                assert OmegaConf.select(job, key) == OmegaConf.create(f"v: {value}").v, key


def test_slurm_launcher_takes_its_resources_as_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = {
        "partition": "gpu",
        "timeout_min": 600,
        "cpus_per_task": 8,
        "gpus_per_node": 2,
        "mem_gb": 64,
        "array_parallelism": 10,
    }
    cfg = compose_with_hydra(
        ["hydra/launcher=slurm", *(f"hydra.launcher.{k}={v}" for k, v in resources.items())]
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_ == (
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert {k: launcher[k] for k in resources} == resources
    assert launcher.max_num_timeout == 10  # requeues after preemption or a time-out
    # SLURM jobs resume their own checkpoint: the job's environment sets ckpt_path=auto.
    assert cfg.hydra.job.env_set.SEQNET_CKPT_PATH == "auto"
    assert cfg.ckpt_path is None
    monkeypatch.setenv("SEQNET_CKPT_PATH", "auto")
    assert compose_with_hydra(["hydra/launcher=slurm"]).ckpt_path == "auto"


def test_optuna_search_space_and_storage() -> None:
    sweeper = compose_with_hydra(["hparams_search=optuna", "paths.output_dir=out"]).hydra.sweeper
    # hydra-optuna-sweeper's, made safe for concurrent sweeps (tests/e2e/test_sweeps.py)
    assert sweeper._target_ == "hydra_plugins.seqnet_optuna.TrialNumberedOptunaSweeper"
    assert sweeper.storage == "sqlite:///out/optuna/seqnet.db"
    assert (sweeper.direction, sweeper.max_failure_rate) == ("minimize", 1.0)
    assert dict(sweeper.params) == {
        "optim.lr": "tag(log, interval(1e-4, 3e-2))",
        "model.hidden_size": "choice(32, 64, 128, 256)",
        "trainer.clip_grad_norm": "choice(0.25, 1.0, 4.0)",
    }
