"""Dataset access, paging, profiles and export against pandas/numpy references on generated data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from console.data.formats import CsvOptions, file_source
from console.data.profile import QUANTILES, profile_column, profile_columns
from console.data.session import DataSession, Selection
from console.data.sources import open_spec
from console.errors import InvalidSpec, NotFound


def frame(n: int = 5_000, seed: int = 3) -> pd.DataFrame:
    """Numbers with NaN and nulls, integers, categories with missing values, booleans and times."""
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 12, n)
    x[rng.random(n) < 0.07] = np.nan
    city = rng.choice(["oslo", "lima", "pune", "kyiv", "reno"], n, p=[0.4, 0.25, 0.2, 0.1, 0.05]).astype(object)
    city[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "id": np.arange(n),
        "x": x,
        "k": rng.integers(0, 9, n),
        "city": pd.array(city, dtype="str"),
        "flag": rng.random(n) < 0.3,
        "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
    })


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    df = frame()
    folder = tmp_path_factory.mktemp("data")
    df.to_parquet(folder / "sample.parquet", index=False)
    df.to_csv(folder / "sample.csv", index=False)
    df.drop(columns=["when"]).to_json(folder / "sample.jsonl", orient="records", lines=True)
    return df, folder


@pytest.fixture
def session():
    s = DataSession()
    yield s
    s.close()


def test_pages_are_exactly_the_pandas_slices_in_file_order(data, session):
    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    selection = Selection(dataset.name)
    assert session.count(selection) == len(df)
    for offset in (0, 100, 4_950, 4_999):
        page = session.page(selection, offset, 100)
        assert [r[0] for r in page] == df["id"].iloc[offset:offset + 100].tolist()
        got = pd.DataFrame(page, columns=[c.name for c in dataset.columns])
        want = df.iloc[offset:offset + 100].reset_index(drop=True)
        pd.testing.assert_series_equal(got["x"].astype(float), want["x"], check_names=False)
        assert [r[3] for r in page] == [None if pd.isna(v) else v for v in want["city"]]


def test_filtered_and_sorted_pages_match_pandas(data, session):
    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    filtered = Selection(dataset.name, "k >= 4 AND city = 'oslo'")
    want = df[(df.k >= 4) & (df.city == "oslo")]
    assert session.count(filtered) == len(want)
    assert [r[0] for r in session.page(filtered, 50, 100)] == want["id"].iloc[50:150].tolist()
    ordered = Selection(dataset.name, "x IS NOT NULL", (("k", True), ("x", False)))
    want = df[df.x.notna()].sort_values(["k", "x"], ascending=[False, True])
    pages = [r[0] for off in range(0, 300, 100) for r in session.page(ordered, off, 100)]
    assert pages == want["id"].iloc[:300].tolist()


def test_numeric_profile_matches_pandas_and_numpy(data, session):
    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    p = profile_column(session, Selection(dataset.name), "x")
    x = df["x"]
    assert p.rows == len(df) and p.missing == int(x.isna().sum())
    assert p.distinct == x.nunique() and p.distinct_exact
    assert p.min == pytest.approx(x.min()) and p.max == pytest.approx(x.max())
    assert p.mean == pytest.approx(x.mean()) and p.std == pytest.approx(x.std())  # sample std, as pandas
    for q in QUANTILES:
        assert p.quantiles[q] == pytest.approx(np.nanquantile(x, q))  # linear interpolation, as numpy
    counts, _ = np.histogram(x.dropna(), bins=np.array(p.edges))
    assert p.counts == counts.tolist() and sum(p.counts) == x.notna().sum()


def test_integer_histogram_has_one_bin_per_value(data, session):
    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    p = profile_column(session, Selection(dataset.name), "k")
    assert p.edges[0] == -0.5 and len(p.counts) == 9
    assert p.counts == df["k"].value_counts().sort_index().tolist()


def test_categorical_profile_matches_value_counts(data, session):
    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    p = profile_column(session, Selection(dataset.name), "city", top=3)
    counts = df["city"].value_counts()
    assert p.missing == int(df["city"].isna().sum()) and p.distinct == counts.size
    assert p.top == list(zip(counts.index[:3], counts.values[:3].tolist(), strict=True))
    assert p.other == int(counts.values[3:].sum())
    assert p.min == min(counts.index) and p.max == max(counts.index)
    flag = profile_column(session, Selection(dataset.name), "flag")
    assert dict(flag.top) == {"false": int((~df.flag).sum()), "true": int(df.flag.sum())}


def test_profile_respects_the_filter_and_times_get_a_histogram(data, session):
    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    p = profile_column(session, Selection(dataset.name, "city = 'lima'"), "x")
    lima = df[df.city == "lima"]["x"]
    assert p.rows == int((df.city == "lima").sum()) and p.mean == pytest.approx(lima.mean())
    when = profile_column(session, Selection(dataset.name), "when")
    assert when.kind == "temporal" and sum(when.counts) == len(df)
    assert when.min == df["when"].min().to_pydatetime()
    json.dumps([q.to_json() for q in profile_columns(session, Selection(dataset.name))])  # JSON-safe


def test_nan_and_infinity_count_as_missing(tmp_path, session):
    path = tmp_path / "odd.parquet"
    pd.DataFrame({"v": [1.0, 2.0, np.nan, np.inf, -np.inf, None, 3.0]}).to_parquet(path)
    p = profile_column(session, Selection(open_spec(session, str(path)).name), "v")
    assert (p.missing, p.min, p.max, p.mean) == (4, 1.0, 3.0, 2.0)


def test_csv_and_jsonl_read_like_the_parquet(data, session):
    df, folder = data
    csv = open_spec(session, str(folder / "sample.csv"))
    jsonl = open_spec(session, str(folder / "sample.jsonl"))
    assert csv.source.csv.delimiter == "," and csv.source.csv.header is True
    for dataset in (csv, jsonl):
        p = profile_column(session, Selection(dataset.name), "x")
        assert p.mean == pytest.approx(df["x"].mean()) and p.missing == int(df["x"].isna().sum())
    assert session.page(Selection(csv.name), 10, 1)[0][0] == 10


def test_csv_sniffing_and_overrides(tmp_path, session):
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1;x\n2;y\n")
    assert file_source(str(path)).csv.delimiter == ";"
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("1,2\n3,4\n")
    assert file_source(str(nohead)).csv.header is False
    dataset = open_spec(session, str(nohead), csv=CsvOptions(header=True))
    assert [c.name for c in dataset.columns] == ["1", "2"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,city\nJosé,München\n".encode("latin-1"))
    with pytest.raises(InvalidSpec, match=r"latin\.csv: not utf-8 text: byte 0xe9 on line 2"):
        open_spec(session, str(latin))
    dataset = open_spec(session, str(latin), csv=CsvOptions(encoding="latin-1"))
    assert session.page(Selection(dataset.name), 0)[0] == ("José", "München")


@pytest.mark.parametrize(("name", "content", "error", "message"), [
    ("missing.parquet", None, NotFound, r"missing\.parquet: no such file"),
    ("empty.csv", b"", InvalidSpec, r"empty\.csv: empty file \(0 bytes\)"),
    ("blank.csv", b"\n\n", InvalidSpec, r"blank\.csv: no rows"),
    ("header.csv", b"a,b\n", InvalidSpec, r"header\.csv: a header and no rows"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", InvalidSpec, r"ragged\.csv: ragged rows: line 3 has 2 field\(s\)"),
    ("corrupt.parquet", b"PAR1 not really parquet", InvalidSpec, r"corrupt\.parquet: not a valid Parquet file"),
    ("broken.jsonl", b'{"a": 1}\n{"a": \n', InvalidSpec, r"broken\.jsonl: malformed JSON"),
    ("notes.docx", b"hello", InvalidSpec, r"notes\.docx: unknown file type \.docx"),
])
def test_bad_input_names_the_file_and_the_problem(tmp_path, session, name, content, error, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=message):
        dataset = open_spec(session, str(path))
        session.count(Selection(dataset.name))
    assert not session.datasets  # nothing half-open left behind


def test_ragged_rows_past_the_sniffed_sample_and_padding(tmp_path, session):
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "1,2\n" * 300_000 + "3\n")  # past the first megabyte we check ourselves
    dataset = open_spec(session, str(path))
    with pytest.raises(InvalidSpec, match=r"late\.csv: ragged rows: line 300002 has 1 field\(s\), expected 2"):
        session.count(Selection(dataset.name))
    short = tmp_path / "short.csv"
    short.write_text("a,b,c\n1,2,3\n4,5\n")
    padded = open_spec(session, str(short), csv=CsvOptions(pad_ragged=True))
    assert session.page(Selection(padded.name), 0) == [(1, 2, 3), (4, 5, None)]


def test_a_mixed_type_column_is_read_as_text_and_says_so(tmp_path, session):
    path = tmp_path / "mixed.csv"
    path.write_text("id,v\n" + "".join(f"{i},{i}\n" for i in range(60_000)) + "60000,n/a\n")
    dataset = open_spec(session, str(path))
    assert dataset.column("v").type == "BIGINT"  # the sniffed sample saw only numbers
    p = profile_column(session, Selection(dataset.name), "v")
    assert dataset.column("v").type == "VARCHAR" and p.kind == "categorical" and p.distinct == 60_001
    assert any("column 'v' mixes types (line 60002 has 'n/a'" in n for n in dataset.notes)
    assert session.page(Selection(dataset.name), 60_000, 5) == [(60000, "n/a")]


def test_globs_queries_export_and_names(data, session, tmp_path):
    df, folder = data
    for part in range(3):
        df.iloc[part * 100:(part + 1) * 100].to_parquet(tmp_path / f"part-{part}.parquet", index=False)
    parts = open_spec(session, str(tmp_path / "part-*.parquet"), name="parts")
    assert session.count(Selection("parts")) == 300
    sample = open_spec(session, str(folder / "sample.parquet"))
    again = open_spec(session, str(folder / "sample.parquet"))
    assert (sample.name, again.name) == ("sample", "sample_2")
    result = session.open_query("SELECT city, count(*) AS n FROM sample GROUP BY city ORDER BY n DESC, city")
    assert session.page(Selection(result.name), 0)[0] == ("oslo", int((df.city == "oslo").sum()))
    described = session.open_query("DESCRIBE parts")
    assert session.count(Selection(described.name)) == len(df.columns)
    with pytest.raises(InvalidSpec, match="query: .*nope"):
        session.open_query("SELECT nope FROM sample")
    out = tmp_path / "out.csv"
    selection = Selection(parts.name, "k > 3", (("x", True),))
    written = session.export(selection, out)
    want = df.iloc[:300][df.iloc[:300].k > 3].sort_values("x", ascending=False, na_position="last")
    got = pd.read_csv(out)
    assert written == len(want) and got["id"].tolist() == want["id"].tolist()
    assert session.export(selection, tmp_path / "out.parquet") == len(want)
    assert pd.read_parquet(tmp_path / "out.parquet")["id"].tolist() == want["id"].tolist()
    with pytest.raises(InvalidSpec, match="export to .csv, .tsv or .parquet"):
        session.export(selection, tmp_path / "out.xlsx")


def test_a_bad_filter_is_a_message_and_cancel_interrupts(data, session):
    import threading
    import time

    df, folder = data
    dataset = open_spec(session, str(folder / "sample.parquet"))
    with pytest.raises(InvalidSpec, match="filter 'nope > 1'"):
        session.check(Selection(dataset.name, "nope > 1"))
    errors = []

    def slow() -> None:
        try:
            session.execute("SELECT count(*) FROM range(10000000000) a", what="a long count")
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    assert session.cancel() >= 1
    thread.join(timeout=10)
    assert errors and "cancelled" in str(errors[0])
    assert math.isfinite(profile_column(session, Selection(dataset.name), "x").mean)  # still usable


def test_large_columns_take_quantiles_from_a_sample_and_say_so(data, session, monkeypatch):
    import console.data.profile as profile

    df, folder = data
    monkeypatch.setattr(profile, "EXACT_ROWS", 1_000)
    monkeypatch.setattr(profile, "QUANTILE_SAMPLE", 2_000)
    dataset = open_spec(session, str(folder / "sample.parquet"))
    p = profile_column(session, Selection(dataset.name), "x")
    assert not p.quantiles_exact and p.mean == pytest.approx(df.x.mean())  # the rest stays exact
    assert p.quantiles[0.5] == pytest.approx(df.x.median(), rel=0.03)
    assert p.quantiles == profile_column(session, Selection(dataset.name), "x").quantiles  # repeatable
