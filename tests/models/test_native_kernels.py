"""The C++ kernels' build and loading (``models.kernels.native``): built once per launch into the
kernel folder, the pure-PyTorch kernels where there is no compiler or the build fails, said once
in the log, and ``SEQNET_NATIVE_KERNELS=0``. (Their values: tests/models/test_sequence_kernels.py
holds both forms to the same equations.)"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqnet.models import LSTMCell
from seqnet.models.kernels import native

needs_compiler = pytest.mark.skipif(native.compiler() is None, reason="no C++ compiler here")


@pytest.fixture
def fresh(monkeypatch, tmp_path) -> Path:
    """A loader that has not tried yet, with an empty kernel folder."""
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv(native.DIR_ENV, str(tmp_path / "kernels"))
    monkeypatch.delenv(native.ENABLE_ENV, raising=False)
    return tmp_path / "kernels"


def test_without_a_compiler_the_pure_kernels_run_and_the_log_says_so_once(
    fresh, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("CXX", "no-such-compiler")
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        assert native.ops() is None
        assert not native.applies(torch.zeros(1))
        native.ops()
    (record,) = caplog.records
    assert record.getMessage() == (
        "the engine runs its pure-PyTorch kernels, slower on CPU (docs: performance): no C++ "
        "compiler found ($CXX, c++ or g++ on the PATH); install one (Debian/Ubuntu: apt install "
        "g++) to build them; SEQNET_NATIVE_KERNELS=0 silences this"
    )
    # and the engine trains: the pure kernel equals the cell's step
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    out, _ = cell.sequence(x, cell.initial_state(2, x.device, x.dtype))
    state = cell.initial_state(2, x.device, x.dtype)
    for t in range(5):
        state = cell.step(cell.project_input(x[t]), state)
    torch.testing.assert_close(out[-1], state[0], rtol=0, atol=1e-12)


def test_a_failed_build_falls_back_naming_the_compilers_output(
    fresh, monkeypatch, tmp_path, caplog
) -> None:
    compiler = tmp_path / "broken-c++"
    compiler.write_text("#!/bin/sh\necho 'fatal error: this compiler is broken' >&2\nexit 1\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CXX", str(compiler))
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        assert native.ops() is None
    (record,) = caplog.records
    (log_file,) = fresh.glob("*.log")
    assert f"their build failed (compiler output: {log_file})" in record.getMessage()
    assert log_file.read_text() == "fatal error: this compiler is broken\n"
    assert not list(fresh.glob("*.so")) and not list(fresh.glob("*.tmp"))


def test_turned_off_they_are_not_built(fresh, monkeypatch, caplog) -> None:
    monkeypatch.setenv(native.ENABLE_ENV, "0")
    with caplog.at_level(logging.INFO, logger=native.__name__):
        assert native.ops() is None
    assert [r.getMessage() for r in caplog.records] == [
        "SEQNET_NATIVE_KERNELS=0: the engine runs its pure-PyTorch kernels"
    ]
    assert not fresh.exists()


LOAD = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
import torch
from seqnet.models.kernels import native
ops = native.ops()
x = torch.randn(4, 2, 12)
h = torch.zeros(2, 3)
out = ops.lstm_forward(x, h, h, torch.randn(12, 3), None, None, None, None, None, None, 1e-5, 0.0,
                       None)
print("loaded", out[1].shape)
"""


@pytest.mark.slow
@needs_compiler
def test_two_processes_at_once_build_the_library_once_and_both_load_it(tmp_path) -> None:
    folder = tmp_path / "kernels"
    env = {**os.environ, native.DIR_ENV: str(folder)}
    env.pop(native.ENABLE_ENV, None)
    procs = [
        subprocess.Popen([sys.executable, "-c", LOAD], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    for output in outputs:
        assert output.splitlines()[-1] == "loaded torch.Size([5, 2, 3])"
    builds = [o for o in outputs if "building seqnet's C++ kernels" in o]
    assert len(builds) == 1 and "built seqnet's C++ kernels in" in builds[0]
    (library,) = folder.glob("*.so")
    assert b"sgemm_" in library.read_bytes()  # the default build calls BLAS where it can
    assert library.name.startswith(f"seqnet_kernels-{native.capability().lower()}-")
    assert not list(folder.glob("*.tmp"))
    # a third process loads the kept library without building
    again = subprocess.run(
        [sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "building" not in again.stdout


ATEN_PRODUCTS = """
import sys
from pathlib import Path
import torch
from seqnet.models import GRUCell, LayerNormLSTMCell, LSTMCell
from seqnet.models.kernels import native
library = Path(sys.argv[1])
assert native._build(native.compiler(), library, ("SEQNET_ATEN_GEMM",)) is None
assert b"sgemm_" not in library.read_bytes()  # no reference to BLAS at all
torch.ops.load_library(str(library))
native._state["ops"] = torch.ops.seqnet

def run(cls, on):
    native.os.environ[native.ENABLE_ENV] = "1" if on else "0"
    torch.manual_seed(0)
    cell = cls(3, 5, zoneout=0.3, dtype=torch.float64).train()
    x = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(4, 5, dtype=torch.float64) for _ in cell.state_names)
    torch.manual_seed(1)
    out, final = cell.sequence(x, state)
    loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()
    loss = loss + sum((s**2).sum() for s in final)
    return [out, *final, *torch.autograd.grad(loss, [x, *cell.parameters()])]

for cls in (LSTMCell, LayerNormLSTMCell, GRUCell):
    for a, b in zip(run(cls, True), run(cls, False), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
print("equal")
"""


@pytest.mark.slow
@needs_compiler
def test_built_without_blas_the_products_go_through_aten_and_agree(tmp_path) -> None:
    """Where libtorch exports no BLAS (``sgemm_``/``dgemm_``), the kernels' products go through
    ATen; built so on purpose, they equal the pure-PyTorch kernels to 1e-12 in float64."""
    env = {**os.environ, native.DIR_ENV: str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", ATEN_PRODUCTS, str(tmp_path / "aten.so")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "equal"
