"""seqnet-grads and seqnet-compare as installed console scripts, run as a user runs them (a
subprocess, this checkout's sources on PYTHONPATH): their output, and their errors as one line
without a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import TINY, compose_config, run_script
from seqnet.gradients import load_gradients
from seqnet.training.loop import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scripts")
    for model in ("rnn", "gru"):
        train(compose_config([*TINY, f"model={model}", f"paths.run_dir={root / model}"]))
    return root / "rnn", root / "gru"


def test_seqnet_grads(two_runs, tmp_path):
    ckpt = two_runs[0] / "checkpoints" / "last.pt"
    out = tmp_path / "grads.json"
    result = run_script("seqnet-grads", f"ckpt={ckpt}", "dtype=float64", f"out={out}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("rnn on adding (T=12), step 6: log10 ||dL/dq(t)||, float64")
    assert lines[-1] == f"written: {out}"
    profile = json.loads(out.read_text())
    _, norms, _ = load_gradients(two_runs[0] / "gradients.npz")  # float32 in training
    assert profile["norms"]["h_l0"] == pytest.approx(norms["h_l0"][-1].tolist(), rel=1e-5)

    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    result = run_script("seqnet-grads", f"ckpt={empty}", f"out={tmp_path / 'x.json'}")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"seqnet-grads: error: checkpoint '{empty}' is corrupt or not a seqnet checkpoint"
    )
    assert not (tmp_path / "x.json").exists()


def test_seqnet_compare(two_runs, tmp_path):
    out = tmp_path / "compare.png"
    result = run_script("seqnet-compare", *map(str, two_runs), "--no-group", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "gradient norm of h_l0, log10 ||dL/dh_l0(t)||:"
    assert [line.split()[0] for line in lines[2:4]] == ["model.name=rnn", "model.name=gru"]
    assert lines[4] == f"wrote {out}"  # then the sweep table (tests/test_compare.py)
    assert out.read_bytes()[:4] == b"\x89PNG"

    broken = tmp_path / "broken"
    shutil.copytree(two_runs[1], broken)
    npz = broken / "gradients.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    result = run_script("seqnet-compare", str(two_runs[0]), str(broken), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"seqnet-compare: error: gradients file '{npz}' is unreadable (BadZipFile: File is not "
        "a zip file); it is empty, truncated or not a seqnet gradients.npz: leave this run out, "
        "or re-run it"
    ]
