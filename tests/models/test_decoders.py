"""The model around a core for each task shape: ``build_model`` picks the read-out or decoder
plumbing; decoders are trained with teacher forcing and generate greedily (token ids until the
end token, or real values fed back)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from seqnet.data import TaskSpec, build_task
from seqnet.models import EncoderDecoder, SequenceModel, VectorDecoder, build_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("shape", "cls"),
    [
        ("many_to_one", SequenceModel),
        ("many_to_many", SequenceModel),
        ("one_to_one", SequenceModel),
        ("encoder_decoder", EncoderDecoder),
        ("one_to_many", VectorDecoder),
    ],
)
def test_build_model_picks_the_plumbing_of_the_shape(shape: str, cls: type) -> None:
    spec = TaskSpec(3, 4, shape=shape, output_len=5)
    assert type(build_model({"name": "gru", "hidden_size": 4}, spec)) is cls


def test_decoders_are_trained_with_targets() -> None:
    task = build_task({"name": "digit_caption"})
    model = build_model({"name": "gru", "hidden_size": 4}, task.spec)
    x, _ = task.probe_batch(2)
    with pytest.raises(ValueError, match="VectorDecoder is trained with teacher forcing"):
        model(x)
    with pytest.raises(ValueError, match="VectorDecoder takes no hx"):
        model.initial_state(x, hx=torch.zeros(1, 2, 4))


# ---------------------------------------------------------------------------- greedy decoding


class ScriptedHead(nn.Module):
    """A head whose argmax at decoding step t is ``tokens[:, t]``; it records its calls."""

    def __init__(self, tokens: Tensor, vocabulary: int) -> None:
        super().__init__()
        self.tokens, self.vocabulary, self.calls = tokens, vocabulary, 0

    def forward(self, outputs: Tensor) -> Tensor:
        step = self.tokens[:, self.calls]
        self.calls += 1
        return (
            nn.functional.one_hot(step, self.vocabulary).double().unsqueeze(1)
            + 0 * outputs[..., :1].double()
        )


def test_greedy_decoding_stops_at_the_end_token() -> None:
    task = build_task({"name": "digit_caption"})
    end, L = task.spec.end_token, task.spec.output_len
    model = build_model({"name": "lstm", "hidden_size": 4}, task.spec).eval()
    script = torch.tensor([[3, end, 5, 5, 5, 5], [4, 4, end, 7, 7, 7]])
    model.decoder.head = ScriptedHead(script, task.spec.output_size)
    fed: list[Tensor] = []
    model.decoder.encoder.register_forward_hook(lambda m, args, out: fed.append(args[0].clone()))
    x, _ = task.probe_batch(2)

    generated = model.generate(x)

    assert generated.tolist() == [[3, end, end, end, end, end], [4, 4, end, end, end, end]]
    assert generated.shape == (2, L) and generated.dtype == torch.int64
    assert model.decoder.head.calls == 3  # both sequences had ended after the third step
    start = task.spec.output_size
    assert [f[:, 0].tolist() for f in fed] == [[start, start], [3, 4], [end, 4]]


def test_real_valued_decoding_feeds_back_its_outputs() -> None:
    task = build_task({"name": "sine_gen", "seq_len": 5, "val_size": 3})
    model = build_model({"name": "gru", "hidden_size": 4}, task.spec).eval()
    fed: list[Tensor] = []
    model.decoder.encoder.register_forward_hook(lambda m, args, out: fed.append(args[0].clone()))
    x, _ = task.val_set()
    with torch.no_grad():
        generated = model.generate(x)
    assert generated.shape == (3, 5, 1) and generated.dtype == torch.float32
    assert torch.equal(fed[0], torch.zeros(3, 1, 1))
    for t in range(1, 5):
        assert torch.equal(fed[t], generated[:, t - 1 : t])
