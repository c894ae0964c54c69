"""Prometheus metrics of the serving processes, named and labelled as Seldon Core v1 names them.

Seldon's executor exports `seldon_api_executor_server_requests_seconds` (labels deployment_name,
predictor_name, predictor_version, service, method, code; service "predictions"/"feedback",
method "post" as promhttp writes it) and `seldon_api_executor_client_requests_seconds` per graph
node (plus model_name, model_image, model_version); its Python wrapper exports
`seldon_api_model_feedback_reward_total` / `seldon_api_model_feedback_total` and the
components' custom metrics under their own keys. The mlconsole_* metrics are this runtime's
own. Each process keeps its own CollectorRegistry; labelled children are cached because
looking one up costs more than observing it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

SERVER_REQUESTS = "seldon_api_executor_server_requests_seconds"
CLIENT_REQUESTS = "seldon_api_executor_client_requests_seconds"
ROUTING = "seldon_api_executor_routing"
FEEDBACK = "seldon_api_model_feedback"
FEEDBACK_REWARD = "seldon_api_model_feedback_reward"
OUTLIER_FLAGS = "mlconsole_outlier_flags"
# Sub-millisecond buckets first: in-process graphs answer in well under 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SERVER_LABELS = ("deployment_name", "predictor_name", "predictor_version", "service", "method", "code")
CLIENT_LABELS = ("deployment_name", "predictor_name", "predictor_version", "service", "model_name",
                 "model_image", "model_version", "method", "code")
MAX_CUSTOM_SERIES = 2000  # a component tagging metrics with a request id must not eat the memory

log = logging.getLogger("mlconsole.serving")
# The *_created series double what a scrape carries and Seldon's Go executor has none.
disable_created_metrics()


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class RequestMetrics:
    """The Seldon server-requests histogram, shared by graph servers and the gateway."""

    def __init__(self, deployment: str, predictor: str, predictor_version: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.deployment = deployment
        self.predictor = predictor
        self.predictor_version = predictor_version
        self._server = Histogram(SERVER_REQUESTS, "Latency of requests to the serving process",
                                 SERVER_LABELS, registry=self.registry, buckets=LATENCY_BUCKETS)
        self._server_children: dict[tuple[str, str, int, str], Any] = {}

    def observe_request(self, service: str, code: int, seconds: float, predictor: str | None = None,
                        method: str = "post") -> None:
        """One answered request: its service ("predictions", "feedback", "infer"), code and time."""
        predictor = self.predictor if predictor is None else predictor
        key = (predictor, service, code, method)
        child = self._server_children.get(key)
        if child is None:
            child = self._server.labels(self.deployment, predictor, self.predictor_version, service,
                                        method, str(code))
            self._server_children[key] = child
        child.observe(seconds)


class NodeLabels:
    """What Seldon's client histogram says about a node: its call, image and version."""

    __slots__ = ("service", "image", "version")

    def __init__(self, service: str, image: str, version: str) -> None:
        self.service = service
        self.image = image
        self.version = version


class GraphMetrics(RequestMetrics):
    """A graph server's metrics: requests, per-node latency, routing, outliers, feedback, custom."""

    def __init__(self, deployment: str, predictor: str, predictor_version: str,
                 nodes: dict[str, NodeLabels]) -> None:
        super().__init__(deployment, predictor, predictor_version)
        self.nodes = nodes
        r = self.registry
        self._client = Histogram(CLIENT_REQUESTS, "Latency of each graph node's own calls", CLIENT_LABELS,
                                 registry=r, buckets=LATENCY_BUCKETS)
        self._routing = Counter(ROUTING, "Routing decisions of the graph's routers",
                                ("deployment_name", "predictor_name", "router", "child"), registry=r)
        self._outliers = Counter(OUTLIER_FLAGS, "Rows flagged as outliers",
                                 ("deployment_name", "predictor_name", "node"), registry=r)
        self._feedback = Counter(FEEDBACK, "Feedback requests per node they reached",
                                 ("deployment_name", "predictor_name", "predictor_version", "model_name", "method"),
                                 registry=r)
        self._reward = Counter(FEEDBACK_REWARD, "Sum of the rewards sent as feedback",
                               ("deployment_name", "predictor_name", "predictor_version", "model_name", "method"),
                               registry=r)
        self.custom = CustomMetrics({"deployment_name": deployment, "predictor_name": predictor})
        r.register(self.custom)
        self._client_children: dict[tuple[str, str], Any] = {}
        self._routing_children: dict[tuple[str, Any], Any] = {}
        self._outlier_children: dict[str, Any] = {}

    def observe_node(self, name: str, code: int, seconds: float) -> None:
        """One node's own time in a request (children excluded, as Seldon times each call)."""
        key = (name, str(code))
        child = self._client_children.get(key)
        if child is None:
            info = self.nodes.get(name) or NodeLabels("/predict", "", "")
            child = self._client.labels(self.deployment, self.predictor, self.predictor_version, info.service,
                                        name, info.image, info.version, "post", key[1])
            self._client_children[key] = child
        child.observe(seconds)

    def observe_meta(self, meta: dict[str, Any], outlier_nodes: tuple[str, ...]) -> None:
        """Routing decisions, outlier flags and custom metrics from a response's meta."""
        routing = meta.get("routing")
        if routing:
            for router, child in routing.items():
                key = (router, child)
                counter = self._routing_children.get(key)
                if counter is None:
                    counter = self._routing.labels(self.deployment, self.predictor, router, str(child))
                    self._routing_children[key] = counter
                counter.inc()
        tags = meta.get("tags")
        if tags and "outlier" in tags:
            flags = tags["outlier"]
            flagged = sum(1 for f in flags if f is True) if isinstance(flags, list) else int(flags is True)
            if flagged:
                self._outlier_counter(meta, outlier_nodes).inc(flagged)
        metrics = meta.get("metrics")
        if metrics:
            self.custom.update(metrics)

    def _outlier_counter(self, meta: dict[str, Any], outlier_nodes: tuple[str, ...]) -> Any:
        # Tags merge over the nodes, later ones winning: the flags are the last detector's that ran.
        path = meta.get("requestPath") or {}
        node = next((n for n in reversed(list(path)) if n in outlier_nodes), outlier_nodes[-1] if outlier_nodes else "")
        counter = self._outlier_children.get(node)
        if counter is None:
            counter = self._outlier_children[node] = self._outliers.labels(self.deployment, self.predictor, node)
        return counter

    def observe_feedback(self, reward: float, nodes: list[str]) -> None:
        """A feedback's reward, counted for each node it reached (Seldon counts per model)."""
        for node in nodes or [""]:
            labels = (self.deployment, self.predictor, self.predictor_version, node, "feedback")
            self._feedback.labels(*labels).inc()
            if reward:
                self._reward.labels(*labels).inc(reward)


_NAME_BAD = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_BAD = re.compile(r"[^a-zA-Z0-9_]")
_RESERVED = (SERVER_REQUESTS, CLIENT_REQUESTS, ROUTING, FEEDBACK, FEEDBACK_REWARD, OUTLIER_FLAGS)


def metric_name(key: str) -> str:
    """A component's metric key as a valid Prometheus name (never one of the runtime's own)."""
    name = _NAME_BAD.sub("_", key) or "_"
    if name[0].isdigit():
        name = "_" + name
    if name.removesuffix("_total") in _RESERVED or name.startswith(("mlconsole_", "seldon_api_")):
        name = "custom_" + name
    return name


def label_name(key: str) -> str:
    """A tag key as a valid Prometheus label name."""
    name = _LABEL_BAD.sub("_", str(key)) or "_"
    if name[0].isdigit():
        name = "_" + name
    return "_" + name if name.startswith("__") else name


class CustomMetrics:
    """Components' custom metrics (Seldon's {type, key, value, tags} dicts) as a collector.

    COUNTER adds, GAUGE sets, TIMER (milliseconds, as in Seldon) observes seconds in a
    histogram. Labels are deployment_name and predictor_name plus the metric's tags.
    """

    def __init__(self, base_labels: dict[str, str]) -> None:
        self.base = dict(base_labels)
        self._lock = threading.Lock()
        self._types: dict[str, str] = {}
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._warned: set[str] = set()

    def describe(self) -> list[Any]:
        return []  # names are only known once components report them

    def _warn(self, what: str) -> None:
        if what not in self._warned and len(self._warned) < 100:
            self._warned.add(what)
            log.warning("custom metric ignored: %s", what)

    def update(self, metrics: list[dict[str, Any]]) -> None:
        """Add one response's custom metrics."""
        with self._lock:
            for metric in metrics:
                if not isinstance(metric, dict):
                    continue
                kind = str(metric.get("type", "COUNTER")).upper()
                value = metric.get("value")
                if kind not in ("COUNTER", "GAUGE", "TIMER") or isinstance(value, bool) \
                        or not isinstance(value, (int, float)):
                    self._warn(f"{metric.get('key')!r} has type {kind} and value {value!r}")
                    continue
                name = metric_name(str(metric.get("key", "")))
                known = self._types.setdefault(name, kind)
                if known != kind:
                    self._warn(f"{name} reported as {kind} after {known}")
                    continue
                tags = metric.get("tags") or {}
                labels = {label_name(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
                labels.update(self.base)
                key = (name, tuple(sorted(labels.items())))
                series = self._series.get(key)
                if series is None:
                    if len(self._series) >= MAX_CUSTOM_SERIES:
                        self._warn(f"more than {MAX_CUSTOM_SERIES} custom series (last: {name})")
                        continue
                    series = [0.0, [0] * len(LATENCY_BUCKETS), 0] if kind == "TIMER" else [0.0]
                    self._series[key] = series
                if kind == "COUNTER":
                    series[0] += value
                elif kind == "GAUGE":
                    series[0] = float(value)
                else:
                    seconds = value / 1000.0
                    series[0] += seconds
                    series[2] += 1
                    for i, bound in enumerate(LATENCY_BUCKETS):
                        if seconds <= bound:
                            series[1][i] += 1

    def collect(self):
        """One metric family per custom key (labels may differ per series, as in Seldon)."""
        with self._lock:
            items = [(name, labels, list(series) if len(series) == 1 else [series[0], list(series[1]), series[2]])
                     for (name, labels), series in self._series.items()]
            types = dict(self._types)
        families: dict[str, Any] = {}
        for name, labels, series in items:
            kind = types[name]
            family = families.get(name)
            if family is None:
                maker = {"COUNTER": CounterMetricFamily, "GAUGE": GaugeMetricFamily,
                         "TIMER": HistogramMetricFamily}[kind]
                family = families[name] = maker(name, f"custom {kind.lower()} from a graph component")
            keys = [k for k, _ in labels]
            values = [v for _, v in labels]
            if kind == "TIMER":
                total, counts, count = series
                buckets = [(floatToGoString(b), c) for b, c in zip(LATENCY_BUCKETS, counts, strict=True)]
                _add_histogram(family, keys, values, [*buckets, ("+Inf", count)], total)
            else:
                _add_sample(family, kind, keys, values, series[0])
        yield from families.values()


def _add_sample(family: Any, kind: str, keys: list[str], values: list[str], value: float) -> None:
    # The families were made without label names, so each sample carries its own label set.
    suffix = "_total" if kind == "COUNTER" else ""
    family.samples.append(Sample(family.name + suffix, dict(zip(keys, values, strict=True)), value))


def _add_histogram(family: Any, keys: list[str], values: list[str], buckets: list[tuple[str, int]],
                   total: float) -> None:
    labels = dict(zip(keys, values, strict=True))
    for bound, count in buckets:
        family.samples.append(Sample(family.name + "_bucket", {**labels, "le": bound}, count))
    family.samples.append(Sample(family.name + "_count", labels, buckets[-1][1]))
    family.samples.append(Sample(family.name + "_sum", labels, total))


class GatewayMetrics(RequestMetrics):
    """The gateway's metrics: Seldon's server histogram per answering predictor, and its own."""

    def __init__(self, deployment: str) -> None:
        super().__init__(deployment, "")
        r = self.registry
        self._requests = Counter("mlconsole_gateway_requests", "Requests answered, by predictor and code",
                                 ("deployment_name", "predictor_name", "code"), registry=r)
        self._errors = Counter("mlconsole_gateway_errors", "Failures reaching a predictor's replicas",
                               ("deployment_name", "predictor_name", "reason"), registry=r)
        self._shadow = Counter("mlconsole_gateway_shadow_requests", "Requests mirrored to shadow predictors",
                               ("deployment_name", "predictor_name", "code"), registry=r)
        self._retries = Counter("mlconsole_gateway_retries", "Requests sent again after a failed attempt, by the "
                                "predictor retried on and why the attempt before failed",
                                ("deployment_name", "predictor_name", "reason"), registry=r)
        self._dropped = Counter("mlconsole_request_log_dropped", "Request-log rows dropped (write failed or "
                                "too many pending)", ("deployment_name",), registry=r)
        self._endpoint_up = Gauge("mlconsole_gateway_endpoint_up", "1 when a replica endpoint is taken to be "
                                  "healthy", ("deployment_name", "predictor_name", "endpoint"), registry=r)
        self._request_children: dict[tuple[str, int], Any] = {}

    def answered(self, predictor: str, service: str, code: int, seconds: float, method: str = "post") -> None:
        """A request answered to the client (predictor "" when none could answer)."""
        self.observe_request(service, code, seconds, predictor, method)
        key = (predictor, code)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self._requests.labels(self.deployment, predictor, str(code))
        child.inc()

    def error(self, predictor: str, reason: str) -> None:
        """A failure reaching a predictor: connect, timeout, disconnected, reset, error, no_predictor."""
        self._errors.labels(self.deployment, predictor, reason).inc()

    def retried(self, predictor: str, reason: str) -> None:
        """A request sent again, to predictor, after an attempt that failed for reason."""
        self._retries.labels(self.deployment, predictor, reason).inc()

    def shadow(self, predictor: str, code: str) -> None:
        """A mirrored request's outcome: its HTTP code, "error" or "dropped"."""
        self._shadow.labels(self.deployment, predictor, code).inc()

    def log_dropped(self, rows: int) -> None:
        """Request-log rows that could not be written."""
        self._dropped.labels(self.deployment).inc(rows)

    def endpoint_up(self, predictor: str, endpoint: str, up: bool) -> None:
        """Record whether a replica endpoint is taken to be healthy."""
        self._endpoint_up.labels(self.deployment, predictor, endpoint).set(1 if up else 0)

    def forget_endpoint(self, predictor: str, endpoint: str) -> None:
        """Drop an endpoint that left the routes."""
        try:
            self._endpoint_up.remove(self.deployment, predictor, endpoint)
        except KeyError:
            pass
