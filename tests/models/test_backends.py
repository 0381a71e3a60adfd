"""Where rnn, lstm and gru run: ``model.backend`` picks PyTorch's fused kernel or seqnet's engine
(the same parameters: tests/models/test_engine.py), ``auto`` the path measured faster on the
device or the engine where an option needs it (zoneout), and the log says so once."""

from __future__ import annotations

import pytest
import torch

from seqnet.data import build_task
from seqnet.models import FusedGRU, FusedLSTM, FusedRNN, build_model


@pytest.mark.parametrize("core_class", [FusedRNN, FusedLSTM, FusedGRU])
def test_fused_and_stepped_run_where_they_say_on_every_device(core_class: type) -> None:
    for device in ("cpu", "cuda"):
        assert not core_class(2, 3, backend="fused").runs_stepped(device)
        assert core_class(2, 3, backend="stepped").runs_stepped(device)


def test_backend_auto_runs_the_measured_faster_path_per_device():
    """The GRU's kernel beat the fused nn.GRU on CPU; the fused kernels won everywhere else."""
    spec = build_task({"name": "adding", "seq_len": 6, "val_size": 4}).spec
    runs = {
        name: [build_model({"name": name}, spec).core.runs_stepped(d) for d in ("cpu", "cuda")]
        for name in ("rnn", "lstm", "gru")
    }
    assert runs == {"rnn": [False, False], "lstm": [False, False], "gru": [True, False]}


def test_zoneout_moves_the_plain_models_to_the_engine():
    for core_class in (FusedLSTM, FusedGRU):
        assert core_class(2, 3, zoneout=0.1).runs_stepped("cpu")
        assert core_class(2, 3, zoneout=0.1).runs_stepped("cuda")
        assert core_class(2, 3, zoneout=0.1, backend="stepped").runs_stepped("cuda")


def test_the_log_says_where_backend_auto_runs(caplog):
    spec = build_task({"name": "adding", "seq_len": 6, "val_size": 4}).spec
    model = build_model({"name": "gru", "hidden_size": 4, "zoneout": 0.1}, spec)
    with caplog.at_level("INFO", logger="seqnet.models.cores"):
        model(torch.rand(2, 6, 2))
        model(torch.rand(2, 6, 2))  # once per core and device
    assert caplog.messages == [
        "FusedGRU: model.backend=auto runs on the step-by-step engine on cpu"
    ]
