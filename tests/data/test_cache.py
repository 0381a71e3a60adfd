"""The on-disk cache of generated data (``seqnet.data.cache``): a corrupt file or one written
for other arguments is rebuilt, and the folder follows the environment. (Deleting the cache
changes nothing: tests/data/test_mnist1d.py, tests/data/test_mackey_glass.py.)"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from seqnet.data import cache


def test_a_corrupt_or_foreign_cache_file_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    calls = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(5.0)}

    args = {"a": 1}
    first = cache.cached_arrays("demo", args, build)
    path = cache.cache_path("demo", args)
    assert path.parent == tmp_path and path.is_file()
    path.write_bytes(b"not a zip file")
    assert np.array_equal(cache.cached_arrays("demo", args, build)["x"], first["x"])
    assert len(calls) == 2
    # A file under this name written for other arguments (a hash collision) is not used.
    np.savez(path, x=np.zeros(5), __args__=np.array('{"a":2}'))
    assert np.array_equal(cache.cached_arrays("demo", args, build)["x"], first["x"])
    assert len(calls) == 3
    assert np.array_equal(cache.cached_arrays("demo", args, build)["x"], first["x"])
    assert len(calls) == 3  # and now it is cached again


def test_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "/some/where")
    assert cache.cache_dir() == Path("/some/where")
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache.cache_dir() == Path("/xdg/seqnet")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "seqnet"


def test_a_cache_file_zeroed_under_its_header_is_rebuilt_and_said_so(tmp_path, monkeypatch, caplog):
    """The arrays of a cache file overwritten (here: zeros) while its arguments header stays
    intact: the checksum stored with the arrays catches it, and the arrays are built again."""
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    args = {"a": 1}
    built = {"x": np.arange(5.0), "y": np.ones((2, 3))}
    cache.cached_arrays("demo", args, lambda: built)
    path = cache.cache_path("demo", args)
    with np.load(path) as f:
        kept = {k: f[k] for k in f.files}
    kept["x"] = np.zeros(5)
    np.savez(path, **kept)  # a valid file: header and checksum as written, the data zeroed

    calls = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return built

    with caplog.at_level(logging.WARNING, logger="seqnet.data.cache"):
        arrays = cache.cached_arrays("demo", args, build)
    assert np.array_equal(arrays["x"], built["x"]) and len(calls) == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"cached demo data {path} does not match its checksum (damaged or changed since it "
        "was written); building it again"
    ]
    assert np.array_equal(cache.cached_arrays("demo", args, build)["x"], built["x"])
    assert len(calls) == 1  # the rebuilt file is good
