"""The ``${seqnet.*}`` resolvers the configs use to name and claim run folders
(``configs/hydra/default.yaml``): ``outputs/runs/<timestamp>_<overrides>`` for a single run (the
overrides in the order given), or the folder ``paths.run_dir`` names; one folder per job named by
what differs for a sweep; rank 0's clock under torchrun; and every name seqnet makes claimed as
it is resolved (``seqnet.training.run_folder``).

A run's folder is chosen one way, ``paths.run_dir=DIR``: Hydra's own folder (``hydra.run.dir``,
where ``.hydra/`` and ``train.log`` go) follows it, so every file of the run is in DIR.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from seqnet.errors import ConfigError
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


def _run_suffix(overrides: list[str], exclude_keys: list[str]) -> str:
    """``_<overrides>`` for a single run's folder name: the overrides in the order given, less
    the excluded keys (as a sweep job's name), or nothing when none is left."""
    name = _job_folder(overrides, exclude_keys)
    return f"_{name}" if name else ""


def _job_folder(overrides: list[str], exclude_keys: list[str]) -> str:
    """A sweep job's name: its overrides in the order given, less the excluded keys (which
    ``seqnet.sweeps.SweepRecord`` extends by the overrides every job shares), so only what
    differs between the jobs (``model=gru,data.seq_len=100``); empty when nothing does."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in exclude_keys]
    # A value with slashes (data.path=/data/x.csv, trainer.early_stopping.metric=val/loss) would
    # nest folders inside the name: each slash becomes a dash.
    return fit_folder_name(",".join(kept).replace("/", "-"))


#: ``paths.run_dir`` as the schema sets it: the run's folder is Hydra's output folder.
DEFAULT_RUN_DIR = "${hydra:runtime.output_dir}"


def chosen_run_dir(config: DictConfig) -> str | None:
    """The folder ``paths.run_dir`` names when it is set (on the command line, in an experiment,
    by ``seqnet.run``), resolved; None when it keeps its default (Hydra's output folder)."""
    paths = config.get("paths")
    if paths is None or OmegaConf.to_container(paths, resolve=False).get("run_dir") in (
        None,
        DEFAULT_RUN_DIR,
    ):
        return None
    return str(paths.run_dir)


def _run_dir(default: str, ckpt_path: str | None, *, _root_: DictConfig) -> str:
    """``hydra.run.dir``: the folder ``paths.run_dir`` names (claimed, or refused when another
    run owns it, by ``ClaimRunFolder`` as any explicit folder), else the timestamped ``default``
    claimed under a free name."""
    chosen = chosen_run_dir(_root_)
    if chosen is not None:
        return chosen
    # Cached as use_cache=True would (it cannot be combined with _root_): a name resolved twice
    # in one job claims one folder.
    cache = OmegaConf.get_cache(_root_)["seqnet.run_dir"]
    key = f"{default},{ckpt_path}"
    if key not in cache:
        cache[key] = claim_new_name(default, ckpt_path)
    return cache[key]


def check_one_run_folder(cfg: DictConfig, output_dir: str) -> None:
    """Refuse a run whose files would go to two folders: ``paths.run_dir`` set beside an explicit
    ``hydra.run.dir`` naming another folder, or in a sweep, whose jobs each have their own."""
    chosen = chosen_run_dir(cfg)
    if chosen is None or Path(chosen).resolve() == Path(output_dir).resolve():
        return
    raise ConfigError(
        f"paths.run_dir={chosen} and Hydra's folder {output_dir} are two folders, and a run "
        "writes into one: choose a run's folder with paths.run_dir alone (no hydra.run.dir)"
    )


def _now(pattern: str) -> str:
    """Hydra's ``now``, except that under torchrun every rank uses rank 0's clock (so all ranks
    write to one run directory; see ``seqnet.training.distributed.agree_on_run_time``)."""
    return datetime.fromtimestamp(run_time()).strftime(pattern)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("seqnet.run_suffix"):
        OmegaConf.register_new_resolver("seqnet.run_suffix", _run_suffix)
    if not OmegaConf.has_resolver("seqnet.job_folder"):
        OmegaConf.register_new_resolver("seqnet.job_folder", _job_folder)
    if not OmegaConf.has_resolver("seqnet.run_dir"):
        OmegaConf.register_new_resolver("seqnet.run_dir", _run_dir)
    if not OmegaConf.has_resolver("seqnet.help_groups"):
        from seqnet.help import help_groups

        OmegaConf.register_new_resolver("seqnet.help_groups", help_groups)
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
