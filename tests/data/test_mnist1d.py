"""mnist1d: the package's own generator with its default arguments, the cache (deleting it
changes nothing), the validation split, the shuffled variant, the epoch-wise batches, and a
short learning run well above chance."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.tasks import learn
from seqnet.data import build_task, cache
from seqnet.data.tasks import mnist1d as mnist1d_module
from seqnet.data.tasks.mnist1d import MNIST1D, load_mnist1d


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


def reference_dataset() -> dict[str, np.ndarray]:
    """The data straight from the package, as its README says to build them offline."""
    from mnist1d.data import get_dataset_args, make_dataset

    return make_dataset(get_dataset_args())


def assert_arrays_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype
        assert np.array_equal(a[key], b[key]), key


def test_generated_data_equal_the_packages_and_the_cached_ones(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From an empty cache the arrays are the package's own; a second load reads the cache file
    without building and gives the same arrays. So deleting the cache (back to the first case)
    changes nothing; tests/data/test_mackey_glass.py deletes a cache folder explicitly."""
    reference = reference_dataset()
    random.seed(7)
    np.random.seed(7)
    expected_py, expected_np = random.random(), np.random.random()
    random.seed(7)
    np.random.seed(7)

    built = load_mnist1d()
    # The generator reseeds the global generators; building restores them.
    assert (random.random(), np.random.random()) == (expected_py, expected_np)

    assert built["x"].shape == (4000, 40) and built["x_test"].shape == (1000, 40)
    assert built["x"].dtype == np.float32 and built["y"].dtype == np.int64
    assert np.array_equal(built["x"], reference["x"].astype(np.float32))
    assert np.array_equal(built["x_test"], reference["x_test"].astype(np.float32))
    assert np.array_equal(built["y"], reference["y"])
    assert np.array_equal(built["y_test"], reference["y_test"])
    assert sorted(np.unique(built["y"]).tolist()) == list(range(10))

    # One cache file, keyed by the arguments; the second load reads it without building.
    files = list(empty_cache.iterdir())
    assert [f.name.startswith("mnist1d-") and f.suffix == ".npz" for f in files] == [True]

    def no_build(args: object) -> dict[str, np.ndarray]:
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(mnist1d_module, "build_mnist1d", no_build)
    assert_arrays_equal(load_mnist1d(), built)
    # Another argument (the shuffled variant) is another file: it would be built.
    with pytest.raises(AssertionError, match="rebuilt although cached"):
        load_mnist1d(shuffle_seq=True)


def test_task_splits_validation_from_the_head_of_train() -> None:
    task = MNIST1D(val_size=400)
    arrays = load_mnist1d()
    x_val, y_val = task.val_set()
    x_test, y_test = task.test_set()
    assert torch.equal(y_test, torch.from_numpy(arrays["y_test"]))
    assert x_val.shape == (400, 40, 1) and x_test.shape == (1000, 40, 1)
    assert torch.equal(x_val[:, :, 0], torch.from_numpy(arrays["x"][:400]))
    assert torch.equal(y_val, torch.from_numpy(arrays["y"][:400]))
    assert torch.equal(x_test[:, :, 0], torch.from_numpy(arrays["x_test"]))
    assert task.spec.input_size == 1 and task.spec.output_size == 10
    # A larger validation set starts with the same sequences (the gradient probe batch).
    assert torch.equal(MNIST1D(val_size=1000).val_set().x[:400], x_val)


def test_one_epoch_of_batches_visits_every_training_sequence_once() -> None:
    task = MNIST1D(batch_size=100, val_size=400)  # 3600 training sequences: 36 batches
    arrays = load_mnist1d()
    rows = {arr.tobytes(): i for i, arr in enumerate(arrays["x"][400:])}
    assert len(rows) == 3600
    seen = [rows[r.numpy().tobytes()] for k in range(36) for r in task.train_batch(3, k).x[..., 0]]
    assert sorted(seen) == list(range(3600))
    # Batch k is a function of (seed, k): a fresh task gives the same; epochs differ.
    fresh = MNIST1D(batch_size=100, val_size=400)
    assert torch.equal(fresh.train_batch(3, 40).x, task.train_batch(3, 40).x)
    assert not torch.equal(task.train_batch(3, 0).x, task.train_batch(3, 36).x)
    assert not torch.equal(task.train_batch(3, 0).x, task.train_batch(4, 0).x)


def test_shuffled_variant_is_one_fixed_permutation_of_the_timesteps() -> None:
    plain, shuffled = load_mnist1d(False), load_mnist1d(True)
    assert np.array_equal(plain["y"], shuffled["y"])
    # Find, for every shuffled timestep, the original one it came from.
    x, xs = plain["x"], shuffled["x"]
    perm = [int(np.flatnonzero((x == xs[:, [j]]).all(axis=0))[0]) for j in range(40)]
    assert sorted(perm) == list(range(40)) and perm != list(range(40))
    assert np.array_equal(xs, x[:, perm])
    assert np.array_equal(shuffled["x_test"], plain["x_test"][:, perm])
    task = build_task({"name": "mnist1d", "shuffle_seq": True})
    assert torch.equal(task.test_set().x[:, :, 0], torch.from_numpy(shuffled["x_test"]))


@pytest.mark.parametrize("bad", [0, 4000, -1])
def test_bad_val_size_is_one_line(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"^data\.val_size={bad} must be between 1 and 3999"):
        build_task({"name": "mnist1d", "val_size": bad})


def test_batch_larger_than_the_training_set_is_refused() -> None:
    with pytest.raises(ValueError, match=r"data\.batch_size=5000 is larger than the training set"):
        build_task({"name": "mnist1d", "batch_size": 5000})


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_mnist1d_learns(make_cfg) -> None:
    """Chance is 10%; a GRU reaches well above it in 150 steps, on the test set too."""
    metrics, _ = learn(
        make_cfg, "mnist1d", "data=mnist1d", "model.hidden_size=24", "trainer.max_steps=150"
    )
    assert metrics["val/accuracy"] > 0.4  # measured: 0.60
    assert metrics["test/accuracy"] > 0.4
