"""MNIST-1D (Greydanus and Kobak, 2020): 10 classes of 1-D signals of 40 steps, many-to-one.

The data are built offline by the ``mnist1d`` package's own generator with its default arguments
(``make_dataset(get_dataset_args())``: 4000 training and 1000 test sequences), never downloaded,
and cached (``seqnet.data.cache``) under a key of those arguments. The first ``data.val_size``
training sequences are held out for validation (the generator has already shuffled them; taking
the head keeps the gradient probe batch the same whatever the size). ``data.shuffle_seq=true``
is the paper's shuffled variant: the generator's own fixed permutation of the 40 timesteps, the
same for every sequence, which destroys the spatial structure a model could exploit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
import torch

from seqnet.data.cache import cached_arrays
from seqnet.data.classification import Classification
from seqnet.data.splits import FixedSplits
from seqnet.data.task import Batch, DataConfig, TaskSpec, register_task

NUM_TRAIN = 4000  # the generator's default split (5000 samples, 80% for training)


@dataclass
class MNIST1DConfig(DataConfig):
    name: str = "mnist1d"
    batch_size: int = 100  # the MNIST-1D paper's
    # The paper's shuffled variant: a fixed permutation of the timesteps.
    shuffle_seq: bool = False
    # Held out from the 4000 training sequences for validation (and the gradient probe batch).
    val_size: int = 400


def generator_args(shuffle_seq: bool) -> dict[str, Any]:
    """The generator's default arguments (its download URL left out), plus ``shuffle_seq``."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    args["shuffle_seq"] = shuffle_seq
    return args


def build_mnist1d(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the package's generator. It reseeds Python's and NumPy's global generators; their
    state is restored afterwards, so building (or finding the cache) changes nothing else."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {
        "x": data["x"].astype(np.float32),
        "y": data["y"].astype(np.int64),
        "x_test": data["x_test"].astype(np.float32),
        "y_test": data["y_test"].astype(np.int64),
    }


def load_mnist1d(shuffle_seq: bool = False) -> dict[str, np.ndarray]:
    """The MNIST-1D arrays (x (4000, 40), y (4000,), x_test (1000, 40), y_test (1000,)), from
    the cache or built; the key includes the generator's version."""
    args = generator_args(shuffle_seq)
    key = {"generator": "mnist1d.data.make_dataset", "version": version("mnist1d"), **args}
    return cached_arrays("mnist1d", key, lambda: build_mnist1d(args))


@register_task("mnist1d", config=MNIST1DConfig)
class MNIST1D(Classification, FixedSplits):
    spec = TaskSpec(input_size=1, output_size=10, input_kind="real", output_mode="last")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        shuffle_seq, val_size = self.config.shuffle_seq, self.config.val_size
        if not 1 <= val_size < NUM_TRAIN:
            raise ValueError(
                f"data.val_size={val_size} must be between 1 and {NUM_TRAIN - 1}: the "
                f"validation set is held out from the {NUM_TRAIN} MNIST-1D training sequences"
            )
        self.shuffle_seq, self.val_size = shuffle_seq, val_size
        arrays = {
            k: torch.from_numpy(v).to(self.device) for k, v in load_mnist1d(shuffle_seq).items()
        }
        x = arrays["x"].unsqueeze(-1)  # (n, 40, 1): one value per step
        y = arrays["y"]
        self.set_splits(
            train=Batch(x[val_size:], y[val_size:]),
            val=Batch(x[:val_size], y[:val_size]),
            test=Batch(arrays["x_test"].unsqueeze(-1), arrays["y_test"]),
        )
