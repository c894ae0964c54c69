"""The statistics behind A/B decisions, on scipy (imported only when a decision is made)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: (U of `a`, p-value).

    U below len(a) * len(b) / 2 means `a` tends to be smaller than `b`.
    """
    if len(a) == 0 or len(b) == 0:
        raise ValueError("mann_whitney needs at least one value in each sample")
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(list(a), list(b), alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def two_proportion(successes_a: float, n_a: float, successes_b: float, n_b: float) -> tuple[float, float]:
    """Two-sided pooled z-test of two proportions: (z, p-value); z > 0 when a's rate is higher."""
    for successes, n, name in ((successes_a, n_a, "a"), (successes_b, n_b, "b")):
        if n <= 0 or not 0 <= successes <= n:
            raise ValueError(f"two_proportion: sample {name} needs n > 0 and 0 <= successes <= n")
    from scipy.stats import norm

    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        # Both samples all-success or all-failure: no evidence of any difference.
        return 0.0, 1.0
    z = (successes_a / n_a - successes_b / n_b) / se
    return float(z), float(2 * norm.sf(abs(z)))
