"""The model registry and factory: ``model=<name>`` builds a registered recurrent core inside the
model that the task's shape needs; a config or checkpoint can build nothing else.

A registered name maps to a *core*: either a module with the ``torch.nn.LSTM`` constructor
(``cls(input_size, hidden_size, num_layers, batch_first=True, dropout=..., **options)``, such as
the fused cores) or a ``Cell`` subclass, which ``StepRNN`` runs on the step-by-step engine. The
encoder, the head and the rest of the plumbing are built in one place (``build_model``), so a new
model is one file in ``models/zoo/``: its cell, its config dataclass and one registration line
(the docs' "Extending seqnet" page):

    @dataclass
    class MyCellOptions:
        my_option: float = 0.5          # MyCell(input_size, hidden_size, bias, my_option=...)

    class MyCell(Cell):
        Options = MyCellOptions
        ...

    @dataclass
    class MyCellConfig(MyCellOptions, EngineConfig):
        name: str = "my_cell"

    register_model("my_cell", config=MyCellConfig)(MyCell)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from omegaconf import DictConfig
from torch import nn

from seqnet.data.task import TaskSpec
from seqnet.models.cell import Cell
from seqnet.models.cores import StepRNN
from seqnet.models.decoders import EncoderDecoder, VectorDecoder
from seqnet.models.options import ModelConfig
from seqnet.models.sequence_model import SequenceModel
from seqnet.registry import Registry

C = TypeVar("C", bound=type)

#: ``make_core(input_size) -> core``: a registered core with every other option bound.
CoreFactory = Callable[[int], nn.Module]


#: Options of ``ModelConfig`` that the model plumbing consumes; the rest go to the core.
_SHARED = ("hidden_size", "num_layers", "dropout", "encoder_size", "bidirectional")

MODEL_REGISTRY: Registry[type] = Registry("model")


def register_model(name: str, config: type[ModelConfig]) -> Callable[[C], C]:
    """Class decorator: make ``model=<name>`` build this core (or cell), validated by ``config``.

    The config's own fields beyond ``ModelConfig``'s are passed to the class as keywords.
    """
    return MODEL_REGISTRY.register(name, config)


def build_core(
    core_class: type,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    **options: Any,
) -> nn.Module:
    """One recurrent core, batch-first: a ``Cell`` class runs on ``StepRNN``. A core class gets
    ``bidirectional`` only when it is true (as ``torch.nn.LSTM`` takes it), so a core of its own
    with the ``torch.nn.LSTM`` constructor need not know the option until it is used."""
    if isinstance(core_class, type) and issubclass(core_class, Cell):
        return StepRNN(
            core_class,
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
            **options,
        )
    if bidirectional:
        options["bidirectional"] = True
    return core_class(
        input_size, hidden_size, num_layers, batch_first=True, dropout=dropout, **options
    )


def core_factory(cfg: DictConfig | dict[str, Any]) -> tuple[CoreFactory, dict[str, Any]]:
    """``(make_core, shared)`` for the model config ``cfg``: ``make_core(input_size)`` builds the
    registered core; ``shared`` holds the plumbing options (``encoder_size``, ...)."""
    core_class, params = MODEL_REGISTRY.resolve(cfg)
    shared = {key: params.pop(key) for key in _SHARED}
    check_core_options(shared["hidden_size"], shared["num_layers"], shared["dropout"])
    make_core = functools.partial(
        build_core,
        core_class,
        hidden_size=shared["hidden_size"],
        num_layers=shared["num_layers"],
        dropout=shared["dropout"],
        bidirectional=shared["bidirectional"],
        **params,
    )
    return make_core, shared


#: Any model ``build_model`` returns: they share forward(x, hx, probes, targets), predict,
#: probe_names.
Model = SequenceModel | EncoderDecoder | VectorDecoder

#: The model each task shape needs (``TaskSpec.shape``); every one is built around ``make_core``.
MODEL_FOR_SHAPE: dict[str, type[Model]] = {
    "many_to_one": SequenceModel,
    "many_to_many": SequenceModel,
    "one_to_one": SequenceModel,
    "encoder_decoder": EncoderDecoder,
    "one_to_many": VectorDecoder,
}


def build_model(cfg: DictConfig | dict[str, Any], spec: TaskSpec) -> Model:
    """Build the model named ``cfg.name`` for a task of shape ``spec``: the registered core
    inside the plumbing that ``spec.shape`` needs (``MODEL_FOR_SHAPE``)."""
    make_core, shared = core_factory(cfg)
    check_bidirectional(shared["bidirectional"], spec)
    return MODEL_FOR_SHAPE[spec.shape](spec, make_core, encoder_size=shared["encoder_size"])


def check_bidirectional(bidirectional: bool, spec: TaskSpec) -> None:
    """Refuse ``model.bidirectional=true`` where a backward direction would read what the model
    must not see: the future of a causal task, or a decoder's own outputs yet to come."""
    if not bidirectional:
        return
    if spec.shape == "one_to_many":
        raise ValueError(
            "model.bidirectional=true cannot be used for a one-to-many task: its decoder "
            "generates each output from the ones before it, so there is no later step to read "
            "backwards from; set model.bidirectional=false"
        )
    if spec.causal:
        raise ValueError(
            f"model.bidirectional=true cannot be used for this task: {spec.causal}; a backward "
            "direction would read the answer. Set model.bidirectional=false"
        )


def check_core_options(hidden_size: int, num_layers: int, dropout: float) -> None:
    """Clear errors for the options every core shares."""
    if hidden_size < 1:
        raise ValueError(f"model.hidden_size must be >= 1, got {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"model.num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
    if dropout > 0.0 and num_layers == 1:
        raise ValueError(
            f"model.dropout={dropout} acts only between recurrent layers, and "
            "model.num_layers=1 has none: set model.num_layers >= 2 or model.dropout=0"
        )
