"""The cell interface every recurrent layer implements, fused or not.

A cell maps one timestep: ``state_t = step(project_input(x)_t, state_{t-1})``. The input
projection is split out so the engine applies it to the whole sequence in one matrix multiply;
only the recurrent part runs per step. Parameter names follow ``torch.nn.LSTMCell``
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), so a cell can share the weights of one
layer of a fused ``nn.LSTM`` (``weight_ih_l0`` ...) without copying them.

Shared behaviour lives here, as in haste: parameter creation, the options (``Options``, a
dataclass that holds their defaults), the initialisation options (``recurrent_init``,
``forget_bias``, ``chrono_tmax``; see ``models.init``) and zoneout (``zone``). A variant sets a
few class attributes, adds its own parameters in ``extra_parameters`` and writes ``step``; it may
also write ``sequence``, a whole-sequence kernel with its backward written out, which the engine
then trains with.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqnet.models import init
from seqnet.models.options import NoOptions, fill_options, option_names, plain

State = tuple[Tensor, ...]
#: Options the base class itself reads (zoneout, initialisation), whichever cell has them.
BASE_OPTIONS = ("zoneout", "recurrent_init", "forget_bias", "chrono_tmax")


class Cell(nn.Module):
    """Base class: subclasses set the class attributes below and implement ``step``.

    ``Cell(input_size, hidden_size, bias=True, **options)``: the keywords are the fields of the
    cell's ``Options`` dataclass, which holds their defaults (``LSTMOptions``: ``zoneout``,
    ``recurrent_init``, ``forget_bias``, ``chrono_tmax``); each becomes an attribute. The base
    reads the four above where a cell has them: ``zoneout`` (Krueger et al. 2017: in training
    each unit keeps its previous state with this probability, in evaluation the state is the
    expectation) and the initialisation options (see ``models.init``).
    """

    #: The cell's options and their defaults (a dataclass; ``models.options``).
    Options: ClassVar[type] = NoOptions
    #: What a cell without the option does: no zoneout, PyTorch's initialisation, no forget gate.
    zoneout: float = 0.0
    recurrent_init: str = "default"
    forget_bias: float | None = None
    chrono_tmax: float | None = None

    #: Names of the state tensors, output first (``("h",)`` or ``("h", "c")``).
    state_names: ClassVar[tuple[str, ...]] = ("h",)
    #: Number of stacked gate blocks in ``weight_ih`` / ``bias_ih``.
    gate_count: ClassVar[int] = 1
    #: The recurrent weight: ``"matrix"`` (``weight_hh`` (gates*H, H) and ``bias_hh``),
    #: ``"vector"`` (``weight_hh`` (gates*H,): IndRNN) or ``None`` (no recurrent weight).
    recurrent: ClassVar[Literal["matrix", "vector"] | None] = "matrix"
    #: Gate blocks that ``forget_bias`` and ``chrono_tmax`` write (None: the cell has none).
    forget_gate: ClassVar[int | None] = None
    input_gate: ClassVar[int | None] = None
    #: ``prepare_recurrent_weight()`` made once for a whole pass by ``from_parameters`` (the
    #: engine's cells live for one forward pass), rather than at every step; None: made at each.
    _recurrent_weight: Tensor | None = None

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                f"{name} needs input_size >= 1 and hidden_size >= 1, "
                f"got input_size={input_size}, hidden_size={hidden_size}"
            )
        # The initialisation options and zoneout are the base's own: a cell may pass them on
        # without declaring them (the checks below then say why they do not apply).
        own = option_names(self.Options)
        base = {k: plain(v) for k, v in options.items() if k in BASE_OPTIONS and k not in own}
        given = {k: v for k, v in options.items() if k not in base}
        self.options = {**fill_options(self.Options, given, name), **base}
        for option, value in self.options.items():
            setattr(self, option, value)
        init.check_zoneout(self.zoneout)
        init.check_recurrent_init(self.recurrent_init)
        init.check_forget_bias(self.forget_bias, name, self.forget_gate)
        init.check_chrono(self.chrono_tmax, name, self.forget_gate)
        self.check_options()
        self.input_size, self.hidden_size = input_size, hidden_size

        gates = self.gate_count * hidden_size
        factory: dict[str, Any] = {"device": device, "dtype": dtype}

        def param(*shape: int, keep: bool = True) -> nn.Parameter | None:
            return nn.Parameter(torch.empty(shape, **factory)) if keep else None

        matrix = self.recurrent == "matrix"
        self.weight_ih = param(gates, input_size)
        hh_shape = (gates, hidden_size) if matrix else (gates,)
        self.register_parameter("weight_hh", param(*hh_shape, keep=self.recurrent is not None))
        self.register_parameter("bias_ih", param(gates, keep=bias))
        self.register_parameter("bias_hh", param(gates, keep=bias and matrix))
        for pname, p in self.extra_parameters(bias, factory).items():
            self.register_parameter(pname, p)
        if torch.device(device or "cpu").type != "meta":  # meta: from_parameters shares weights
            self.reset_parameters()

    def check_options(self) -> None:
        """A variant's checks of its own options (``ValueError`` naming the key and the fix),
        made before its parameters exist."""

    def extra_parameters(
        self, bias: bool, factory: dict[str, Any]
    ) -> dict[str, nn.Parameter | None]:
        """A variant's own parameters (peepholes, layer-norm gains), by name; None registers
        an absent one (as ``bias_ih`` without bias)."""
        return {}

    def reset_parameters(self) -> None:
        """PyTorch's default for its recurrent layers, U(-1/sqrt(H), 1/sqrt(H)) everywhere,
        then the initialisation options."""
        bound = init.default_bound(self.hidden_size)
        for p in self.parameters(recurse=False):
            nn.init.uniform_(p, -bound, bound)
        init.init_options(
            self.weight_hh if self.recurrent == "matrix" else None,
            self.bias_ih,
            self.bias_hh,
            self.hidden_size,
            recurrent_init=self.recurrent_init,
            forget_gate=self.forget_gate,
            input_gate=self.input_gate,
            forget_bias=self.forget_bias,
            chrono_tmax=self.chrono_tmax,
        )

    @classmethod
    def from_parameters(cls, params: dict[str, nn.Parameter], **options: Any) -> Cell:
        """A cell that shares (does not copy) ``params``, e.g. one layer of a fused ``nn.LSTM``."""
        weight_ih = params["weight_ih"]
        # Build on the meta device so no storage is allocated, then point at the shared tensors.
        cell = cls(
            weight_ih.shape[1],
            weight_ih.shape[0] // cls.gate_count,
            bias=params.get("bias_ih") is not None,
            device="meta",
            **options,
        )
        own = dict(cell.named_parameters())
        if set(own) != set(params):
            raise ValueError(
                f"{cls.__name__}.from_parameters expected parameters {sorted(own)}, "
                f"got {sorted(params)}"
            )
        for name, p in params.items():
            setattr(cell, name, p)
        if cls.recurrent is not None:
            prepared = cell.prepare_recurrent_weight()
            if prepared is not cell.weight_hh:  # nothing to make when it is weight_hh itself
                cell._recurrent_weight = prepared
        return cell

    def prepare_recurrent_weight(self) -> Tensor:
        """The recurrent weight in the form a step uses it: ``weight_hh`` transposed, for
        ``h @ W_hh^T``; a vector as it is (a cell that constrains it overrides this)."""
        return self.weight_hh.t() if self.recurrent == "matrix" else self.weight_hh

    def recurrent_weight(self) -> Tensor:
        """``prepare_recurrent_weight()``, made once per pass (see ``_recurrent_weight``)."""
        if self._recurrent_weight is None:
            return self.prepare_recurrent_weight()
        return self._recurrent_weight

    def initial_state(self, batch_size: int, device: torch.device, dtype: torch.dtype) -> State:
        zeros = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return tuple(zeros for _ in self.state_names)

    def project_input(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for every timestep at once: (..., input_size) -> (..., gates)."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        """One timestep: the projected input at t (batch, gates) and the state at t-1.

        ``probe``, when given, holds one zero tensor per state: add ``probe[i]`` to state ``i``
        as soon as it is computed, before anything uses it (the LSTM adds it to ``c_t`` before
        computing ``h_t`` from it). Then ``probe[i].grad`` is the total derivative of the loss
        with respect to that state, every path included.
        """
        raise NotImplementedError

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """Optional: every timestep at once, from the time-major layer input ``x`` (time,
        batch, input_size); returns every output (time, batch, hidden) and the final state. A
        cell that defines it (a whole-sequence kernel with its backward written out, as in
        ``models.kernels.lstm_family``) trains with it; the engine uses it only where the class
        itself defines it (``has_sequence_kernel``)."""
        raise NotImplementedError

    def zone(self, previous: Tensor, new: Tensor) -> Tensor:
        """Zoneout: in training each unit keeps ``previous`` with probability ``zoneout`` (a
        new mask each step, from the global generator); in evaluation the expectation,
        ``zoneout * previous + (1 - zoneout) * new``. Without zoneout, ``new``."""
        if not self.zoneout:
            return new
        if self.training:
            if torch.compiler.is_compiling():
                # model.compile: inductor (torch 2.13, CPU) drops an in-place bernoulli_ on a
                # fresh tensor and reads the uninitialised mask (NaN); this form compiles right.
                keep = torch.bernoulli(torch.full_like(new, self.zoneout))
            else:
                keep = keep_mask(new, self.zoneout)
            return torch.lerp(new, previous, keep)
        return torch.lerp(new, previous, self.zoneout)

    def extra_repr(self) -> str:
        options = [f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"]
        defaults = fill_options(self.Options, {}, type(self).__name__)
        options += [f"{k}={v}" for k, v in self.options.items() if defaults.get(k) != v]
        return ", ".join(options)


def keep_mask(like: Tensor, p: float) -> Tensor:
    """Zoneout's mask: 1 with probability ``p``, else 0, shaped and typed like ``like``.

    Each unit compares 32 random bits with p 2^32 (finer than ``rand() < p``, whose float32 has
    24), two units to an int64 draw: less than half the time of ``bernoulli_(p)`` on CPU, and
    zoneout's masks were most of its cost.
    """
    n = like.numel()
    bits = torch.empty((n + 1) // 2, dtype=torch.int64, device=like.device)
    units = bits.random_(-(2**63), 2**63 - 1).view(torch.int32)[:n].view(like.shape)
    threshold = round(p * 2**32) - 2**31
    # compared straight into the mask's dtype: one pass, no bool tensor between
    return torch.lt(units, threshold, out=torch.empty_like(like))


def has_sequence_kernel(cell: Cell) -> bool:
    """Whether ``cell``'s own class defines ``sequence``. Inherited does not count: a subclass
    that changes ``step`` (CIFG, layer norm, a user's variant of ``LSTMCell``) must not train
    with its parent's equations."""
    return "sequence" in vars(type(cell))


def probed(state: State, probe: State | None) -> State:
    """``state`` with each probe added (see ``Cell.step``)."""
    if probe is None:
        return state
    return tuple(s + p for s, p in zip(state, probe, strict=True))
