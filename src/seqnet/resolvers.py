"""The ``${seqnet.*}`` resolvers the configs use to name and claim run folders
(``configs/hydra/default.yaml``): ``outputs/runs/<timestamp>_<overrides>`` for a single run, one
folder per job named by what differs for a sweep, rank 0's clock under torchrun, and every name
claimed as it is resolved (``seqnet.training.run_folder``)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from omegaconf import OmegaConf

from seqnet.training.distributed import run_time
from seqnet.training.run_folder import claim_new_name, claim_sweep_subdir

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
