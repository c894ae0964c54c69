"""Read a deployment's request log — the gateway's sampled Parquet files — as rows of features.

The gateway (backends/local/serving/request_log.py) writes HOME/runtime/requests/<deployment>/
requests-<UTC time>-<seq>.parquet with one row per request: id, ts, deployment, predictor,
shadow, code, latency_ms, request and response (JSON text) and path. DuckDB reads, filters and
orders those files (newest first, bounded); Python then expands at most `limit` payloads:
each row of a request's table becomes a row here, one column per feature name, with the
answer's columns beside it as `prediction` (one column) or `prediction_<name>` (several).

Payloads understood: Seldon v1 `data.ndarray` / `data.tensor` with `names`, `jsonData` holding
a record, a list of records or a mapping of columns, and Open Inference (V2) `inputs`. A
payload that is none of these, or is broken (bad JSON, rows longer than the names), is skipped
and counted by reason, never raised: a monitor must keep showing the rest.

duckdb and pyarrow are imported inside the functions.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.errors import ConsoleError, InvalidSpec
from console.secrets import MASK, mask_line

DEFAULT_LIMIT = 50_000
META_COLUMNS = ("ts", "id", "predictor", "shadow", "code", "latency_ms")
MAX_PREDICTION_COLUMNS = 10  # a 1000-class softmax is not 1000 columns worth showing
TAIL_CHARS = 2000
_STAMP = re.compile(r"^requests-(\d{8}T\d{6}Z)-")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_CHECKED_NAMES: dict[tuple, list[str]] = {}
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class RequestSample:
    """Logged requests expanded to rows: `table` holds META_COLUMNS, then `features`, then `predictions`.

    `requests` log rows were read (newest first); `skipped` of them had a payload that could
    not be expanded, counted per reason in `skip_reasons`. `truncated` is True when `limit`
    cut the rows short.
    """

    table: Any  # a pyarrow Table
    features: list[str] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    requests: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    files: int = 0
    unreadable_files: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def rows(self) -> int:
        return self.table.num_rows


@dataclass(frozen=True)
class TailEntry:
    """One logged request as a live tail shows it; request and response with secrets masked."""

    time: float  # unix seconds
    id: str
    predictor: str
    shadow: bool
    code: int
    latency_ms: float
    path: str
    request: str
    response: str


class _Malformed(Exception):
    """A payload that does not expand to rows; the message is the reason counted."""


# -- where the log is -----------------------------------------------------------------------------


def log_dir(home: Path, deployment: str) -> Path:
    """The deployment's request log directory (the gateway's requests_dir)."""
    if not _DEPLOYMENT.match(deployment or ""):
        raise InvalidSpec(f"{deployment!r} is not a deployment name")
    return Path(home) / "runtime" / "requests" / deployment


def log_files(home: Path, deployment: str) -> list[Path]:
    """The deployment's request log files, oldest first (their names sort by time)."""
    directory = log_dir(home, deployment)
    try:
        return sorted(p for p in directory.glob("requests-*.parquet") if p.is_file())
    except OSError:
        return []


def _written_at(path: Path) -> float | None:
    """When the gateway wrote a file, from its name (every row in it is older)."""
    match = _STAMP.match(path.name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def parse_since(text: str) -> float | datetime:
    """'90s', '15m', '1h', '2d', '1w' -> seconds; an ISO time ('2026-11-30T10:00', UTC unless it says) -> datetime."""
    match = _DURATION.match(text)
    if match:
        return float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSpec(f"{text!r} is neither a duration (30s, 15m, 1h, 2d) nor an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(value: float | datetime | str | None, now: float) -> datetime | None:
    """A `since`/`until` argument as an aware datetime: numbers are seconds before now."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_since(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(now - float(value), tz=UTC)


# -- querying the files -----------------------------------------------------------------------------


def _query(files: list[Path], where: list[str], params: list[Any], limit: int, columns: str):
    """The newest `limit` rows of the files matching `where`, as a pyarrow Table, plus files it could not read.

    A file that vanished (the gateway rotates the oldest away) or cannot be read is left out
    rather than failing the whole read.
    """
    import duckdb

    unreadable: list[str] = []
    for _ in range(3):
        if not files:
            return None, unreadable
        sql = (f"SELECT {columns} FROM read_parquet($files, union_by_name = true)"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY ts DESC LIMIT $limit")
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            return con.sql(sql, params={"files": [str(f) for f in files], "limit": int(limit), **dict(params)}
                           ).to_arrow_table(), unreadable
        except duckdb.Error as exc:
            good = _readable(files)
            unreadable += [f.name for f in files if f not in good]
            if len(good) == len(files):  # every file is sound: the query itself failed
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConsoleError(f"cannot read the request log in {files[0].parent}: {first}") from None
            files = good
        finally:
            con.close()
    return None, unreadable


def _readable(files: list[Path]) -> list[Path]:
    import pyarrow.parquet as pq

    good = []
    for f in files:
        try:
            pq.read_metadata(f)
        except Exception:  # gone, truncated, not Parquet: leave it out
            continue
        good.append(f)
    return good


def _newest(files: list[Path], rows: int) -> list[Path]:
    """The newest files holding at least `rows` rows, and one more: rows are written when answered,
    so near a file's edge a slow request or a shadow's answer lands in the next file."""
    import pyarrow.parquet as pq

    chosen: list[Path] = []
    total = 0
    for f in reversed(files):
        chosen.append(f)
        if total >= rows:
            break
        try:
            total += pq.read_metadata(f).num_rows
        except Exception:
            continue
    return sorted(chosen)


def _select(files: list[Path], where: list[str], params: list[tuple[str, Any]], limit: int, columns: str):
    """Query the newest files first and widen to all of them only when that found too few rows."""
    subset = _newest(files, limit)
    table, unreadable = _query(subset, where, params, limit, columns)
    if len(subset) < len(files) and (table is None or table.num_rows < limit):
        table, unreadable = _query(files, where, params, limit, columns)
    return table, unreadable


# -- expanding payloads -----------------------------------------------------------------------------


def _names(raw: Any, width: int, default_names: list[str] | None) -> list[str]:
    if raw:
        if not isinstance(raw, list):
            raise _Malformed("names is not a list of strings")
        key = tuple(raw) if len(raw) < 1000 else None
        known = _CHECKED_NAMES.get(key) if key is not None else None
        if known is None:
            if not all(isinstance(n, str) for n in raw):
                raise _Malformed("names is not a list of strings")
            if len(set(raw)) != len(raw):
                raise _Malformed("names repeat")
            if key is not None and len(_CHECKED_NAMES) < 1000:  # the same names arrive request after request
                _CHECKED_NAMES[key] = raw
        if len(raw) != width:
            raise _Malformed("rows and names differ in length")
        return raw
    if default_names and len(default_names) == width:
        return list(default_names)
    return [f"f{j}" for j in range(width)]


def _matrix(rows: Any, names: Any, default_names: list[str] | None) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(rows, list):
        raise _Malformed("ndarray is not a list")
    if not rows:
        raise _Malformed("no rows")
    if not isinstance(rows[0], list):
        rows = [rows]  # a 1-D ndarray is one row, as Seldon reads it
    width = len(rows[0])
    for row in rows:
        if not isinstance(row, list):
            raise _Malformed("ndarray mixes rows and values")
        if len(row) != width:
            raise _Malformed("rows differ in length")
    return _names(names, width, default_names), rows


def _tensor(tensor: Any, names: Any, default_names: list[str] | None) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(tensor, dict):
        raise _Malformed("tensor is not an object")
    shape, values = tensor.get("shape"), tensor.get("values")
    if not isinstance(shape, list) or not isinstance(values, list) or not all(isinstance(s, int) for s in shape):
        raise _Malformed("tensor has no shape or values")
    if len(shape) > 2:
        raise _Malformed(f"tensor of {len(shape)} dimensions")
    n, m = (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1]) if len(shape) == 2 else (1, 1)
    if n * m != len(values):
        raise _Malformed("tensor values do not fit its shape")
    if n == 0 or m == 0:
        raise _Malformed("no rows")
    return _names(names, m, default_names), [values[i * m:(i + 1) * m] for i in range(n)]


def _records(data: Any) -> tuple[list[str], list[list[Any]]]:
    """jsonData: one record, a list of records, or a mapping of equally long columns."""
    if isinstance(data, dict) and data:
        values = list(data.values())
        if all(isinstance(v, list) for v in values):
            lengths = {len(v) for v in values}
            if len(lengths) != 1 or not lengths.pop():
                raise _Malformed("jsonData columns differ in length")
            return [str(k) for k in data], [list(row) for row in zip(*values, strict=True)]
        return [str(k) for k in data], [values]
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        names = list(dict.fromkeys(str(k) for r in data for k in r))
        return names, [[r.get(n) for n in names] for r in data]
    raise _Malformed("jsonData is not a record, records or columns")


def _flat(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in data:
        if isinstance(item, list):
            out.extend(_flat(item))
        else:
            out.append(item)
    return out


def _v2(body: dict[str, Any], default_names: list[str] | None) -> tuple[list[str], list[list[Any]]]:
    """Open Inference inputs, read as the local runtime reads them (protocols.v2_to_seldon)."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise _Malformed("V2 inputs is not a list of tensors")
    parsed = []
    for item in inputs:
        name, shape, data = item.get("name"), item.get("shape"), item.get("data")
        if not isinstance(name, str) or not isinstance(shape, list) or not isinstance(data, list):
            raise _Malformed("V2 input without name, shape or data")
        values = _flat(data)
        size = 1
        for s in shape:
            size *= s if isinstance(s, int) else -1
        if size != len(values):
            raise _Malformed("V2 data does not fit its shape")
        parsed.append((name, shape, values))
    params = body.get("parameters")
    pandas = isinstance(params, dict) and params.get("content_type") == "pd"
    if len(parsed) > 1 or pandas or len(parsed[0][1]) == 1:
        lengths = {len(values) for _, _, values in parsed}
        if len(lengths) != 1:
            raise _Malformed("V2 inputs differ in length")
        names = [name for name, _, _ in parsed]
        if len(set(names)) != len(names):
            raise _Malformed("names repeat")
        rows = [list(r) for r in zip(*(values for _, _, values in parsed), strict=True)]
        if not rows:
            raise _Malformed("no rows")
        return names, rows
    name, shape, values = parsed[0]
    if len(shape) != 2:
        raise _Malformed(f"V2 tensor of {len(shape)} dimensions")
    return _tensor({"shape": shape, "values": values}, None, default_names)


def request_rows(body: Any, default_names: list[str] | None = None) -> tuple[list[str], list[list[Any]]]:
    """(feature names, rows) of a decoded request; raises ValueError saying why it has none."""
    try:
        return _request_rows(body, default_names)
    except _Malformed as exc:
        raise ValueError(str(exc)) from None


def _request_rows(body: Any, default_names: list[str] | None) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(body, dict):
        raise _Malformed("not a JSON object")
    data = body.get("data")
    if isinstance(data, dict):
        if "ndarray" in data:
            return _matrix(data["ndarray"], data.get("names"), default_names)
        if "tensor" in data:
            return _tensor(data["tensor"], data.get("names"), default_names)
        raise _Malformed("data has no ndarray or tensor")
    if "jsonData" in body:
        return _records(body["jsonData"])
    if "inputs" in body:
        return _v2(body, default_names)
    if "strData" in body or "binData" in body:
        raise _Malformed("strData or binData: not a table")
    raise _Malformed("no data")


def _answer_columns(body: Any, n: int) -> list[tuple[str, list[Any]]]:
    """The response's columns, each with one value per request row; [] when it has none that fit."""
    if not isinstance(body, dict):
        return []
    data = body.get("data")
    if isinstance(data, dict):
        names = data.get("names") if isinstance(data.get("names"), list) else []
        if "ndarray" in data:
            rows = data["ndarray"]
        elif isinstance(data.get("tensor"), dict):
            tensor = data["tensor"]
            shape, values = tensor.get("shape") or [], tensor.get("values") or []
            if len(shape) == 2 and isinstance(values, list) and shape[0] * shape[1] == len(values):
                rows = [values[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]
            else:
                rows = values
        else:
            return []
        return _columns_of(rows, names, n)
    outputs = body.get("outputs")
    if isinstance(outputs, list) and outputs and all(isinstance(o, dict) for o in outputs):
        if len(outputs) == 1:
            out = outputs[0]
            shape, values = out.get("shape") or [], _flat(out.get("data") or [])
            params = out.get("parameters") if isinstance(out.get("parameters"), dict) else {}
            if len(shape) == 2 and shape[0] * shape[1] == len(values):
                m = shape[1]
                return _columns_of([values[i * m:(i + 1) * m] for i in range(shape[0])],
                                   params.get("names") or [], n)
            return _columns_of(values, [], n)
        columns = []
        for out in outputs:
            values = _flat(out.get("data") or [])
            if len(values) == n and isinstance(out.get("name"), str):
                columns.append((out["name"], values))
        return columns
    return []


def _columns_of(rows: Any, names: list[Any], n: int) -> list[tuple[str, list[Any]]]:
    if not isinstance(rows, list) or not rows:
        return []
    if not isinstance(rows[0], list):
        if len(rows) == n:
            return [("", rows)]  # one value per request row: sklearn's predict
        if n == 1:
            rows = [rows]  # one row of several values: a single request's probabilities
        else:
            return []
    if len(rows) != n or not all(isinstance(r, list) and len(r) == len(rows[0]) for r in rows):
        return []
    width = min(len(rows[0]), MAX_PREDICTION_COLUMNS)
    if width == 0:
        return []
    labels = [str(x) for x in names] if len(names) == len(rows[0]) else [f"t:{j}" for j in range(len(rows[0]))]
    if len(rows[0]) == 1:
        return [("", [r[0] for r in rows])]
    return [(labels[j], [r[j] for r in rows]) for j in range(width)]


def _arrow_column(values: list[Any]):
    """An Arrow array of the values, its type inferred; text when they mix types or nest."""
    import pyarrow as pa

    try:
        array = pa.array(values)
        if not pa.types.is_nested(array.type):
            return array
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                     for v in values], pa.string())


def _unique(name: str, taken: set[str]) -> str:
    candidate, i = name, 1
    while candidate in taken:
        candidate, i = f"{name}_{i}", i + 1
    return candidate


def expand(log, *, limit: int = DEFAULT_LIMIT, default_names: list[str] | None = None) -> RequestSample:
    """Expand a table of request log rows (the writer's schema) into a RequestSample of at most `limit` rows."""
    import pyarrow as pa

    requests = log.column("request").to_pylist()
    responses = log.column("response").to_pylist() if "response" in log.column_names else [None] * len(requests)
    features: dict[str, list[Any]] = {}
    answers: dict[str, list[Any]] = {}
    source_rows: list[int] = []
    skipped: Counter[str] = Counter()
    truncated = False
    consumed = 0
    loads = json.loads
    for i, text in enumerate(requests):
        if len(source_rows) >= limit:
            truncated = True
            break
        consumed += 1
        try:
            if not text:
                raise _Malformed("empty request")
            try:
                body = loads(text)
            except ValueError:
                raise _Malformed("not JSON (or cut short)") from None
            names, rows = _request_rows(body, default_names)
        except _Malformed as exc:
            skipped[str(exc)] += 1
            continue
        if len(source_rows) + len(rows) > limit:
            rows = rows[:limit - len(source_rows)]
            truncated = True
        total, n = len(source_rows), len(rows)
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            column = features.get(name)
            if column is None:
                column = features[name] = [None] * total
            elif len(column) < total:
                column.extend([None] * (total - len(column)))
            column.extend(values)
        try:
            answer = _answer_columns(loads(responses[i]), n) if responses[i] else []
        except ValueError:
            answer = []
        for name, values in answer:
            column = answers.get(name)
            if column is None:
                column = answers[name] = [None] * total
            elif len(column) < total:
                column.extend([None] * (total - len(column)))
            column.extend(values)
        source_rows.extend([i] * n)
    total = len(source_rows)
    meta = log.select([c for c in META_COLUMNS if c in log.column_names]).take(pa.array(source_rows, pa.int64()))
    names, arrays = list(meta.column_names), list(meta.columns)
    taken = set(names)
    feature_names = []
    for name, values in features.items():
        values.extend([None] * (total - len(values)))
        column_name = _unique(name, taken)
        taken.add(column_name)
        feature_names.append(column_name)
        names.append(column_name)
        arrays.append(_arrow_column(values))
    prediction_names = []
    single = len(answers) == 1 and "" in answers
    for label, values in answers.items():
        values.extend([None] * (total - len(values)))
        column_name = _unique("prediction" if single or not label else f"prediction_{label}", taken)
        taken.add(column_name)
        prediction_names.append(column_name)
        names.append(column_name)
        arrays.append(_arrow_column(values))
    table = pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
    return RequestSample(table, feature_names, prediction_names, consumed, sum(skipped.values()),
                         dict(skipped.most_common()), truncated=truncated)


def _empty():
    import pyarrow as pa

    return pa.table({"ts": pa.array([], pa.timestamp("us", tz="UTC")), "id": pa.array([], pa.string()),
                     "predictor": pa.array([], pa.string()), "shadow": pa.array([], pa.bool_()),
                     "code": pa.array([], pa.int32()), "latency_ms": pa.array([], pa.float64())})


def _filters(since: float | datetime | str | None, until: float | datetime | str | None,
             predictor: str | None, shadow: bool | None, ok_only: bool,
             now: float) -> tuple[list[str], list[tuple[str, Any]], datetime | None]:
    where: list[str] = []
    params: list[tuple[str, Any]] = []
    start, end = _moment(since, now), _moment(until, now)
    if start is not None:
        where.append("ts >= $since")
        params.append(("since", start))
    if end is not None:
        where.append("ts < $until")
        params.append(("until", end))
    if predictor:
        where.append("predictor = $predictor")
        params.append(("predictor", predictor))
    if shadow is not None:
        where.append("shadow = $shadow")
        params.append(("shadow", bool(shadow)))
    if ok_only:
        where.append("code >= 200 AND code < 300")
    return where, params, start


def read_requests(home: Path, deployment: str, *, since: float | datetime | str | None = None,
                  until: float | datetime | str | None = None, predictor: str | None = None,
                  shadow: bool | None = False, ok_only: bool = False, limit: int = DEFAULT_LIMIT,
                  default_names: list[str] | None = None, now: float | None = None) -> RequestSample:
    """The newest logged requests of a deployment, expanded to at most `limit` rows of features.

    `since`/`until`: seconds before now, a datetime (naive means UTC) or text for parse_since.
    `shadow`: False (default) keeps the answers clients got, True only the mirrored shadow
    traffic, None both. `ok_only` keeps 2xx answers only. `default_names` name the columns of
    payloads that bring no names (else f0, f1, ...). Never raises for a bad payload or file.
    """
    now = time.time() if now is None else now
    where, params, start = _filters(since, until, predictor, shadow, ok_only, now)
    files = log_files(home, deployment)
    if start is not None:  # a file written before `since` holds only older rows
        cutoff = start.timestamp() - 1
        files = [f for f in files if (_written_at(f) or cutoff) >= cutoff]
    if not files:
        return RequestSample(_empty())
    columns = ", ".join(META_COLUMNS) + ", request, response"
    log, unreadable = _select(files, where, params, max(int(limit), 1), columns)
    if log is None:
        return RequestSample(_empty(), files=len(files), unreadable_files=unreadable)
    sample = expand(log, limit=max(int(limit), 1), default_names=default_names)
    return RequestSample(sample.table, sample.features, sample.predictions, sample.requests, sample.skipped,
                         sample.skip_reasons, len(files), unreadable,
                         sample.truncated or log.num_rows >= max(int(limit), 1))


# -- tail -----------------------------------------------------------------------------------------

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_AUTH_FIELD = re.compile(r"""(?i)(["']?authorization["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;}]+)""")
# A secret-looking key whose value a cut left unterminated at the end of the text.
_CUT_SECRET = re.compile(
    r"""(?i)([A-Za-z0-9_.-]*(?:KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|AUTHORIZATION)[A-Za-z0-9_.-]*["']?"""
    r"""\s*[:=]\s*["']?)[^"',;}]*$""")


def redact(text: str, max_chars: int | None = None) -> str:
    """Text with secret-looking fields masked ("api_key": "...", Authorization, URL passwords), then cut."""
    if not text:
        return ""
    window = text if max_chars is None else text[:max_chars + 4096]  # mask past the cut: no half secrets
    masked = _AUTH_FIELD.sub(lambda m: f"{m.group(1)}{_quoted_mask(m.group(2))}", window)
    masked = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", mask_line(masked))
    if max_chars is not None and len(masked) > max_chars:
        masked = _CUT_SECRET.sub(lambda m: m.group(1) + MASK, masked[:max_chars]) + "…"
    return masked


def _quoted_mask(value: str) -> str:
    quote = value[0] if value[:1] in "\"'" else ""
    return f"{quote}{MASK}{quote}"


def tail(home: Path, deployment: str, n: int = 50, *, predictor: str | None = None,
         max_chars: int = TAIL_CHARS) -> list[TailEntry]:
    """The latest `n` logged requests, newest first, with secrets masked and bodies cut at max_chars."""
    files = log_files(home, deployment)
    if not files or n <= 0:
        return []
    where, params, _ = _filters(None, None, predictor, None, False, time.time())
    columns = "ts, id, predictor, shadow, code, latency_ms, path, request, response"
    table, _ = _select(files, where, params, int(n), columns)
    if table is None:
        return []
    out = []
    for row in table.to_pylist():
        ts = row["ts"]
        out.append(TailEntry(
            time=ts.timestamp() if ts is not None else 0.0, id=row["id"] or "", predictor=row["predictor"] or "",
            shadow=bool(row["shadow"]), code=int(row["code"] or 0), latency_ms=float(row["latency_ms"] or 0.0),
            path=row["path"] or "", request=redact(row["request"] or "", max_chars),
            response=redact(row["response"] or "", max_chars)))
    return out
