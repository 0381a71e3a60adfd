"""The scikit-learn digits: the fixed, disjoint, stratified split every digits task shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqnet.data.sklearn_digits import digits_split, load_arrays, split_indices


def test_digits_split_is_fixed_disjoint_and_stratified() -> None:
    images, labels = load_arrays()
    assert images.shape == (1797, 64) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    splits = split_indices()
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {"train": 1258, "val": 269, "test": 270}
    assert len(np.unique(np.concatenate(list(splits.values())))) == 1797
    for name, idx in splits.items():
        share = np.bincount(labels[idx], minlength=10) / len(idx)
        assert np.all(np.abs(share - 0.1) < 0.01), name
    x, y = digits_split("val")
    assert torch.equal(x, torch.from_numpy(images[splits["val"]]))
    assert torch.equal(y, torch.from_numpy(labels[splits["val"]]))
    with pytest.raises(ValueError, match="unknown digits split 'dev'"):
        digits_split("dev")
