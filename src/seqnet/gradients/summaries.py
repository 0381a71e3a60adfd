"""The gradient summaries: the few numbers every view reports of a profile, defined once.

TensorBoard (``grad_summary/<q>/<name>``), ``seqnet-grads`` and ``seqnet-compare`` (its tables,
its CSV columns ``<q>/<name>`` and its figure) loop over ``SUMMARIES``; a new summary is one
function registered here, or from a plugin, with ``register_summary``:

    @register_summary("half_life", label="steps back to half the norm at t=T-1")
    def half_life(norms: np.ndarray, measure: Measure) -> int:
        ...

Each takes the norms of one profile (float64, one per timestep, exact zeros as zeros) and how
they were measured (``Measure``: the probe dtype and the run's ``grad_log.horizon_threshold``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seqnet.gradients.profiles import log10_norms

SummaryValue = float | int


@dataclass(frozen=True)
class Measure:
    """How a profile was measured, as the summaries need it."""

    dtype: str  # float32 | float64: where log10 puts an exact zero (``log10_floor``)
    horizon_threshold: float  # the run's grad_log.horizon_threshold


@dataclass(frozen=True)
class Summary:
    name: str
    function: Callable[[np.ndarray, Measure], SummaryValue]
    #: What it measures, for axis labels and tables.
    label: str
    #: Whole numbers (a count of timesteps): tables print them without decimals.
    integer: bool = False

    def __call__(self, norms: np.ndarray, measure: Measure) -> SummaryValue:
        value = self.function(np.asarray(norms, dtype=np.float64), measure)
        return int(value) if self.integer else float(value)


#: Every summary by name, in the order views show them.
SUMMARIES: dict[str, Summary] = {}


def register_summary(
    name: str, label: str, integer: bool = False
) -> Callable[[Callable[[np.ndarray, Measure], SummaryValue]], Summary]:
    """Decorator: add a summary to every view, under ``name`` (its TensorBoard tag
    ``grad_summary/<q>/<name>`` and its CSV column ``<q>/<name>``)."""

    def decorate(function: Callable[[np.ndarray, Measure], SummaryValue]) -> Summary:
        if name in SUMMARIES:
            raise ValueError(f"gradient summary {name!r} is already registered")
        summary = Summary(name, function, label, integer)
        SUMMARIES[name] = summary
        return summary

    return decorate


def summarize(norms: np.ndarray, measure: Measure) -> dict[str, SummaryValue]:
    """Every summary of one profile's norms."""
    return {name: summary(norms, measure) for name, summary in SUMMARIES.items()}


@register_summary("log10_ratio", label="log10(norm t=0 / norm t=T-1)")
def log10_ratio(norms: np.ndarray, measure: Measure) -> float:
    """log10 of the norm at t=0 over the norm at t=T-1, on the floored log10 values (negative:
    the gradient vanishes towards the start, positive: it grows)."""
    values = log10_norms(norms, measure.dtype)
    return float(values[0] - values[-1])


@register_summary("horizon", label="steps with norm >= threshold x norm T-1", integer=True)
def horizon(norms: np.ndarray, measure: Measure) -> int:
    """How many steps back from the end the norm stays >= ``horizon_threshold`` x its value at
    the end, counting the end itself; T when it never falls below, 0 when the end is 0."""
    end = norms[-1]
    if end <= 0:
        return 0
    below = np.flatnonzero(norms < measure.horizon_threshold * end)
    return len(norms) if below.size == 0 else int(len(norms) - 1 - below[-1])


@register_summary("zero_steps", label="timesteps whose gradient underflowed to 0", integer=True)
def zero_steps(norms: np.ndarray, measure: Measure) -> int:
    """How many timesteps have an exactly zero gradient (underflow)."""
    return int(np.count_nonzero(norms == 0))
