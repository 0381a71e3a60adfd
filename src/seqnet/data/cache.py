"""A cache of generated data arrays (MNIST-1D, the Mackey-Glass series), keyed by the arguments
that generated them.

Building these arrays takes seconds; loading them takes milliseconds. The cache is only a
shortcut: a missing, stale or unreadable file is rebuilt from the same arguments, so deleting the
cache folder changes no result. Each file stores a checksum of its arrays: one whose data no
longer matches it (a damaged disk, a file edited by hand) is rebuilt, with a warning. Where the
cache cannot be written (a read-only folder) the arrays are still returned, just not kept.

Folder: ``$SEQNET_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/seqnet``, else ``~/.cache/seqnet``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.atomic import atomic_write

log = logging.getLogger(__name__)

#: The environment variable that moves the cache folder.
CACHE_ENV = "SEQNET_CACHE_DIR"
_ARGS_KEY = "__args__"
#: The checksum of the cached arrays: a file zeroed or changed under an intact header is caught.
_SUM_KEY = "__sha256__"


def cache_dir() -> Path:
    """The folder generated data is cached in (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqnet"


def cache_path(name: str, args: dict[str, Any]) -> Path:
    """``<cache dir>/<name>-<hash of args>.npz``: one file per distinct set of arguments."""
    digest = hashlib.sha256(_canonical(args).encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-{digest}.npz"


def cached_arrays(
    name: str, args: dict[str, Any], build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The arrays ``build()`` returns for ``args``: from the cache when a file for exactly these
    arguments is there, else built and written to it (atomically, so a crash mid-write leaves
    no half file behind)."""
    path = cache_path(name, args)
    arrays = _load(path, args)
    if arrays is not None:
        return arrays
    arrays = build()
    try:
        with atomic_write(path) as f:
            header = {_ARGS_KEY: np.array(_canonical(args)), _SUM_KEY: np.array(checksum(arrays))}
            np.savez(f, **arrays, **header)
    except OSError as e:  # a read-only or full disk costs the next run a rebuild, nothing else
        log.warning(
            "could not cache %s data in %s (%s); it will be rebuilt next time", name, path, e
        )
    return arrays


def _load(path: Path, args: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing, unreadable or for other arguments
    (a hash collision or a hand-edited file)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f[_ARGS_KEY]) != _canonical(args):
                return None
            arrays = {key: f[key] for key in f.files if key not in (_ARGS_KEY, _SUM_KEY)}
            stored = str(f[_SUM_KEY]) if _SUM_KEY in f.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if stored != checksum(arrays):  # a file without one is from before checksums: rebuilt too
        name = path.name.rsplit("-", 1)[0]
        log.warning(
            "cached %s data %s does not match its checksum (damaged or changed since it was "
            "written); building it again",
            name,
            path,
        )
        return None
    return arrays


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _canonical(args: dict[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"))
