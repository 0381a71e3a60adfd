"""Recurrent cores with the ``torch.nn.LSTM`` interface: ``core(input, hx) -> (output, h_n)``.

``FusedCore`` makes PyTorch's fused layers (cuDNN on GPU, oneDNN on CPU) seqnet cores, keeping
their parameter names (``weight_ih_l0`` ...): ``FusedRNN``, ``FusedLSTM`` and ``FusedGRU`` (in
``models.zoo``) run, with ``backend="stepped"`` or an option the fused kernel cannot run (such as
zoneout), the same parameters on the step-by-step engine. ``StepRNN`` runs any ``Cell`` class on
the engine and registers its parameters under the same names (``models.scan.ScanRNN`` extends it
with a parallel scan). All expose ``cells()``: per-layer cells that share the core's parameters,
which is how gradient probes run the exact same weights step by step.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from seqnet.models.cell import Cell, State
from seqnet.models.engine import Probes, unroll
from seqnet.models.init import init_options
from seqnet.models.options import EngineOptions, FusedOptions, fill_options, option_names

Hidden = Tensor | tuple[Tensor, ...]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "fused", "stepped")
#: Parameter-name suffixes of the two directions (torch's): forward, backward.
DIRECTION_SUFFIXES = ("", "_reverse")


def split_options(
    options: dict[str, Any], core: type, core_schemas: tuple[type, ...], cell_class: type[Cell]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``options`` split into the core's own (the fields of ``core_schemas``, defaults filled),
    the cell's (``cell_class.Options``, defaults filled) and the rest (the layer's keywords)."""
    core_names = option_names(*core_schemas)
    cell_names = option_names(cell_class.Options)
    own = {k: v for k, v in options.items() if k in core_names}
    cell = {k: v for k, v in options.items() if k in cell_names}
    rest = {k: v for k, v in options.items() if k not in core_names | cell_names}
    filled: dict[str, Any] = {}
    for schema in core_schemas:
        given = {k: v for k, v in own.items() if k in option_names(schema)}
        filled.update(fill_options(schema, given, core.__name__))
    return filled, fill_options(cell_class.Options, cell, cell_class.__name__), rest


class CellStack:
    """Mixin for cores whose layers are cells of one class (``cell_class``).

    Expects ``num_layers``, ``hidden_size``, ``bidirectional``, ``batch_first``, ``dropout`` and
    per-layer parameters named ``<cell parameter>_l<layer>`` (and ``..._l<layer>_reverse``, the
    backward direction's, when bidirectional: torch's names).
    """

    cell_class: type[Cell]
    num_layers: int
    hidden_size: int
    bidirectional: bool
    batch_first: bool
    dropout: float
    training: bool
    # model.compile: torch.compile what the core trains with (each cell's step on the engine, the
    # scan of a ScanRNN). Not self.compile: that is nn.Module.compile().
    compiled: bool = False
    #: The options of ``cell_class`` (its ``Options``, defaults filled), given to every cell.
    options: dict[str, Any]

    def cell_options(self) -> dict[str, Any]:
        """Constructor options of ``cell_class`` beyond (input_size, hidden_size, bias)."""
        return dict(self.options)

    def cells(self) -> list[Cell]:
        """One cell per layer and direction, sharing (not copying) this core's parameters, in
        its mode: layer by layer, the forward direction's cell before the backward one's (the
        order of torch's ``h_n``). The backward cell's parameters are ``<name>_l<layer>_reverse``,
        as in a bidirectional ``torch.nn.LSTM``."""
        names = self._cell_parameter_names()
        cells = []
        for layer in range(self.num_layers):
            for suffix in DIRECTION_SUFFIXES[: self.num_directions]:
                params = {n: getattr(self, f"{n}_l{layer}{suffix}") for n in names}
                cell = self.cell_class.from_parameters(params, **self.cell_options())
                cells.append(cell.train(self.training))
        return cells

    @property
    def num_directions(self) -> int:
        """2 for a bidirectional core, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """The features of the core's output at each step: the directions side by side."""
        return self.hidden_size * self.num_directions

    def _cell_parameter_names(self) -> list[str]:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [n for n in names if getattr(self, f"{n}_l0", None) is not None]

    def forward_stepped(
        self, input: Tensor, hx: Hidden | None = None, probes: Probes | None = None
    ) -> tuple[Tensor, Hidden]:
        """The engine path: same signature and result as the fused forward, up to rounding."""
        x = input if self.batch_first else input.transpose(0, 1)
        output, finals = unroll(
            self.cells(),
            x,
            self._split_hidden(hx),
            dropout=self.dropout,
            training=self.training,
            probes=probes,
            compiled=self.compiled,
            directions=self.num_directions,
        )
        if not self.batch_first:
            output = output.transpose(0, 1)
        return output, self._join_hidden(finals)

    def _split_hidden(self, hx: Hidden | None) -> list[State] | None:
        """(num_layers * directions, batch, hidden) tensors -> one state tuple per layer and
        direction (the order of ``cells()``)."""
        if hx is None:
            return None
        parts = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        expected = len(self.cell_class.state_names)
        if len(parts) != expected:
            raise ValueError(
                f"{type(self).__name__} expects {expected} state tensor(s) "
                f"{self.cell_class.state_names}, got {len(parts)}"
            )
        count = self.num_layers * self.num_directions
        if any(p.shape[0] != count for p in parts):
            raise ValueError(
                f"{type(self).__name__} expects state tensors of shape (num_layers * "
                f"{self.num_directions}, batch, hidden) = ({count}, ...), got "
                f"{[tuple(p.shape) for p in parts]}"
            )
        return [tuple(p[index] for p in parts) for index in range(count)]

    def _join_hidden(self, finals: list[State]) -> Hidden:
        stacked = tuple(torch.stack(s, dim=0) for s in zip(*finals, strict=True))
        return stacked[0] if len(stacked) == 1 else stacked


class FusedCore(CellStack):
    """Mixin for subclasses of PyTorch's fused layers. ``backend`` picks where they run:
    ``fused`` (the fused kernel), ``stepped`` (the engine, same parameters) or ``auto``: the
    engine where an option needs it (zoneout) or where it was measured to be faster on the
    input's device (``engine_faster_on``), else the fused kernel. With probes attached they
    always run on the engine (the fused kernel hides the states between timesteps).

    ``FusedLSTM(input_size, hidden_size, num_layers, ..., **options)``: the options are those
    of ``FusedOptions`` and ``EngineOptions`` (``backend``, ``compile``) and of the cell's
    ``Options``; every other keyword goes to the fused layer.
    """

    #: Device types where the engine trained faster than the fused kernel (measured with
    #: ``python scripts/bench.py --only backends``); ``backend=auto`` uses the engine there.
    engine_faster_on: ClassVar[frozenset[str]] = frozenset()
    #: Cell options that the fused layer takes too (``nn.RNN``'s ``nonlinearity``).
    fused_options: ClassVar[tuple[str, ...]] = ()
    backend: str
    hidden_size: int

    def __init__(self, *args: Any, **options: Any) -> None:
        core, self.options, rest = split_options(
            options, type(self), (FusedOptions, EngineOptions), self.cell_class
        )
        self.backend, self.compiled = core["backend"], core["compile"]
        if self.backend not in BACKENDS:
            raise ValueError(f"model.backend={self.backend!r} must be one of {', '.join(BACKENDS)}")
        # The cell's checks (zoneout's and chrono_tmax's ranges) before any work.
        self.cell_class(1, 1, device="meta", **self.options)
        zoneout = self.options.get("zoneout", 0.0)
        if zoneout and self.backend == "fused":
            raise ValueError(
                f"model.zoneout={zoneout} needs the step-by-step engine and model.backend=fused "
                "is the fused kernel, which has no zoneout: set model.backend=auto (or stepped)"
            )
        rest.update({k: self.options[k] for k in self.fused_options})
        super().__init__(*args, **rest)  # its reset_parameters reads the options

    def runs_stepped(self, device: torch.device | str) -> bool:
        """Whether training on ``device`` runs on the engine (``backend`` resolved)."""
        if self.backend == "auto":
            zoneout = self.options.get("zoneout", 0.0)
            return bool(zoneout) or torch.device(device).type in self.engine_faster_on
        return self.backend == "stepped"

    def announce(self, device: torch.device) -> None:
        """Log once where ``backend`` put this core (the run's train.log shows the choice)."""
        if getattr(self, "_announced", None) == device.type:
            return
        self._announced = device.type
        stepped = self.runs_stepped(device)
        path = "the step-by-step engine" if stepped else "the fused kernel"
        if self.compiled and not stepped:
            log.warning(
                "model.compile=true compiles the step-by-step engine, and %s runs on the fused "
                "kernel on %s, so it changes nothing here; set model.backend=stepped to compile "
                "the engine",
                type(self).__name__,
                device.type,
            )
        log.info(
            "%s: model.backend=%s runs on %s on %s",
            type(self).__name__,
            self.backend,
            path,
            device.type,
        )

    def reset_parameters(self) -> None:
        super().reset_parameters()  # type: ignore[misc]
        cell, options = self.cell_class, self.options
        for layer, suffix in itertools.product(
            range(self.num_layers), DIRECTION_SUFFIXES[: self.num_directions]
        ):
            init_options(
                getattr(self, f"weight_hh_l{layer}{suffix}"),
                getattr(self, f"bias_ih_l{layer}{suffix}", None),
                getattr(self, f"bias_hh_l{layer}{suffix}", None),
                self.hidden_size,
                recurrent_init=options.get("recurrent_init", "default"),
                forget_gate=cell.forget_gate,
                input_gate=cell.input_gate,
                forget_bias=options.get("forget_bias"),
                chrono_tmax=options.get("chrono_tmax"),
            )

    def forward(
        self, input: Tensor, hx: Hidden | None = None, probes: Probes | None = None
    ) -> tuple[Tensor, Hidden]:
        if probes is not None:
            return self.forward_stepped(input, hx, probes)
        self.announce(input.device)
        if self.runs_stepped(input.device):
            return self.forward_stepped(input, hx)
        return super().forward(input, hx)  # type: ignore[misc]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend}"  # type: ignore[misc]


class StepRNN(CellStack, nn.Module):
    """A multi-layer core for any ``Cell`` class, always run on the step-by-step engine.

    Parameters are registered as ``<name>_l<layer>`` (``weight_ih_l0`` ...; the backward
    direction's ``<name>_l<layer>_reverse`` with ``bidirectional=True``), the names of the fused
    layers, so checkpoints and analysis code work across fused and stepped cores.
    """

    def __init__(
        self,
        cell_class: type[Cell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **options: Any,
    ) -> None:
        super().__init__()
        self.cell_class = cell_class
        self.bidirectional = bidirectional
        core = fill_options(
            EngineOptions,
            {k: v for k, v in options.items() if k in option_names(EngineOptions)},
            "StepRNN",
        )
        # The cell's options as given: the cell fills in its defaults (its Options), and one
        # that takes options in its own __init__ gets them (its base refuses unknown names).
        self.options = {k: v for k, v in options.items() if k not in core}
        self.compiled = core["compile"]
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.dropout = dropout
        self._names: list[str] = []
        for layer in range(num_layers):
            for suffix in DIRECTION_SUFFIXES[: self.num_directions]:
                features = input_size if layer == 0 else self.output_size
                cell = cell_class(features, hidden_size, bias, **self.options)
                for name, param in cell.named_parameters():
                    self.register_parameter(f"{name}_l{layer}{suffix}", param)
                    if layer == 0 and not suffix:
                        self._names.append(name)

    def extra_repr(self) -> str:
        options = "".join(f", {k}={v}" for k, v in self.options.items())
        options += ", compile=True" if self.compiled else ""
        options += ", bidirectional=True" if self.bidirectional else ""
        return (
            f"{self.cell_class.__name__}, {self.input_size}, {self.hidden_size}, "
            f"num_layers={self.num_layers}, batch_first={self.batch_first}{options}"
        )

    def _cell_parameter_names(self) -> list[str]:
        return list(self._names)

    def forward(
        self, input: Tensor, hx: Hidden | None = None, probes: Probes | None = None
    ) -> tuple[Tensor, Hidden]:
        return self.forward_stepped(input, hx, probes)
