"""The kernels' C++ form (``csrc/``), built at first use for this CPU and PyTorch, and loaded.

On CPU the pure-PyTorch kernels (``lstm_family``, ``gru_family``) spend about as long on a
dozen small elementwise calls per timestep, each a pass over memory with its own dispatch, as on
the matrix products; the C++ kernels do a step's elementwise work in one pass over each batch row
and leave the matrix products to ATen (the docs' performance page has the profile and what each
gains). They compute the same functions with the same saved tensors, so the autograd functions
take either; the tests hold both to the same equations.

The library is compiled once per source, PyTorch installation, compiler and CPU capability (AVX-512,
AVX2, or none: ``torch.backends.cpu.get_cpu_capability()``) into
``$SEQNET_KERNEL_DIR`` (default: ``<seqnet's cache folder>/kernels``), under a file lock so that
the ranks or jobs of one launch build it once, and loaded with ``torch.ops.load_library``. It
needs a C++ compiler (``$CXX``, else ``c++`` or ``g++`` on the PATH): where there is none, or the
build fails, or ``SEQNET_NATIVE_KERNELS=0``, the pure-PyTorch kernels run, and the log says so
once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import Tensor

log = logging.getLogger(__name__)

#: The environment variable that turns the C++ kernels off (``0``) and the one that moves them.
ENABLE_ENV = "SEQNET_NATIVE_KERNELS"
DIR_ENV = "SEQNET_KERNEL_DIR"
SOURCES = Path(__file__).with_name("csrc")
#: Compiler flags per CPU capability: the vector extensions ATen's kernels of that capability
#: use, and the macro that selects ATen's matching ``Vectorized`` (with Sleef's exp and tanh).
CAPABILITY_FLAGS = {
    "AVX512": [
        "-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512",
        "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma",
    ],
    "AVX2": ["-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2", "-mavx2", "-mfma", "-mf16c"],
}  # fmt: skip
#: The dtypes the C++ kernels are compiled for.
DTYPES = (torch.float32, torch.float64)

_state: dict[str, object] = {}


def enabled() -> bool:
    """Whether ``SEQNET_NATIVE_KERNELS`` leaves the C++ kernels on (anything but ``0``)."""
    return os.environ.get(ENABLE_ENV, "1").strip() != "0"


def applies(x: Tensor) -> bool:
    """Whether the C++ kernels run for ``x``: a CPU float32/float64 tensor, turned on, built."""
    return x.device.type == "cpu" and x.dtype in DTYPES and enabled() and ops() is not None


def ops() -> SimpleNamespace | None:
    """``torch.ops.seqnet`` once the library is loaded (built first if need be), None where it
    cannot be (said once in the log)."""
    if "ops" not in _state:
        _state["ops"] = _load()
    return _state["ops"]  # type: ignore[return-value]


def capability() -> str:
    """The CPU capability the library is built for (``AVX512``, ``AVX2`` or ``DEFAULT``)."""
    found = torch.backends.cpu.get_cpu_capability()
    return found if found in CAPABILITY_FLAGS else "DEFAULT"


def compiler() -> str | None:
    """The C++ compiler: ``$CXX``, else ``c++`` or ``g++`` on the PATH."""
    given = os.environ.get("CXX")
    if given:
        return shutil.which(given)
    return shutil.which("c++") or shutil.which("g++")


def kernel_dir() -> Path:
    """Where built libraries are kept (see the module docstring)."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    from seqnet.data.cache import cache_dir

    return cache_dir() / "kernels"


def command(cxx: str, output: Path, defines: tuple[str, ...] = ()) -> list[str]:
    """The compile-and-link command for the sources into ``output``, with extra macros
    ``defines`` (the tests build ``SEQNET_ATEN_GEMM``: products through ATen, not BLAS)."""
    root = Path(torch.__file__).parent  # torch.utils.cpp_extension's paths, without its import
    torch_lib = root / "lib"
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    include = root / "include"
    includes = [f"-I{include}", f"-I{include / 'torch' / 'csrc' / 'api' / 'include'}"]
    sources = sorted(str(p) for p in SOURCES.glob("*.cpp"))
    return [
        cxx, "-O3", "-std=c++20", "-fPIC", "-shared", "-w", "-fopenmp",
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        *CAPABILITY_FLAGS.get(capability(), []), *(f"-D{d}" for d in defines), *includes,
        *sources,
        "-o", str(output), f"-L{torch_lib}", "-lc10", "-ltorch_cpu",
        f"-Wl,-rpath,{torch_lib}",
    ]  # fmt: skip


def library_key(cxx: str) -> str:
    """What the built library depends on, hashed: the sources, PyTorch, the compiler (its path
    and its file's time) and the whole command, the capability's flags included."""
    digest = hashlib.sha256()
    for path in sorted(SOURCES.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(f"{torch.__version__} {os.path.getmtime(cxx)}".encode())
    digest.update(" ".join(command(cxx, Path("library.so"))).encode())
    return f"seqnet_kernels-{capability().lower()}-{digest.hexdigest()[:16]}"


def _load() -> SimpleNamespace | None:
    if not enabled():
        log.info("%s=0: the engine runs its pure-PyTorch kernels", ENABLE_ENV)
        return None
    if sys.platform == "win32":
        return _fall_back("seqnet builds its C++ kernels on Linux and macOS only")
    cxx = compiler()
    if cxx is None:
        return _fall_back(
            "no C++ compiler found ($CXX, c++ or g++ on the PATH); install one (Debian/Ubuntu: "
            "apt install g++) to build them"
        )
    folder = kernel_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        library = folder / f"{library_key(cxx)}.so"
        with open(folder / f"{library.stem}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build per launch: the others wait, then load
            if not library.exists():
                reason = _build(cxx, library)
                if reason is not None:
                    return _fall_back(reason)
        torch.ops.load_library(str(library))
    except OSError as error:
        return _fall_back(f"the kernel folder {folder} is not usable ({error}); set {DIR_ENV}")
    except RuntimeError as error:  # a library that does not load
        return _fall_back(f"{library} did not load ({error}); delete it to rebuild")
    return torch.ops.seqnet


def _build(cxx: str, library: Path, defines: tuple[str, ...] = ()) -> str | None:
    """Compile into ``library`` (through a temporary file, renamed when complete); the reason
    it failed, or None."""
    log.info(
        "building seqnet's C++ kernels for %s with %s (once per PyTorch installation and CPU; "
        "about 20 s) into %s",
        capability(),
        cxx,
        library.parent,
    )
    started = time.perf_counter()
    partial = library.with_name(f"{library.name}.{os.getpid()}.tmp")
    build_log = library.with_suffix(".log")
    result = subprocess.run(command(cxx, partial, defines), capture_output=True, text=True)
    if result.returncode != 0:
        build_log.write_text(result.stdout + result.stderr)
        partial.unlink(missing_ok=True)
        return f"their build failed (compiler output: {build_log})"
    os.replace(partial, library)
    log.info("built seqnet's C++ kernels in %.0f s: %s", time.perf_counter() - started, library)
    return None


def _fall_back(reason: str) -> None:
    log.warning(
        "the engine runs its pure-PyTorch kernels, slower on CPU (docs: performance): %s; %s=0 "
        "silences this",
        reason,
        ENABLE_ENV,
    )
    return None
