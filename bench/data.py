"""Data benchmark (issue 9): a 10-million-row, 20-column Parquet file opened by the Data view's own
code, by pandas and by VisiData, in one run. Prints a table and the ratios; asserts nothing.

Measured, each side in a fresh process (so imports count and peak RSS is its own):
- first page: from opening the file to 100 rows formatted for the screen, the libraries
  already imported (as in a running console; import times are shown apart, and a cold figure
  with them). Ours is what the view does (open_spec -> count -> page 0 -> cells); pandas reads
  the file then takes head(100); VisiData's own loader (the one `vd --batch` runs) until its
  sheet holds 100 rows;
- profile: one numeric column (count, missing, distinct, min/max/mean/std, 5 quantiles, a
  20-bin histogram) and one categorical (missing, distinct, top values), ours in SQL on demand,
  pandas on the frame it loaded (its read is in its first page time);
- filter + count: income > 30000 AND region = 'north';
- full load: VisiData's loader until the whole file is in its sheet, and the peak RSS of that.
  (Plain `vd --batch FILE` prints the whole sheet to stdout after loading it, which would time
  the printing of 10M rows, so its loader is driven directly, as `vd --batch` drives it.)

Goals: first page under 0.5 s, profile under 2 s, peak RSS under 500 MB, at least 10x faster to
first page than both peers.

    python bench/data.py [--rows N] [--skip-pandas] [--skip-visidata]

The file is generated once by DuckDB (about 40 s) under ~/.cache/mlconsole-bench/data; VisiData
is installed once into its own venv there, like the other bench peers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import serving_peers as peers  # noqa: E402

VISIDATA = "visidata==3.4"
NUMERIC, CATEGORICAL = "income", "region"
FILTER = "income > 30000 AND region = 'north'"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the file ---------------------------------------------------------------------------------------

GENERATOR = """
COPY (
SELECT i AS id,
  TIMESTAMP '2026-01-01' + to_seconds(i // 10) AS ts,
  'U' || lpad(CAST(hash(i) % 1000000 AS VARCHAR), 7, '0') AS user_id,
  md5(CAST(i AS VARCHAR)) AS session,
  CAST(18 + (hash(i * 3) % 60) AS INTEGER) AS age,
  round(exp(10 + sqrt(-2 * ln(random())) * cos(2 * pi() * random()) * 0.5), 2) AS income,
  CASE WHEN random() < 0.05 THEN NULL ELSE round(random() * 50000, 2) END AS loan_amount,
  round(sqrt(-2 * ln(random())) * cos(2 * pi() * random()), 6) AS score_a,
  round(random(), 6) AS score_b,
  round(random() * 100, 3) AS score_c,
  CAST(floor(-ln(random()) * 3) AS INTEGER) AS num_events,
  CASE WHEN random() < 0.02 THEN NULL ELSE round(random() * 0.9, 4) END AS debt_to_income,
  round(random() * 1000, 2) AS amount,
  CAST(hash(i * 7) % 24 AS INTEGER) AS hour,
  (['pos','online','atm'])[1 + CAST(floor(random() * 3) AS INTEGER)] AS channel,
  (['north','south','east','west','central'])[1 + CAST(floor(random() * 5) AS INTEGER)] AS region,
  (['salaried','self-employed','contract','unemployed','retired'])
      [1 + CAST(floor(random() * random() * 5) AS INTEGER)] AS employment_type,
  'C' || CAST(CAST(floor(pow(random(), 3) * 200) AS INTEGER) AS VARCHAR) AS merchant,
  random() < 0.04 AS is_fraud,
  CASE WHEN random() < 0.1 THEN NULL
       ELSE (['rent','mortgage','own','other'])[1 + CAST(floor(random() * 4) AS INTEGER)] END AS home_ownership
FROM range({rows}) t(i)
) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
"""


def dataset(rows: int) -> Path:
    """The benchmark file, generated once (DuckDB, out of core, seeded)."""
    path = peers.cache_dir() / "data" / f"bench-{rows}-rows-20-cols-v1.parquet"
    if path.exists():
        return path
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    say(f"generating {rows:,} rows into {path} (once; about 40 s for 10M rows)")
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(GENERATOR.format(rows=int(rows), path=str(partial).replace("'", "''")))
    con.close()
    partial.rename(path)
    return path


# -- the sides, each in a child process -------------------------------------------------------------


def child_ours(path: str) -> dict:
    t0 = time.perf_counter()
    import duckdb  # noqa: F401 — the view has it loaded once the first dataset is open

    from console.data.profile import profile_column
    from console.data.report import cell
    from console.data.session import DataSession, Selection
    from console.data.sources import open_spec

    imports = time.perf_counter() - t0
    t0 = time.perf_counter()
    session = DataSession()
    dataset = open_spec(session, path)
    selection = Selection(dataset.name)
    total = session.count(selection)
    page = [[cell(v, width=40) for v in row] for row in session.page(selection, 0, 100)]
    first_page = time.perf_counter() - t0
    assert len(page) == 100 and total > 0
    t = time.perf_counter()
    numeric = profile_column(session, selection, NUMERIC)
    profile_numeric = time.perf_counter() - t
    t = time.perf_counter()
    categorical = profile_column(session, selection, CATEGORICAL)
    profile_categorical = time.perf_counter() - t
    t = time.perf_counter()
    matching = session.count(Selection(dataset.name, FILTER))
    filter_count = time.perf_counter() - t
    return {"imports": imports, "first_page": first_page, "profile_numeric": profile_numeric,
            "profile_categorical": profile_categorical, "filter_count": filter_count, "rows": total,
            "matching": matching, "mean": numeric.mean, "top": categorical.top[0][0]}


def child_pandas(path: str) -> dict:
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import pyarrow.parquet  # noqa: F401 — read_parquet's engine

    imports = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    page = [[str(v) for v in row] for row in df.head(100).itertuples(index=False)]
    first_page = time.perf_counter() - t0
    assert len(page) == 100
    t = time.perf_counter()
    x = df[NUMERIC]
    values = x.dropna().to_numpy()
    stats = (len(x), int(x.isna().sum()), x.nunique(), x.min(), x.max(), x.mean(), x.std(),
             x.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist(), np.histogram(values, bins=20)[0])
    profile_numeric = time.perf_counter() - t
    t = time.perf_counter()
    c = df[CATEGORICAL]
    counts = c.value_counts()
    _ = (int(c.isna().sum()), c.nunique(), counts.head(20))
    profile_categorical = time.perf_counter() - t
    t = time.perf_counter()
    matching = int(((df[NUMERIC] > 30000) & (df[CATEGORICAL] == "north")).sum())
    filter_count = time.perf_counter() - t
    return {"imports": imports, "first_page": first_page, "profile_numeric": profile_numeric,
            "profile_categorical": profile_categorical, "filter_count": filter_count, "rows": len(df),
            "matching": matching, "mean": float(stats[5]), "top": str(counts.index[0])}


VISIDATA_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import visidata
from visidata import vd
import pyarrow.parquet
imports = time.perf_counter() - t0
t0 = time.perf_counter()
sheet = vd.openSource(visidata.Path(sys.argv[1]))
sheet.reload()
while len(sheet.rows) < 100:
    time.sleep(0.005)
first_page = time.perf_counter() - t0
vd.sync()  # every loader thread done: the whole file loaded, as `vd --batch FILE` loads it
print(json.dumps({"imports": imports, "first_page": first_page, "full_load": time.perf_counter() - t0,
                  "rows": len(sheet.rows)}))
"""


def run_child(argv: list[str], env: dict | None = None) -> tuple[dict | None, float, float, str]:
    """(its last JSON line, wall seconds, peak RSS MB, stderr tail) of a child, through a wrapper that
    reads the child's own rusage (so each side's RSS is its own)."""
    wrapper = ("import json, resource, subprocess, sys, time\n"
               "t = time.perf_counter()\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "wall = time.perf_counter() - t\n"
               "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
               "print(json.dumps({'out': p.stdout, 'err': p.stderr[-400:], 'code': p.returncode, 'wall': wall,"
               " 'rss': rss}))\n")
    done = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, timeout=1800,
                          env=env, cwd=ROOT)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    result = None
    for line in reversed(report["out"].strip().splitlines()):
        try:
            result = json.loads(line)
            break
        except ValueError:
            continue
    if report["code"] != 0:
        result = None
    return result, report["wall"], report["rss"], report["err"]


def visidata_venv(log: Path) -> peers.Venv:
    venv = peers._venv("visidata", sys.executable, [VISIDATA, "pyarrow"])
    if not venv.ready():
        say(f"building the VisiData venv under {venv.path} (first run only)")
        venv.build(log)
    return venv


# -- the report ---------------------------------------------------------------------------------------


def fmt(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.3f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-visidata", action="store_true")
    parser.add_argument("--child", choices=["ours", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child_ours(args.path) if args.child == "ours" else child_pandas(args.path)
        print(json.dumps(result, default=str))
        return 0

    path = dataset(args.rows)
    size_mb = path.stat().st_size / 2**20
    say(f"file: {path} ({size_mb:,.0f} MB, {args.rows:,} rows x 20 columns)")
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    sides: dict[str, dict] = {}
    left_out: dict[str, str] = {}

    say("ours: the Data view's code (DuckDB)")
    result, wall, rss, err = run_child([sys.executable, __file__, "--child", "ours", "--path", str(path)], env)
    if result is None:
        print(f"ours failed: {err}", file=sys.stderr)
        return 1
    sides["mlconsole"] = {**result, "rss": rss}

    if not args.skip_pandas:
        say("pandas: read_parquet + the same statistics")
        result, wall, rss, err = run_child([sys.executable, __file__, "--child", "pandas", "--path", str(path)], env)
        if result is None:
            left_out["pandas"] = f"failed: {err.strip()[-200:]}"
        else:
            sides["pandas"] = {**result, "rss": rss}

    if not args.skip_visidata:
        try:
            log = peers.cache_dir() / "visidata-install.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            venv = visidata_venv(log)
        except RuntimeError as exc:
            left_out["visidata"] = f"its venv could not be built: {exc}"
        else:
            say("VisiData: its loader (the one `vd --batch` runs) until 100 rows, then the whole file")
            probe, _, probe_rss, err = run_child([str(venv.bin / "python"), "-c", VISIDATA_PROBE, str(path)], env)
            if probe is None:
                left_out["visidata"] = f"failed: {err.strip()[-200:]}"
            else:
                sides["visidata"] = {"imports": probe["imports"], "first_page": probe["first_page"], "rss": probe_rss,
                                     "full_load": probe["full_load"]}

    print()
    print(f"{args.rows:,} rows x 20 columns, {size_mb:,.0f} MB of Parquet")
    header = f"{'':12} {'imports':>9} {'first page':>12} {'profile num':>12} {'profile cat':>12} " \
             f"{'filter+count':>13} {'full load':>10} {'peak RSS':>10}"
    print(header)
    for name, s in sides.items():
        print(f"{name:12} {fmt(s.get('imports')):>9} {fmt(s.get('first_page')):>12} {fmt(s.get('profile_numeric')):>12} "
              f"{fmt(s.get('profile_categorical')):>12} {fmt(s.get('filter_count')):>13} "
              f"{fmt(s.get('full_load')):>10} {s['rss']:>7,.0f} MB")
    ours = sides["mlconsole"]
    profile = ours["profile_numeric"] + ours["profile_categorical"]
    print()
    print(f"goals: first page {ours['first_page']:.3f} s (< 0.5: {'yes' if ours['first_page'] < 0.5 else 'NO'}), "
          f"profile {profile:.3f} s for both columns (< 2: {'yes' if profile < 2 else 'NO'}), "
          f"peak RSS {ours['rss']:,.0f} MB (< 500: {'yes' if ours['rss'] < 500 else 'NO'})")
    print(f"first page from a cold process (imports included): {ours['imports'] + ours['first_page']:.3f} s")
    for name in ("pandas", "visidata"):
        if name in sides:
            ratio = sides[name]["first_page"] / ours["first_page"]
            cold = (sides[name]["imports"] + sides[name]["first_page"]) / (ours["imports"] + ours["first_page"])
            line = (f"first page vs {name}: {ratio:.1f}x faster ({'>= 10x' if ratio >= 10 else 'under 10x'}; "
                    f"{cold:.1f}x counting imports)")
            if "rss" in sides[name]:
                line += f"; peak RSS {sides[name]['rss'] / ours['rss']:.1f}x less"
            if name == "pandas":
                pandas_profile = sides[name]["profile_numeric"] + sides[name]["profile_categorical"]
                line += (f"; profile {pandas_profile / profile:.1f}x (pandas' excludes its read); "
                         f"filter+count {sides[name]['filter_count'] / ours['filter_count']:.1f}x")
            print(line)
    if "pandas" in sides:
        same = sides["pandas"]["matching"] == ours["matching"] and sides["pandas"]["top"] == ours["top"] and \
            abs(sides["pandas"]["mean"] - ours["mean"]) < 1e-6 * abs(ours["mean"])
        print(f"answers agree with pandas (filter count, mean, top value): {'yes' if same else 'NO'}")
    for name, why in left_out.items():
        print(f"left out: {name}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
