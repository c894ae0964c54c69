"""Feature drift between a reference sample (training data) and a current one (live traffic).

Numeric features: PSI over quantile bins of the reference, the two-sample Kolmogorov-Smirnov
test, and the Wasserstein distance. Categorical features: PSI over the reference's categories
(categories the reference never saw, or beyond its most frequent `max_categories`, are one
"(other)" bin) and the chi-square test of the 2 x k contingency table. Missing values are a
bin of their own in PSI and chi-square, so a feature that goes missing in production drifts;
the tests on numbers (KS, Wasserstein) see only the finite values.

A feature drifts when PSI >= psi_threshold, or when its test's p-value < p_value_threshold
*and* PSI >= p_value_min_psi: with tens of thousands of rows every test rejects differences
too small to matter, so a p-value alone never marks drift unless p_value_min_psi is 0.

Inputs are pyarrow Tables or anything that becomes one cheaply (a DuckDB relation, a pandas
DataFrame, a path DuckDB reads). Files are read by DuckDB with a reservoir sample of at most
`limit` rows: never a whole large file into memory. numpy, scipy, pyarrow and duckdb are
imported inside the functions.
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec, NotFound

PSI_THRESHOLD = 0.2
P_VALUE_THRESHOLD = 0.01
P_VALUE_MIN_PSI = 0.1
BINS = 10
MIN_ROWS = 30
EPSILON = 1e-4  # stands in for an empty bin's share, so PSI stays finite
MAX_CATEGORIES = 50
SAMPLE_ROWS = 50_000
SAMPLE_SEED = 42
OTHER = "(other)"
MISSING = "(missing)"

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")


@dataclass(frozen=True)
class FeatureDrift:
    """How one feature moved between the reference and the current sample.

    n_reference / n_current count the rows compared, missing values included;
    missing_reference / missing_current count the missing (null, NaN, infinite) ones.
    Statistics that do not apply (KS for a category, chi2 for a number) or could not be
    computed (too few rows, a column on one side only) are None.
    """

    feature: str
    kind: str  # "numeric" or "categorical"
    psi: float | None
    ks: float | None
    p_value: float | None
    wasserstein: float | None
    chi2: float | None
    n_reference: int
    n_current: int
    drifted: bool
    reason: str = ""
    missing_reference: int = 0
    missing_current: int = 0


@dataclass(frozen=True)
class FeatureHistogram:
    """Counts of one feature in both samples on shared bins, for an overlaid histogram.

    Numeric: `edges` has one more entry than the counts; values beyond the outer edges (the
    0.5% tails of both samples together) are counted in the end bins. Categorical:
    `categories` names each count, most frequent in the reference first, then "(other)".
    Missing values are counted apart, never binned.
    """

    feature: str
    kind: str
    reference: list[int]
    current: list[int]
    edges: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    missing_reference: int = 0
    missing_current: int = 0


# -- reading samples ------------------------------------------------------------------------


def _reader(path: str) -> str:
    """The DuckDB table function for a file by its name (the path is bound as parameter $1)."""
    name = path.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "read_parquet($1, union_by_name = true)"
    if name.endswith(CSV_SUFFIXES):
        return "read_csv($1, union_by_name = true)"
    if name.endswith(JSON_SUFFIXES):
        return "read_json($1, format = 'auto', union_by_name = true)"
    raise InvalidSpec(f"{path}: unknown file type (expected .parquet, .csv or .jsonl)", target=path)


def _files(source: str) -> str:
    """The path or glob DuckDB should read, after checking something is there to read."""
    if any(c in source for c in "*?["):
        matches = [m for m in glob.glob(source, recursive=True) if Path(m).is_file()]
        if not matches:
            raise NotFound(f"{source}: no file matches", target=source)
        if all(Path(m).stat().st_size == 0 for m in matches):
            raise InvalidSpec(f"{source}: every matching file is empty (0 bytes)", target=source)
        return source
    path = Path(source)
    if path.is_dir():  # a partitioned dataset: its Parquet files
        if not any(path.rglob("*.parquet")):
            raise NotFound(f"{source}: a directory with no .parquet files", target=source)
        return str(path / "**" / "*.parquet")
    if not path.exists():
        raise NotFound(f"{source}: no such file", target=source)
    if path.stat().st_size == 0:
        raise InvalidSpec(f"{source}: empty file (0 bytes)", target=source)
    return source


def _duckdb_problem(exc: Exception, source: str) -> str:
    """The first line of a DuckDB error, said in terms of the file."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    if source.lower().endswith(PARQUET_SUFFIXES) or "parquet" in low:
        if "magic" in low or "too small" in low or "not a parquet" in low or "metadata" in low:
            return f"not a valid Parquet file (corrupt or truncated): {text}"
    return text


def read_sample(source: str | Path, *, limit: int = SAMPLE_ROWS, columns: list[str] | None = None,
                seed: int = SAMPLE_SEED):
    """At most `limit` rows of a Parquet, CSV or JSON-lines file (globs and Parquet directories
    too), drawn by DuckDB's reservoir sample with a fixed seed; as a pyarrow Table.

    Only `columns` (those of them the file has) are read when given. Raises NotFound for a
    missing file and InvalidSpec for an unreadable or empty one, each naming the file.
    """
    import duckdb

    source = str(source)
    target = _files(source)
    reader = _reader(source if not Path(source).is_dir() else target)
    con = duckdb.connect()
    try:
        try:
            present = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}", [target]).fetchall()]
        except duckdb.Error as exc:
            raise InvalidSpec(f"{source}: {_duckdb_problem(exc, source)}", target=source) from None
        wanted = [c for c in present if c in set(columns)] if columns is not None else []
        wanted = wanted or present  # none of them there: read all, the caller reports what is missing
        projection = ", ".join('"' + c.replace('"', '""') + '"' for c in wanted)
        query = (f"SELECT {projection} FROM {reader} "
                 f"USING SAMPLE reservoir({max(int(limit), 1)} ROWS) REPEATABLE ({int(seed)})")
        try:
            table = con.sql(query, params=[target]).to_arrow_table()
        except duckdb.Error as exc:
            raise InvalidSpec(f"{source}: {_duckdb_problem(exc, source)}", target=source) from None
    finally:
        con.close()
    if table.num_rows == 0:
        raise InvalidSpec(f"{source}: no rows", target=source)
    return table


def as_table(data: Any, *, limit: int = SAMPLE_ROWS):
    """A pyarrow Table from a Table, record batches, a DuckDB relation, a pandas DataFrame, a
    mapping of columns, or a path (read with `read_sample`)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, (str, Path)):
        return read_sample(data, limit=limit)
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if hasattr(data, "to_arrow_table"):  # a DuckDB relation
        return data.to_arrow_table()
    if hasattr(data, "columns") and hasattr(data, "dtypes"):  # a pandas DataFrame
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, dict):
        return pa.table(data)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise TypeError(f"cannot compare drift on a {type(data).__name__}")


# -- column kinds -----------------------------------------------------------------------------


def _kind(type_) -> str | None:
    """numeric, categorical, null (no values at all) or None (a type drift cannot compare)."""
    import pyarrow.types as t

    if t.is_null(type_):
        return "null"
    if t.is_dictionary(type_):
        return _kind(type_.value_type)
    if t.is_boolean(type_) or t.is_string(type_) or t.is_large_string(type_) or t.is_string_view(type_):
        return "categorical"
    if t.is_integer(type_) or t.is_floating(type_) or t.is_decimal(type_) or t.is_temporal(type_):
        return "numeric"
    return None


def _numbers(column):
    """A float64 numpy array; nulls and non-finite values as NaN (temporal values as epoch units)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as t

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if t.is_dictionary(column.type):
        column = column.dictionary_decode()
    if t.is_null(column.type):
        return np.full(len(column), np.nan)
    if t.is_temporal(column.type):
        column = pc.cast(column, pa.int64()) if not t.is_date32(column.type) else pc.cast(column, pa.int32())
    values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    return np.where(np.isfinite(values), values, np.nan)


def _as_numbers_if_text(column):
    """Numbers from a text column whose every value parses as one (JSON bodies send "35"), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _category_counts(column) -> tuple[dict[str, int], int]:
    """(value -> count, missing count) of a categorical column, values as text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as t

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if t.is_null(column.type):
        return {}, len(column)
    if t.is_dictionary(column.type):
        column = column.dictionary_decode()
    if t.is_boolean(column.type):
        column = pc.if_else(column, "true", "false")
    elif not (t.is_string(column.type) or t.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    counts: dict[str, int] = {}
    missing = column.null_count
    for item in pc.value_counts(column).to_pylist():
        if item["values"] is not None:
            counts[item["values"]] = int(item["counts"])
    return counts, missing


# -- statistics ---------------------------------------------------------------------------------


def psi(reference_counts, current_counts, epsilon: float = EPSILON) -> float:
    """Population stability index of two count vectors over the same bins.

    sum((c - r) * ln(c / r)) over the bins' shares, an empty bin's share taken as epsilon.
    """
    import numpy as np

    r = np.asarray(reference_counts, dtype=float)
    c = np.asarray(current_counts, dtype=float)
    r = np.clip(r / max(r.sum(), 1.0), epsilon, None)
    c = np.clip(c / max(c.sum(), 1.0), epsilon, None)
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_edges(reference, bins: int = BINS):
    """The inner bin edges: the reference's quantiles, ties merged.

    When ties leave fewer bins than asked (a discrete or constant feature), values below the
    reference's minimum and above its maximum get bins of their own, so new levels show.
    """
    import numpy as np

    if len(reference) == 0:
        return np.array([])
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    if len(edges) < bins - 1:
        low, high = float(np.min(reference)), float(np.max(reference))
        edges = np.unique(np.concatenate([edges, [low, np.nextafter(high, np.inf)]]))
    return edges


def _bin_counts(sorted_values, edges):
    """Counts of sorted values in (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    import numpy as np

    cuts = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate([[0], cuts, [len(sorted_values)]]))


def _with_missing(ref_counts, cur_counts, ref_missing: int, cur_missing: int):
    """Append the missing-values bin when either side has any."""
    import numpy as np

    if ref_missing or cur_missing:
        return np.append(ref_counts, ref_missing), np.append(cur_counts, cur_missing)
    return ref_counts, cur_counts


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value < 0.001 else f"{value:.3f}"


def _verdict(value_psi: float | None, p_value: float | None, test: str, *, psi_threshold: float,
             p_value_threshold: float, p_value_min_psi: float) -> tuple[bool, str]:
    if value_psi is not None and value_psi >= psi_threshold:
        return True, f"PSI {value_psi:.3f} >= {psi_threshold:g}"
    if (p_value is not None and p_value < p_value_threshold and value_psi is not None
            and value_psi >= p_value_min_psi):
        return True, f"{test} p-value {_fmt(p_value)} < {p_value_threshold:g} (PSI {value_psi:.3f})"
    return False, ""


def _missing_note(ref_missing: int, n_ref: int, cur_missing: int, n_cur: int) -> str:
    if not (ref_missing or cur_missing):
        return ""
    return f"missing {100 * ref_missing / max(n_ref, 1):.1f}% -> {100 * cur_missing / max(n_cur, 1):.1f}%"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def numeric_drift(feature: str, reference, current, *, bins: int = BINS, min_rows: int = MIN_ROWS,
                  psi_threshold: float = PSI_THRESHOLD, p_value_threshold: float = P_VALUE_THRESHOLD,
                  p_value_min_psi: float = P_VALUE_MIN_PSI, epsilon: float = EPSILON) -> FeatureDrift:
    """Drift of one numeric feature from two float arrays (NaN for missing)."""
    import numpy as np
    from scipy import stats

    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    n_ref, n_cur = len(reference), len(current)
    # Sorted once: the bin counts are then binary searches, and scipy's own sorts find them in order.
    r = np.sort(reference[np.isfinite(reference)])
    c = np.sort(current[np.isfinite(current)])
    ref_missing, cur_missing = n_ref - len(r), n_cur - len(c)
    if n_ref < min_rows or n_cur < min_rows:
        return FeatureDrift(feature, "numeric", None, None, None, None, None, n_ref, n_cur, False,
                            "too few rows", ref_missing, cur_missing)
    edges = quantile_edges(r, bins)
    ref_counts, cur_counts = _with_missing(_bin_counts(r, edges), _bin_counts(c, edges), ref_missing, cur_missing)
    value_psi = psi(ref_counts, cur_counts, epsilon)
    ks = p_value = wasserstein = None
    note = ""
    if len(r) >= min_rows and len(c) >= min_rows:
        result = stats.ks_2samp(r, c)
        ks, p_value = float(result.statistic), float(result.pvalue)
        wasserstein = float(stats.wasserstein_distance(r, c))
    else:
        note = "too few values present for KS and Wasserstein"
    drifted, why = _verdict(value_psi, p_value, "KS", psi_threshold=psi_threshold,
                            p_value_threshold=p_value_threshold, p_value_min_psi=p_value_min_psi)
    return FeatureDrift(feature, "numeric", value_psi, ks, p_value, wasserstein, None, n_ref, n_cur, drifted,
                        _join(why, note, _missing_note(ref_missing, n_ref, cur_missing, n_cur)),
                        ref_missing, cur_missing)


def _category_bins(ref_counts: dict[str, int], max_categories: int) -> list[str]:
    """The reference's categories kept as bins: the most frequent first (ties by name)."""
    ordered = sorted(ref_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ordered[:max_categories]]


def categorical_drift(feature: str, reference: tuple[dict[str, int], int], current: tuple[dict[str, int], int],
                      *, max_categories: int = MAX_CATEGORIES, min_rows: int = MIN_ROWS,
                      psi_threshold: float = PSI_THRESHOLD, p_value_threshold: float = P_VALUE_THRESHOLD,
                      p_value_min_psi: float = P_VALUE_MIN_PSI, epsilon: float = EPSILON) -> FeatureDrift:
    """Drift of one categorical feature from (value -> count, missing count) of each side."""
    import numpy as np
    from scipy import stats

    (ref_counts, ref_missing), (cur_counts, cur_missing) = reference, current
    n_ref = sum(ref_counts.values()) + ref_missing
    n_cur = sum(cur_counts.values()) + cur_missing
    if n_ref < min_rows or n_cur < min_rows:
        return FeatureDrift(feature, "categorical", None, None, None, None, None, n_ref, n_cur, False,
                            "too few rows", ref_missing, cur_missing)
    kept = _category_bins(ref_counts, max_categories)
    ref_vec = [ref_counts[k] for k in kept]
    cur_vec = [cur_counts.get(k, 0) for k in kept]
    ref_vec.append(n_ref - ref_missing - sum(ref_vec))  # (other): the reference's long tail
    cur_vec.append(n_cur - cur_missing - sum(cur_vec))  # ... and whatever it never saw
    ref_arr, cur_arr = _with_missing(np.array(ref_vec), np.array(cur_vec), ref_missing, cur_missing)
    used = (ref_arr + cur_arr) > 0
    ref_arr, cur_arr = ref_arr[used], cur_arr[used]
    value_psi = psi(ref_arr, cur_arr, epsilon)
    if len(ref_arr) >= 2:
        chi2, p_value = (float(v) for v in stats.chi2_contingency(np.vstack([ref_arr, cur_arr]))[:2])
    else:
        chi2, p_value = 0.0, 1.0  # one category on both sides: nothing to test
    unseen = {k: v for k, v in cur_counts.items() if k not in ref_counts}
    note = (f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} unseen in the reference "
            f"({100 * sum(unseen.values()) / n_cur:.1f}% of current)") if unseen else ""
    drifted, why = _verdict(value_psi, p_value, "chi-square", psi_threshold=psi_threshold,
                            p_value_threshold=p_value_threshold, p_value_min_psi=p_value_min_psi)
    return FeatureDrift(feature, "categorical", value_psi, None, p_value, None, chi2, n_ref, n_cur, drifted,
                        _join(why, note, _missing_note(ref_missing, n_ref, cur_missing, n_cur)),
                        ref_missing, cur_missing)


def _sort_key(d: FeatureDrift):
    return (d.psi is None, -(d.psi or 0.0), not d.drifted, d.feature)


def _one_sided(feature: str, column, n_ref: int, n_cur: int, side: str) -> FeatureDrift:
    kind = _kind(column.type)
    return FeatureDrift(feature, kind if kind in ("numeric", "categorical") else "categorical",
                        None, None, None, None, None, n_ref, n_cur, False,
                        f"only in the {side}: not compared",
                        column.null_count if side == "reference" else 0,
                        column.null_count if side == "current" else 0)


def compute_drift(reference: Any, current: Any, *, features: list[str] | None = None,
                  psi_threshold: float = PSI_THRESHOLD, p_value_threshold: float = P_VALUE_THRESHOLD,
                  p_value_min_psi: float = P_VALUE_MIN_PSI, bins: int = BINS, min_rows: int = MIN_ROWS,
                  max_categories: int = MAX_CATEGORIES, epsilon: float = EPSILON) -> list[FeatureDrift]:
    """Per-feature drift of `current` against `reference`, highest PSI first.

    Compares `features` (default: every column of either side). A column on one side only
    is reported with reason "only in the reference/current" and never counts as drifted; a
    column whose type changed (numbers on one side, text on the other) counts as drifted.
    """
    ref = as_table(reference)
    cur = as_table(current)
    names = list(features) if features is not None else list(dict.fromkeys([*ref.column_names,
                                                                             *cur.column_names]))
    options = dict(min_rows=min_rows, psi_threshold=psi_threshold, p_value_threshold=p_value_threshold,
                   p_value_min_psi=p_value_min_psi, epsilon=epsilon)
    results = []
    for name in names:
        in_ref, in_cur = name in ref.column_names, name in cur.column_names
        if not in_ref and not in_cur:
            results.append(FeatureDrift(name, "numeric", None, None, None, None, None, 0, 0, False,
                                        "in neither sample"))
            continue
        if not in_cur:
            results.append(_one_sided(name, ref.column(name), ref.num_rows, 0, "reference"))
            continue
        if not in_ref:
            results.append(_one_sided(name, cur.column(name), 0, cur.num_rows, "current"))
            continue
        results.append(_feature(name, ref.column(name), cur.column(name), bins=bins,
                                max_categories=max_categories, **options))
    return sorted(results, key=_sort_key)


def _feature(name: str, ref_col, cur_col, *, bins: int, max_categories: int, **options) -> FeatureDrift:
    ref_kind, cur_kind = _kind(ref_col.type), _kind(cur_col.type)
    # A side with no values at all (an all-null column) takes the other side's kind.
    if ref_kind == "null":
        ref_kind = cur_kind if cur_kind != "null" else "numeric"
    if cur_kind == "null":
        cur_kind = ref_kind
    if ref_kind is None or cur_kind is None:
        odd = ref_col.type if ref_kind is None else cur_col.type
        return FeatureDrift(name, "categorical", None, None, None, None, None, len(ref_col), len(cur_col), False,
                            f"type {odd} is not compared", ref_col.null_count, cur_col.null_count)
    if ref_kind != cur_kind:
        # JSON bodies may carry numbers as text: compare as numbers when all of them parse.
        text_side = cur_col if cur_kind == "categorical" else ref_col
        parsed = _as_numbers_if_text(text_side)
        if parsed is not None:
            if cur_kind == "categorical":
                cur_col, cur_kind = parsed, "numeric"
            else:
                ref_col, ref_kind = parsed, "numeric"
        else:
            return FeatureDrift(name, ref_kind, None, None, None, None, None, len(ref_col), len(cur_col), True,
                                f"type changed: {ref_kind} ({ref_col.type}) in the reference, "
                                f"{cur_kind} ({cur_col.type}) in the current",
                                ref_col.null_count, cur_col.null_count)
    if ref_kind == "numeric":
        return numeric_drift(name, _numbers(ref_col), _numbers(cur_col), bins=bins, **options)
    return categorical_drift(name, _category_counts(ref_col), _category_counts(cur_col),
                             max_categories=max_categories, **options)


def drifted_features(results: list[FeatureDrift]) -> list[str]:
    """The names of the features that drifted."""
    return [r.feature for r in results if r.drifted]


# -- histograms -----------------------------------------------------------------------------


def histogram(reference: Any, current: Any, feature: str, *, bins: int = 20,
              max_categories: int = 20) -> FeatureHistogram:
    """Counts of `feature` in both samples on shared bins (see FeatureHistogram)."""
    import numpy as np

    ref, cur = as_table(reference), as_table(current)
    if feature not in ref.column_names and feature not in cur.column_names:
        raise NotFound(f"no column {feature!r} in either sample", target=feature)
    ref_col = ref.column(feature) if feature in ref.column_names else None
    cur_col = cur.column(feature) if feature in cur.column_names else None
    kinds = {_kind(c.type) for c in (ref_col, cur_col) if c is not None} - {"null"}
    if kinds and kinds <= {"numeric"}:
        r = _numbers(ref_col) if ref_col is not None else np.array([])
        c = _numbers(cur_col) if cur_col is not None else np.array([])
        rf, cf = r[np.isfinite(r)], c[np.isfinite(c)]
        both = np.concatenate([rf, cf])
        if len(both) == 0:
            return FeatureHistogram(feature, "numeric", [], [], [], [], len(r), len(c))
        lo, hi = (float(v) for v in np.quantile(both, [0.005, 0.995]))
        if lo == hi:
            lo, hi = float(both.min()), float(both.max())
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        ref_counts = np.histogram(np.clip(rf, lo, hi), edges)[0]
        cur_counts = np.histogram(np.clip(cf, lo, hi), edges)[0]
        return FeatureHistogram(feature, "numeric", [int(v) for v in ref_counts], [int(v) for v in cur_counts],
                                [float(e) for e in edges], [], len(r) - len(rf), len(c) - len(cf))
    ref_counts, ref_missing = _category_counts(ref_col) if ref_col is not None else ({}, 0)
    cur_counts, cur_missing = _category_counts(cur_col) if cur_col is not None else ({}, 0)
    kept = _category_bins(ref_counts or cur_counts, max_categories)
    ref_vec = [ref_counts.get(k, 0) for k in kept]
    cur_vec = [cur_counts.get(k, 0) for k in kept]
    ref_other = sum(ref_counts.values()) - sum(ref_vec)
    cur_other = sum(cur_counts.values()) - sum(cur_vec)
    if ref_other or cur_other:
        kept, ref_vec, cur_vec = [*kept, OTHER], [*ref_vec, ref_other], [*cur_vec, cur_other]
    return FeatureHistogram(feature, "categorical", ref_vec, cur_vec, [], kept, ref_missing, cur_missing)


def clean_number(value: float | None) -> float | None:
    """JSON-safe: NaN and infinities as None."""
    return value if value is None or math.isfinite(value) else None
