"""seq_digits: pixel-by-pixel and row-by-row reading of scikit-learn's digits, the fixed pixel
permutation, the shared fixed split, its epoch-wise batches, and a short learning run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.tasks import learn
from seqnet.data import build_task
from seqnet.data.sklearn_digits import split_indices
from seqnet.data.tasks.seq_digits import SeqDigits, pixel_permutation


def sklearn_images(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's (n, 8, 8) images in [0, 1] and labels, straight from scikit-learn."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    idx = split_indices()[split]
    return digits.images[idx] / 16.0, digits.target[idx]


@pytest.mark.parametrize("split", ["val", "test"])
def test_pixels_and_rows_read_the_images_in_order(split: str) -> None:
    images, labels = sklearn_images(split)
    pixels = SeqDigits(read="pixels")
    rows = SeqDigits(read="rows")
    get = {"val": "val_set", "test": "test_set"}[split]
    (xp, yp), (xr, yr) = getattr(pixels, get)(), getattr(rows, get)()
    n = len(labels)
    assert xp.shape == (n, 64, 1) and xr.shape == (n, 8, 8)
    assert xp.dtype == xr.dtype == torch.float32 and yp.dtype == torch.int64
    # Step t of the pixel reading is pixel (t // 8, t % 8); step r of the row reading is row r.
    assert np.allclose(xp[:, :, 0].numpy(), images.reshape(n, 64), atol=1e-7)
    assert np.allclose(xr.numpy(), images, atol=1e-7)
    assert yp.tolist() == yr.tolist() == labels.tolist()
    assert pixels.spec.input_size == 1 and rows.spec.input_size == 8
    assert pixels.spec.output_size == rows.spec.output_size == 10


def test_permutation_is_fixed_by_its_seed() -> None:
    perm = pixel_permutation(0)
    assert sorted(perm.tolist()) == list(range(64)) and perm.tolist() != list(range(64))
    assert torch.equal(perm, pixel_permutation(0))
    assert not torch.equal(perm, pixel_permutation(1))
    plain, permuted = SeqDigits().val_set(), SeqDigits(permute=True).val_set()
    assert torch.equal(permuted.x[:, :, 0], plain.x[:, perm, 0])
    assert torch.equal(permuted.y, plain.y)
    # Rows of the permuted image: the permutation applies to pixels, before reading.
    rows = SeqDigits(read="rows", permute=True, permute_seed=0).val_set()
    assert torch.equal(rows.x.reshape(len(rows.x), 64), permuted.x[:, :, 0])


def test_split_is_fixed_and_batches_cover_an_epoch() -> None:
    task = SeqDigits(batch_size=64)
    assert [len(task.val_set().y), len(task.test_set().y)] == [269, 270]
    # 1258 training images: 19 full batches per epoch, each image at most once per epoch.
    images, _ = sklearn_images("train")
    index = {img.astype(np.float32).tobytes(): i for i, img in enumerate(images.reshape(-1, 64))}
    seen = [
        index[row.numpy().tobytes()] for k in range(19) for row in task.train_batch(0, k).x[..., 0]
    ]
    assert len(seen) == len(set(seen)) == 19 * 64
    fresh = SeqDigits(batch_size=64)
    assert torch.equal(fresh.train_batch(0, 25).x, task.train_batch(0, 25).x)
    assert not torch.equal(task.train_batch(0, 0).x, task.train_batch(1, 0).x)


def test_bad_read_order_is_one_line() -> None:
    """(data.read=columns stops at composition: tests/configs/test_composition_errors.py.)"""
    with pytest.raises(ValueError, match=r"^data\.read must be 'pixels' or 'rows', got 'cols'$"):
        build_task({"name": "seq_digits", "read": "cols"})


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_seq_digits_rows_learns(make_cfg) -> None:
    metrics, _ = learn(
        make_cfg,
        "digits",
        "data=seq_digits",
        "data.read=rows",
        "model.hidden_size=24",
        "trainer.max_steps=150",
    )
    assert metrics["val/accuracy"] > 0.85  # measured: 0.96
    assert metrics["test/accuracy"] > 0.85
