"""Optimizers: each ``optim=NAME`` composes, is validated by its registered schema and builds
its torch optimizer with the config's values once the model exists; lr=0 trains nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn, optim

from conftest import compose_config
from helpers.runs import scalars, tiny
from seqnet.data.tasks.adding import AddingProblem
from seqnet.models import build_model
from seqnet.optim.adam import AdamConfig
from seqnet.optim.base import OPTIMIZER_REGISTRY
from seqnet.optim.rmsprop import RMSpropConfig
from seqnet.optim.sgd import SGDConfig
from seqnet.training.loop import train


@pytest.mark.parametrize(
    ("name", "cls", "schema", "values"),
    [
        (
            "adam",
            optim.Adam,
            AdamConfig,
            {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
        ),
        (
            "rmsprop",
            optim.RMSprop,
            RMSpropConfig,
            {"lr": 0.001, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0},
        ),
        (
            "sgd",
            optim.SGD,
            SGDConfig,
            {"lr": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0},
        ),
    ],
)
def test_each_optim_composes_and_instantiates(
    name: str, cls: type, schema: type, values: dict
) -> None:
    cfg = compose_config([f"optim={name}"])
    assert cfg.optim._target_ == f"torch.optim.{cls.__name__}"
    assert OPTIMIZER_REGISTRY[name].cls is cls and OPTIMIZER_REGISTRY[name].config is schema
    assert cfg.optim._partial_ is True
    assert OmegaConf.get_type(cfg.optim) is schema
    # _partial_: the optimizer is completed with the model's parameters later.
    optimizer = instantiate(cfg.optim)(nn.Linear(2, 1).parameters())
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    for key, value in values.items():
        got = tuple(group[key]) if isinstance(value, tuple) else group[key]
        assert got == value, key


def test_zero_learning_rate_trains_a_fixed_model(tmp_path: Path) -> None:
    """optim.lr=0 is allowed: every step measures the same model, whose weights never move."""
    cfg = tiny(tmp_path, "run", "model=gru", "optim.lr=0")
    metrics = train(cfg)
    torch.manual_seed(cfg.seed)  # the loop seeds, then builds: the same initial weights
    initial = build_model(cfg.model, AddingProblem.spec).state_dict()
    final = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert final.keys() == initial.keys()
    for key, value in initial.items():
        assert torch.equal(final[key], value), key
    assert metrics["step"] == 6
    assert [v for _, v in scalars(tmp_path / "run")["train/lr"]] == [0.0] * 6
