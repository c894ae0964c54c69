"""`mlconsole data profile` and `mlconsole data query`, run as a script runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def cli(home, *args):
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), "data", *args],
                          capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=120)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(0, 1, 500), "city": rng.choice(["a", "b", "c"], 500), "n": np.arange(500)})
    df.loc[::10, "x"] = np.nan
    df.to_parquet(tmp_path / "t.parquet", index=False)
    (tmp_path / "semi.csv").write_text("k;v\n" + "".join(f"{i};{i * 2}\n" for i in range(20)))
    return df, tmp_path


def test_profile_json_matches_pandas(home, files):
    df, folder = files
    out = cli(home, "profile", str(folder / "t.parquet"), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    x, city = report["columns"][0], report["columns"][1]
    assert x["missing"] == 50 and x["mean"] == pytest.approx(df.x.mean()) and x["std"] == pytest.approx(df.x.std())
    assert x["quantiles"]["p50"] == pytest.approx(df.x.median()) and sum(x["histogram"]["counts"]) == 450
    assert {t["value"]: t["count"] for t in city["top"]} == df.city.value_counts().to_dict()
    assert city["distinct"] == 3 and city["distinct_exact"] is True


def test_profile_text_columns_where_and_sample(home, files):
    _, folder = files
    out = cli(home, "profile", str(folder / "t.parquet"), "--columns", "city", "--where", "n < 100")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split()[:4] == ["COLUMN", "TYPE", "MISSING", "DISTINCT"]
    assert "city: top 3 values" in out.stdout and "100 rows" in out.stderr
    sampled = json.loads(cli(home, "profile", str(folder / "t.parquet"), "--sample", "50", "--json").stdout)
    assert sampled["columns"][0]["rows"] == 50


def test_profile_sniffs_csv_and_takes_overrides(home, files):
    _, folder = files
    report = json.loads(cli(home, "profile", str(folder / "semi.csv"), "--json").stdout)
    assert [c["column"] for c in report["columns"]] == ["k", "v"] and report["columns"][1]["max"] == 38
    forced = json.loads(cli(home, "profile", str(folder / "semi.csv"), "--delimiter", ";", "--no-header",
                            "--json").stdout)
    assert [c["column"] for c in forced["columns"]] == ["column0", "column1"]


@pytest.mark.parametrize(("args", "message"), [
    (["profile", "/nowhere/x.parquet"], "/nowhere/x.parquet: no such file"),
    (["profile", "{folder}/t.parquet", "--columns", "nope"], "no column 'nope'"),
    (["profile", "{folder}/t.parquet", "--where", "nope = 1"], "filter 'nope = 1'"),
    (["query", "select * from t", "--table", "oops"], "expected NAME=SOURCE"),
    (["query", "select nope from t", "--table", "t={folder}/t.parquet"], "nope"),
    (["query", "select 1", "--table", "t=requests:ghost"], "requests:ghost: no request log"),
])
def test_bad_input_exits_2_with_one_line(home, files, args, message):
    _, folder = files
    out = cli(home, *[a.format(folder=folder) for a in args])
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"mlconsole: data {args[0]}: ")


def test_query_with_named_tables_paths_in_from_limit_and_output(home, files):
    df, folder = files
    out = cli(home, "query", "SELECT city, count(*) AS n FROM t GROUP BY city ORDER BY city", "--table",
              f"t={folder / 't.parquet'}", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["rows"] == [{"city": c, "n": int(n)} for c, n in sorted(df.city.value_counts().items())]
    direct = cli(home, "query", f"SELECT count(*) AS rows FROM '{folder / 't.parquet'}' WHERE x > 0")
    assert direct.stdout.split()[:2] == ["ROWS", str(int((df.x > 0).sum()))]
    limited = json.loads(cli(home, "query", "SELECT * FROM range(50)", "--limit", "7", "--json").stdout)
    assert limited["row_count"] == 7 and limited["truncated"] is True
    target = folder / "out.parquet"
    written = cli(home, "query", "SELECT * FROM t WHERE n % 2 = 0", "--table", f"t={folder / 't.parquet'}",
                  "--output", str(target))
    assert written.returncode == 0 and "wrote 250 rows" in written.stderr
    assert pd.read_parquet(target)["n"].tolist() == list(range(0, 500, 2))
