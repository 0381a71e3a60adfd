"""Names that become file names (hydra.job.name: the log's; hydra.sweeper.study_name: the
Optuna database's) are checked before anything is written: no separators, no '..', a length
limit, each refused with one line; nothing appears inside or outside outputs/. (Each rule of
the check: tests/configs/test_names.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TINY
from helpers.processes import seqnet_train

pytestmark = pytest.mark.slow

RULE = "names become file names: use letters, digits, '_', '-' and '.', at most 100 of them"


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("hydra.job.name=../../../escaped", "hydra.job.name='../../../escaped' holds '/'"),
        (
            "hydra.sweeper.study_name=../../../x",
            "hydra.sweeper.study_name='../../../x' holds '/'",
        ),
    ],
    ids=["job_name_escapes", "study_name_escapes"],
)
def test_a_name_that_would_be_a_bad_path_is_one_line(tmp_path: Path, override, problem) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    sweep = ["hparams_search=optuna", "hydra.sweeper.n_trials=1"] if "sweeper" in override else []
    result = seqnet_train(cwd, *TINY, *sweep, override)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"seqnet-train: error: {problem}; {RULE}"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["work"]
