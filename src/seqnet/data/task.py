"""The task interface and its registry: what a model needs to know (``TaskSpec``), what training
needs (``Task``), and ``data=<name>`` (``register_task``, ``build_task``).

A task declares its *shape*, the way its inputs map to its outputs, and the model side builds
what that shape needs around any registered core (``seqnet.models.build_model``):

============== ================================== =========================================
shape           inputs x -> targets y              model
============== ================================== =========================================
many_to_one     (B, T, ...) -> one per sequence    read-out at the last step
many_to_many    (B, T, ...) -> one per step        read-out at every step (aligned)
encoder_decoder (B, T, ...) -> (B, L) sequence     encoder; its final state starts a decoder
one_to_many     (B, 1, F) vector -> (B, L) seq.    the vector, mapped, is a decoder's state
one_to_one      (B, 1, F) -> one per example       a single step (T=1), read-out
============== ================================== =========================================

Decoders are trained with teacher forcing (the previous target is the next input) and
validated by greedy decoding (their own previous output is the next input).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

import torch
from omegaconf import MISSING, DictConfig
from torch import Tensor

from seqnet.registry import Registry

Shape = Literal["many_to_one", "many_to_many", "encoder_decoder", "one_to_many", "one_to_one"]
#: The read-out each shape needs: one output per sequence ("last") or one per step ("every").
OUTPUT_MODE: dict[str, str] = {
    "many_to_one": "last",
    "one_to_one": "last",
    "many_to_many": "every",
    "encoder_decoder": "every",
    "one_to_many": "every",
}
#: Shapes whose model generates its outputs one step at a time from its own previous output.
DECODER_SHAPES = ("encoder_decoder", "one_to_many")
#: Padding in token targets of decoder tasks: ignored by the loss (``F.cross_entropy``'s default).
IGNORE_INDEX = -100


@dataclass(frozen=True)
class TaskSpec:
    """The shape of a task's inputs and outputs, all a model needs to build its plumbing.

    ``shape`` defaults to what ``output_mode`` implies ("last": many_to_one, "every":
    many_to_many), and ``output_mode`` to what ``shape`` implies, so either one declares a
    read-out task.
    """

    input_size: int
    output_size: int
    #: "real": inputs are (batch, time, input_size) floats; "tokens": (batch, time) int64 ids
    #: below ``input_size`` (the vocabulary size).
    input_kind: Literal["real", "tokens"] = "real"
    #: "last": one output per sequence (many-to-one); "every": one per timestep.
    output_mode: Literal["last", "every"] | None = None
    shape: Shape | None = None
    #: Decoders only. "tokens": targets are int64 ids below ``output_size`` (padded with
    #: ``IGNORE_INDEX``) and the previous token is fed back; "real": (batch, L, output_size)
    #: values, fed back as they are.
    output_kind: Literal["real", "tokens"] = "real"
    #: Decoders only: how many steps greedy decoding runs at most (the target length).
    output_len: int | None = None
    #: Token decoders only: the id that ends a sequence (decoding stops there), or None.
    end_token: int | None = None
    #: Why the task is causal, for a task whose target at a step is made of inputs that come
    #: after it (next-token prediction), or None: ``model.bidirectional=true`` is refused with
    #: this reason, since a backward direction would read the answer.
    causal: str | None = None

    def __post_init__(self) -> None:
        shape = self.shape or {"last": "many_to_one", "every": "many_to_many"}.get(
            self.output_mode or "last"
        )
        if shape not in OUTPUT_MODE:
            raise ValueError(f"TaskSpec.shape must be one of {sorted(OUTPUT_MODE)}, got {shape!r}")
        mode = OUTPUT_MODE[shape]
        if self.output_mode not in (None, mode):
            raise ValueError(
                f"TaskSpec(shape={shape!r}) has one output per "
                f"{'sequence' if mode == 'last' else 'step'}: output_mode={mode!r}, "
                f"not {self.output_mode!r}"
            )
        if shape in DECODER_SHAPES and (self.output_len is None or self.output_len < 1):
            raise ValueError(f"TaskSpec(shape={shape!r}) needs output_len >= 1 (decoding steps)")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "output_mode", mode)

    @property
    def is_decoder(self) -> bool:
        return self.shape in DECODER_SHAPES


class Batch(NamedTuple):
    x: Tensor
    y: Tensor


class Decoded(NamedTuple):
    """What a decoder model predicts for validation (``model.predict``), for ``Task.metrics``."""

    #: The outputs under teacher forcing: logits (B, L, output_size) or values, as in training.
    teacher_forced: Tensor
    #: Greedy decoding: token ids (B, output_len), the end token repeated after the first one;
    #: or values (B, output_len, output_size).
    generated: Tensor


@dataclass
class DataConfig:
    """Fields every task config has; a task's own config subclasses this and adds only the keys
    that apply to it (``seq_len`` for a generated task, not for a fixed data set), so Hydra
    refuses the others by name. The dataclass holds every default."""

    name: str = MISSING
    batch_size: int = 64


class Task:
    """Base class for tasks. Data is generated (or loaded from what ships with the installed
    packages) once, on ``device``; nothing is downloaded.

    ``Task(config, device=...)`` takes its config (an instance of ``Config``, the dataclass the
    task is registered with), or ``Task(device=..., **fields)`` the fields of one, the rest at
    their defaults: ``AddingProblem(seq_len=100)``. A task validates its options in its
    constructor (``ValueError`` naming the key and the fix); only the keys its config declares
    exist, so Hydra refuses the others by name.
    """

    spec: TaskSpec
    #: The task's config dataclass (set by ``register_task``).
    Config: ClassVar[type] = DataConfig
    #: Metric names returned by ``metrics`` (logged as ``val/<name>``).
    metric_names: tuple[str, ...] = ()

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        if config is None:
            try:
                config = self.Config(**fields)
            except TypeError as e:
                known = ", ".join(sorted(self.Config.__dataclass_fields__))
                raise ValueError(f"{type(self).__name__}: {e}; its fields: {known}") from e
        elif fields:
            raise TypeError(f"{type(self).__name__} takes a config or its fields, not both")
        self.config = config
        if config.batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {config.batch_size}")
        self.batch_size = config.batch_size
        self.device = torch.device(device)

    def train_batch(self, seed: int, step: int) -> Batch:
        """Training batch number ``step`` of the stream ``seed``: a pure function of both, so a
        resumed run sees exactly the batches an uninterrupted one would."""
        raise NotImplementedError

    def val_set(self) -> Batch:
        """The fixed validation set. Its first sequences are the gradient probe batch, so they
        must not depend on the set's size (see ``seqnet.data.seeds.heldout_set``). Evaluation
        reads its inputs in slices (``x[i:j]``), so ``x`` may be rows that slicing reads from a
        file (``seqnet.data.rows.Rows``: a memory-mapped array); ``y`` is a tensor."""
        raise NotImplementedError

    def test_set(self) -> Batch | None:
        """The held-out test set, for tasks that have one (evaluated once, at the end)."""
        return None

    def probe_batch(self, n: int) -> Batch:
        """The fixed batch of ``n`` sequences that gradient profiles are measured on: by default
        the head of the validation set. ValueError (naming the fix) when there are fewer."""
        x, y = self.val_set()
        if n > len(x):
            raise ValueError(
                f"grad_log.batch_size={n} is larger than the validation set ({len(x)} "
                f"sequences) it is drawn from; set grad_log.batch_size<={len(x)}"
            )
        return Batch(x[:n], y[:n])

    def sequence_ends(self, y: Tensor) -> Tensor | None:
        """The last step (batch,) int64 of each sequence whose targets are ``y``, for tasks of
        sequences of different lengths (padded to one length): gradient profiles are then
        aligned at each sequence's own end (``seqnet.gradients.probe``). None: every sequence
        ends at the last step."""
        return None

    def source_files(self) -> list[Path]:
        """The files this task's data were read from (the file tasks' ``data.path``): their
        content hash goes into every checkpoint, and resuming on changed files is refused. None
        for generated and bundled data."""
        return []

    def saved_state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the data beside the model, in plain values (a text task's
        vocabulary, a time series' standardisation), so that the model can be used without the
        data files. Nothing by default."""
        return {}

    def continues_stream(self, step: int) -> bool:
        """Whether training batch ``step`` continues the sequences of batch ``step - 1``
        (truncated backpropagation through time): the loop then starts it from the previous
        batch's final state, detached. False for tasks of independent sequences."""
        return False

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        """The training loss: mean over the batch (and over timesteps for per-step outputs)."""
        raise NotImplementedError

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        """Per-sequence loss, shape (batch,): for gradient probes. With per-step outputs,
        ``last_only`` picks the loss at the final output, else the sum over timesteps."""
        raise NotImplementedError

    def metrics(self, pred: Tensor | Decoded, y: Tensor) -> dict[str, float]:
        """Metrics over a held-out set; must include ``"loss"``. ``pred`` is what
        ``model.predict(x, y)`` returns: the outputs of a forward pass for read-out models, a
        ``Decoded`` pair for decoders (``spec.is_decoder``)."""
        raise NotImplementedError


T = TypeVar("T", bound=type[Task])

TASK_REGISTRY: Registry[type[Task]] = Registry("task")


def register_task(name: str, config: type[DataConfig]) -> Callable[[T], T]:
    """Class decorator: make ``data=<name>`` build this task, validated by ``config`` (which
    becomes its ``Config``)."""

    def decorate(cls: T) -> T:
        cls.Config = config
        return TASK_REGISTRY.register(name, config)(cls)

    return decorate


def build_task(cfg: DictConfig | dict[str, Any], device: torch.device | str = "cpu") -> Task:
    """Build the task named ``cfg.name`` from its config (the schema's defaults for the fields
    ``cfg`` leaves out)."""
    cls, params = TASK_REGISTRY.resolve(cfg)
    return cls(TASK_REGISTRY[cfg["name"]].config(name=cfg["name"], **params), device=device)
