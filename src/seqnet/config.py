"""Structured-config schemas for every config group, registered in Hydra's ConfigStore, and
where the YAML config files are (``CONFIG_DIR``).

Each YAML file under ``configs/`` names its schema first in its defaults list, so a wrong type
(``trainer.max_steps=abc``) or an unknown key (``model.hiden_size=3``) stops at composition time
with Hydra's message, before any training starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from seqnet.data import TASK_REGISTRY
from seqnet.models import MODEL_REGISTRY
from seqnet.training.distributed import run_time
from seqnet.training.run_folder import claim_new_name, claim_sweep_subdir


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


# ---------------------------------------------------------------------------- optim
@dataclass
class OptimConfig:
    _target_: str = MISSING
    # The optimizer's parameters exist only after the model is built.
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.0


@dataclass
class AdamConfig(OptimConfig):
    _target_: str = "torch.optim.Adam"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8


@dataclass
class RMSpropConfig(OptimConfig):
    _target_: str = "torch.optim.RMSprop"
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0


@dataclass
class SGDConfig(OptimConfig):
    _target_: str = "torch.optim.SGD"
    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False


# ---------------------------------------------------------------------------- trainer
@dataclass
class TrainerConfig:
    max_steps: int = 2000
    val_every_n_steps: int = 250
    ckpt_every_n_steps: int = 500
    log_every_n_steps: int = 10
    clip_grad_norm: float | None = None
    device: str = "auto"
    # Flush denormal floats to zero on CPU (see seqnet.training.device for why).
    flush_denormal: bool = True
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


# ---------------------------------------------------------------------------- grad_log
@dataclass
class GradLogConfig:
    every_n_steps: int = 100
    batch_size: int = 64
    dtype: ProbeDtype = ProbeDtype.float32
    loss: ProbeLoss = ProbeLoss.last
    # Timesteps tracked over training in grad_depth/*, spread evenly from first to last.
    depth_points: int = 5
    # grad_summary/*/horizon counts steps back from the end while norm >= threshold * norm[T-1].
    horizon_threshold: float = 1e-3


# ---------------------------------------------------------------------------- paths
@dataclass
class PathsConfig:
    output_dir: str = "outputs"
    run_dir: str = "${hydra:runtime.output_dir}"


# ---------------------------------------------------------------------------- root
@dataclass
class TrainConfig:
    model: Any = MISSING
    data: Any = MISSING
    optim: Any = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    grad_log: GradLogConfig = field(default_factory=GradLogConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    task_name: str = "train"
    seed: int = 42
    # A checkpoint to resume from, or auto: this run directory's own checkpoints/last.pt if any.
    ckpt_path: str | None = None


def register_configs() -> None:
    """Store the schemas under ``schema/<group>/<name>`` for the YAML defaults lists."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    for name, entry in MODEL_REGISTRY.items():
        cs.store(group="schema/model", name=name, node=entry.config)
    for name, entry in TASK_REGISTRY.items():
        cs.store(group="schema/data", name=name, node=entry.config)
    cs.store(group="schema/optim", name="adam", node=AdamConfig)
    cs.store(group="schema/optim", name="rmsprop", node=RMSpropConfig)
    cs.store(group="schema/optim", name="sgd", node=SGDConfig)
    cs.store(group="schema/trainer", name="default", node=TrainerConfig)
    cs.store(group="schema/grad_log", name="default", node=GradLogConfig)
    cs.store(group="schema/paths", name="default", node=PathsConfig)


#: Longest overrides part of a folder name, in bytes: file systems allow 255 bytes per name, and
#: the timestamp (20), a ``_N`` suffix for a taken name and the hash below must fit beside it.
MAX_NAME_BYTES = 200


def fit_folder_name(name: str) -> str:
    """``name`` itself when it fits in ``MAX_NAME_BYTES``; else its head, cut at an override
    boundary where one is near, then ``...`` and 8 hex digits of a hash of the whole name, so
    that two long names that share their head still differ. (The full overrides are in the
    run's ``.hydra/overrides.yaml`` and its HPARAMS either way.)"""
    raw = name.encode()
    if len(raw) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:8]
    head = raw[: MAX_NAME_BYTES - len(digest) - 3].decode(errors="ignore")
    if "," in head[len(head) // 2 :]:  # end on a whole override rather than mid-value
        head = head[: head.rindex(",") + 1]
    return f"{head}...{digest}"


def _run_suffix(override_dirname: str) -> str:
    """``_<overrides>`` for the run directory name, or nothing when there are no overrides."""
    return f"_{fit_folder_name(override_dirname)}" if override_dirname else ""


def _job_folder(overrides: list[str], exclude_keys: list[str]) -> str:
    """A sweep job's name: its overrides in the order given, less the excluded keys (which
    ``seqnet.sweeps.SweepRecord`` extends by the overrides every job shares), so only what
    differs between the jobs (``model=gru,data.seq_len=100``); empty when nothing does."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in exclude_keys]
    return fit_folder_name(",".join(kept))


def _now(pattern: str) -> str:
    """Hydra's ``now``, except that under torchrun every rank uses rank 0's clock (so all ranks
    write to one run directory; see ``seqnet.training.distributed.agree_on_run_time``)."""
    return datetime.fromtimestamp(run_time()).strftime(pattern)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("seqnet.run_suffix"):
        OmegaConf.register_new_resolver("seqnet.run_suffix", _run_suffix)
    if not OmegaConf.has_resolver("seqnet.job_folder"):
        OmegaConf.register_new_resolver("seqnet.job_folder", _job_folder)
    if not OmegaConf.has_resolver("seqnet.now"):
        # Cached like Hydra's own: a sweep's jobs share the timestamp of their sweep.
        OmegaConf.register_new_resolver("seqnet.now", _now, use_cache=True)
    # Run folder names are claimed as Hydra resolves them (see seqnet.training.run_folder);
    # cached, so that a name resolved twice in one job claims one folder.
    if not OmegaConf.has_resolver("seqnet.claim_run_dir"):
        OmegaConf.register_new_resolver("seqnet.claim_run_dir", claim_new_name, use_cache=True)
    if not OmegaConf.has_resolver("seqnet.claim_sweep_subdir"):
        OmegaConf.register_new_resolver(
            "seqnet.claim_sweep_subdir", claim_sweep_subdir, use_cache=True
        )


register_configs()
register_resolvers()
