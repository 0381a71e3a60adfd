"""The ``half_life`` gradient summary: how many steps back from the end the gradient norm stays at
least half its value at the end (t = T-1), counting the end itself; T when it never falls below
half, 0 when the end is 0. Registered, it is one more number in every view: TensorBoard's
``grad_summary/<q>/half_life``, seqnet-grads' table, and seqnet-compare's tables, CSV and figure.
"""

from __future__ import annotations

import numpy as np

from seqnet.gradients.summaries import Measure, register_summary


@register_summary("half_life", label="steps with norm >= half the norm at T-1", integer=True)
def half_life(norms: np.ndarray, measure: Measure) -> int:
    end = norms[-1]
    if end <= 0:
        return 0
    below = np.flatnonzero(norms < 0.5 * end)
    return len(norms) if below.size == 0 else int(len(norms) - 1 - below[-1])
