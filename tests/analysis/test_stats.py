"""The statistics across seeds, against independent references: numpy for the moments, a
bootstrap written out here, scipy for the p-values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from seqnet.analysis import stats
from seqnet.analysis.stats import describe, difference, permutation_p, welch_p


def reference_bootstrap(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The means of 10000 resamples of ``values`` with replacement, one resample at a time."""
    means = np.empty(10_000)
    for i in range(10_000):
        means[i] = values[rng.integers(0, len(values), size=len(values))].mean()
    return means


def mean_difference(x, y, axis):
    return np.mean(y, axis=axis) - np.mean(x, axis=axis)


def test_describe_equals_numpy_and_a_written_out_bootstrap():
    values = np.array([0.31, 0.12, 0.55, 0.2, 0.47])
    d = describe(values.tolist())
    assert d.n == 5
    assert d.mean == np.mean(values)
    assert d.std == np.std(values, ddof=1)
    assert d.median == np.median(values)
    low, high = np.percentile(reference_bootstrap(values, np.random.default_rng(0)), [2.5, 97.5])
    assert (d.ci_low, d.ci_high) == pytest.approx((low, high), abs=1e-15)
    # The same recipe as scipy's percentile bootstrap of the mean, up to its own random draws.
    scipy_ci = scipy.stats.bootstrap(
        (values,), np.mean, method="percentile", n_resamples=10_000, random_state=1
    ).confidence_interval
    assert d.ci_low == pytest.approx(scipy_ci.low, abs=0.02)
    assert d.ci_high == pytest.approx(scipy_ci.high, abs=0.02)
    assert describe(values.tolist()) == d  # seeded: the same values, the same interval


def test_describe_small_and_non_finite_samples():
    one = describe([2.5, math.nan, math.inf])  # a diverged run's value is left out
    assert (one.n, one.mean, one.median) == (1, 2.5, 2.5)
    assert all(math.isnan(v) for v in (one.std, one.ci_low, one.ci_high))
    empty = describe([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_welch_p_equals_scipy():
    rng = np.random.default_rng(3)
    for _ in range(5):
        a, b = rng.normal(0, 1, 6), rng.normal(0.7, 2.0, 9)
        expected = scipy.stats.ttest_ind(b, a, equal_var=False).pvalue
        assert welch_p(a, b) == pytest.approx(expected, rel=1e-12)
    same = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    assert welch_p(same, same) == 1.0


@pytest.mark.parametrize(("n_a", "n_b"), [(3, 3), (2, 4), (4, 4), (3, 5)])
def test_exact_permutation_p_equals_scipy(n_a, n_b):
    rng = np.random.default_rng(n_a * 10 + n_b)
    a, b = rng.normal(0, 1, n_a), rng.normal(1.0, 1, n_b)
    expected = scipy.stats.permutation_test(
        (a, b), mean_difference, permutation_type="independent", n_resamples=np.inf,
        alternative="two-sided", vectorized=True,
    ).pvalue  # fmt: skip
    assert permutation_p(a, b) == pytest.approx(expected, rel=1e-12)


def test_random_permutations_when_there_are_too_many(monkeypatch):
    monkeypatch.setattr(stats, "PERMUTATIONS", 500)  # fewer than the C(13, 4) = 715 relabellings
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, 4), rng.normal(0.8, 1, 9)
    exact = scipy.stats.permutation_test(
        (a, b), mean_difference, permutation_type="independent", n_resamples=np.inf,
        alternative="two-sided", vectorized=True,
    ).pvalue  # fmt: skip
    drawn = permutation_p(a, b)
    assert drawn != pytest.approx(exact, rel=1e-12)  # drawn, not enumerated
    assert drawn == pytest.approx(exact, abs=0.08)
    assert permutation_p(a, b) == drawn  # seeded


def test_difference_chooses_its_test_by_n_and_resamples_each_group():
    rng = np.random.default_rng(11)
    small_a, small_b = rng.normal(0, 1, 3), rng.normal(2, 1, 3)
    d = difference(small_a.tolist(), small_b.tolist())
    assert d.test == "permutation"
    assert d.diff == pytest.approx(small_b.mean() - small_a.mean(), rel=1e-15)
    r = np.random.default_rng(0)  # the reference's resamples are drawn first, then the other's
    ref_means = reference_bootstrap(small_a, r)
    other_means = reference_bootstrap(small_b, r)
    low, high = np.percentile(other_means - ref_means, [2.5, 97.5])
    assert (d.ci_low, d.ci_high) == pytest.approx((low, high), abs=1e-15)
    large = difference(rng.normal(0, 1, 6).tolist(), rng.normal(1, 1, 5).tolist())
    assert large.test == "welch"
    lonely = difference([1.0], [2.0, 3.0])
    assert (lonely.diff, lonely.test) == (1.5, "") and math.isnan(lonely.p)
