"""The on-disk cache of generated data (``seqnet.data.cache``): a corrupt file or one written
for other arguments is rebuilt, and the folder follows the environment. (Deleting the cache
changes nothing: tests/data/test_mnist1d.py, tests/data/test_mackey_glass.py.)"""

from __future__ import annotations

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
