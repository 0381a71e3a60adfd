"""The gradient summaries (``seqnet.gradients.summaries``) on profiles whose numbers are known:
log10_ratio on the floored log10 values, the horizon by the run's threshold, zero steps."""

from __future__ import annotations

import math

import numpy as np

from seqnet.gradients import GradientProfile


def test_profile_summaries_on_synthetic_norms():
    p = GradientProfile(
        step=5, norms={"h_l0": np.array([0.0, 1e-6, 1e-4, 0.5, 1.0])}, dtype="float64"
    )
    np.testing.assert_array_equal(p.log10("h_l0"), [-325.0, -6.0, -4.0, math.log10(0.5), 0.0])
    assert p.summary("h_l0", 1e-3)["log10_ratio"] == -325.0
    # t=4 and t=3 stay >= 1e-3 x norm[4]; t=2 falls below
    assert p.summary("h_l0", 1e-3)["horizon"] == 2
    assert p.summary("h_l0", 1e-7)["horizon"] == 4
    assert p.summary("h_l0", 1e-3)["zero_steps"] == 1
    flat = GradientProfile(step=0, norms={"h_l0": np.ones(6)})
    assert flat.summary("h_l0", 1e-3) == {"log10_ratio": 0.0, "horizon": 6, "zero_steps": 0}
    dead = GradientProfile(step=0, norms={"h_l0": np.zeros(3)})
    assert dead.summary("h_l0", 1e-3)["horizon"] == 0
