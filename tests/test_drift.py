"""Drift statistics: PSI, KS, Wasserstein, chi-square against hand computations and scipy."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from console.data.drift import (
    EPSILON,
    OTHER,
    FeatureDrift,
    as_table,
    compute_drift,
    drifted_features,
    histogram,
    psi,
    quantile_edges,
    read_sample,
)
from console.errors import InvalidSpec, NotFound


def by_feature(results: list[FeatureDrift]) -> dict[str, FeatureDrift]:
    return {r.feature: r for r in results}


def hand_psi(ref_counts, cur_counts, eps=EPSILON) -> float:
    """PSI written out term by term, as a textbook gives it."""
    total_r, total_c = sum(ref_counts), sum(cur_counts)
    out = 0.0
    for r, c in zip(ref_counts, cur_counts, strict=True):
        pr, pc = max(r / total_r, eps), max(c / total_c, eps)
        out += (pc - pr) * math.log(pc / pr)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def sample(rng, n: int, shift: float = 0.0, mix=(0.5, 0.3, 0.2)) -> pa.Table:
    return pa.table({
        "x": rng.normal(10 + shift, 2, n),
        "count": rng.poisson(3, n),
        "colour": rng.choice(["red", "green", "blue"], n, p=list(mix)),
    })


# -- the verdicts ---------------------------------------------------------------------------------


def test_identical_distributions_do_not_drift(rng):
    results = compute_drift(sample(rng, 20_000), sample(rng, 5_000))
    assert {r.feature for r in results} == {"x", "count", "colour"}
    for r in results:
        assert r.psi is not None and r.psi < 0.02, r
        assert not r.drifted, r
    assert drifted_features(results) == []


def test_a_table_against_itself_has_zero_drift(rng):
    table = sample(rng, 2_000)
    found = by_feature(compute_drift(table, table))
    assert found["x"].psi == pytest.approx(0.0, abs=1e-12)
    assert found["x"].ks == 0.0 and found["x"].p_value == pytest.approx(1.0)
    assert found["x"].wasserstein == 0.0
    assert found["colour"].chi2 == pytest.approx(0.0) and found["colour"].p_value == pytest.approx(1.0)


def test_a_shifted_numeric_feature_crosses_the_threshold(rng):
    found = by_feature(compute_drift(sample(rng, 20_000), sample(rng, 5_000, shift=1.5)))
    x = found["x"]
    assert x.kind == "numeric" and x.psi > 0.2 and x.drifted
    assert "PSI" in x.reason and ">= 0.2" in x.reason
    assert x.wasserstein == pytest.approx(1.5, abs=0.1)  # a pure shift moves every quantile by it
    assert not found["count"].drifted and not found["colour"].drifted


def test_a_changed_category_mix_drifts(rng):
    found = by_feature(compute_drift(sample(rng, 20_000), sample(rng, 5_000, mix=(0.2, 0.3, 0.5))))
    colour = found["colour"]
    assert colour.kind == "categorical" and colour.drifted and colour.psi > 0.2
    assert colour.ks is None and colour.wasserstein is None and colour.chi2 > 100 and colour.p_value < 1e-6


def test_results_are_sorted_by_psi_descending(rng):
    results = compute_drift(sample(rng, 5_000), sample(rng, 2_000, shift=0.5, mix=(0.1, 0.3, 0.6)))
    values = [r.psi for r in results]
    assert values == sorted(values, reverse=True)
    assert results[0].feature in ("x", "colour")


def test_thresholds_are_parameters(rng):
    ref, cur = sample(rng, 5_000), sample(rng, 2_000, shift=0.8)
    assert by_feature(compute_drift(ref, cur))["x"].drifted
    relaxed = by_feature(compute_drift(ref, cur, psi_threshold=50.0, p_value_threshold=0.0))["x"]
    assert not relaxed.drifted and relaxed.psi > 0.1
    strict = by_feature(compute_drift(ref, cur, psi_threshold=0.01))["x"]
    assert strict.drifted


def test_a_small_p_value_marks_drift_only_with_a_moderate_psi():
    rng = np.random.default_rng(5)
    ref = pa.table({"x": rng.normal(0, 1, 50_000)})
    tiny = pa.table({"x": rng.normal(0.06, 1, 50_000)})  # significant at this size, too small to matter
    result = by_feature(compute_drift(ref, tiny))["x"]
    assert result.p_value < 0.01 and result.psi < 0.1 and not result.drifted
    assert by_feature(compute_drift(ref, tiny, p_value_min_psi=0.0))["x"].drifted
    moderate = pa.table({"x": rng.normal(0.55, 1, 50_000)})
    result = by_feature(compute_drift(ref, moderate, psi_threshold=0.5))["x"]
    assert 0.1 <= result.psi < 0.5 and result.drifted and "KS p-value" in result.reason


# -- the numbers, checked by hand and by scipy ----------------------------------------------------------


def test_numeric_psi_matches_a_hand_computation():
    reference = np.arange(100, dtype=float)  # quartile edges 24.75, 49.5, 74.25
    current = np.concatenate([np.arange(50, dtype=float)] * 2)
    edges = quantile_edges(reference, bins=4)
    assert list(edges) == pytest.approx([24.75, 49.5, 74.25])
    # reference: 25 per quarter; current: 0..24 twice (50) and 25..49 twice (50), none above.
    expected = hand_psi([25, 25, 25, 25], [50, 50, 0, 0])
    found = by_feature(compute_drift(pa.table({"v": reference}), pa.table({"v": current}), bins=4))["v"]
    assert found.psi == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(2 * 0.25 * math.log(2) + 2 * (EPSILON - 0.25) * math.log(EPSILON / 0.25))


def test_ks_and_wasserstein_match_scipy(rng):
    a, b = rng.normal(0, 1, 3_000), rng.gamma(2.0, 1.0, 1_000)
    found = by_feature(compute_drift(pa.table({"v": a}), pa.table({"v": b})))["v"]
    ks = stats.ks_2samp(a, b)
    assert found.ks == pytest.approx(ks.statistic) and found.p_value == pytest.approx(ks.pvalue)
    assert found.wasserstein == pytest.approx(stats.wasserstein_distance(a, b))


def test_numeric_psi_matches_numpy_binning(rng):
    a, b = rng.lognormal(0, 1, 10_000), rng.lognormal(0.3, 1.1, 4_000)
    inner = np.quantile(a, np.linspace(0, 1, 11)[1:-1])
    ref_counts = np.bincount(np.digitize(a, inner), minlength=10)
    cur_counts = np.bincount(np.digitize(b, inner), minlength=10)
    found = by_feature(compute_drift(pa.table({"v": a}), pa.table({"v": b})))["v"]
    assert found.psi == pytest.approx(hand_psi(ref_counts, cur_counts), rel=1e-9)


def test_categorical_psi_and_chi_square_match_a_hand_computation():
    reference = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    current = ["a"] * 20 + ["b"] * 30 + ["c"] * 40 + ["d"] * 10  # d was never seen: the (other) bin
    found = by_feature(compute_drift(pa.table({"k": reference}), pa.table({"k": current})))["k"]
    assert found.psi == pytest.approx(hand_psi([50, 30, 20, 0], [20, 30, 40, 10]), rel=1e-12)
    chi2, p_value, _, _ = stats.chi2_contingency(np.array([[50, 30, 20, 0], [20, 30, 40, 10]]))
    assert found.chi2 == pytest.approx(chi2) and found.p_value == pytest.approx(p_value)
    assert "1 category unseen in the reference (10.0% of current)" in found.reason


def test_psi_helper_is_symmetric_in_form_and_zero_on_equal_shares():
    assert psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)
    assert psi([10, 0], [5, 5]) == pytest.approx(hand_psi([10, 0], [5, 5]))


# -- missing values, missing columns, odd inputs ---------------------------------------------------------


def test_nans_and_nulls_are_counted_not_fatal(rng):
    a = rng.normal(0, 1, 5_000)
    b = rng.normal(0, 1, 2_000)
    a[::10] = np.nan
    b[::10] = np.nan
    b[1] = np.inf
    colours = pa.array(["x", None, "y", "z"] * 500)
    ref = pa.table({"v": a, "k": pa.array(["x", None, "y", "z"] * 1250)})
    cur = pa.table({"v": b, "k": colours})
    found = by_feature(compute_drift(ref, cur))
    assert found["v"].missing_reference == 500 and found["v"].missing_current == 201
    assert found["v"].n_reference == 5_000 and found["v"].n_current == 2_000
    assert not found["v"].drifted and found["v"].ks is not None
    assert found["v"].ks == pytest.approx(stats.ks_2samp(a[np.isfinite(a)], b[np.isfinite(b)]).statistic)
    assert found["k"].missing_reference == 1250 and found["k"].missing_current == 500
    assert not found["k"].drifted


def test_a_feature_that_goes_missing_drifts(rng):
    a = rng.normal(0, 1, 2_000)
    b = rng.normal(0, 1, 1_000)
    b[:700] = np.nan
    found = by_feature(compute_drift(pa.table({"v": a}), pa.table({"v": b})))["v"]
    assert found.drifted and found.psi > 0.2 and "missing 0.0% -> 70.0%" in found.reason


def test_an_all_null_column_is_compared_by_its_missing_share(rng):
    ref = pa.table({"v": rng.normal(0, 1, 500)})
    cur = pa.table({"v": pa.nulls(200)})
    found = by_feature(compute_drift(ref, cur))["v"]
    assert found.kind == "numeric" and found.drifted and found.ks is None
    assert "too few values present" in found.reason


def test_a_column_on_one_side_is_reported_not_dropped(rng):
    ref = pa.table({"x": rng.normal(0, 1, 100), "label": rng.integers(0, 2, 100)})
    cur = pa.table({"x": rng.normal(0, 1, 100), "prediction": pa.array(["yes"] * 100)})
    found = by_feature(compute_drift(ref, cur))
    assert found["label"].reason == "only in the reference: not compared" and not found["label"].drifted
    assert found["label"].kind == "numeric" and found["label"].psi is None and found["label"].n_current == 0
    assert found["prediction"].reason == "only in the current: not compared"
    assert found["prediction"].kind == "categorical"
    assert list(found)[-1] in ("label", "prediction")  # no PSI sorts last
    asked = by_feature(compute_drift(ref, cur, features=["x", "nowhere"]))
    assert asked["nowhere"].reason == "in neither sample" and set(asked) == {"x", "nowhere"}


def test_too_few_rows_is_no_verdict(rng):
    found = by_feature(compute_drift(pa.table({"x": rng.normal(0, 1, 500), "k": ["a"] * 500}),
                                     pa.table({"x": rng.normal(9, 1, 10), "k": ["b"] * 10})))
    for name in ("x", "k"):
        assert found[name].reason == "too few rows" and not found[name].drifted
        assert found[name].psi is None and found[name].n_current == 10
    assert not by_feature(compute_drift(pa.table({"x": [1.0] * 5}), pa.table({"x": [2.0] * 5}),
                                        min_rows=30))["x"].drifted


def test_a_changed_type_drifts_but_numbers_as_text_compare_as_numbers(rng):
    ref = pa.table({"age": rng.integers(20, 60, 300), "zip": rng.integers(1000, 9999, 300)})
    cur = pa.table({"age": pa.array([str(v) for v in rng.integers(20, 60, 300)]),
                    "zip": pa.array(["N/A"] * 300)})
    found = by_feature(compute_drift(ref, cur))
    assert found["age"].kind == "numeric" and found["age"].ks is not None and not found["age"].drifted
    assert found["zip"].drifted and found["zip"].reason.startswith("type changed: numeric")


def test_constant_reference_and_booleans(rng):
    ref = pa.table({"c": [1.0] * 100, "flag": rng.random(100) < 0.5})
    cur = pa.table({"c": [1.0] * 60 + [2.0] * 40, "flag": rng.random(100) < 0.5})
    found = by_feature(compute_drift(ref, cur))
    # Ties leave one bin, so values beyond the reference's range get their own: 2.0 is a new level.
    assert found["c"].psi == pytest.approx(hand_psi([100, 0], [60, 40]))
    assert found["c"].drifted
    assert found["flag"].kind == "categorical" and not found["flag"].drifted


def test_unsupported_types_are_reported():
    ref = pa.table({"tags": pa.array([[1, 2]] * 50)})
    found = by_feature(compute_drift(ref, ref))["tags"]
    assert not found.drifted and "is not compared" in found.reason


def test_inputs_may_be_pandas_duckdb_or_mappings(rng):
    frame = pd.DataFrame({"x": rng.normal(0, 1, 200), "k": rng.choice(["a", "b"], 200)})
    relation = duckdb.sql("SELECT x + 5 AS x, k FROM frame")
    found = by_feature(compute_drift(frame, relation))
    assert found["x"].drifted and not found["k"].drifted
    assert as_table({"a": [1, 2]}).num_rows == 2


# -- histograms -----------------------------------------------------------------------------------


def test_numeric_histogram_shares_bins(rng):
    a, b = rng.normal(0, 1, 5_000), rng.normal(1, 1, 2_000)
    a[:10] = np.nan
    h = histogram(pa.table({"v": a}), pa.table({"v": b}), "v", bins=15)
    assert h.kind == "numeric" and len(h.edges) == 16 and len(h.reference) == len(h.current) == 15
    assert sum(h.reference) == 4_990 and sum(h.current) == 2_000 and h.missing_reference == 10
    assert h.edges == sorted(h.edges)
    ref_mode = h.edges[int(np.argmax(h.reference))]
    cur_mode = h.edges[int(np.argmax(h.current))]
    assert cur_mode > ref_mode


def test_categorical_histogram_orders_by_reference_and_groups_the_rest():
    ref = pa.table({"k": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + [None]})
    cur = pa.table({"k": ["c"] * 4 + ["z"] * 2})
    h = histogram(ref, cur, "k", max_categories=2)
    assert h.categories == ["a", "b", OTHER]
    assert h.reference == [5, 3, 2] and h.current == [0, 0, 6]
    assert h.missing_reference == 1 and h.missing_current == 0
    with pytest.raises(NotFound):
        histogram(ref, cur, "nope")


def test_histogram_of_a_constant_feature(rng):
    h = histogram(pa.table({"v": [3.0] * 10}), pa.table({"v": [3.0] * 4}), "v", bins=4)
    assert h.edges[0] < 3.0 < h.edges[-1] and sum(h.reference) == 10 and sum(h.current) == 4


# -- reading reference files ---------------------------------------------------------------------------


def test_read_sample_bounds_rows_and_is_repeatable(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"i": np.arange(20_000), "v": np.arange(20_000) * 0.5}), path)
    first = read_sample(path, limit=1_000)
    again = read_sample(path, limit=1_000)
    assert first.num_rows == 1_000 and first.equals(again)
    assert len(set(first.column("i").to_pylist())) == 1_000
    assert max(first.column("i").to_pylist()) > 10_000  # drawn from the whole file, not its head
    assert read_sample(path, limit=1_000, columns=["v", "other"]).column_names == ["v"]
    assert read_sample(path, limit=50_000).num_rows == 20_000


def test_read_sample_reads_csv_jsonl_globs_and_directories(tmp_path):
    (tmp_path / "a.csv").write_text("x,k\n1,a\n2,b\n")
    (tmp_path / "b.jsonl").write_text('{"x": 1, "k": "a"}\n{"x": 3, "k": "c"}\n')
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        pq.write_table(pa.table({"x": [i, i + 1]}), parts / f"p{i}.parquet")
    assert read_sample(tmp_path / "a.csv").num_rows == 2
    assert read_sample(tmp_path / "b.jsonl").column("k").to_pylist() in (["a", "c"], ["c", "a"])
    assert read_sample(str(parts / "*.parquet")).num_rows == 6
    assert read_sample(parts).num_rows == 6


def test_read_sample_names_the_file_and_the_problem(tmp_path):
    with pytest.raises(NotFound, match=r"missing\.parquet: no such file"):
        read_sample(tmp_path / "missing.parquet")
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(InvalidSpec, match=r"empty\.parquet: empty file"):
        read_sample(tmp_path / "empty.parquet")
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 this is not really parquet at all")
    with pytest.raises(InvalidSpec, match=r"corrupt\.parquet: not a valid Parquet file"):
        read_sample(tmp_path / "corrupt.parquet")
    pq.write_table(pa.table({"x": pa.array([], pa.int64())}), tmp_path / "norows.parquet")
    with pytest.raises(InvalidSpec, match=r"norows\.parquet: no rows"):
        read_sample(tmp_path / "norows.parquet")
    with pytest.raises(NotFound, match="no file matches"):
        read_sample(str(tmp_path / "nothing-*.parquet"))
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(InvalidSpec, match="unknown file type"):
        read_sample(tmp_path / "data.xlsx")


def test_a_path_is_read_as_a_sample(tmp_path, rng):
    path = tmp_path / "ref.parquet"
    pq.write_table(sample(rng, 3_000), path)
    found = by_feature(compute_drift(str(path), sample(rng, 1_000)))
    assert found["x"].n_reference == 3_000 and not found["x"].drifted
