"""The reference workload and its contenders: the settings of a full and a quick run, the
hand-written PyTorch baseline, and seqnet runs composed from the real configs.

Only the standard library and torch at module level: the denormal flag is per thread and must be
set before any tensor work, so seqnet (and what it imports) is imported inside functions, after
the driver or the denormal worker has set the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.harness import timed

SEED = 42
SEQ_LEN, BATCH, HIDDEN, ENCODER, LR = 200, 64, 128, 32, 1e-3
REFERENCE = [
    "model=lstm",
    f"model.hidden_size={HIDDEN}",
    "model.num_layers=1",
    f"model.encoder_size={ENCODER}",
    f"data.seq_len={SEQ_LEN}",
    f"data.batch_size={BATCH}",
    "optim=adam",
    f"optim.lr={LR}",
    "trainer.progress_bar=false",
    f"seed={SEED}",
]
BASELINE_NOTE = (
    "the hand-written baseline mirrors seqnet's model (which has an input encoder):\n"
    "  Linear(2,32) -> nn.LSTM(32,128, batch_first=True) -> Linear(128,1) on the last step,\n"
    "  forget-gate bias 1, same seed (identical initial weights), same batches\n"
    "  (AddingProblem.train_batch), same Adam; it skips seqnet's grad-norm, logging and checks"
)


@dataclass(frozen=True)
class Settings:
    """How much to run: the full benchmark or a ``--quick`` smoke test."""

    repeats: int  # measurement 1: interleaved repeats
    short_steps: int  # measurement 1: train runs of two lengths; their difference is timed
    long_steps: int
    denormal_repeats: int  # measurement 2: pairs of fresh processes
    denormal_steps: int
    denormal_warmup: int  # first steps of each process left out of its median
    profile_repeats: int  # measurement 3
    grad_repeats: int  # measurement 4
    grad_short: int  # measurement 4: train runs of two lengths, multiples of grad_every
    grad_long: int
    grad_every: int  # measurement 4: grad_log.every_n_steps when on
    # Measurement 5: interleaved repeats, and training steps timed per contender and repeat. Few:
    # on a CPU without native bfloat16 (AVX2 only) PyTorch emulates it, and a bf16-mixed step of
    # the hidden-512 LSTM takes tens of seconds there.
    precision_repeats: int
    precision_steps: int
    engine_repeats: int  # measurements 7-11 (engine and variants): interleaved repeats
    engine_steps: int  # training steps timed per contender and repeat
    engine_lengths: tuple[int, ...]  # sequence lengths of the growth-with-T measurement


FULL = Settings(
    repeats=5,
    short_steps=20,
    long_steps=120,
    denormal_repeats=2,
    denormal_steps=110,
    denormal_warmup=10,
    profile_repeats=15,
    grad_repeats=5,
    grad_short=100,
    grad_long=300,
    grad_every=100,
    precision_repeats=5,
    precision_steps=3,
    engine_repeats=5,
    engine_steps=3,
    engine_lengths=(100, 200, 400, 800),
)
# Every 20 steps in the quick run, so that it still measures profiles between the first and the
# last step; its ratio is therefore not comparable with the full run's.
QUICK = Settings(
    repeats=2,
    short_steps=5,
    long_steps=25,
    denormal_repeats=1,
    denormal_steps=15,
    denormal_warmup=3,
    profile_repeats=4,
    grad_repeats=2,
    grad_short=20,
    grad_long=60,
    grad_every=20,
    precision_repeats=2,
    precision_steps=2,
    engine_repeats=2,
    engine_steps=1,
    engine_lengths=(100, 200, 400),
)


class HandModel(nn.Module):
    """The hand-written baseline, built in the same order as seqnet's model (encoder, core, head)
    so that the same seed gives the same initial weights."""

    def __init__(self, cell: str = "lstm") -> None:
        super().__init__()
        self.encoder = nn.Linear(2, ENCODER)
        if cell == "lstm":
            self.core: nn.Module = nn.LSTM(ENCODER, HIDDEN, batch_first=True)
            with torch.no_grad():  # seqnet's forget_bias=1.0: once, in bias_ih
                self.core.bias_ih_l0[HIDDEN : 2 * HIDDEN] = 1.0
                self.core.bias_hh_l0[HIDDEN : 2 * HIDDEN] = 0.0
        else:
            self.core = nn.RNN(ENCODER, HIDDEN, nonlinearity="tanh", batch_first=True)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.core(self.encoder(x))
        return self.head(outputs[:, -1])


def hand_step(model: nn.Module, optimizer: torch.optim.Optimizer, task: Any, step: int) -> None:
    """The minimal training step: batch, forward, MSE, zero_grad, backward, Adam, loss.item()."""
    x, y = task.train_batch(SEED, step)
    loss = F.mse_loss(model(x).squeeze(-1), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    loss.item()


def hand_train(task: Any, steps: int, device: torch.device, cell: str = "lstm") -> HandModel:
    torch.manual_seed(SEED)
    model = HandModel(cell).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for step in range(steps):
        hand_step(model, optimizer, task, step)
    return model


class SeqnetRuns:
    """Composes the real ``train`` config (as tests/conftest.py does) into fresh run folders."""

    def __init__(self, root: Path, device: torch.device) -> None:
        self.root, self.device, self.count = root, device, 0

    def config(self, *overrides: str) -> Any:
        from hydra import compose, initialize_config_dir

        import seqnet.config  # noqa: F401  (registers schemas and resolvers)
        from seqnet.train import CONFIG_DIR

        self.count += 1
        run_dir = self.root / f"run{self.count:03d}"
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(
                config_name="train",
                overrides=[
                    *REFERENCE,
                    f"trainer.device={self.device}",
                    *overrides,
                    f"paths.run_dir={run_dir}",
                ],
            )

    def train(self, steps: int, grad_every: int = 0) -> tuple[float, dict[str, float]]:
        """Wall time of ``train(cfg)`` for ``steps`` steps, with validation and the checkpoint
        only at the end (train() always does both at the last step); composing is not timed."""
        from seqnet.training.loop import train

        cfg = self.config(
            f"trainer.max_steps={steps}",
            f"trainer.val_every_n_steps={steps}",
            f"trainer.ckpt_every_n_steps={steps}",
            f"grad_log.every_n_steps={grad_every}",
        )
        return timed(self.device, lambda: train(cfg))
