"""seqnet's Optuna sweeper (``hparams_search=optuna``): hydra-optuna-sweeper's, made safe for
several sweeps on one study at once.

- The study is created under a file lock beside its SQLite database (``prepare_study``):
  optuna 2.10 creates a new storage's tables without one, and of two sweeps that start
  together the second can die with an ``IntegrityError``.
- Each trial's job number is its Optuna trial number (``hydra.job.num``, which names its
  folder): trial numbers are the study's, unique across every sweep that continues it, where
  the plain sweeper numbers jobs from 0 in every sweep.

Hydra finds sweepers only in the ``hydra_plugins`` package, hence this module's place.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
except ImportError:  # the sweeps extra is not installed: no Optuna sweeper at all
    OptunaSweeper = None  # type: ignore[assignment,misc]


@contextmanager
def storage_lock(storage: str | None):
    """An exclusive lock beside a ``sqlite:///`` database (nothing for other storages, whose
    servers serialise table creation themselves)."""
    if not (isinstance(storage, str) and storage.startswith("sqlite:///")):
        yield
        return
    database = Path(storage.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def prepare_study(
    storage: str | None, study_name: str | None, directions: Sequence[str], sampler: Any = None
) -> None:
    """Create the study (and its storage's tables) if it does not exist yet, one process at a
    time; the sweeper's own ``create_study(load_if_exists=True)`` then loads it."""
    import optuna

    if storage is None or study_name is None:
        return  # an in-memory or unnamed study belongs to this sweep alone
    with storage_lock(str(storage)):
        optuna.create_study(
            study_name=study_name,
            storage=storage,
            sampler=sampler,
            directions=list(directions),
            load_if_exists=True,
        )


class TrialNumberedLauncher:
    """Wraps the sweeper's launcher: each batch of trials is launched with job numbers equal to
    the trials' numbers (a batch whose numbers are not consecutive, because another sweep asked
    for trials in between, is launched in consecutive runs)."""

    def __init__(self, launcher: Any) -> None:
        self.launcher = launcher
        self.numbers: list[int] = []  # the trials of the batch being launched

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        numbers = self.numbers or list(range(initial_job_idx, initial_job_idx + len(job_overrides)))
        returns: list[Any] = []
        start = 0
        for end in range(1, len(numbers) + 1):
            if end == len(numbers) or numbers[end] != numbers[end - 1] + 1:
                returns += self.launcher.launch(job_overrides[start:end], numbers[start])
                start = end
        return returns

    def __getattr__(self, name: str) -> Any:
        return getattr(self.launcher, name)


if OptunaSweeper is not None:

    class TrialNumberedOptunaSweeper(OptunaSweeper):
        """``OptunaSweeper`` with the study created under a lock and jobs numbered by trial."""

        def setup(self, *args: Any, **kwargs: Any) -> None:
            super().setup(*args, **kwargs)
            impl = self.sweeper
            launcher = TrialNumberedLauncher(impl.launcher)
            impl.launcher = launcher
            configure = impl._configure_trials

            def configure_trials(trials: list[Any], *rest: Any) -> Any:
                launcher.numbers = [trial.number for trial in trials]
                return configure(trials, *rest)

            impl._configure_trials = configure_trials

        def sweep(self, arguments: list[str]) -> None:
            impl = self.sweeper
            prepare_study(impl.storage, impl.study_name, impl._get_directions())
            return super().sweep(arguments)
