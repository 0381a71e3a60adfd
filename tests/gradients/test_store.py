"""The gradients file (``gradients.npz``, ``GradientStore`` and ``load_gradients``): a file that
cannot be read is one line naming it, whether it is loaded or extended from."""

from __future__ import annotations

import numpy as np
import pytest

from seqnet.errors import GradientsFileError
from seqnet.gradients import GradientStore, load_gradients


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "EOFError: No data left in file"),
        (b"notes", "ValueError: This file contains pickled (object) data."),
        (None, "ValueError: its arrays are not one (steps, T) profile matrix per quantity"),
    ],
    ids=["empty", "text", "no_profiles"],
)
def test_unreadable_gradients_file_is_one_line(tmp_path, content, error):
    path = tmp_path / "gradients.npz"
    if content is None:  # a zip of arrays, but not of profiles
        np.savez(path, steps=np.arange(3), dtype="float32", loss="last")
    else:
        path.write_bytes(content)
    reason = GradientStore(tmp_path / "new.npz").extend_from(path, before_step=10)
    assert reason is not None and "\n" not in reason
    assert reason.startswith(f"gradients file {str(path)!r} is unreadable ({error}")
    with pytest.raises(GradientsFileError) as excinfo:
        load_gradients(path)
    assert str(excinfo.value) == reason
