"""Sampled decoding for the token decoders (``EncoderDecoder``, ``VectorDecoder``): each token
drawn from the decoder's predicted distribution, sharpened or flattened by a temperature, where
``generate`` takes the most likely one. The model's own step (its decoder's encoder, core and
head, from ``initial_state``) is run; nothing is retrained or changed."""

from __future__ import annotations

import torch
from torch import Tensor, nn


@torch.no_grad()
def sample_tokens(
    model: nn.Module, x: Tensor, temperature: float, generator: torch.Generator
) -> Tensor:
    """Token ids (batch, output_len) decoded from ``x``: at every step a token drawn from
    softmax(logits / ``temperature``) with ``generator`` (0: the most likely token, as
    ``model.generate``), fed back as the next input; the end token is repeated after the first
    one, and decoding stops once every sequence has ended."""
    decoder = model.decoder
    spec = decoder.spec
    if spec.output_kind != "tokens":
        raise ValueError("sample_tokens decodes token outputs; real-valued decoders: generate(x)")
    state = model.initial_state(x)
    like = state[0] if isinstance(state, tuple) else state
    batch, length, end = len(x), spec.output_len, spec.end_token
    step_input = decoder.start(batch, like)
    ended = torch.zeros(batch, dtype=torch.bool, device=x.device)
    tokens: list[Tensor] = []
    for _ in range(length):
        out, state = decoder.core(decoder.encoder(step_input), state)
        logits = decoder.head(out)[:, 0].double()  # (batch, vocabulary)
        if temperature == 0:
            token = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]
        if end is not None:
            token = token.masked_fill(ended, end)
            ended |= token == end
        tokens.append(token)
        step_input = token.unsqueeze(1)
        if end is not None and bool(ended.all()):
            break
    generated = torch.stack(tokens, dim=1)
    if generated.shape[1] < length:
        pad = generated.new_full((batch, length - generated.shape[1]), end)
        generated = torch.cat((generated, pad), dim=1)
    return generated
