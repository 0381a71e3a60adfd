"""The check of names that become file names (``seqnet.names``), rule by rule; through
seqnet-train, before anything is written: tests/e2e/test_path_names.py."""

from __future__ import annotations

import pytest

from seqnet.errors import ConfigError
from seqnet.names import RULE, check_name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../../../escaped", "hydra.job.name='../../../escaped' holds '/'"),
        ("a\\b", "hydra.job.name='a\\\\b' holds '\\\\'"),
        ("..", "hydra.job.name='..' names a parent folder"),
        (".", "hydra.job.name='.' names the current folder"),
        ("", "hydra.job.name is empty"),
        ("x" * 300, "hydra.job.name is 300 characters long"),
    ],
    ids=["slash", "backslash", "dotdot", "dot", "empty", "long"],
)
def test_a_bad_name_is_refused_naming_the_key(name: str, problem: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        check_name("hydra.job.name", name)
    assert str(excinfo.value) == f"{problem}; {RULE}"


def test_good_names_pass() -> None:
    for name in ("train", "my_study-2.v1", "..x", "x" * 100):
        check_name("hydra.sweeper.study_name", name)
