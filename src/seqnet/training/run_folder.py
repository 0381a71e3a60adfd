"""One run per folder: a run claims its folder atomically, and never writes into one that
another run owns.

A run owns its folder through the file ``.seqnet-run.json``, created with ``O_EXCL`` (of two
runs that try at once, exactly one succeeds). A folder with that file, or with run outputs from
before it existed (``checkpoints/``, ``tb/``, ...), belongs to the run that wrote them. The
only other runs that may enter it are its continuation, a run that resumes from a checkpoint
inside that folder (``ckpt_path=<folder>/checkpoints/last.pt``, or ``ckpt_path=auto`` when the
folder has one), and the same job again: the other ranks of a torchrun launch, or a SLURM or
submitit job requeued under its job id (``job`` in the owner file).

Folder names that seqnet-train makes (``outputs/runs/<timestamp>_<overrides>``, and the job
folders of a sweep) are claimed when Hydra resolves them, before Hydra writes anything there;
a name that is taken (two launches in the same second that differ only in keys left out of
the name, such as ``trainer.device``) gets ``_2``, ``_3``, ... appended. A folder given
explicitly is claimed before anything is written into it, and refused if it is taken:
``hydra.run.dir`` by the Hydra callback ``ClaimRunFolder`` (before Hydra writes ``.hydra/``),
``paths.run_dir`` given to ``train()`` by ``train()``; either way a ``RunFolderTaken`` (a
``ConfigError``).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seqnet.atomic import atomic_write
from seqnet.errors import ConfigError
from seqnet.training.checkpoint import checkpoint_to_resume
from seqnet.training.distributed import ENV_LAUNCH_ID

OWNER_FILE = ".seqnet-run.json"
#: What a run writes into its folder: a folder holding any of them belongs to some run.
RUN_OUTPUTS = ("checkpoints", "tb", "metrics.json", "gradients.npz")

# Folders that this process claimed while Hydra resolved their names, each waiting for the
# train() call of that job (which must not see its own claim as another run's).
_claimed_for_train: set[Path] = set()


def claim(folder: Path, continuing: bool = False) -> bool:
    """Make ``folder`` this run's: True when it was free (it is now claimed) or when this run
    continues the run that owns it (``continuing``); False when another run owns it."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OWNER_FILE
    taken = marker.exists() or any((folder / name).exists() for name in RUN_OUTPUTS)
    if not taken:
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # another run claimed it between the check and now
            taken = True
        else:
            with os.fdopen(fd, "w") as f:
                json.dump(_owner_record(), f)
            return True
    if same_job(settled_owner(folder)):
        return True  # another rank of this launch, or this job requeued: its own folder
    if not continuing:
        return False
    with atomic_write(marker) as f:  # the continuation owns it now
        f.write(json.dumps({**_owner_record(), "continues": owner(folder)}).encode())
    return True


def owner(folder: Path) -> dict[str, Any]:
    """What the owner file says (empty for a folder of an older seqnet, or an unreadable file)."""
    try:
        record = json.loads((folder / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def continues(ckpt_path: str | os.PathLike[str] | None, folder: Path) -> bool:
    """Whether a run resuming from ``ckpt_path`` continues the run that owns ``folder``
    (``ckpt_path=auto`` resumes from the folder's own checkpoint when there is one)."""
    checkpoint = checkpoint_to_resume(ckpt_path, folder)
    return checkpoint is not None and checkpoint.resolve().is_relative_to(folder.resolve())


def claim_new_name(path: str, ckpt_path: str | None = None) -> str:
    """``path`` claimed, or the first of ``path_2``, ``path_3``, ... that is free (the run
    folder names that seqnet-train makes go through this, as the resolver
    ``${seqnet.claim_run_dir:...}``)."""
    candidate, number = Path(path), 1
    while not claim(candidate, continues(ckpt_path, candidate)):
        number += 1
        candidate = Path(f"{path}_{number}")
    _claimed_for_train.add(candidate.resolve())
    return str(candidate)


def claim_sweep_subdir(sweep_dir: str, name: str, job_num: int, ckpt_path: str | None) -> str:
    """The folder of sweep job ``job_num`` under ``sweep_dir``: ``name`` (its overrides), or the
    job number when every override of the job is left out of names; claimed as
    ``claim_new_name`` does. Returns the name relative to ``sweep_dir``, as Hydra expects."""
    claimed = claim_new_name(str(Path(sweep_dir) / (name or str(job_num))), ckpt_path)
    return Path(claimed).name


def enter(folder: Path, ckpt_path: str | None) -> None:
    """Called by ``train()`` before it writes anything into ``folder``: claims it, unless this
    process already claimed it for this job; a folder that another run owns is refused."""
    key = folder.resolve()
    if key in _claimed_for_train:
        _claimed_for_train.discard(key)  # a second train() into the same folder must claim
        return
    if claim(folder, continues(ckpt_path, folder)):
        return
    record = owner(folder)
    by = (
        f" (claimed {record.get('claimed')} by pid {record.get('pid')} on {record.get('host')})"
        if record
        else ""
    )
    raise RunFolderTaken(
        f"run folder {str(folder)!r} belongs to another run{by}; write this run into a new "
        "folder (paths.run_dir=ANOTHER_DIR, or no paths.run_dir for a new timestamped one), or "
        f"continue that run by resuming from its checkpoint: ckpt_path={folder}/checkpoints/last.pt"
    )


class RunFolderTaken(ConfigError):
    """A run folder that another run owns."""


class RunFolderRefusal(BaseException):
    """Carries a ``RunFolderTaken`` out of Hydra's callback, whose ``Exception``s Hydra turns
    into warnings (and then writes into the folder); ``seqnet.run`` raises ``.error``."""

    def __init__(self, error: RunFolderTaken) -> None:
        super().__init__(str(error))
        self.error = error


class ClaimRunFolder(Callback):
    """Hydra callback (``hydra.callbacks`` in configs/hydra/default.yaml): claims the folder of
    a single run before Hydra writes ``.hydra/`` and ``train.log`` into it, so that an explicit
    ``hydra.run.dir`` that another run owns is refused before anything of that run is touched.
    (Names that seqnet makes are claimed as they are resolved, here or in a sweep.)"""

    #: Set by a command (``seqnet-train``): a refused folder is then its one-line error and exit
    #: status 1, as for its other errors; otherwise (``seqnet.run``) a ``RunFolderRefusal``.
    command: str | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.run.dir))  # resolving it claims a name seqnet makes
        if folder.resolve() in _claimed_for_train:
            return
        try:
            enter(folder, config.get("ckpt_path"))
        except RunFolderTaken as e:
            if ClaimRunFolder.command is None:
                raise RunFolderRefusal(e) from None
            print(f"{ClaimRunFolder.command}: error: {e}", file=sys.stderr)
            sys.exit(1)
        _claimed_for_train.add(folder.resolve())  # for this run's train() call


def _owner_record() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "claimed": time.strftime("%Y-%m-%d %H:%M:%S"),
        "job": job_identity(),
    }


#: What the processes of one job share: the ranks of one torchrun launch (rank 0's launch id,
#: seqnet.training.distributed), and a SLURM or submitit job with its requeues (the job id).
JOB_VARIABLES = (ENV_LAUNCH_ID, "SLURM_JOB_ID", "SUBMITIT_LOCAL_JOB_ID")


def job_identity() -> dict[str, str]:
    return {name: os.environ[name] for name in JOB_VARIABLES if os.environ.get(name)}


def settled_owner(folder: Path, wait_s: float = 2.0) -> dict[str, Any]:
    """``owner(folder)``, waiting a moment for an owner file that another process has created
    but not written yet (the ranks of one launch claim the same folder at the same time)."""
    deadline = time.monotonic() + wait_s
    while not (record := owner(folder)) and (folder / OWNER_FILE).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return record


def same_job(record: dict[str, Any]) -> bool:
    """Whether the run that claimed a folder (its owner ``record``) is this very job."""
    theirs, ours = record.get("job"), job_identity()
    return isinstance(theirs, dict) and any(theirs.get(k) == v for k, v in ours.items())
