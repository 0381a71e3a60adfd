"""The schema of the root config and of its fixed groups (``trainer``, ``grad_log``, ``paths``):
dataclasses that hold every default; every schema (those of the registered models, tasks,
optimizers and learning-rate schedules too) stored in Hydra's ConfigStore; and where the YAML
config files are (``CONFIG_DIR``).

Each YAML file under ``configs/`` names its schema first in its defaults list, so a wrong type
(``trainer.max_steps=abc``) or an unknown key (``model.hiden_size=3``) stops at composition time
with Hydra's message, before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from seqnet.data import TASK_REGISTRY
from seqnet.models import MODEL_REGISTRY
from seqnet.optim import OPTIMIZER_REGISTRY
from seqnet.optim.schedulers import SCHEDULERS
from seqnet.resolvers import register_resolvers


def find_config_dir() -> Path:
    """seqnet's own config folder: ``seqnet/configs`` inside an installed package (the build
    ships the repository's top-level ``configs/`` there), else, in a source checkout (an
    editable install or ``PYTHONPATH=src``), that ``configs/`` itself."""
    package = Path(__file__).resolve().parent
    installed = package / "configs"
    return installed if installed.is_dir() else package.parents[1] / "configs"


#: The folder holding ``train.yaml`` and one folder per config group.
CONFIG_DIR = find_config_dir()
CONFIG_NAME = "train"


class ProbeDtype(Enum):
    float32 = "float32"
    float64 = "float64"


class ProbeLoss(Enum):
    last = "last"
    total = "total"


# ---------------------------------------------------------------------------- trainer
@dataclass
class EarlyStoppingConfig:
    # The validation metric to watch: any val/* metric the task logs (val/loss, val/accuracy,
    # ...); null = no early stopping.
    metric: str | None = None
    # min: lower is better (a loss); max: higher is better (an accuracy).
    mode: str = "min"
    # Validations without an improvement of more than min_delta before the run stops.
    patience: int = 3
    min_delta: float = 0.0
    # Also keep checkpoints/best.pt: the checkpoint of the best validation by `metric`.
    save_best: bool = False


@dataclass
class TrainerConfig:
    max_steps: int = 2000
    val_every_n_steps: int = 250
    ckpt_every_n_steps: int = 500
    log_every_n_steps: int = 10
    # Global-norm clipping threshold; null = off.
    clip_grad_norm: float | None = None
    # auto | cpu | cuda | cuda:N
    device: str = "auto"
    # CPU: flush denormal floats to zero (see seqnet.training.device for why).
    flush_denormal: bool = True
    # CPU (glibc): keep freed memory for the next step instead of mapping it afresh.
    reuse_cpu_memory: bool = True
    # Stop after this many consecutive steps whose loss or gradient is NaN/inf.
    max_nonfinite_steps: int = 10
    # A warning is logged when the gradient norm jumps by this many orders of magnitude.
    grad_jump_decades: float = 3.0
    progress_bar: bool = True
    # Intra-op CPU threads per job; null = PyTorch's default (a joblib sweep sets its share).
    threads: int | None = None
    # 32 | bf16-mixed | 16-mixed (GPU only): autocast for the forward pass.
    precision: str = "32"
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


# ---------------------------------------------------------------------------- grad_log
@dataclass
class GradLogConfig:
    # An exact per-timestep gradient profile every N steps (and at step 0 and the last); 0 = off.
    every_n_steps: int = 100
    # The fixed probe batch: the first batch_size sequences of the validation set.
    batch_size: int = 64
    # float64 measures decays far below float32's 1e-38 floor.
    dtype: ProbeDtype = ProbeDtype.float32
    # last | total: the loss at the final output, or summed over the outputs.
    loss: ProbeLoss = ProbeLoss.last
    # Timesteps tracked over training in grad_depth/*, spread evenly from first to last.
    depth_points: int = 5
    # grad_summary/*/horizon counts steps back from the end while norm >= threshold * norm[T-1].
    horizon_threshold: float = 1e-3


# ---------------------------------------------------------------------------- paths
@dataclass
class PathsConfig:
    # Every run and sweep writes under this folder: tensorboard --logdir outputs.
    output_dir: str = "outputs"
    # The folder of this run (Hydra's output dir): every path of a run is built from it, never
    # from the current directory (configs/hydra/default.yaml names it).
    run_dir: str = "${hydra:runtime.output_dir}"


# ---------------------------------------------------------------------------- root
@dataclass
class TrainConfig:
    model: Any = MISSING
    data: Any = MISSING
    optim: Any = MISSING
    scheduler: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    grad_log: GradLogConfig = field(default_factory=GradLogConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    # Seeds the initialisation, dropout and the training data stream (validation sets have
    # their own data.val_seed).
    seed: int = 42
    # A checkpoint to resume from (model, optimizer, step, RNG states), or auto: this run
    # directory's own checkpoints/last.pt when it exists, else a fresh start. Unset, the
    # environment's SEQNET_CKPT_PATH (hydra/launcher=slurm sets it to auto), else none.
    ckpt_path: str | None = "${oc.env:SEQNET_CKPT_PATH,null}"


def register_configs() -> None:
    """Store the schemas under ``schema/<group>/<name>`` for the YAML defaults lists."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    for name, entry in MODEL_REGISTRY.items():
        cs.store(group="schema/model", name=name, node=entry.config)
    for name, entry in TASK_REGISTRY.items():
        cs.store(group="schema/data", name=name, node=entry.config)
    for name, entry in OPTIMIZER_REGISTRY.items():
        cs.store(group="schema/optim", name=name, node=entry.config)
    for name, schema in SCHEDULERS.items():
        cs.store(group="schema/scheduler", name=name, node=schema)


register_configs()
register_resolvers()
