"""Models that generate their output sequence one step at a time, around any registered core:
the encoder-decoder (many-to-many, unaligned) and the decoder from a single vector (one-to-many).

Both hand an initial state to a ``Decoder``; they differ only in where that state comes from:
the encoder core's final state, or a learned map of the input vector. Training uses teacher
forcing (the input at step t is the target at t-1, a start symbol at t=0); validation uses
greedy decoding (the input at step t is the decoder's own output at t-1: the most likely token,
or the predicted value). Every model has the same interface as ``SequenceModel``:
``forward(x, hx, probes, targets) -> (outputs, h_n)``, ``predict``, ``probe_names``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from seqnet.data.task import Decoded, TaskSpec
from seqnet.models.engine import Probes
from seqnet.models.sequence_model import Head, make_encoder, run_core, state_probe_names

State = Tensor | tuple[Tensor, ...]


class Decoder(nn.Module):
    """Output encoder + core + per-step head, run from a given initial state.

    A token decoder reads one symbol more than it writes: the start symbol, id ``output_size``.
    A real-valued decoder starts from zeros.
    """

    def __init__(
        self, spec: TaskSpec, make_core: Callable[[int], nn.Module], encoder_size: int | None
    ) -> None:
        super().__init__()
        self.spec = spec
        self.tokens = spec.output_kind == "tokens"
        vocabulary = spec.output_size + 1 if self.tokens else spec.output_size
        self.encoder, features = make_encoder(spec.output_kind, vocabulary, encoder_size)
        self.core = make_core(features)
        self.head = Head(self.core.hidden_size, spec.output_size, "every")

    def start(self, batch: int, like: Tensor) -> Tensor:
        """The first input: the start symbol (batch, 1), or zeros (batch, 1, output_size)."""
        if self.tokens:
            return torch.full((batch, 1), self.spec.output_size, device=like.device)
        return like.new_zeros(batch, 1, self.spec.output_size)

    def forward(
        self, state: State, targets: Tensor, probes: Probes | None = None
    ) -> tuple[Tensor, State]:
        """Teacher forcing: outputs (batch, L, output_size) for targets of length L."""
        start = self.start(len(targets), state[0] if isinstance(state, tuple) else state)
        previous = targets[:, :-1]
        if self.tokens:  # padding (IGNORE_INDEX) only follows the end token: any id will do
            previous = previous.clamp(min=0)
        features = self.encoder(torch.cat((start.to(previous.dtype), previous), dim=1))
        outputs, h_n = run_core(self.core, features, state, probes)
        return self.head(outputs), h_n

    def generate(self, state: State) -> Tensor:
        """Greedy decoding for ``spec.output_len`` steps: token ids (batch, L), the end token
        repeated after the first one (decoding stops once every sequence has ended); or values
        (batch, L, output_size)."""
        like = state[0] if isinstance(state, tuple) else state
        batch, length, end = like.shape[1], self.spec.output_len, self.spec.end_token
        step_input = self.start(batch, like)
        outputs: list[Tensor] = []
        ended = torch.zeros(batch, dtype=torch.bool, device=like.device)
        for _ in range(length):
            out, state = self.core(self.encoder(step_input), state)
            value = self.head(out)  # (batch, 1, output_size)
            if not self.tokens:
                outputs.append(value)
                step_input = value
                continue
            token = value.argmax(dim=-1)  # (batch, 1)
            if end is not None:
                token = token.masked_fill(ended.unsqueeze(1), end)
                ended |= token[:, 0] == end
            outputs.append(token)
            step_input = token
            if end is not None and bool(ended.all()):
                break
        generated = torch.cat(outputs, dim=1)
        if self.tokens and generated.shape[1] < length:
            pad = generated.new_full((batch, length - generated.shape[1]), end)
            generated = torch.cat((generated, pad), dim=1)
        return generated


class _DecodingModel(nn.Module):
    """What both decoder models share: an input encoder and a decoder; ``initial_state`` is
    theirs, the rest is here."""

    #: Prefix of the decoder's probe names (``dec_`` beside an encoder core).
    decoder_probes: str = ""

    def __init__(
        self, spec: TaskSpec, make_core: Callable[[int], nn.Module], encoder_size: int | None
    ) -> None:
        super().__init__()
        self.spec = spec
        self.encoder, self.features = make_encoder(spec.input_kind, spec.input_size, encoder_size)
        # A decoder generates each output from the ones before it: always one direction.
        self.decoder = Decoder(
            spec, functools.partial(make_core, bidirectional=False), encoder_size
        )

    def initial_state(self, x: Tensor, hx: Any = None, probes: Probes | None = None) -> State:
        raise NotImplementedError

    def forward(
        self, x: Tensor, hx: Any = None, probes: Probes | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, State]:
        if targets is None:
            raise ValueError(
                f"{type(self).__name__} is trained with teacher forcing: call it with "
                "targets=y (generate(x) decodes without them)"
            )
        state = self.initial_state(x, hx, probes)
        decoder_probes = None if probes is None else probes.scoped(self.decoder_probes)
        return self.decoder(state, targets, decoder_probes)

    def generate(self, x: Tensor) -> Tensor:
        """Greedy decoding from ``x`` alone (see ``Decoder.generate``)."""
        return self.decoder.generate(self.initial_state(x))

    def predict(self, x: Tensor, y: Tensor) -> Decoded:
        """What ``Task.metrics`` scores: the teacher-forced outputs and the greedy decoding."""
        return Decoded(self(x, targets=y)[0], self.generate(x))


class EncoderDecoder(_DecodingModel):
    """Many-to-many, unaligned: an encoder core reads the input sequence and its final state (of
    every layer) is the decoder's initial state. Encoder and decoder are two cores of the same
    registered model, with their own weights.

    Probes: ``x`` (the encoded input), ``enc_h_l0`` ... over the input steps and ``dec_h_l0`` ...
    over the output steps (``enc_c_l0``/``dec_c_l0`` for LSTMs). ``hx``: the encoder's initial
    state (zeros when None).

    With ``model.bidirectional=true`` the encoder reads the input both ways (as in Bahdanau et
    al. 2015) and the decoder, one direction, starts from a learned bridge of the two: for each
    layer and state tensor, tanh(W [forward final; backward final] + b), one map per state
    tensor (h, and c for LSTMs) shared by the layers. Its probes are ``enc_h_l0_fwd``,
    ``enc_h_l0_bwd``, ... and ``dec_h_l0`` ...
    """

    decoder_probes = "dec_"

    def __init__(
        self, spec: TaskSpec, make_core: Callable[[int], nn.Module], encoder_size: int | None
    ) -> None:
        super().__init__(spec, make_core, encoder_size)
        self.encoder_core = make_core(self.features)
        self.bridge = None
        if getattr(self.encoder_core, "bidirectional", False):
            H, states = self.encoder_core.hidden_size, self.encoder_core.cell_class.state_names
            self.bridge = nn.ModuleList(nn.Linear(2 * H, H) for _ in states)

    @property
    def probe_names(self) -> list[str]:
        return [
            "x",
            *state_probe_names(self.encoder_core, "enc_"),
            *state_probe_names(self.decoder.core, "dec_"),
        ]

    def initial_state(self, x: Tensor, hx: Any = None, probes: Probes | None = None) -> State:
        features = self.encoder(x)
        if probes is not None:
            features = probes.attach("x", features)
            probes = probes.scoped("enc_")
        final = run_core(self.encoder_core, features, hx, probes)[1]
        return final if self.bridge is None else self.bridged(final)

    def bridged(self, final: State) -> State:
        """The decoder's initial state from a bidirectional encoder's final one: each state
        tensor (layers * 2, batch, H), forward and backward per layer, to (layers, batch, H)."""
        parts = (final,) if isinstance(final, Tensor) else final
        assert self.bridge is not None
        joined = []
        for part, bridge in zip(parts, self.bridge, strict=True):
            layers, batch, H = part.shape[0] // 2, part.shape[1], part.shape[2]
            both = part.view(layers, 2, batch, H).permute(0, 2, 1, 3).reshape(layers, batch, 2 * H)
            joined.append(torch.tanh(bridge(both)))
        return joined[0] if len(joined) == 1 else tuple(joined)


class VectorDecoder(_DecodingModel):
    """One-to-many: the input is one vector (batch, 1, input_size); its encoding, through a
    learned linear map and tanh, is the initial state of every layer (every state tensor, h and
    c for LSTMs) of the decoder.

    Probes: ``x`` (the encoded vector, one step) and ``h_l0`` ... over the output steps. ``hx``
    must be None: the initial state comes from the input.
    """

    def __init__(
        self, spec: TaskSpec, make_core: Callable[[int], nn.Module], encoder_size: int | None
    ) -> None:
        super().__init__(spec, make_core, encoder_size)
        core = self.decoder.core
        self._state_shape = (len(core.cell_class.state_names), core.num_layers, core.hidden_size)
        self.state_map = nn.Linear(self.features, math.prod(self._state_shape))

    @property
    def probe_names(self) -> list[str]:
        return ["x", *state_probe_names(self.decoder.core)]

    def initial_state(self, x: Tensor, hx: Any = None, probes: Probes | None = None) -> State:
        if hx is not None:
            raise ValueError("VectorDecoder takes no hx: its initial state is a map of the input")
        if x.shape[1] != 1:
            raise ValueError(
                f"one-to-many inputs are one step (batch, 1, ...), got {tuple(x.shape)}"
            )
        features = self.encoder(x)
        if probes is not None:
            features = probes.attach("x", features)
        flat = torch.tanh(self.state_map(features[:, 0]))  # (batch, states * layers * hidden)
        states = flat.view(len(x), *self._state_shape).permute(1, 2, 0, 3)  # (S, L, B, H)
        parts = tuple(s.contiguous() for s in states.unbind(0))
        return parts[0] if len(parts) == 1 else parts
