"""Data-parallel training under ``torchrun --nproc_per_node=N -m seqnet.train ...``.

Every rank generates the same global batch (batch k is a pure function of (seed, k)) and trains
on its own contiguous slice of rows; gradients are averaged over the ranks after the backward
pass, so with the same global batch the update equals one process's up to floating-point
rounding. The model stays a plain module (no ``DistributedDataParallel`` wrapper): the gradient
probes, the evaluation and the checkpoints use it as in one process. Only rank 0 logs, measures
gradient profiles and writes checkpoints. gloo on CPU, nccl on GPU (torchrun's environment
variables say where rank 0 listens).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

from seqnet.data.seeds import stream_seed
from seqnet.errors import ConfigError
from seqnet.training.carried_state import State
from seqnet.training.seeding import rng_state, set_rng_state

#: Rank 0's clock at start-up, shared with every rank through the environment (see ``run_time``).
ENV_RUN_TIME = "SEQNET_RUN_TIME"
#: One id for all ranks of a torchrun launch (rank 0's), shared the same way.
ENV_LAUNCH_ID = "SEQNET_LAUNCH_ID"

B = TypeVar("B", bound=tuple)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the data-parallel processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The rank that logs, measures gradient profiles and writes checkpoints."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world_size > 1


def env_rank() -> int:
    """This process's global rank as torchrun sets it (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_process_group() -> Ranks:
    """Join the process group that torchrun's environment describes (once per process)."""
    if not launched_by_torchrun():
        return Ranks()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            dist.init_process_group("cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group("gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), local_rank)


def leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def agree_on_run_time() -> None:
    """Make every rank name its run directory from rank 0's clock, and share rank 0's launch id.

    Every rank runs the Hydra main and resolves the run directory's timestamp itself; a second
    boundary between two ranks would give two folders (hydra issue 2070). Called before Hydra
    composes anything; the ``seqnet.now`` resolver reads the shared time, and a run folder
    claimed under the shared launch id belongs to every rank of this launch.
    """
    if not launched_by_torchrun():
        return
    join_process_group()
    shared = [time.time(), uuid.uuid4().hex]
    dist.broadcast_object_list(shared, src=0)
    os.environ[ENV_RUN_TIME], os.environ[ENV_LAUNCH_ID] = repr(shared[0]), shared[1]


def run_time() -> float:
    """Seconds since the epoch for this run's folder name: rank 0's under torchrun, else now."""
    return float(os.environ.get(ENV_RUN_TIME) or time.time())


def seed_rank_generator(
    seed: int, step: int, ranks: Ranks, saved: list[dict[str, Any]] | None = None
) -> None:
    """Ranks other than 0 start their global generator (dropout masks) from (seed, step, rank):
    with the run's one generator every rank would draw the same masks for its rows. Rank 0 keeps
    the run's generator, so one process is unchanged and its checkpoint resumes it exactly. A
    resume of as many ranks as the checkpoint's run had (``saved``: every rank's state, as
    ``gather_rng_states`` collected it) puts each rank's own generator back instead, so the
    resumed run draws the masks the uninterrupted one would."""
    if ranks.rank == 0:
        return
    if saved is not None and len(saved) == ranks.world_size:
        set_rng_state(saved[ranks.rank])
    else:
        torch.manual_seed(stream_seed(seed, step) ^ ranks.rank)


def gather_rng_states(ranks: Ranks) -> list[dict[str, Any]] | None:
    """Every rank's generator state, by rank (a collective: every rank calls it), for a
    checkpoint; None in one process (the checkpoint's ``rng`` is the whole story there)."""
    if not ranks.parallel:
        return None
    states: list[Any] = [None] * ranks.world_size
    dist.all_gather_object(states, rng_state())
    return states


def check_batch_divisible(batch_size: int, ranks: Ranks) -> None:
    if batch_size % ranks.world_size:
        raise ConfigError(
            f"data.batch_size={batch_size} cannot be split evenly over {ranks.world_size} "
            f"processes; use a multiple of {ranks.world_size} (it is the global batch)"
        )


def shard(batch: B, ranks: Ranks) -> B:
    """This rank's rows of a global batch (every tensor's first dimension is the batch).

    Rows stay with their rank for the whole run, so a state carried from one batch to the next
    (truncated backpropagation through time) stays per row as well.
    """
    if not ranks.parallel:
        return batch
    rows = own_rows(len(batch[0]), ranks)
    return type(batch)(*(t[rows] if isinstance(t, Tensor) else t for t in batch))


def own_rows(rows: int, ranks: Ranks) -> slice:
    """This rank's equal share of ``rows`` batch rows."""
    return slice(ranks.rank * rows // ranks.world_size, (ranks.rank + 1) * rows // ranks.world_size)


def state_rows(state: State | None, ranks: Ranks) -> State | None:
    """This rank's rows of a recurrent state saved for the whole global batch: (layers, batch,
    hidden) tensors, as a checkpoint holds a carried state (truncated BPTT)."""
    if state is None or not ranks.parallel:
        return state
    if not isinstance(state, Tensor):
        return tuple(state_rows(s, ranks) for s in state)  # type: ignore[misc]
    return state[:, own_rows(state.shape[1], ranks)]


def gather_state_rows(state: State | None, ranks: Ranks) -> State | None:
    """The whole global batch's recurrent state from every rank's rows (a collective: every
    rank calls it), for a checkpoint that any number of processes can resume."""
    if state is None or not ranks.parallel:
        return state
    if not isinstance(state, Tensor):
        return tuple(gather_state_rows(s, ranks) for s in state)  # type: ignore[misc]
    parts = [torch.empty_like(state) for _ in range(ranks.world_size)]
    dist.all_gather(parts, state.contiguous())
    return torch.cat(parts, dim=1)


def average_gradients(params: list[torch.nn.Parameter], ranks: Ranks) -> None:
    """Replace each gradient by its mean over the ranks (one all-reduce over all of them)."""
    if not ranks.parallel:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ranks.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def agree_on_step(
    loss: Tensor, grad_norm: Tensor, stop: bool, ranks: Ranks
) -> tuple[float, float, bool]:
    """The global batch's loss (mean of the ranks' losses over equal slices), the gradient norm
    (of the averaged gradients: the same on every rank) and whether any rank was asked to stop:
    every rank then takes the same decisions (skip, clip, stop). One device sync for all three:
    on a GPU each ``.item()`` waits until the device has finished all the work queued."""
    if not ranks.parallel:
        # float64 holds every float32 (and bfloat16) value exactly: these are .item()'s values.
        loss_value, norm_value = torch.stack([loss.detach().double(), grad_norm.double()]).tolist()
        return loss_value, norm_value, stop
    both = torch.stack([loss.detach().double(), torch.tensor(float(stop), device=loss.device)])
    dist.all_reduce(both)
    loss_sum, stops, norm_value = torch.cat([both, grad_norm.double().view(1)]).tolist()
    return loss_sum / ranks.world_size, norm_value, stops > 0
