"""The embedded metrics window: the runtime's scraped counters, one ring buffer per series.

The supervisor scrapes every serving process's /metrics each second and feeds the parsed
families to `MetricsWindow.ingest`. Only what the semantic figures need is kept, already
summed over the deployment's processes (replicas of a predictor add up):

    ("o", "", "", f)              the gateway's server histogram: everything answered to clients
    ("p", predictor, "", f)       the graph servers' server histogram, per predictor
    ("n", predictor, node, f)     the graph servers' client histogram, per graph node
    ("r", router, child, "count") routing decisions
    ("x", "", "", "flags"|"rows") rows flagged by outlier detectors / detector calls

with f = "count" (all requests), "err" (non-2xx code) or "le=<bound>" (a histogram bucket).

Overall figures come from the gateway and per-predictor ones from the graph servers: the
gateway counts what clients were answered (a shadow's mirrored requests are not served
traffic, and a 503 for want of any predictor is), while the graph servers see every request
their predictor ran, shadows included, as Seldon's per-predictor executors do.

Counters are stored as running sums of increments: per raw series (process x labels) a
decrease is a counter reset (a restarted process starts at 0 again), as Prometheus' rate()
takes it. A process seen for the first time counts in full when it started lately (its
counters were 0 when it started: a zero tick marks that when the window has none before);
one that has run for long (adopted, or never scraped until now) gives its baseline instead,
not a burst of everything it ever counted. A series that appears later in a known process
was born since the last scrape and counts in full.
Figures are computed as PromQL computes them: increase() with Prometheus' extrapolation to
the window's edges, ratios of increases, histogram_quantile() over bucket increases.

Memory: every column is an array('d') of `capacity` slots (8 bytes each), one per scrape
tick, plus the tick times: 8 * capacity * (columns + 1) bytes per deployment, with columns
capped at MAX_COLUMNS. The default capacity keeps 65 minutes at 1-second resolution.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import os
import sys
import tempfile
from array import array
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from console.errors import ConsoleError, InvalidSpec, NotFound
from console.types import METRIC_NAMES, DeploymentMetrics, Series, TrafficFigures

SERVER = "seldon_api_executor_server_requests_seconds"
CLIENT = "seldon_api_executor_client_requests_seconds"
ROUTING_TOTAL = "seldon_api_executor_routing_total"
OUTLIERS_TOTAL = "mlconsole_outlier_flags_total"
OUTLIER_IMAGE = "MLCONSOLE_OUTLIER_DETECTOR"  # the client histogram's model_image of detector nodes
RESERVED_PREFIXES = ("seldon_api_", "mlconsole_")  # not custom metrics
GATEWAY = "gateway"  # the process label of a deployment's gateway; graph servers are "<predictor>-<i>"

DEFAULT_CAPACITY = 3900  # 65 minutes of 1-second ticks
MAX_COLUMNS = 1024  # per deployment: at most 8 * 3900 * 1025 bytes = 32 MB even for a huge graph
MAX_RAW_SERIES = 20_000  # per deployment, remembered for reset detection
FORGET_PROCESS_AFTER = 600.0  # seconds unseen after which a process's last values are dropped
FRESH_WITHIN = 60.0  # a process first seen within this long of its start counts everything it counted
CUSTOM_STALE = 5.0  # a process not scraped for this long no longer adds to the custom metrics
MIN_SERIES_RANGE = 5.0  # the rate range of a chart point: max(step, this), a few 1 s scrapes
MAX_POINTS = 11_000  # per series, as Prometheus limits query_range
QUANTILES = (("latency_p50", 0.50), ("latency_p95", 0.95), ("latency_p99", 0.99))
MAGIC = b"MLCONSOLE-METRICS-WINDOW 1\n"

Key = tuple[str, str, str, str]
NAN = math.nan


def bucket_field(le: str) -> str:
    """The column field of a histogram bucket, its bound normalised ('0.0050' and '5e-3' agree)."""
    return "le=" + repr(float(le))


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """histogram_quantile() as Prometheus computes it: linear interpolation inside the bucket that
    holds the rank. buckets: (upper bound, cumulative count); None where Prometheus gives NaN."""
    if not buckets:
        return None
    merged: dict[float, float] = {}
    for bound, count in buckets:  # coalesce equal bounds
        merged[bound] = merged.get(bound, 0.0) + count
    ordered = sorted(merged.items())
    if not math.isinf(ordered[-1][0]) or len(ordered) < 2:
        return None
    running = 0.0
    monotonic = []
    for bound, count in ordered:  # rates of different buckets may break monotonicity a little
        running = max(running, count)
        monotonic.append((bound, running))
    observations = monotonic[-1][1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next(i for i in range(len(monotonic)) if i == len(monotonic) - 1 or monotonic[i][1] >= rank)
    if b == len(monotonic) - 1:
        return monotonic[-2][0]
    if b == 0 and monotonic[0][0] <= 0:
        return monotonic[0][0]
    start, end, count = 0.0, monotonic[b][0], monotonic[b][1]
    if b > 0:
        start = monotonic[b - 1][0]
        count -= monotonic[b - 1][1]
        rank -= monotonic[b - 1][1]
    return start + (end - start) * (rank / count)


def extrapolated_increase(first_t: float, first_v: float, last_t: float, last_v: float, samples: int,
                          range_start: float, range_end: float) -> float | None:
    """increase() of a counter over [range_start, range_end] as Prometheus' extrapolatedRate computes
    it from the first and last of `samples` samples in the range: extrapolated to the range's edges
    when a sample lies within 1.1 average intervals of the edge (else by half an interval), never
    back past the counter's zero. None with fewer than 2 samples."""
    sampled = last_t - first_t
    if samples < 2 or sampled <= 0:
        return None
    result = last_v - first_v
    to_start, to_end = first_t - range_start, range_end - last_t
    average = sampled / (samples - 1)
    if result > 0 and first_v >= 0:
        to_start = min(to_start, sampled * (first_v / result))
    threshold = average * 1.1
    interval = sampled + (to_start if to_start < threshold else average / 2)
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled)


class _Chrono:
    """The ring's times in chronological order, as a sequence bisect can search."""

    __slots__ = ("times", "start", "size", "capacity")

    def __init__(self, times: array, start: int, size: int, capacity: int) -> None:
        self.times, self.start, self.size, self.capacity = times, start, size, capacity

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> float:
        return self.times[(self.start + i) % self.capacity]


class _Group:
    """The columns of one scope (the whole deployment, a predictor, a node): count, err, buckets."""

    __slots__ = ("count", "err", "buckets")

    def __init__(self) -> None:
        self.count: array | None = None
        self.err: array | None = None
        self.buckets: list[tuple[float, array]] = []


class DeploymentWindow:
    """One deployment's scraped counters over the last `capacity` ticks."""

    def __init__(self, name: str, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError("a window needs room for at least 2 ticks")
        self.name = name
        self.capacity = capacity
        self.times = array("d", bytes(8 * capacity))
        self.start = 0  # physical slot of the oldest tick
        self.size = 0  # ticks held
        self.columns: dict[Key, array] = {}
        self.born: dict[Key, float] = {}  # time of each column's first value (slots before are NaN)
        self.groups: dict[tuple[str, str, str], _Group] = {}
        self.last_raw: dict[str, dict[tuple[Any, ...], float]] = {}  # process -> raw series -> last value
        self.seen: dict[str, float] = {}  # process -> when last ingested
        self.started: dict[str, float] = {}  # process -> when its current incarnation started
        self.custom: dict[str, dict[str, float]] = {}  # process -> custom metric -> latest value
        self.dropped_columns = 0
        self._keys_cache: dict[tuple[Any, ...], tuple[Key, ...]] = {}

    def __len__(self) -> int:
        return self.size

    # -- ingesting ------------------------------------------------------------------------

    @property
    def last_at(self) -> float | None:
        """When the newest tick was scraped (None before the first)."""
        return self.times[(self.start + self.size - 1) % self.capacity] if self.size else None

    def _newest(self) -> int:
        return (self.start + self.size - 1) % self.capacity

    def _tick(self, at: float) -> None:
        """A new slot at time `at`, each column carrying its last value forward."""
        previous = self._newest() if self.size else None
        if self.size < self.capacity:
            slot = (self.start + self.size) % self.capacity
            self.size += 1
        else:
            slot = self.start
            self.start = (self.start + 1) % self.capacity
        self.times[slot] = at
        for column in self.columns.values():
            column[slot] = column[previous] if previous is not None else NAN

    def _column(self, key: Key, born_since_last_tick: bool) -> array | None:
        column = self.columns.get(key)
        if column is not None:
            return column
        if len(self.columns) >= MAX_COLUMNS:
            self.dropped_columns += 1
            return None
        column = array("d", [NAN]) * self.capacity
        slot = self._newest()
        column[slot] = 0.0
        self.born[key] = self.times[slot]
        if born_since_last_tick and self.size >= 2:
            # The series did not exist at the previous scrape: it was 0 then, as Prometheus
            # extrapolates a counter born inside the range back to zero.
            before = (slot - 1) % self.capacity
            column[before] = 0.0
            self.born[key] = self.times[before]
        self.columns[key] = column
        self._register(key, column)
        return column

    def _keys(self, gateway: bool, name: str, labels: dict[str, str]) -> tuple[Key, ...]:
        """The columns one raw sample adds to (none for what the figures do not use)."""
        if name.startswith(SERVER):
            suffix = name[len(SERVER):]
            scope, who = ("o", "") if gateway else ("p", labels.get("predictor_name", ""))
            if suffix == "_count":
                if labels.get("code", "").startswith("2"):
                    return ((scope, who, "", "count"),)
                return ((scope, who, "", "count"), (scope, who, "", "err"))
            if suffix == "_bucket" and "le" in labels:
                return ((scope, who, "", bucket_field(labels["le"])),)
            return ()
        if gateway:
            return ()
        if name.startswith(CLIENT):
            suffix = name[len(CLIENT):]
            who, node, code = labels.get("predictor_name", ""), labels.get("model_name", ""), labels.get("code", "")
            if suffix == "_count":
                keys: tuple[Key, ...] = (("n", who, node, "count"),)
                if not code.startswith("2"):
                    keys += (("n", who, node, "err"),)
                if labels.get("model_image") == OUTLIER_IMAGE and code == "200":
                    keys += (("x", "", "", "rows"),)
                return keys
            if suffix == "_bucket" and "le" in labels:
                return (("n", who, node, bucket_field(labels["le"])),)
            return ()
        if name == ROUTING_TOTAL:
            return (("r", labels.get("router", ""), labels.get("child", ""), "count"),)
        if name == OUTLIERS_TOTAL:
            return (("x", "", "", "flags"),)
        return ()

    def ingest(self, process: str, families: Iterable[Any], at: float, started_at: float | None = None) -> int:
        """Add one scrape of one process (parsed metric families) taken at unix time `at`.

        Processes scraped in the same round share a tick: give them the same `at`. The gateway's
        process label is "gateway". `started_at`, when known, is when the process started: a
        process first seen soon after it started counts everything it has counted. Returns how
        many samples were used.
        """
        known = process in self.seen
        if started_at is not None and self.started.get(process, started_at) != started_at:
            self.last_raw.pop(process, None)  # a new incarnation under the same label: it counts from 0
        if started_at is not None:
            self.started[process] = started_at
        if not known and started_at is not None and 0 <= at - started_at <= FRESH_WITHIN:
            known = True  # everything it counted happened since it started, at 0
            if not self.size and started_at < at:
                self._tick(started_at)  # the zero its new columns start from
        if not self.size or at > self.times[self._newest()]:
            self._tick(at)
        slot = self._newest()
        last = self.last_raw.setdefault(process, {})
        gateway = process == GATEWAY
        cache = self._keys_cache
        custom: dict[str, float] = {}
        used = 0
        for family in families:
            for s in family.samples:
                # Sample names say it all (a family's samples share its prefix), so any grouping will do.
                if not s.name.startswith(RESERVED_PREFIXES):
                    if not gateway and not s.name.endswith(("_bucket", "_created")):
                        custom[s.name] = custom.get(s.name, 0.0) + s.value
                    continue
                raw = (s.name, tuple(s.labels.items()))
                keys = cache.get((gateway, raw))
                if keys is None:
                    if len(cache) > MAX_RAW_SERIES:
                        cache.clear()
                    keys = cache[(gateway, raw)] = self._keys(gateway, s.name, s.labels)
                if not keys:
                    continue
                value = s.value
                previous = last.get(raw)
                if previous is None:
                    delta = value if known else 0.0  # a process long up when first seen: its baseline
                    if len(last) >= MAX_RAW_SERIES:
                        continue
                elif value < previous:
                    delta = value  # a reset: the process restarted and counts from 0 again
                else:
                    delta = value - previous
                last[raw] = value
                used += 1
                for key in keys:
                    column = self.columns.get(key)
                    if column is None:
                        column = self._column(key, known)
                        if column is None:
                            continue
                    column[slot] += delta
        self.seen[process] = at
        if not gateway:
            self.custom[process] = custom
        for gone in [p for p, when in self.seen.items() if at - when > FORGET_PROCESS_AFTER]:
            self.seen.pop(gone, None)
            self.started.pop(gone, None)
            self.last_raw.pop(gone, None)
            self.custom.pop(gone, None)
        return used

    # -- computing ------------------------------------------------------------------------

    def _range(self, t: float, seconds: float) -> tuple[int, int]:
        """Logical indices [lo, hi) of the ticks inside [t - seconds, t]."""
        chrono = _Chrono(self.times, self.start, self.size, self.capacity)
        return bisect.bisect_left(chrono, t - seconds), bisect.bisect_right(chrono, t)

    def _increase(self, column: array, born: float, lo: int, hi: int, t: float, seconds: float) -> float | None:
        """The column's extrapolated increase over the ticks [lo, hi) of the range [t - seconds, t]."""
        chrono = _Chrono(self.times, self.start, self.size, self.capacity)
        if lo < hi and chrono[lo] < born:
            lo = bisect.bisect_left(chrono, born, lo, hi)
        if hi - lo < 2:
            return None
        first, last = (self.start + lo) % self.capacity, (self.start + hi - 1) % self.capacity
        first_v, last_v = column[first], column[last]
        if math.isnan(first_v) or math.isnan(last_v):
            return None
        # Only the ends matter: the columns are running sums that never decrease.
        return extrapolated_increase(self.times[first], first_v, self.times[last], last_v, hi - lo, t - seconds, t)

    def _group_figures(self, group: _Group, born: dict[int, float], lo: int, hi: int, t: float,
                       seconds: float) -> dict[str, float | None]:
        def inc(column: array | None) -> float | None:
            return None if column is None else \
                self._increase(column, born.get(id(column), -math.inf), lo, hi, t, seconds)

        count = inc(group.count)
        out: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
        if count is None:
            return out
        out["request_rate"] = count / seconds
        if count <= 0:
            return out
        out["error_rate"] = min(1.0, (inc(group.err) or 0.0) / count)
        buckets = [(bound, inc(column) or 0.0) for bound, column in group.buckets]
        for metric, q in QUANTILES:
            out[metric] = bucket_quantile(q, buckets)
        return out

    def _born_by_id(self) -> dict[int, float]:
        return {id(column): self.born.get(key, -math.inf) for key, column in self.columns.items()}

    def metrics(self, window_seconds: float = 300.0, now: float | None = None) -> DeploymentMetrics:
        """The figures over [now - window, now]; now defaults to the newest tick (history as it was)."""
        window_seconds = check_window(window_seconds)
        t = self.last_at if now is None else now
        if t is None:
            return DeploymentMetrics(self.name, window_seconds, now or 0.0, TrafficFigures("deployment", ""))
        lo, hi = self._range(t, window_seconds)
        born = self._born_by_id()
        figures = {scope: self._group_figures(g, born, lo, hi, t, window_seconds)
                   for scope, g in self.groups.items() if scope[0] in "opn"}
        overall = TrafficFigures("deployment", "", **figures.get(("o", "", ""), {}))
        predictors = [TrafficFigures("predictor", s[1], **f) for s, f in sorted(figures.items()) if s[0] == "p"]
        nodes = [TrafficFigures("node", s[2], predictor=s[1], **f) for s, f in sorted(figures.items())
                 if s[0] == "n"]

        def inc(key: Key) -> float | None:
            column = self.columns.get(key)
            return self._increase(column, born.get(id(column), -math.inf), lo, hi, t, window_seconds) \
                if column is not None else None

        decisions: dict[str, dict[str, float]] = {}
        for key in self.columns:
            if key[0] == "r":
                value = inc(key)
                if value is not None:
                    decisions.setdefault(key[1], {})[key[2]] = value
        routing = {}
        for router, children in sorted(decisions.items()):
            total = sum(children.values())
            if total > 0:
                routing[router] = {child: v / total for child, v in sorted(children.items())}
        rows = inc(("x", "", "", "rows"))
        outlier_rate = min(1.0, (inc(("x", "", "", "flags")) or 0.0) / rows) if rows else None
        newest = self._newest_at_or_before(t)
        custom: dict[str, float] = {}
        if newest is not None:
            for process, values in self.custom.items():
                if self.seen.get(process, -math.inf) >= newest - CUSTOM_STALE:
                    for name, value in values.items():
                        custom[name] = custom.get(name, 0.0) + value
        return DeploymentMetrics(self.name, window_seconds, t, overall, predictors, nodes, routing,
                                 outlier_rate, dict(sorted(custom.items())))

    def _newest_at_or_before(self, t: float) -> float | None:
        chrono = _Chrono(self.times, self.start, self.size, self.capacity)
        i = bisect.bisect_right(chrono, t) - 1
        return chrono[i] if i >= 0 else None

    def series(self, metric: str, window_seconds: float = 300.0, step_seconds: float = 5.0,
               by: str | None = "predictor", now: float | None = None) -> list[Series]:
        """`metric` every step over the window, one line per predictor, per node or overall (by=None).

        Each point is the figure over the `max(step, MIN_SERIES_RANGE)` seconds before it, as a
        PromQL range query over rate(...[range]) gives it. Node lines are labelled "predictor/node".
        """
        window_seconds, step_seconds, by = check_series_args(metric, window_seconds, step_seconds, by)
        end = self.last_at if now is None else now
        if end is None:
            return []
        scope = {"predictor": "p", "node": "n", None: "o"}[by]
        groups = sorted((s, g) for s, g in self.groups.items() if s[0] == scope) if scope != "o" else \
            [(s, g) for s, g in self.groups.items() if s == ("o", "", "")]
        if not groups:
            return []
        seconds = max(step_seconds, MIN_SERIES_RANGE)
        born = self._born_by_id()
        points: dict[tuple[str, str, str], list[tuple[float, float]]] = {s: [] for s, _ in groups}
        steps = int(window_seconds // step_seconds)
        oldest = self.times[self.start] if self.size else end
        for k in range(steps + 1):
            t = end - (steps - k) * step_seconds
            if t < oldest:
                continue
            lo, hi = self._range(t, seconds)
            if hi - lo < 2:
                continue
            for s, g in groups:
                value = self._group_figures(g, born, lo, hi, t, seconds)[metric]
                if value is not None and math.isfinite(value):
                    points[s].append((t, value))
        out = []
        for s, _ in groups:
            if points[s]:
                label = "all" if s[0] == "o" else s[1] if s[0] == "p" else f"{s[1]}/{s[2]}"
                out.append(Series(metric, label, points[s]))
        return out

    # -- memory and persistence ----------------------------------------------------------------

    def nbytes(self) -> int:
        """Bytes held by the sample arrays (the bulk of the window)."""
        return self.times.itemsize * len(self.times) + sum(c.itemsize * len(c) for c in self.columns.values())

    def _chronological(self, column: array) -> array:
        if self.size < self.capacity:
            return column[self.start:self.start + self.size] if self.start + self.size <= self.capacity \
                else column[self.start:] + column[:(self.start + self.size) % self.capacity]
        return column[self.start:] + column[:self.start]

    def to_bytes(self) -> bytes:
        """The window as bytes: a JSON header line, then the samples as float64, oldest first."""
        keys = list(self.columns)
        header = {
            "deployment": self.name, "capacity": self.capacity, "size": self.size, "last_at": self.last_at,
            "byteorder": sys.byteorder, "keys": [list(k) for k in keys], "born": [self.born[k] for k in keys],
            "seen": self.seen, "started": self.started, "custom": self.custom,
            "last_raw": {p: [[name, [list(kv) for kv in labels], v] for (name, labels), v in raw.items()]
                         for p, raw in self.last_raw.items()},
        }
        parts = [MAGIC, json.dumps(header, separators=(",", ":")).encode(), b"\n",
                 self._chronological(self.times).tobytes()]
        parts.extend(self._chronological(self.columns[k]).tobytes() for k in keys)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, capacity: int | None = None) -> DeploymentWindow:
        """A window from to_bytes() output; InvalidSpec when the bytes are not one."""
        if not data.startswith(MAGIC):
            raise InvalidSpec("not an mlconsole metrics window file")
        end = data.index(b"\n", len(MAGIC))
        try:
            header = json.loads(data[len(MAGIC):end])
            size = int(header["size"])
            keys = [tuple(k) for k in header["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSpec(f"metrics window header is damaged: {exc}") from None
        payload = array("d")
        payload.frombytes(data[end + 1:end + 1 + 8 * size * (len(keys) + 1)])
        if header.get("byteorder", sys.byteorder) != sys.byteorder:
            payload.byteswap()
        if len(payload) != size * (len(keys) + 1):
            raise InvalidSpec("metrics window file is truncated")
        window = cls(header["deployment"], capacity or int(header.get("capacity") or DEFAULT_CAPACITY))
        keep = min(size, window.capacity)
        skip = size - keep
        window.times[:keep] = payload[skip:size]
        window.size = keep
        for i, key in enumerate(keys):
            column = array("d", [NAN]) * window.capacity
            offset = (i + 1) * size
            column[:keep] = payload[offset + skip:offset + size]
            window.columns[key] = column  # type: ignore[index]
            window.born[key] = float(header["born"][i])  # type: ignore[index]
            window._register(key, column)  # type: ignore[arg-type]
        window.seen = {str(p): float(t) for p, t in header.get("seen", {}).items()}
        window.started = {str(p): float(t) for p, t in header.get("started", {}).items()}
        window.custom = {str(p): {str(k): float(v) for k, v in values.items()}
                         for p, values in header.get("custom", {}).items()}
        window.last_raw = {p: {(name, tuple(tuple(kv) for kv in labels)): float(v) for name, labels, v in raw}
                           for p, raw in header.get("last_raw", {}).items()}
        return window

    def _register(self, key: Key, column: array) -> None:
        group = self.groups.setdefault(key[:3], _Group())
        if key[3] == "count":
            group.count = column
        elif key[3] == "err":
            group.err = column
        elif key[3].startswith("le="):
            group.buckets.append((float(key[3][3:]), column))
            group.buckets.sort(key=lambda b: b[0])

    def save(self, path: Path) -> None:
        """Write the window to path atomically (readers see the old file or the new one)."""
        write_bytes_atomic(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: Path, capacity: int | None = None) -> DeploymentWindow:
        """The window saved at path; NotFound when there is none, InvalidSpec when it is damaged."""
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no metrics window at {path}") from None
        except OSError as exc:
            raise ConsoleError(f"cannot read metrics window {path}: {exc.strerror or exc}") from None
        try:
            return cls.from_bytes(data, capacity)
        except InvalidSpec as exc:
            raise InvalidSpec(f"{path}: {exc.message}", location=str(path)) from None


def check_window(window_seconds: float) -> float:
    """The window in seconds, or InvalidSpec."""
    try:
        window_seconds = float(window_seconds)
    except (TypeError, ValueError):
        raise InvalidSpec(f"window must be a number of seconds, not {window_seconds!r}") from None
    if not math.isfinite(window_seconds) or not 0 < window_seconds <= 31 * 86400:
        raise InvalidSpec(f"window must be more than 0 seconds and at most 31 days, not {window_seconds:g}")
    return window_seconds


def check_series_args(metric: str, window_seconds: float, step_seconds: float,
                      by: str | None) -> tuple[float, float, str | None]:
    """Validated (window, step, by) of a series request, or InvalidSpec saying what is wrong."""
    if metric not in METRIC_NAMES:
        raise InvalidSpec(f"unknown metric {metric!r}", hint="one of " + ", ".join(METRIC_NAMES))
    window_seconds = check_window(window_seconds)
    try:
        step_seconds = float(step_seconds)
    except (TypeError, ValueError):
        raise InvalidSpec(f"step must be a number of seconds, not {step_seconds!r}") from None
    if not math.isfinite(step_seconds) or step_seconds <= 0:
        raise InvalidSpec(f"step must be more than 0 seconds, not {step_seconds:g}")
    if window_seconds / step_seconds > MAX_POINTS:
        raise InvalidSpec(f"{window_seconds:g}s every {step_seconds:g}s is more than {MAX_POINTS} points",
                          hint="use a larger step")
    by = by or None
    if by not in ("predictor", "node", None):
        raise InvalidSpec(f"by must be 'predictor', 'node' or empty (overall), not {by!r}")
    return window_seconds, step_seconds, by


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes so readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class MetricsWindow:
    """Every deployment's window: what the supervisor keeps in memory and saves under runtime/metrics."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.deployments: dict[str, DeploymentWindow] = {}

    def window(self, name: str) -> DeploymentWindow:
        """One deployment's window; NotFound when it was never scraped."""
        try:
            return self.deployments[name]
        except KeyError:
            raise NotFound(f"no metrics for deployment {name!r} yet", target=name,
                           hint="deployments show metrics once the runtime has scraped them") from None

    def ingest(self, deployment: str, process: str, families: Iterable[Any], at: float,
               started_at: float | None = None) -> int:
        """Add one process's parsed scrape taken at `at` (see DeploymentWindow.ingest)."""
        window = self.deployments.get(deployment)
        if window is None:
            window = self.deployments[deployment] = DeploymentWindow(deployment, self.capacity)
        return window.ingest(process, families, at, started_at)

    def deployment_metrics(self, name: str, window_seconds: float = 300.0,
                           now: float | None = None) -> DeploymentMetrics:
        return self.window(name).metrics(window_seconds, now)

    def series(self, name: str, metric: str, window_seconds: float = 300.0, step_seconds: float = 5.0,
               by: str | None = "predictor", now: float | None = None) -> list[Series]:
        return self.window(name).series(metric, window_seconds, step_seconds, by, now)

    def forget(self, name: str) -> None:
        self.deployments.pop(name, None)

    def nbytes(self) -> int:
        return sum(w.nbytes() for w in self.deployments.values())

    def save(self, directory: Path, names: Iterable[str] | None = None) -> list[Path]:
        """Save each deployment's window (or only `names`) as DIRECTORY/NAME.window; the paths written."""
        directory = Path(directory)
        written = []
        for name in list(self.deployments) if names is None else names:
            window = self.deployments.get(name)
            if window is not None and window.size:
                path = window_path(directory, name)
                window.save(path)
                written.append(path)
        return written

    @classmethod
    def load(cls, directory: Path, names: Iterable[str] | None = None,
             capacity: int = DEFAULT_CAPACITY) -> MetricsWindow:
        """The windows saved under directory (only `names` when given); damaged files are skipped."""
        out = cls(capacity)
        directory = Path(directory)
        paths = sorted(directory.glob("*.window")) if names is None else [window_path(directory, n) for n in names]
        for path in paths:
            try:
                window = DeploymentWindow.load(path, capacity)
            except ConsoleError:
                continue
            out.deployments[window.name] = window
        return out


def read_header(path: Path) -> dict[str, Any] | None:
    """The header of a saved window (deployment, size, last_at, ...) without its samples; None if unreadable."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                return None
            header = json.loads(fh.readline())
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def metrics_dir(home: Path) -> Path:
    """Where the supervisor keeps the windows and the Prometheus target list: HOME/runtime/metrics."""
    from backends.local.state import runtime_dir

    return runtime_dir(Path(home)) / "metrics"


def window_path(directory: Path, name: str) -> Path:
    """The saved window of one deployment: DIRECTORY/NAME.window."""
    return Path(directory) / f"{name}.window"


def metrics_to_dict(metrics: DeploymentMetrics) -> dict[str, Any]:
    """DeploymentMetrics as the supervisor's API sends it (plain JSON, no NaN)."""
    return _finite(asdict(metrics))


def series_to_dict(series: list[Series]) -> list[dict[str, Any]]:
    return [_finite(asdict(s)) for s in series]


def metrics_from_dict(data: dict[str, Any]) -> DeploymentMetrics:
    """The inverse of metrics_to_dict."""
    def figures(d: dict[str, Any]) -> TrafficFigures:
        return TrafficFigures(**{k: d.get(k) for k in ("scope", "name", *METRIC_NAMES)},
                              predictor=d.get("predictor") or "")

    return DeploymentMetrics(
        deployment=data["deployment"], window_seconds=float(data["window_seconds"]), at=float(data["at"]),
        overall=figures(data["overall"]), predictors=[figures(p) for p in data.get("predictors") or []],
        nodes=[figures(n) for n in data.get("nodes") or []], routing=data.get("routing") or {},
        outlier_rate=data.get("outlier_rate"), custom=data.get("custom") or {})


def series_from_dict(items: list[dict[str, Any]]) -> list[Series]:
    return [Series(s["metric"], s["label"], [(float(t), float(v)) for t, v in s.get("points") or []])
            for s in items]


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
