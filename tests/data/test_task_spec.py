"""The shapes of a task (``TaskSpec``): shape and output mode agree, decoders have a length; and
the task registry: built from a config, unknown names and options in one line."""

from __future__ import annotations

import pytest

from seqnet.data import TASK_REGISTRY, TaskSpec, build_task
from seqnet.data.tasks.adding import AddingProblem


def test_shape_follows_output_mode_by_default() -> None:
    assert TaskSpec(2, 1).shape == "many_to_one" and TaskSpec(2, 1).output_mode == "last"
    spec = TaskSpec(2, 1, output_mode="every")
    assert (spec.shape, spec.output_mode, spec.is_decoder) == ("many_to_many", "every", False)


@pytest.mark.parametrize(
    ("shape", "mode", "decoder"),
    [
        ("many_to_one", "last", False),
        ("one_to_one", "last", False),
        ("many_to_many", "every", False),
        ("encoder_decoder", "every", True),
        ("one_to_many", "every", True),
    ],
)
def test_shape_sets_the_output_mode(shape: str, mode: str, decoder: bool) -> None:
    spec = TaskSpec(3, 4, shape=shape, output_len=5)
    assert (spec.output_mode, spec.is_decoder) == (mode, decoder)


def test_contradicting_shape_and_output_mode() -> None:
    with pytest.raises(ValueError) as excinfo:
        TaskSpec(3, 4, shape="one_to_one", output_mode="every")
    assert str(excinfo.value) == (
        "TaskSpec(shape='one_to_one') has one output per sequence: output_mode='last', not 'every'"
    )


def test_decoder_shapes_need_an_output_length() -> None:
    with pytest.raises(ValueError, match=r"shape='one_to_many'\) needs output_len >= 1"):
        TaskSpec(3, 4, shape="one_to_many")
    with pytest.raises(ValueError, match=r"TaskSpec\.shape must be one of"):
        TaskSpec(3, 4, shape="many_to_few")


def test_registered_and_built_from_config() -> None:
    assert TASK_REGISTRY["adding"].cls is AddingProblem
    task = build_task({"name": "adding", "seq_len": 9, "batch_size": 4, "val_size": 6})
    assert isinstance(task, AddingProblem)
    assert (task.seq_len, task.batch_size, task.val_size, task.val_seed) == (9, 4, 6, 1234)
    with pytest.raises(KeyError, match="registered tasks: adding"):
        build_task({"name": "copying"})
    with pytest.raises(KeyError, match=r"has no option\(s\) \['seqlen'\]"):
        build_task({"name": "adding", "seqlen": 9})
