"""Every registered task through the real training loop (``train``), as ``seqnet-train
data=<task>`` runs it: files, metrics, HPARAMS columns, gradient files, and seqnet-compare and
seqnet-grads on the results."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import TINY_RUN, compose_config
from seqnet.cli import compare as compare_cli
from seqnet.cli import grads as grads_cli
from seqnet.data import TASK_REGISTRY, build_task
from seqnet.gradients import load_gradients
from seqnet.models import build_model
from seqnet.tblog.hparams import all_metric_tags
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")

#: Small values for the data keys a task's schema has.
TINY_DATA = {"batch_size": 8, "seq_len": 10, "val_size": 32, "max_digits": 2}


def task_cfg(task: str, tmp_path: Path, *overrides: str):
    fields = {f.name for f in dataclasses.fields(TASK_REGISTRY[task].config)}
    data = [f"data.{k}={v}" for k, v in TINY_DATA.items() if k in fields]
    run = f"paths.run_dir={tmp_path / task}"
    return compose_config(
        [f"data={task}", *data, *TINY_RUN, "model.encoder_size=8", *overrides, run]
    )


def metric_columns(run_dir: Path) -> list[str]:
    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")["_hparams_/experiment"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    return [m.name.tag for m in data.experiment.metric_infos]


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASK_REGISTRY))
def test_every_task_trains_end_to_end(task: str, tmp_path: Path) -> None:
    cfg = task_cfg(task, tmp_path, "model=gru")
    metrics = train(cfg)
    run_dir = tmp_path / task
    written = json.loads((run_dir / "metrics.json").read_text())
    for name in TASK_REGISTRY[task].cls.metric_names:
        assert (
            np.isfinite(metrics[f"val/{name}"]) and written[f"val/{name}"] == metrics[f"val/{name}"]
        )
    assert metrics["step"] == 6
    steps, norms, _ = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    assert list(norms) == build_model(cfg.model, build_task(cfg.data).spec).probe_names
    # The same HPARAMS metric columns in every run, whatever the task: those of every task.
    assert metric_columns(run_dir) == all_metric_tags()


def test_metric_columns_are_every_tasks_metrics() -> None:
    names = {m for e in TASK_REGISTRY.values() for m in e.cls.metric_names}
    assert {f"final/val_{m}" for m in names} <= set(all_metric_tags())
    assert {"final/val_bpc", "final/val_exact_match", "final/val_token_accuracy"} <= set(
        all_metric_tags()
    )


@pytest.mark.slow
def test_compare_and_grads_on_an_encoder_decoder(tmp_path: Path, capsys) -> None:
    for model in ("lstm", "gru"):
        train(task_cfg("seq2seq", tmp_path / model, f"model={model}"))
    capsys.readouterr()
    out = tmp_path / "compare.png"
    runs = [str(tmp_path / m / "seq2seq") for m in ("lstm", "gru")]
    assert compare_cli.main([*runs, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("gradient norm of enc_h_l0")  # the default for encoder-decoders
    assert "model.name=lstm" in printed and out.is_file()
    assert compare_cli.main([*runs, "--quantity", "dec_c_l0", "--out", str(out)]) == 0

    ckpt = tmp_path / "lstm" / "seq2seq" / "checkpoints" / "last.pt"
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


@pytest.mark.parametrize(
    ("task", "keys"),
    [
        ("char_lm", {"batch_size": 32, "seq_len": 100}),
        ("seq2seq", {"batch_size": 64, "max_digits": 6, "val_size": 1024, "val_seed": 1234}),
        ("digit_caption", {"batch_size": 64}),
        ("sine_gen", {"batch_size": 64, "seq_len": 50, "val_size": 1024, "val_seed": 1234}),
        ("digits", {"batch_size": 64}),
    ],
)
def test_task_configs_hold_only_their_keys(task: str, keys: dict) -> None:
    cfg = compose_config([f"data={task}"])
    assert {k: v for k, v in cfg.data.items()} == {"name": task, **keys}
    if "seq_len" not in keys:  # a key the task does not have is refused by name
        with pytest.raises(Exception, match="seq_len"):
            compose_config([f"data={task}", "data.seq_len=5"])
