"""MetricsBackend over the Prometheus HTTP API (httpx): the semantic figures as PromQL (queries.py).

Credentials come from the environment (a bearer token, or a user and password for basic auth)
and are never displayed or logged. Every error reaches the port typed: 401/403 -> Forbidden,
unreachable or failing -> BackendUnavailable with the reason, a PromQL error -> InvalidSpec
with Prometheus' own message.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from backends.prometheus import queries as q
from console.errors import BackendUnavailable, ConsoleError, Forbidden, InvalidSpec, NotFound
from console.secrets import mask_uri
from console.types import METRIC_NAMES, DeploymentMetrics, Health, HealthState, Series, TrafficFigures

TOKEN_ENV = "MLCONSOLE_PROMETHEUS_TOKEN"
USER_ENV = "MLCONSOLE_PROMETHEUS_USERNAME"
PASSWORD_ENV = "MLCONSOLE_PROMETHEUS_PASSWORD"
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 15.0
# A chart point's rate range is max(step, this): wide enough for a few scrapes of the usual
# 15-30 s scrape interval, so a short step never gives an empty chart.
MIN_SERIES_RANGE = 60.0
SEEN_WITHIN = 86400.0  # a deployment with no series in the last day is "never seen"
MAX_POINTS = 11_000
PARALLEL = 6
HEALTH_TIMEOUT = 3.0


def auth_from_env():
    """Bearer token or basic auth from the environment; never displayed or logged."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user and password:
        return {}, (user, password)
    return {}, None


def _number(text: Any) -> float | None:
    """A sample value as Prometheus writes it ("0.25", "NaN", "+Inf"): None unless finite."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class PrometheusMetrics:
    """Live traffic from a Prometheus server scraping Seldon-style metrics."""

    kind = "prometheus"

    def __init__(self, url: str, min_series_range: float = MIN_SERIES_RANGE, timeout: float = READ_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.min_series_range = min_series_range
        self.timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return mask_uri(self.url)

    # -- HTTP ---------------------------------------------------------------------------------

    def _http(self) -> Any:
        import httpx

        with self._lock:
            if self._client is None:
                headers, auth = auth_from_env()
                self._client = httpx.Client(base_url=self.url, headers=headers, auth=auth,
                                            timeout=httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT))
            return self._client

    def _get(self, path: str, params: Any, what: str = "", timeout: float | None = None) -> Any:
        """The `data` of a Prometheus API answer; typed errors otherwise. One retry on connection errors."""
        import httpx

        client = self._http()
        for attempt in (1, 2):
            try:
                resp = client.get(path, params=params, **({"timeout": timeout} if timeout else {}))
                break
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                    httpx.WriteError) as exc:
                if attempt == 2:
                    raise BackendUnavailable(f"Prometheus at {self.endpoint} is unreachable: "
                                             f"{type(exc).__name__}: {exc}",
                                             hint="check the --metrics URL and that Prometheus runs") from None
            except httpx.TimeoutException as exc:
                raise BackendUnavailable(f"Prometheus at {self.endpoint} did not answer within "
                                         f"{self.timeout:g}s ({type(exc).__name__})",
                                         hint="a shorter window is cheaper to compute") from None
            except httpx.HTTPError as exc:
                raise BackendUnavailable(f"Prometheus at {self.endpoint}: {type(exc).__name__}: {exc}") from None
        if resp.status_code in (401, 403):
            raise Forbidden(f"Prometheus at {self.endpoint} refused the request (HTTP {resp.status_code})",
                            hint=f"set {TOKEN_ENV} (bearer token) or {USER_ENV} and {PASSWORD_ENV}")
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BackendUnavailable(f"Prometheus at {self.endpoint} answered HTTP {resp.status_code} "
                                     f"without its API's JSON: {resp.text[:200]!r}",
                                     hint="is the --metrics URL the Prometheus base URL?")
        if body.get("status") != "success":
            message = str(body.get("error") or f"HTTP {resp.status_code}")
            if body.get("errorType") == "bad_data" or resp.status_code in (400, 422):
                raise InvalidSpec(f"Prometheus refused the query: {message}", location=what or path)
            raise BackendUnavailable(f"Prometheus at {self.endpoint} failed: {body.get('errorType', '')}: {message}")
        return body.get("data")

    # -- raw API ----------------------------------------------------------------------------------

    def instant(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """/api/v1/query: [{"metric": labels, "value": float or None, "time": t}] (matrix results keep
        "values": [[t, v], ...])."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params, promql) or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind in ("scalar", "string"):
            t, v = result
            return [{"metric": {}, "value": _number(v) if kind == "scalar" else v, "time": float(t)}]
        out = []
        for item in result or []:
            if "values" in item:
                out.append({"metric": item.get("metric", {}),
                            "values": [[float(t), _number(v)] for t, v in item["values"]]})
            else:
                t, v = item.get("value", (None, None))
                out.append({"metric": item.get("metric", {}), "value": _number(v),
                            "time": float(t) if t is not None else None})
        return out

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[tuple[dict, list]]:
        """/api/v1/query_range: [(labels, [(t, value), ...])], non-finite values left out."""
        data = self._get("/api/v1/query_range", {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": f"{step:g}"}, promql) or {}
        out = []
        for item in data.get("result") or []:
            points = [(float(t), v) for t, raw in item.get("values", []) if (v := _number(raw)) is not None]
            out.append((item.get("metric", {}), points))
        return out

    def series_of(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """/api/v1/series: the label sets of the series matching `match` between start and end."""
        return list(self._get("/api/v1/series", {"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"},
                              match) or [])

    def labels(self, timeout: float | None = None) -> list[str]:
        """/api/v1/labels: every label name Prometheus knows."""
        return list(self._get("/api/v1/labels", {}, timeout=timeout) or [])

    def label_values(self, name: str) -> list[str]:
        """/api/v1/label/NAME/values."""
        return list(self._get(f"/api/v1/label/{name}/values", {}) or [])

    # -- the port ------------------------------------------------------------------------------

    def health(self) -> Health:
        now = time.time()
        try:
            self._get_ready()
            names = self.labels(timeout=HEALTH_TIMEOUT)
        except Forbidden as exc:
            status = re.search(r"HTTP \d+", exc.message)
            return Health(HealthState.DOWN, f"{status.group(0) if status else 'refused'}: set {TOKEN_ENV} or "
                          f"{USER_ENV}/{PASSWORD_ENV}", self.endpoint, now)
        except ConsoleError as exc:
            state = HealthState.DEGRADED if "/-/ready" in exc.message else HealthState.DOWN
            return Health(state, exc.message, self.endpoint, now)
        if "deployment_name" not in names:
            return Health(HealthState.UP, "ready; no Seldon-style metrics scraped yet", self.endpoint, now)
        return Health(HealthState.UP, "ready", self.endpoint, now)

    def _get_ready(self) -> None:
        import httpx

        try:
            resp = self._http().get("/-/ready", timeout=HEALTH_TIMEOUT)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"unreachable: {exc.__class__.__name__}: {exc}") from None
        if resp.status_code in (401, 403):
            raise Forbidden(f"HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise ConsoleError(f"/-/ready answered HTTP {resp.status_code}")

    def deployment_metrics(self, name: str, window_seconds: float = 300.0) -> DeploymentMetrics:
        rng = self._range(window_seconds)
        at = time.time()
        jobs: dict[tuple[str, str], str] = {}
        for scope in ("overall", "predictor", "node"):
            for metric in METRIC_NAMES:
                jobs[(scope, metric)] = q.figure(metric, name, scope, rng)
        jobs[("routing", "")] = q.routing_shares(name, rng)
        jobs[("outliers", "")] = q.outlier_rate(name, rng)
        jobs[("custom", "")] = q.custom_metrics(name)
        with ThreadPoolExecutor(PARALLEL) as pool:
            futures = {key: pool.submit(self.instant, promql, at) for key, promql in jobs.items()}
            results = {key: f.result() for key, f in futures.items()}
        overall = {m: next((r["value"] for r in results[("overall", m)]), None) for m in METRIC_NAMES}
        predictors = self._grouped(results, "predictor", lambda labels: (labels.get("predictor_name", ""),))
        nodes = self._grouped(results, "node",
                              lambda labels: (labels.get("predictor_name", ""), labels.get("model_name", "")))
        if not predictors and not nodes and overall["request_rate"] is None:
            self._check_seen(name, at)
        routing: dict[str, dict[str, float]] = {}
        for r in results[("routing", "")]:
            if r["value"] is not None:
                routing.setdefault(r["metric"].get("router", ""), {})[r["metric"].get("child", "")] = r["value"]
        outliers = next((r["value"] for r in results[("outliers", "")]), None)
        custom = {r["metric"].get("__name__", ""): r["value"] for r in results[("custom", "")]
                  if r["value"] is not None}
        return DeploymentMetrics(
            name, float(window_seconds), at, TrafficFigures("deployment", "", **overall),
            [TrafficFigures("predictor", k[0], **v) for k, v in sorted(predictors.items())],
            [TrafficFigures("node", k[1], predictor=k[0], **v) for k, v in sorted(nodes.items())],
            {r: dict(sorted(c.items())) for r, c in sorted(routing.items())}, outliers, dict(sorted(custom.items())))

    @staticmethod
    def _grouped(results: dict, scope: str, key: Any) -> dict[tuple[str, ...], dict[str, float | None]]:
        out: dict[tuple[str, ...], dict[str, float | None]] = {}
        for metric in METRIC_NAMES:
            for r in results[(scope, metric)]:
                out.setdefault(key(r["metric"]), dict.fromkeys(METRIC_NAMES))[metric] = r["value"]
        return out

    def _check_seen(self, name: str, at: float) -> None:
        """NotFound when Prometheus has no series of the deployment in the last day."""
        if self.series_of(q.seen(name), at - SEEN_WITHIN, at):
            return
        try:
            known = sorted(self.label_values("deployment_name"))
        except ConsoleError:
            known = []
        raise NotFound(f"Prometheus at {self.endpoint} has no metrics for deployment {name!r}", target=name,
                       hint=("deployments it knows: " + ", ".join(known[:20])) if known
                       else "is Prometheus scraping the deployment's processes?")

    def series(self, name: str, metric: str, window_seconds: float = 300.0, step_seconds: float = 5.0,
               by: str | None = "predictor") -> list[Series]:
        if metric not in METRIC_NAMES:
            raise InvalidSpec(f"unknown metric {metric!r}", hint="one of " + ", ".join(METRIC_NAMES))
        if by not in ("predictor", "node", None, ""):
            raise InvalidSpec(f"by must be 'predictor', 'node' or empty (overall), not {by!r}")
        self._range(window_seconds)
        if not step_seconds > 0 or window_seconds / step_seconds > MAX_POINTS:
            raise InvalidSpec(f"step {step_seconds!r} gives too many points (at most {MAX_POINTS})")
        scope = {"predictor": "predictor", "node": "node"}.get(by or "", "overall")
        rng = q.duration(max(step_seconds, self.min_series_range))
        end = time.time()
        steps = int(window_seconds // step_seconds)
        start = end - steps * step_seconds
        out = []
        for labels, points in self.query_range(q.figure(metric, name, scope, rng), start, end, step_seconds):
            if not points:
                continue
            if scope == "overall":
                label = "all"
            elif scope == "predictor":
                label = labels.get("predictor_name", "")
            else:
                label = f"{labels.get('predictor_name', '')}/{labels.get('model_name', '')}"
            out.append(Series(metric, label, points))
        return sorted(out, key=lambda s: s.label)

    def query(self, promql: str) -> list[dict]:
        """Raw PromQL at the current time: the result as plain dicts."""
        if not promql.strip():
            raise InvalidSpec("empty PromQL query")
        return self.instant(promql)

    @staticmethod
    def _range(window_seconds: float) -> str:
        try:
            return q.duration(float(window_seconds))
        except (TypeError, ValueError):
            raise InvalidSpec(f"window must be a positive number of seconds, not {window_seconds!r}") from None
