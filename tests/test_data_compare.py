"""Comparing two open datasets: the drifted feature is found, statistics as scipy computes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from console.data.compare import compare, shared_features
from console.data.session import DataSession, Selection
from console.data.sources import open_spec
from console.errors import InvalidSpec


def sides(n: int = 4_000, seed: int = 5):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"income": rng.lognormal(10, 0.4, n), "age": rng.integers(18, 70, n),
                        "region": rng.choice(["n", "s", "e"], n, p=[0.5, 0.3, 0.2]), "label": rng.integers(0, 2, n)})
    cur = pd.DataFrame({"income": rng.lognormal(10.5, 0.4, n), "age": rng.integers(18, 70, n),
                        "region": rng.choice(["n", "s", "e"], n, p=[0.5, 0.3, 0.2]), "ts": np.arange(n)})
    ref.loc[rng.random(n) < 0.05, "income"] = np.nan
    cur.loc[rng.random(n) < 0.05, "region"] = None
    ref.loc[rng.random(n) < 0.05, "region"] = None  # missing on one side only would drift by itself
    return ref, cur


@pytest.fixture
def session(tmp_path):
    ref, cur = sides()
    ref.to_parquet(tmp_path / "train.parquet", index=False)
    cur.to_parquet(tmp_path / "live.parquet", index=False)
    s = DataSession()
    open_spec(s, str(tmp_path / "train.parquet"))
    open_spec(s, str(tmp_path / "live.parquet"))
    yield s, ref, cur
    s.close()


def test_the_shifted_feature_drifts_and_only_shared_features_compare(session):
    s, ref, cur = session
    assert shared_features(s, Selection("train"), Selection("live")) == ["income", "age", "region"]
    result = compare(s, Selection("train"), Selection("live"))
    assert result.drifted == ["income"]
    by = {r.feature: r for r in result.results}
    income = by["income"]
    want = stats.ks_2samp(ref.income.dropna(), cur.income.dropna())
    assert income.ks == pytest.approx(want.statistic) and income.p_value == pytest.approx(want.pvalue, rel=1e-6)
    assert income.wasserstein == pytest.approx(stats.wasserstein_distance(ref.income.dropna(), cur.income.dropna()))
    assert income.missing_reference == int(ref.income.isna().sum())
    assert by["region"].kind == "categorical" and by["region"].missing_current == int(cur.region.isna().sum())
    hist = result.histogram("region")
    assert sum(hist.reference) == ref.region.notna().sum() and hist.missing_current == cur.region.isna().sum()


def test_a_filter_narrows_a_side_and_no_shared_column_is_a_message(session, tmp_path):
    s, ref, cur = session
    result = compare(s, Selection("train", "region = 'n'"), Selection("live", "region = 'n'"))
    assert result.results[0].n_reference == int((ref.region == "n").sum())
    pd.DataFrame({"other": [1, 2]}).to_parquet(tmp_path / "other.parquet")
    open_spec(s, str(tmp_path / "other.parquet"))
    with pytest.raises(InvalidSpec, match="no column in common"):
        compare(s, Selection("train"), Selection("other"))
