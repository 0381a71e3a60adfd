"""One live owner per run folder: a run takes its folder with an operating-system lock, holds
it for the whole run, and never writes into a folder that another run owns.

A run owns its folder by holding an exclusive ``flock`` on ``.seqnet-run.lock``
(``seqnet.training.folder_lock``): the kernel releases it when the process ends, however it
ends (``kill -9`` too), so a held lock always means a live owner. Beside it, ``.seqnet-run.json``
says who took the folder (pid, host, start time, job ids), for the message that refuses a
second process while the owner runs.

Once its owner is gone, a folder that holds a run's outputs (``checkpoints/``, ``tb/``, ...)
may be entered only by that run's continuation: a run resuming from a checkpoint inside it
(``ckpt_path=<folder>/checkpoints/last.pt``, or ``ckpt_path=auto`` when the folder has one),
or the same SLURM/submitit job requeued under its job id. A folder whose owner died before its
first checkpoint (killed during set-up) is reclaimed by whoever takes it next, and its partial
outputs removed. The other ranks of a torchrun launch join the folder that rank 0 holds (the
launch id in the owner file). The owner removes the temporary files that a kill mid-write left.

Folder names that seqnet-train makes (``outputs/runs/<timestamp>_<overrides>``, and the job
folders of a sweep) are claimed when Hydra resolves them, before Hydra writes anything there;
a name that is taken gets ``_2``, ``_3``, ... appended. A folder given explicitly is claimed
before anything is written into it, and refused if it is taken: ``hydra.run.dir`` by the Hydra
callback ``ClaimRunFolder`` (before Hydra writes ``.hydra/``), ``paths.run_dir`` given to
``train()`` by ``train()``; either way a ``RunFolderTaken`` (a ``ConfigError``). ``train()``
gives the lock back when it ends (``release``).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seqnet.errors import ConfigError, OutputError, output_error
from seqnet.names import check_path_names
from seqnet.training import folder_lock
from seqnet.training.checkpoint import checkpoint_to_resume, own_checkpoint
from seqnet.training.distributed import ENV_LAUNCH_ID, env_rank

OWNER_FILE = ".seqnet-run.json"
LOCK_FILE = ".seqnet-run.lock"
#: What a run writes into its folder: a folder holding any of them belongs to some run.
RUN_OUTPUTS = ("checkpoints", "tb", "metrics.json", "gradients.npz")
#: What a run killed before its first checkpoint leaves that would mix with the next run's.
PARTIAL_OUTPUTS = ("tb", "gradients.npz", "metrics.json")
#: How long a rank above 0 waits for rank 0 to take the folder of their launch.
RANK_WAIT_S = 60.0
ANOTHER_FOLDER = (
    "write this run into another folder: another paths.run_dir (or none, for a new timestamped "
    "folder)"
)

# Folders that this process claimed while Hydra resolved their names, each waiting for the
# train() call of that job (which must not see its own claim as another run's).
_claimed_for_train: set[Path] = set()


class RunFolderTaken(ConfigError):
    """A run folder that another run owns."""


def claim(folder: Path, continuing: bool = False) -> bool:
    """Make ``folder`` this run's: True when it is now this process's (free, its dead owner
    left no checkpoint, this run continues the run there: ``continuing``, or it is this job
    requeued) or this rank's launch holds it; False when another run owns it."""
    return _claim(folder, continuing) is None


def _claim(folder: Path, continuing: bool) -> str | None:
    """None when claimed, else why not: ``"in use"`` (a live process holds the folder) or
    ``"left"`` (a run that is gone left it, and this run does not continue it). A folder that
    cannot be written (read-only, a full disk) is an ``OutputError``."""
    try:
        return _take(folder, continuing)
    except OSError as e:
        failed = e.filename if e.filename and not str(e.filename).endswith(".tmp") else folder
        raise output_error(failed, e) from e


def _take(folder: Path, continuing: bool) -> str | None:
    folder.mkdir(parents=True, exist_ok=True)
    if env_rank() > 0:  # torchrun: rank 0 takes the folder, the other ranks join it
        return None if _launch_holds(folder, wait_s=RANK_WAIT_S) else "in use"
    if not folder_lock.try_lock(folder, LOCK_FILE):
        return None if _launch_holds(folder, wait_s=0.0) else "in use"
    record = owner(folder)
    has_owner_file = (folder / OWNER_FILE).exists()
    if not has_owner_file and not any((folder / name).exists() for name in RUN_OUTPUTS):
        folder_lock.write_owner(folder, OWNER_FILE, _owner_record())  # a new folder
        return None
    if has_owner_file and not own_checkpoint(folder).is_file():
        for name in PARTIAL_OUTPUTS:  # killed during set-up: its partial outputs go
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    elif not (continuing or same_job(record)):
        folder_lock.release(folder)
        return "left"
    _remove_stale_temporaries(folder)
    folder_lock.write_owner(folder, OWNER_FILE, {**_owner_record(), "continues": record})
    return None


def _launch_holds(folder: Path, wait_s: float) -> bool:
    """Whether the run holding ``folder``'s lock is this torchrun launch (its launch id in the
    owner file), waiting up to ``wait_s`` for rank 0 to take it."""
    ours = os.environ.get(ENV_LAUNCH_ID)
    if not ours:
        return False
    deadline = time.monotonic() + wait_s
    while True:
        theirs = owner(folder).get("job") or {}
        if theirs.get(ENV_LAUNCH_ID) == ours and folder_lock.is_locked(folder, LOCK_FILE):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _remove_stale_temporaries(folder: Path) -> None:
    """The ``.<name>.<random>.tmp`` files of writes cut off by a kill (seqnet.atomic): only
    the folder's owner writes there, so any found when it takes the folder are stale."""
    for place in (folder, folder / "checkpoints"):
        for tmp in place.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def release(folder: Path) -> None:
    """Give back ``folder``'s lock (at the end of the run that took it; a no-op otherwise)."""
    _claimed_for_train.discard(folder.resolve())
    folder_lock.release(folder)


def owner(folder: Path) -> dict[str, Any]:
    """What the owner file says (empty for a folder of an older seqnet, or an unreadable file)."""
    return folder_lock.read_owner(folder, OWNER_FILE)


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
    while not _claimed_or_refused(candidate, ckpt_path):
        number += 1
        candidate = Path(f"{path}_{number}")
    _claimed_for_train.add(candidate.resolve())
    return str(candidate)


def _claimed_or_refused(folder: Path, ckpt_path: str | None) -> bool:
    try:
        return claim(folder, continues(ckpt_path, folder))
    except OutputError as e:  # raised inside Hydra's resolution: one line, not Hydra's report
        refuse(e)


def refuse(error: ConfigError | OutputError) -> NoReturn:
    """End the run before Hydra writes anything: the command's one line and exit status 1
    (``seqnet-train``), or a ``RunFolderRefusal`` that ``seqnet.run`` raises as ``.error``
    (Hydra turns the ``Exception``s of its callbacks and resolvers into other reports)."""
    if ClaimRunFolder.command is None:
        raise RunFolderRefusal(error) from None
    print(f"{ClaimRunFolder.command}: error: {error}", file=sys.stderr)
    sys.exit(1)


def claim_sweep_subdir(sweep_dir: str, name: str, job_num: int, ckpt_path: str | None) -> str:
    """The folder of sweep job ``job_num`` under ``sweep_dir``: ``name`` (its overrides), or the
    job number when every override of the job is left out of names; claimed as
    ``claim_new_name`` does. Returns the name relative to ``sweep_dir``, as Hydra expects."""
    claimed = claim_new_name(str(Path(sweep_dir) / (name or str(job_num))), ckpt_path)
    return Path(claimed).name


def enter(folder: Path, ckpt_path: str | None) -> None:
    """Called by ``train()`` before it writes anything into ``folder``: claims it, unless this
    process already claimed it for this job; a folder that another run owns is refused."""
    if folder.resolve() in _claimed_for_train:
        return
    refusal = _claim(folder, continues(ckpt_path, folder))
    if refusal is None:
        return
    record = owner(folder)
    who = folder_lock.describe_owner(record)
    if refusal == "in use":
        pid, host = record.get("pid", "?"), record.get("host", "?")
        raise RunFolderTaken(
            f"run folder {str(folder)!r} is in use by another run ({who}); wait until it ends "
            f"or stop it (kill {pid} on {host}), or {ANOTHER_FOLDER}"
        )
    ckpt = own_checkpoint(folder)
    if ckpt.is_file():
        left = (
            f"which left a checkpoint: continue it by resuming from it (ckpt_path={ckpt}, or "
            f"ckpt_path=auto), or {ANOTHER_FOLDER}"
        )
    else:
        left = f"which left no checkpoint to continue from: {ANOTHER_FOLDER}"
    raise RunFolderTaken(
        f"run folder {str(folder)!r} belongs to another run ({who}; it is no longer running), "
        f"{left}"
    )


class RunFolderRefusal(BaseException):
    """Carries a refusal (a ``ConfigError`` or ``OutputError``) out of Hydra's callback, whose
    ``Exception``s Hydra turns into warnings (and then writes into the folder); ``seqnet.run``
    raises ``.error``."""

    def __init__(self, error: ConfigError | OutputError) -> None:
        super().__init__(str(error))
        self.error = error


class ClaimRunFolder(Callback):
    """Hydra callback (``hydra.callbacks`` in configs/hydra/default.yaml): claims the folder of
    a single run before Hydra writes ``.hydra/`` and ``train.log`` into it, so that an explicit
    ``hydra.run.dir`` that another run owns is refused before anything of that run is touched,
    and so is a finished run relaunched with other settings (``run_record``). (Names that
    seqnet makes are claimed as they are resolved, here or in a sweep.)"""

    #: Set by a command (``seqnet-train``): a refused folder is then its one-line error and exit
    #: status 1, as for its other errors; otherwise (``seqnet.run``) a ``RunFolderRefusal``.
    command: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_path_names(config)  # the study's database is named after its study
        except ConfigError as e:
            refuse(e)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from seqnet.training.run_record import refuse_changed_finished_run

        try:
            check_path_names(config)  # the log is named after the job
            folder = Path(str(config.hydra.run.dir))  # resolving it claims a name seqnet makes
            claimed = folder.resolve() in _claimed_for_train
            if not claimed and folder_lock.is_locked(folder, LOCK_FILE):
                enter(folder, config.get("ckpt_path"))  # in use: refused (or this launch's)
                claimed = True
            refuse_changed_finished_run(config, folder)  # before the folder is touched
            if not claimed:
                enter(folder, config.get("ckpt_path"))
            _claimed_for_train.add(folder.resolve())  # for this run's train() call
        except (ConfigError, OutputError) as e:
            refuse(e)


def _owner_record() -> dict[str, Any]:
    return folder_lock.owner_record(job=job_identity())


#: What the processes of one job share: the ranks of one torchrun launch (rank 0's launch id,
#: seqnet.training.distributed), and a SLURM or submitit job with its requeues (the job id).
JOB_VARIABLES = (ENV_LAUNCH_ID, "SLURM_JOB_ID", "SUBMITIT_LOCAL_JOB_ID")


def job_identity() -> dict[str, str]:
    return {name: os.environ[name] for name in JOB_VARIABLES if os.environ.get(name)}


def same_job(record: dict[str, Any]) -> bool:
    """Whether the run that took a folder (its owner ``record``) was this very job (a requeue;
    only asked once that run is gone: a job id is no claim on a folder a live process holds)."""
    theirs, ours = record.get("job"), job_identity()
    return isinstance(theirs, dict) and any(theirs.get(k) == v for k, v in ours.items())
