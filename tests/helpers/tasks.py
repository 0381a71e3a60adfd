"""Task helpers the tests share: a toy many-to-many task, the purity of generated batches, a few
training steps on a task outside the training loop, and a short seeded learning run through it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from seqnet.data import Task, TaskSpec
from seqnet.data.task import Batch
from seqnet.models import build_model
from seqnet.training.loop import train


class EchoTask(Task):
    """A many-to-many toy task: an output at every step, the target the input one step back."""

    spec = TaskSpec(input_size=1, output_size=1, input_kind="real", output_mode="every")

    def __init__(self, seq_len: int, n: int) -> None:
        super().__init__(batch_size=n)
        x = torch.randn(n, seq_len, 1, generator=torch.Generator().manual_seed(3))
        self._val = Batch(x, torch.roll(x, 1, dims=1))

    def val_set(self) -> Batch:
        return self._val

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return ((pred - y) ** 2).mean()

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        per_step = ((pred - y) ** 2).sum(-1)
        return per_step[:, -1] if last_only else per_step.sum(dim=1)


def assert_batches_are_pure(task: Task) -> None:
    """Batch k depends only on (seed, k): not on the order of calls; seeds differ."""
    later = task.train_batch(3, 5)
    first = task.train_batch(3, 0)
    assert torch.equal(task.train_batch(3, 5).x, later.x)
    assert torch.equal(task.train_batch(3, 5).y, later.y)
    assert torch.equal(task.train_batch(3, 0).x, first.x)
    assert not torch.equal(task.train_batch(4, 0).x, first.x)


def train_steps(task: Task, model_cfg: dict, steps: int, lr: float = 1e-2, seed: int = 0):
    """The model of ``model_cfg`` after ``steps`` Adam steps on ``task``'s training batches."""
    torch.manual_seed(seed)
    model = build_model(model_cfg, task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        x, y = task.train_batch(seed, step)
        loss = task.loss(model(x, targets=y)[0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def learn(make_cfg, run: str, *overrides: str) -> tuple[dict, Path]:
    """A seeded GRU run through ``train`` (no gradient profiles, validated and saved at the end
    only): its metrics and run folder."""
    cfg = make_cfg(
        *overrides,
        "model=gru",
        "optim.lr=0.01",
        "trainer.progress_bar=false",
        "grad_log.every_n_steps=0",
        "seed=0",
        run=run,
        tiny=False,
    )
    cfg.trainer.val_every_n_steps = cfg.trainer.ckpt_every_n_steps = cfg.trainer.max_steps
    return train(cfg), Path(cfg.paths.run_dir)
