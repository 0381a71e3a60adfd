"""Statistics across the runs of a group (seeds): a description of one metric (n, mean, standard
deviation, median, a 95% interval for the mean) and the difference of two groups (with its
interval and a p-value).

Everything is reproducible: the bootstrap draws from a generator seeded with ``BOOTSTRAP_SEED``
afresh for every description, so the same values always give the same interval.

- Interval of a mean: the percentile bootstrap, ``BOOTSTRAP_RESAMPLES`` resamples of the runs
  (with replacement), the 2.5th and 97.5th percentiles of their means. It needs n >= 2.
- Difference of two groups: ``mean(other) - mean(reference)``, its interval by resampling each
  group on its own, and a two-sided p-value for "the means are equal": Welch's t-test when both
  groups have at least ``PERMUTATION_BELOW`` runs, else an exact permutation test of the
  difference of means over every relabelling of the runs (with a few seeds a t-test's
  assumptions cannot be checked, and the exact test needs none). Both need n >= 2 per group.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
#: Groups smaller than this are compared by the exact permutation test, larger ones by Welch's.
PERMUTATION_BELOW = 5
#: An exact permutation test enumerates at most this many relabellings; beyond, it draws this
#: many at random (seeded), counting the observed one.
PERMUTATIONS = 20_000

NAN = float("nan")


@dataclass(frozen=True)
class Description:
    """One metric over the runs of a group; NaN where n is too small (std: n < 2)."""

    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1)
    median: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Difference:
    """``mean(other) - mean(reference)`` with its interval and a p-value (NaN: not computable)."""

    diff: float
    ci_low: float
    ci_high: float
    p: float
    test: str  # "welch", "permutation" or "" (n < 2 in a group)


def finite(values: Sequence[float]) -> np.ndarray:
    """The finite values, as float64 (a diverged run's NaN or inf is left out)."""
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def bootstrap_means(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The means of ``BOOTSTRAP_RESAMPLES`` resamples of ``values`` with replacement."""
    picks = rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))
    return values[picks].mean(axis=1)


def percentile_interval(samples: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def describe(values: Sequence[float]) -> Description:
    """n, mean, standard deviation, median and the bootstrap interval of the mean of the finite
    ``values``."""
    x = finite(values)
    n = len(x)
    if n == 0:
        return Description(0, NAN, NAN, NAN, NAN, NAN)
    mean, median = float(x.mean()), float(np.median(x))
    if n < 2:
        return Description(n, mean, NAN, median, NAN, NAN)
    low, high = percentile_interval(bootstrap_means(x, np.random.default_rng(BOOTSTRAP_SEED)))
    return Description(n, mean, float(x.std(ddof=1)), median, low, high)


def difference(reference: Sequence[float], other: Sequence[float]) -> Difference:
    """How ``other``'s mean differs from ``reference``'s (see the module docstring)."""
    a, b = finite(reference), finite(other)
    if len(a) == 0 or len(b) == 0:
        return Difference(NAN, NAN, NAN, NAN, "")
    diff = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return Difference(diff, NAN, NAN, NAN, "")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    reference_means = bootstrap_means(a, rng)  # the reference's resamples first, then the other's
    low, high = percentile_interval(bootstrap_means(b, rng) - reference_means)
    if min(len(a), len(b)) < PERMUTATION_BELOW:
        return Difference(diff, low, high, permutation_p(a, b), "permutation")
    return Difference(diff, low, high, welch_p(a, b), "welch")


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances) for equal means."""
    from scipy.special import stdtr  # Student's t distribution function

    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return 1.0 if a.mean() == b.mean() else 0.0
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(min(1.0, 2 * stdtr(df, -abs(t))))


def permutation_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the permutation test of the difference of means: twice the smaller
    tail share of relabellings whose difference is at least as extreme as the observed one
    (the observed labelling counted), capped at 1. Exact when there are at most
    ``PERMUTATIONS`` relabellings, else from that many seeded draws."""
    pooled = np.concatenate([a, b])
    n_a, total = len(a), len(pooled)
    observed = b.mean() - a.mean()
    if math.comb(total, n_a) <= PERMUTATIONS:
        labellings = itertools.combinations(range(total), n_a)
        diffs = np.array([_diff(pooled, list(idx)) for idx in labellings])
    else:
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        draws = [rng.permutation(total)[:n_a] for _ in range(PERMUTATIONS - 1)]
        diffs = np.array([observed, *(_diff(pooled, list(idx)) for idx in draws)])
    # Values equal to the observed one up to rounding count as "as extreme".
    tolerance = 1e-12 * max(1.0, abs(observed))
    less = np.mean(diffs <= observed + tolerance)
    greater = np.mean(diffs >= observed - tolerance)
    return float(min(1.0, 2 * min(less, greater)))


def _diff(pooled: np.ndarray, reference_idx: list[int]) -> float:
    """mean(rest) - mean(pooled[reference_idx])."""
    mask = np.zeros(len(pooled), dtype=bool)
    mask[reference_idx] = True
    return float(pooled[~mask].mean() - pooled[mask].mean())
