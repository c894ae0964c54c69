"""Per-column profiles computed in SQL, one column at a time and on demand.

A whole-table SUMMARIZE of a 10-million-row file takes longer than pandas; one column takes
about a second: min and max come from Parquet metadata, then one scan gives the count, nulls,
mean, standard deviation, exact quantiles and a histogram on the min-max range. Categories get
their top values from a GROUP BY.

Quantiles are exact up to EXACT_ROWS rows and from a repeatable sample of about
QUANTILE_SAMPLE rows beyond (`quantiles_exact=False`, shown with "≈"). Distinct counts are
exact up to EXACT_DISTINCT_ROWS rows (or, for categories, when the
GROUP BY is small enough to run anyway) and HyperLogLog estimates beyond, flagged
`distinct_exact=False` and shown with "≈". In float columns NaN and infinities count as
missing, as pandas counts NaN. Standard deviation is the sample one (n - 1), as pandas'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from console.data.formats import quote_ident
from console.data.session import Column, DataSession, Selection

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
TOP_VALUES = 20
EXACT_DISTINCT_ROWS = 1_000_000
EXACT_ROWS = 1_000_000  # quantiles past this many rows come from a sample
QUANTILE_SAMPLE = 200_000
EXACT_GROUPS = 200_000  # a GROUP BY of fewer estimated groups than this is cheap enough to be exact


@dataclass(frozen=True)
class ColumnProfile:
    """What a column holds. `edges`/`counts` are the histogram (len(edges) == len(counts) + 1) of a
    numeric or temporal column; `top` the most frequent values of any other, with `other` the
    rest of the non-missing rows."""

    column: str
    type: str
    kind: str
    rows: int
    missing: int
    distinct: int | None = None
    distinct_exact: bool = True
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[float, Any] = field(default_factory=dict)
    edges: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    top: list[tuple[str, int]] = field(default_factory=list)
    other: int = 0
    quantiles_exact: bool = True

    @property
    def missing_fraction(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN as None, times as ISO text)."""
        return {
            "column": self.column, "type": self.type, "kind": self.kind, "rows": self.rows,
            "missing": self.missing, "missing_fraction": json_value(self.missing_fraction),
            "distinct": self.distinct, "distinct_exact": self.distinct_exact,
            "min": json_value(self.min), "max": json_value(self.max), "mean": json_value(self.mean), "std": json_value(self.std),
            "quantiles": {f"p{round(q * 100)}": json_value(v) for q, v in self.quantiles.items()},
            "quantiles_exact": self.quantiles_exact,
            "histogram": {"edges": [json_value(e) for e in self.edges], "counts": self.counts} if self.counts else None,
            "top": [{"value": v, "count": n} for v, n in self.top] if self.top else None,
            "other": self.other if self.top else None,
        }


def json_value(value: Any) -> Any:
    """A JSON-safe value: NaN and infinities as None, dates and times as ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _value_expr(column: Column) -> str:
    """The column as profiled: floats without NaN/inf, times as epoch seconds for the histogram."""
    name = quote_ident(column.name)
    base = column.type.upper()
    if base in ("FLOAT", "DOUBLE", "REAL"):
        return f"CASE WHEN isfinite({name}) THEN {name} END"
    return name


def profile_column(session: DataSession, selection: Selection, column: str, *, bins: int = HISTOGRAM_BINS,
                   top: int = TOP_VALUES) -> ColumnProfile:
    """The profile of one column of the selection (its filter applies; its order does not)."""
    dataset = session.get(selection.table)
    source = f"({selection.sql(order=False)})"
    what = f"profile of {column!r} in {dataset.spec}"
    for _ in range(3):
        col = dataset.column(column)
        try:
            if col.kind == "numeric":
                profile = _numeric(session, source, col, what, bins)
            elif col.kind == "temporal":
                profile = _temporal(session, source, col, what, bins)
            else:
                profile = _categorical(session, source, col, what, top)
        except (TypeError, ValueError):
            if dataset.column(column) == col:
                raise
            continue
        # A CSV value that did not fit re-read the column as text midway: profile it again as such.
        if dataset.column(column) == col:
            return profile
    return profile


def _numeric(session: DataSession, source: str, col: Column, what: str, bins: int) -> ColumnProfile:
    value = _value_expr(col)
    name = quote_ident(col.name)
    # Plain min/max come from Parquet metadata; only a NaN or infinity there costs a filtered scan.
    lo, hi, rows = session.execute(f"SELECT min({name}), max({name}), count(*) FROM {source}", what=what)[0]
    if value != name and lo is not None and not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = session.execute(f"SELECT min({value}), max({value}) FROM {source}", what=what)[0]
    if lo is None:  # nothing but missing values
        return ColumnProfile(col.name, col.type, col.kind, int(rows), int(rows), 0)
    lo_f, hi_f = float(lo), float(hi)
    edges = _edges(lo_f, hi_f, bins, integral=_is_integral(col.type))
    width = (edges[-1] - edges[0]) / (len(edges) - 1)
    n_bins = len(edges) - 1
    bin_expr = _bin(value, edges[0], width, n_bins)
    distinct = f"count(DISTINCT {value})" if rows <= EXACT_DISTINCT_ROWS else f"approx_count_distinct({value})"
    qs = ", ".join(repr(q) for q in QUANTILES)
    exact = rows <= EXACT_ROWS
    present, n_distinct, mean, std, histogram = session.execute(
        f"SELECT count({value}), {distinct}, avg({value}), stddev_samp({value}), histogram({bin_expr}) "
        f"FROM {source}", what=what)[0]
    # Exact quantiles sort the whole column (seconds on ten million rows); past EXACT_ROWS a
    # repeatable row sample of about QUANTILE_SAMPLE rows puts them within a fraction of a percent.
    sampled = source if exact else (f"(SELECT {value} AS {name} FROM {source} USING SAMPLE "
                                    f"{min(100.0, QUANTILE_SAMPLE * 100 / rows):.6f} PERCENT (bernoulli, 42))")
    quantiles = session.execute(f"SELECT quantile_cont({value if exact else name}, [{qs}]) FROM {sampled}",
                                what=what)[0][0]
    counts = [0] * n_bins
    for index, n in (histogram or {}).items():
        if index is not None:
            counts[int(index)] += int(n)
    return ColumnProfile(
        col.name, col.type, col.kind, int(rows), int(rows) - int(present), int(n_distinct),
        rows <= EXACT_DISTINCT_ROWS, lo, hi, _float(mean), _float(std),
        dict(zip(QUANTILES, [_float(q) for q in quantiles or []], strict=False)), edges, counts,
        quantiles_exact=exact)


def _bin(value: str, lo: float, width: float, bins: int) -> str:
    """The bin index of a value, the top edge in the last bin; NULL for a missing value (DuckDB's
    least/greatest skip NULLs, which would put every missing value in bin 0)."""
    return (f"CASE WHEN {value} IS NOT NULL THEN "
            f"least({bins - 1}, greatest(0, floor(({value} - {lo!r}) / {width!r})))::INTEGER END")


def _is_integral(type_: str) -> bool:
    return "INT" in type_.upper()


def _edges(lo: float, hi: float, bins: int, *, integral: bool) -> list[float]:
    """Equal-width bin edges over [lo, hi]; whole-number bins for a narrow integer range."""
    if integral:  # whole-number bins, each value in exactly one: [lo - 0.5, lo - 0.5 + width) ...
        width = max(1, math.ceil((hi - lo + 1) / bins))
        n = math.ceil((hi - lo + 1) / width)
        return [lo - 0.5 + i * width for i in range(n + 1)]
    if hi == lo:
        return [lo - 0.5, hi + 0.5]
    step = (hi - lo) / bins
    return [lo + i * step for i in range(bins)] + [hi]


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _temporal(session: DataSession, source: str, col: Column, what: str, bins: int) -> ColumnProfile:
    name = quote_ident(col.name)
    epoch = f"epoch({name})"
    lo, hi, rows, present = session.execute(
        f"SELECT min({name}), max({name}), count(*), count({name}) FROM {source}", what=what)[0]
    if lo is None:
        return ColumnProfile(col.name, col.type, col.kind, int(rows), int(rows), 0)
    lo_e, hi_e = session.execute(f"SELECT min({epoch}), max({epoch}) FROM {source}", what=what)[0]
    edges = _edges(float(lo_e), float(hi_e), bins, integral=False)
    width = (edges[-1] - edges[0]) / (len(edges) - 1)
    n_bins = len(edges) - 1
    bin_expr = _bin(epoch, edges[0], width, n_bins)
    distinct = f"count(DISTINCT {name})" if rows <= EXACT_DISTINCT_ROWS else f"approx_count_distinct({name})"
    n_distinct, median, histogram = session.execute(
        f"SELECT {distinct}, quantile_disc({name}, 0.5), histogram({bin_expr}) FROM {source}", what=what)[0]
    counts = [0] * n_bins
    for index, n in (histogram or {}).items():
        if index is not None:
            counts[int(index)] += int(n)
    return ColumnProfile(col.name, col.type, col.kind, int(rows), int(rows) - int(present), int(n_distinct),
                         rows <= EXACT_DISTINCT_ROWS, lo, hi, quantiles={0.5: median}, edges=edges, counts=counts)


def _categorical(session: DataSession, source: str, col: Column, what: str, top: int) -> ColumnProfile:
    name = quote_ident(col.name)
    text = name if col.kind in ("categorical",) else f"CAST({name} AS VARCHAR)"
    rows, present, estimate, lo, hi = session.execute(
        f"SELECT count(*), count({name}), approx_count_distinct({text}), min({text}), max({text}) FROM {source}",
        what=what)[0]
    exact = rows <= EXACT_DISTINCT_ROWS or estimate <= EXACT_GROUPS
    if exact:
        rows_top = session.execute(
            f"SELECT v, n, count(*) OVER () FROM (SELECT {text} AS v, count(*) AS n FROM {source} "
            f"WHERE {name} IS NOT NULL GROUP BY v) ORDER BY n DESC, v LIMIT {int(top)}", what=what)
        distinct = int(rows_top[0][2]) if rows_top else 0
    else:
        # Too many distinct values to group exactly: approx_top_k finds the heavy hitters,
        # then one filtered scan counts them exactly.
        (candidates,) = session.execute(f"SELECT approx_top_k({text}, {int(top)}) FROM {source}", what=what)[0]
        candidates = [c for c in candidates or [] if c is not None]
        rows_top = session.execute(
            f"SELECT {text} AS v, count(*) AS n FROM {source} WHERE {text} IN (SELECT unnest($1)) "
            f"GROUP BY v ORDER BY n DESC, v", [candidates], what=what) if candidates else []
        distinct = int(estimate)
    values = [(str(v), int(n)) for v, n, *_ in rows_top]
    return ColumnProfile(col.name, col.type, col.kind, int(rows), int(rows) - int(present), distinct, exact,
                         lo, hi, top=values, other=int(present) - sum(n for _, n in values))


def profile_columns(session: DataSession, selection: Selection, columns: list[str] | None = None, *,
                    progress: Callable[[int, int, str], None] | None = None) -> list[ColumnProfile]:
    """Profiles of the named columns (all by default), one query batch per column, in column order."""
    dataset = session.get(selection.table)
    names = columns if columns is not None else [c.name for c in dataset.columns]
    out = []
    for i, name in enumerate(names):
        if progress is not None:
            progress(i, len(names), name)
        out.append(profile_column(session, selection, name))
    if progress is not None:
        progress(len(names), len(names), "")
    return out
