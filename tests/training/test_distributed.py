"""Data-parallel pieces (``seqnet.training.distributed``), in one process: each rank's rows of
the global batch and of a carried state, its own dropout masks, and a batch that must split
evenly. (Two processes under torchrun: tests/e2e/test_torchrun.py.)"""

from __future__ import annotations

import pytest
import torch

from seqnet.data.task import Batch
from seqnet.errors import ConfigError
from seqnet.training.distributed import (
    Ranks,
    check_batch_divisible,
    gather_state_rows,
    seed_rank_generator,
    shard,
    state_rows,
)
from seqnet.training.seeding import rng_state


def test_each_rank_takes_its_rows_of_the_global_batch() -> None:
    batch = Batch(torch.arange(8).reshape(8, 1), torch.arange(8) * 10)
    parts = [shard(batch, Ranks(rank, 2)) for rank in range(2)]
    assert [p.x.flatten().tolist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [p.y.tolist() for p in parts] == [[0, 10, 20, 30], [40, 50, 60, 70]]
    assert isinstance(parts[0], Batch)
    assert shard(batch, Ranks()) is batch  # one process: the whole batch


def test_a_saved_carried_state_splits_by_rows() -> None:
    h = torch.arange(2 * 4 * 3).reshape(2, 4, 3)  # (layers, batch, hidden)
    c = h + 100
    first, second = (state_rows((h, c), Ranks(rank, 2)) for rank in range(2))
    assert torch.equal(first[0], h[:, :2]) and torch.equal(second[1], c[:, 2:])
    assert state_rows(h, Ranks()) is h and state_rows(None, Ranks(1, 2)) is None
    assert gather_state_rows(h, Ranks()) is h  # one process: nothing to gather


def test_ranks_draw_their_own_dropout_masks() -> None:
    def draws(rank: int, step: int) -> torch.Tensor:
        torch.manual_seed(7)
        seed_rank_generator(7, step, Ranks(rank, 2))
        return torch.rand(4)

    torch.manual_seed(7)
    unchanged = torch.rand(4)
    assert torch.equal(draws(0, 5), unchanged)  # rank 0 keeps the run's generator
    assert not torch.equal(draws(1, 5), draws(0, 5))
    assert torch.equal(draws(1, 5), draws(1, 5)) and not torch.equal(draws(1, 5), draws(1, 6))


def test_global_batch_must_split_evenly() -> None:
    check_batch_divisible(8, Ranks(0, 4))
    with pytest.raises(ConfigError) as excinfo:
        check_batch_divisible(10, Ranks(0, 4))
    assert str(excinfo.value) == (
        "data.batch_size=10 cannot be split evenly over 4 processes; use a multiple of 4 "
        "(it is the global batch)"
    )


def test_a_resume_on_as_many_ranks_puts_each_ranks_generator_back() -> None:
    torch.manual_seed(1)
    saved = rng_state()
    expected = torch.rand(3)  # what rank 1 draws next in the uninterrupted run
    torch.manual_seed(9)
    seed_rank_generator(7, 5, Ranks(1, 2), saved=[rng_state(), saved])
    assert torch.equal(torch.rand(3), expected)
    # Three ranks now: the two saved states are not theirs, each rank starts from its seed.
    torch.manual_seed(7)
    seed_rank_generator(7, 5, Ranks(1, 3))
    reseeded = torch.rand(3)
    torch.manual_seed(9)
    seed_rank_generator(7, 5, Ranks(1, 3), saved=[rng_state(), saved])
    assert torch.equal(torch.rand(3), reseeded)
