"""``seqnet-grads``: the gradient profile of a checkpoint, with the run's own grad_log settings
or others, equal to the profile training logged on the same weights; its arguments and bad
checkpoints as one line naming its own arguments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, TINY_RUN, compose_config
from helpers.runs import accumulator as events
from seqnet.cli import grads as grads_cli
from seqnet.data.task import Batch
from seqnet.data.tasks.adding import AddingProblem
from seqnet.gradients import load_gradients, measure_profile
from seqnet.models import build_model
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train


def test_grads_cli_on_a_checkpoint(make_cfg, tmp_path, capsys):
    train(make_cfg("model=lstm"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    out = tmp_path / "profile.json"
    assert grads_cli.main([f"ckpt={ckpt}", "dtype=float64", f"out={out}", "batch_size=8"]) == 0
    result = json.loads(out.read_text())
    assert result["step"] == 6 and result["model"] == "lstm" and result["seq_len"] == 12
    assert set(result["norms"]) == {"x", "h_l0", "c_l0"}
    # The same numbers as the training run's own last profile (float32 there, float64 here).
    _, norms, _ = load_gradients(tmp_path / "run" / "gradients.npz")
    np.testing.assert_allclose(result["norms"]["h_l0"], norms["h_l0"][-1], rtol=1e-5)
    h = np.asarray(result["norms"]["h_l0"])
    assert result["summary"]["h_l0"]["log10_ratio"] == pytest.approx(np.log10(h[0] / h[-1]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("lstm on adding (T=12), step 6: log10 ||dL/dq(t)||, float64")
    assert lines[-1] == f"written: {out}"
    # Another length: the task is rebuilt from the checkpoint's config with seq_len=20.
    assert grads_cli.main([f"ckpt={ckpt}", "seq_len=20", f"out={out}", "batch_size=8"]) == 0
    assert len(json.loads(out.read_text())["norms"]["x"]) == 20


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TINY tanh RNN run with float64 probes and a horizon threshold of 0.25."""
    run_dir = tmp_path_factory.mktemp("grads") / "rnn"
    overrides = ["model=rnn", "grad_log.dtype=float64", "grad_log.horizon_threshold=0.25"]
    train(compose_config([*TINY, *overrides, f"paths.run_dir={run_dir}"]))
    return run_dir


def test_grads_cli_uses_the_checkpoints_own_grad_log_settings(rnn_run, tmp_path, capsys):
    """No dtype, loss or batch_size given: those the run was trained with; the horizon uses the
    run's grad_log.horizon_threshold, so it equals the one training logged."""
    ckpt = rnn_run / "checkpoints" / "last.pt"
    out = tmp_path / "profile.json"
    assert grads_cli.main([f"ckpt={ckpt}", f"out={out}"]) == 0
    result = json.loads(out.read_text())
    assert (result["dtype"], result["loss"], result["batch_size"]) == ("float64", "last", 8)
    assert result["horizon_threshold"] == 0.25
    _, norms, _ = load_gradients(rnn_run / "gradients.npz")
    np.testing.assert_allclose(result["norms"]["h_l0"], norms["h_l0"][-1], rtol=1e-12)
    logged = events(rnn_run).Scalars("grad_summary/h_l0/horizon")
    assert (logged[-1].step, logged[-1].value) == (6, 3.0)  # 3 steps stay >= 0.25 x the end
    assert result["summary"]["h_l0"]["horizon"] == 3
    assert "horizon threshold 0.25" in capsys.readouterr().out


def test_grads_cli_probe_batch_beyond_val_size_starts_with_the_training_probe_batch(
    rnn_run, tmp_path
):
    """batch_size=40 with val_size=32: the validation set is regenerated larger, and its first
    32 sequences are the ones training validated and probed on."""
    ckpt = rnn_run / "checkpoints" / "last.pt"  # val_size=32, probe batch = its first 8
    out = tmp_path / "profile.json"
    args = [f"ckpt={ckpt}", f"out={out}", "dtype=float64", "batch_size=40"]
    assert grads_cli.main(args) == 0
    result = json.loads(out.read_text())
    assert result["batch_size"] == 40

    trained_on = AddingProblem(seq_len=12, val_size=32).val_set()
    larger = AddingProblem(seq_len=12, val_size=1000).val_set()
    assert torch.equal(larger.x[:32], trained_on.x) and torch.equal(larger.y[:32], trained_on.y)
    task = AddingProblem(seq_len=12)
    model = build_model(load_checkpoint(ckpt)["config"]["model"], task.spec)
    model.load_state_dict(load_checkpoint(ckpt)["model"])
    batch = Batch(larger.x[:40], larger.y[:40])
    expected = measure_profile(model, task, batch, 6, dtype="float64")
    for q, norm in expected.norms.items():
        np.testing.assert_allclose(result["norms"][q], norm, rtol=1e-12, err_msg=q)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "ckpt=PATH is required"),
        (["ckpt=x.pt", "colour=red"], "unknown argument 'colour=red'"),
        (["ckpt=x.pt", "batch_size=0"], "batch_size=0 must be a positive integer"),
        (["ckpt=x.pt", "dtype=float16"], "dtype=float16 must be one of float32, float64"),
        (["ckpt=x.pt", "loss=mean"], "loss=mean must be one of last, total"),
        (
            ["ckpt=x.pt", "device=tpu"],
            "device='tpu' is not a device; use one of auto, cpu, cuda, cuda:N",
        ),
        (
            ["ckpt=x.pt", "device=cuda"],
            "device=cuda but CUDA is not available on this machine; use device=cpu or device=auto",
        ),
    ],
)
def test_grads_cli_argument_errors_name_its_own_arguments(
    args, message, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a GPU machine
    assert grads_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"seqnet-grads: error: {message}"
    assert "trainer." not in err and "grad_log." not in err


def test_grads_cli_checkpoint_errors(rnn_run, tmp_path, capsys):
    assert grads_cli.main([f"ckpt={tmp_path / 'none.pt'}"]) == 2
    assert capsys.readouterr().err == (
        f"seqnet-grads: error: checkpoint '{tmp_path / 'none.pt'}' does not exist\n"
    )
    ckpt = rnn_run / "checkpoints" / "last.pt"
    assert grads_cli.main([f"ckpt={ckpt}", "seq_len=1"]) == 2
    assert capsys.readouterr().err == (
        "seqnet-grads: error: seq_len=1: the adding problem needs data.seq_len >= 2 "
        "(one marker per half), got 1\n"
    )
    for damage in (b"", ckpt.read_bytes()[:1000]):  # empty, truncated
        broken = tmp_path / "broken.pt"
        broken.write_bytes(damage)
        assert grads_cli.main([f"ckpt={broken}", f"out={tmp_path / 'x.json'}"]) == 2
        assert not (tmp_path / "x.json").exists()
        err = capsys.readouterr().err
        assert err.startswith(
            f"seqnet-grads: error: checkpoint '{broken}' is corrupt or not a seqnet checkpoint"
        )
        assert err.count("\n") == 1


def test_grads_cli_damaged_checkpoints_are_one_line(rnn_run, tmp_path, capsys):
    """A checkpoint that loads but is not whole: weights missing, a config that is no mapping."""
    checkpoint = torch.load(rnn_run / "checkpoints" / "last.pt", weights_only=True)
    missing = tmp_path / "missing.pt"
    torch.save({**checkpoint, "model": {k: v for k, v in checkpoint["model"].items()
                                        if k != "core.weight_hh_l0"}}, missing)  # fmt: skip
    text = tmp_path / "text.pt"
    torch.save({**checkpoint, "config": "model: rnn"}, text)
    out = f"out={tmp_path / 'x.json'}"
    assert grads_cli.main([f"ckpt={missing}", out]) == 2
    assert capsys.readouterr().err == (
        f"seqnet-grads: error: checkpoint '{missing}' does not fit the model its config names "
        "(model=rnn): core.weight_hh_l0 is missing; use the checkpoint as its run wrote it\n"
    )
    assert grads_cli.main([f"ckpt={text}", out]) == 2
    assert capsys.readouterr().err == (
        f"seqnet-grads: error: checkpoint '{text}' is damaged: its config is a str, not a "
        "mapping of settings; use another checkpoint\n"
    )
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_grads_cli_on_an_encoder_decoder(tmp_path: Path, capsys) -> None:
    """seq2seq: the encoder's quantities over the input digits, the decoder's over the words."""
    data = ["data=seq2seq", "data.batch_size=8", "data.val_size=32", "data.max_digits=2"]
    run = [*data, *TINY_RUN, "model=lstm", "model.encoder_size=8"]
    train(compose_config([*run, f"paths.run_dir={tmp_path / 'run'}"]))
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    result_file = tmp_path / "grads.json"
    assert grads_cli.main([f"ckpt={ckpt}", "batch_size=4", f"out={result_file}"]) == 0
    result = json.loads(result_file.read_text())
    lengths = {q: len(v) for q, v in result["norms"].items()}
    assert lengths == {
        "x": 2,
        "enc_h_l0": 2,
        "enc_c_l0": 2,
        "dec_h_l0": 14,  # "seventy seven" and the end token
        "dec_c_l0": 14,
    }
    table = capsys.readouterr().out
    assert "enc_h_l0" in table and "dec_c_l0" in table


def test_grads_cli_names_its_file_after_its_options(rnn_run, tmp_path, capsys):
    """Without out=, each set of options has its own file beside the checkpoint: a second call
    with other options does not overwrite the first."""
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes((rnn_run / "checkpoints" / "last.pt").read_bytes())
    assert grads_cli.main([f"ckpt={ckpt}"]) == 0
    first = json.loads((tmp_path / "last_grads.json").read_text())
    options = ["seq_len=8", "batch_size=4", "loss=total", "dtype=float32"]
    assert grads_cli.main([f"ckpt={ckpt}", *options]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"written: {tmp_path / 'last_grads_float32_loss-total_b4_T8.json'}"
    )
    second = json.loads((tmp_path / "last_grads_float32_loss-total_b4_T8.json").read_text())
    assert json.loads((tmp_path / "last_grads.json").read_text()) == first
    assert (first["seq_len"], first["loss"], first["dtype"]) == (12, "last", "float64")
    assert (second["seq_len"], second["loss"], second["dtype"]) == (8, "total", "float32")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last.pt",
        "last_grads.json",
        "last_grads_float32_loss-total_b4_T8.json",
    ]
