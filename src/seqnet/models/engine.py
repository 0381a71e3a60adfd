"""The step-by-step engine: runs any stack of cells one timestep at a time.

Fused kernels (cuDNN, oneDNN) keep the recurrence inside one call, so the derivative of the loss
with respect to an intermediate state is not reachable from outside. The engine runs the same
weights as an explicit Python loop, which gives every cell variant a forward pass and lets
``Probes`` add a zero tensor to each state: the probe's gradient is then exactly the total
derivative of the loss with respect to that state (through later timesteps and upper layers).

Training needs no probes, so there a cell that has a whole-sequence kernel (``Cell.sequence``:
the LSTM and GRU cells and their peephole, CIFG and layer-norm variants) runs the layer in one
autograd node with its backward written out, in C++ on a CPU where it can be built
(``models.kernels.native``; what that gains: the docs' performance page); the tests check every
kernel, in both forms, against the cell's ``step`` to 1e-10 in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cell import Cell, State, has_sequence_kernel


class Probes:
    """Zero-valued tensors added to activations so that ``probe.grad`` is ``dLoss/dactivation``.

    Adding zero changes no value, so the probed forward pass equals the plain one; the probes
    are leaves, so one backward pass fills all of them at once.
    """

    def __init__(self, prefix: str = "", tensors: dict[str, Tensor] | None = None) -> None:
        self.prefix = prefix
        self.tensors: dict[str, Tensor] = {} if tensors is None else tensors

    def scoped(self, prefix: str) -> Probes:
        """Probes that store into the same tensors, with names prefixed by ``prefix`` (an
        encoder-decoder's two cores probe ``enc_h_l0`` and ``dec_h_l0``)."""
        return Probes(self.prefix + prefix, self.tensors)

    def attach(self, name: str, x: Tensor) -> Tensor:
        """Return ``x + probe`` where ``probe`` is a new zero leaf tensor stored as ``name``."""
        name = self.prefix + name
        if name in self.tensors:
            raise ValueError(f"probe {name!r} is already attached")
        probe = torch.zeros_like(x, requires_grad=True)
        self.tensors[name] = probe
        return x + probe


def unroll(
    cells: Sequence[Cell],
    x: Tensor,
    hx: Sequence[State] | None = None,
    *,
    dropout: float = 0.0,
    training: bool = False,
    probes: Probes | None = None,
    compiled: bool = False,
    directions: int = 1,
) -> tuple[Tensor, list[State]]:
    """Run ``cells`` (layer 0 first; with ``directions=2`` each layer's forward cell, then its
    backward one) over ``x`` of shape (batch, time, features).

    Returns the top layer's outputs (batch, time, directions * hidden) and each cell's final
    state. The backward cell reads the layer's input from the last step to the first; its output
    at step t (the state after reading steps T-1 down to t) sits beside the forward one's, and
    the next layer reads both, as in a bidirectional ``torch.nn.LSTM``. With ``probes``, each
    state ``s`` of layer ``l`` gets a probe named ``"{s}_l{l}"`` (bidirectional:
    ``"{s}_l{l}_fwd"`` and ``"{s}_l{l}_bwd"``) of shape (time, batch, hidden), indexed by the
    direction's own steps: the backward probe's index k is input step T-1-k. Dropout is applied
    between layers, as in ``torch.nn.LSTM``. ``compiled`` runs each cell's step
    ``torch.compile``d (``cell_method``), except with probes: they always run the eager step.
    """
    batch = x.shape[0]
    layer_input = x
    finals: list[State] = []
    # A cell's whole-sequence kernel (``Cell.sequence``) trains where nothing needs the states as
    # nodes of the autograd graph (probes), the step is not compiled, and autocast (which casts
    # per operation) is off.
    kernels = probes is None and not compiled and not torch.is_autocast_enabled(x.device.type)
    layers = len(cells) // directions
    for layer in range(layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            cell = cells[index]
            state = hx[index] if hx is not None else cell.initial_state(batch, x.device, x.dtype)
            backward = direction == 1
            seen = layer_input.flip(1) if backward else layer_input
            name = f"l{layer}" + (DIRECTION_NAMES[direction] if directions == 2 else "")
            if kernels and has_sequence_kernel(cell):
                # Time-major: each step's slice of the projected input is then contiguous.
                out, state = cell.sequence(seen.transpose(0, 1), state)
                out = out.transpose(0, 1)
            else:
                out, state = step_layer(cell, seen, state, name, probes, compiled)
            outputs.append(out.flip(1) if backward else out)
            finals.append(state)
        layer_input = outputs[0] if directions == 1 else torch.cat(outputs, dim=-1)
        if dropout > 0.0 and training and layer < layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    return layer_input, finals


#: The probe-name suffixes of a bidirectional layer's two directions (``h_l0_fwd``, ``h_l0_bwd``).
DIRECTION_NAMES = ("_fwd", "_bwd")


def step_layer(
    cell: Cell,
    x: Tensor,
    state: State,
    layer: str,
    probes: Probes | None,
    compiled: bool,
) -> tuple[Tensor, State]:
    """One layer (or direction), named ``layer`` (``l0``, ``l0_bwd``, ...) in its probes:
    ``cell.step`` at every timestep of ``x`` (batch, time, features) from ``state``; its outputs
    (batch, time, hidden) and final state (see ``unroll``)."""
    batch, steps = x.shape[0], x.shape[1]
    # unbind, not x_proj[:, t]: indexing a tensor that requires grad makes every step's
    # backward allocate and fill a zero tensor of the whole sequence (O(T^2) work).
    inputs = cell.project_input(x).unbind(1)
    state_probes = None
    if probes is not None:
        state_probes = [
            probes.attach(
                f"{name}_{layer}",
                x.new_zeros(steps, batch, cell.hidden_size),
            ).unbind(0)
            for name in cell.state_names
        ]
    step = cell_method(type(cell), "step", compiled and probes is None)
    outputs = []
    for t in range(steps):
        probe = None if state_probes is None else tuple(p[t] for p in state_probes)
        state = step(cell, inputs[t], state, probe)
        outputs.append(state[0])
    return torch.stack(outputs, dim=1), state


_compiled_methods: dict[tuple[type, str], Callable[..., object]] = {}


def cell_method(cell_class: type[Cell], name: str, compiled: bool) -> Callable[..., object]:
    """``cell_class.<name>`` (``step``, or a scan cell's ``scan``), or (``model.compile=true``)
    its ``torch.compile``d version, compiled once per cell class and process on first use.
    Compiling fuses the elementwise gate math into a few kernels, which pays where many small
    kernels dominate a step (a GPU); on CPU the compiled step replaces the faster
    whole-sequence kernel. ``scripts/bench.py --only compile`` measures it (the docs'
    performance page)."""
    method = getattr(cell_class, name)
    if not compiled:
        return method
    key = (cell_class, name)
    if key not in _compiled_methods:
        _compiled_methods[key] = torch.compile(method)
    return _compiled_methods[key]
