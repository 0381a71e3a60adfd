"""Gradient profiles of sequences of different lengths (``data=arrays`` with ``lengths``):
against the textbook equations run on each sequence alone, unpadded, with its own loss at its
own end, and the norms aligned at each sequence's end (position T-1-k: the mean over the
sequences that have a step k steps before their end). And ``mean_from_ends`` itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.data_files import variable_length_arrays
from helpers.references import state_gradient_norms, unrolled
from seqnet.data import build_task
from seqnet.gradients import measure_profile
from seqnet.gradients.probe import mean_from_ends
from seqnet.models import build_model


def test_mean_from_ends_aligns_each_sequence_at_its_end() -> None:
    norms = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 99.0]])  # (time, batch)
    ends = torch.tensor([3, 1])  # the second sequence has 2 steps (its rows 2, 3: padding)
    # Position 3: both ends (4, 20); 2: one step before (3, 10); 1, 0: the first only.
    assert mean_from_ends(norms, ends).tolist() == [1.0, 2.0, 6.5, 12.0]
    assert mean_from_ends(norms, torch.tensor([0, 0])).tolist() == [0.0, 0.0, 0.0, 5.5]


def reference_profile(model, name: str, x: np.ndarray, lengths: np.ndarray, loss_at) -> dict:
    """Each sequence alone through the reference equations, aligned at its end, averaged."""
    steps = x.shape[1]
    totals: dict[str, np.ndarray] = {}
    counts = np.zeros(steps)
    for b in range(len(x)):
        inputs = torch.from_numpy(x[b : b + 1, : lengths[b]]).double().requires_grad_()
        outputs, states = unrolled(name, model.core, inputs)
        loss = loss_at(b, model.head.linear(outputs[0]))  # outputs at every real step
        norms = state_gradient_norms(loss, states, {"x": inputs})
        shift = steps - lengths[b]
        counts[shift:] += 1
        for q, values in norms.items():
            totals.setdefault(q, np.zeros(steps))[shift:] += values.detach().numpy()
    return {q: v / np.maximum(counts, 1) for q, v in totals.items()}


#: (per_step, loss): one label per sequence has one loss (last and total alike).
KINDS = {"many_to_one": (False, "last"), "many_to_many-last": (True, "last"),
         "many_to_many-total": (True, "total")}  # fmt: skip


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_profiles_of_variable_lengths_match_each_sequence_alone(
    tmp_path: Path, name: str, kind: str
) -> None:
    per_step, loss = KINDS[kind]
    x, labels, lengths = variable_length_arrays(n=24, steps=9, features=2, seed=4)
    targets = (x[..., 0] > 0).astype(np.int64) if per_step else labels
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=targets, lengths=lengths)
    task = build_task({"name": "arrays", "path": str(path), "split": [0.5, 0.5], "batch_size": 4})
    batch = task.probe_batch(6)
    index = [int(np.flatnonzero((x == row.numpy()).all(axis=(1, 2)))[0]) for row in batch.x]
    torch.manual_seed(1)
    model = build_model(
        {"name": name, "hidden_size": 4, "num_layers": 2, "encoder_size": None}, task.spec
    ).double()

    def loss_at(b: int, logits: torch.Tensor) -> torch.Tensor:
        i = index[b]
        if not per_step:  # one label, at the sequence's last step (last and total alike)
            return F.cross_entropy(logits[-1:], torch.tensor([labels[i]]))
        per = F.cross_entropy(logits, torch.from_numpy(targets[i, : lengths[i]]), reduction="none")
        return per[-1] if loss == "last" else per.sum()

    profile = measure_profile(model, task, batch, step=0, dtype="float64", loss=loss)
    expected = reference_profile(model, name, x[index], lengths[index], loss_at)
    assert set(profile.norms) == set(expected) == set(model.probe_names)
    for q, norms in expected.items():
        np.testing.assert_allclose(profile.norms[q], norms, rtol=1e-10, atol=1e-300, err_msg=q)
    assert len(set(lengths[index].tolist())) > 1  # the batch does mix lengths
