"""The A/B statistics, against scipy and against hand computation."""

import math
import random

import pytest
from scipy import stats as scipy_stats

from console.rollout.stats import mann_whitney, two_proportion


def test_mann_whitney_by_hand_on_separated_samples():
    # Every value of a is below every value of b: U(a) = 0; the exact two-sided p is 2 / C(6, 3) = 0.1.
    u, p = mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert u == 0.0
    assert p == pytest.approx(0.1)


def test_mann_whitney_counts_pairs_like_the_definition():
    a, b = [1.0, 4.0, 6.0, 7.0], [2.0, 3.0, 5.0]
    # U(a) = pairs (x in a, y in b) with x > y (+ half for ties): 1->0, 4->2, 6->3, 7->3.
    u, _ = mann_whitney(a, b)
    assert u == 8.0
    u_b, _ = mann_whitney(b, a)
    assert u + u_b == len(a) * len(b)


def test_mann_whitney_matches_scipy_on_larger_samples():
    rng = random.Random(7)
    a = [rng.gauss(0.10, 0.02) for _ in range(200)]
    b = [rng.gauss(0.11, 0.02) for _ in range(150)]
    u, p = mann_whitney(a, b)
    expected = scipy_stats.mannwhitneyu(a, b, alternative="two-sided")
    assert u == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert p < 0.01 and u < len(a) * len(b) / 2  # a is faster, and significantly so


def test_mann_whitney_needs_values():
    with pytest.raises(ValueError):
        mann_whitney([], [1.0])


def test_two_proportion_by_hand():
    # 45/100 vs 30/100: pooled 0.375, se = sqrt(0.375 * 0.625 * (1/100 + 1/100)).
    z, p = two_proportion(45, 100, 30, 100)
    se = math.sqrt(0.375 * 0.625 * 0.02)
    assert z == pytest.approx(0.15 / se)
    assert z == pytest.approx(2.19089, abs=1e-4)
    assert p == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert p == pytest.approx(0.02846, abs=1e-4)


def test_two_proportion_is_symmetric_and_matches_scipy_normal():
    z1, p1 = two_proportion(970, 1000, 950, 1000)
    z2, p2 = two_proportion(950, 1000, 970, 1000)
    assert z1 == pytest.approx(-z2) and p1 == pytest.approx(p2)
    assert p1 == pytest.approx(2 * scipy_stats.norm.sf(abs(z1)))


def test_two_proportion_degenerate_and_invalid():
    assert two_proportion(100, 100, 50, 50) == (0.0, 1.0)
    assert two_proportion(0, 10, 0, 20) == (0.0, 1.0)
    with pytest.raises(ValueError):
        two_proportion(5, 0, 1, 10)
    with pytest.raises(ValueError):
        two_proportion(11, 10, 1, 10)
