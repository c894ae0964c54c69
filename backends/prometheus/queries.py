"""The semantic figures as PromQL over Seldon Core's metric names, so they run on a real Seldon
cluster's Prometheus as well as on one scraping the local runtime.

    request rate   sum by (...) (rate(seldon_api_executor_server_requests_seconds_count{...}[5m]))
    error rate     non-2xx `code` over all (0 when there were requests but no errors)
    latency pNN    histogram_quantile(0.NN, sum by (le, ...) (rate(..._bucket{...}[5m])))
    per node       the same over seldon_api_executor_client_requests_seconds by model_name
    routing        seldon_api_executor_routing_total by (router, child) over the router's total
    outliers       mlconsole_outlier_flags_total over the calls of outlier-detector nodes
    custom         the components' own metrics, latest values summed by metric name

Per-predictor figures come from the series the predictors' own processes export (the graph
servers locally, the executors on Seldon). Overall figures come from the local gateway, whose
series carry the target label mlconsole_process="gateway" (the runtime's file_sd target list
sets it): the gateway counts what clients were answered, shadows excluded. On a cluster without
that gateway the overall queries fall back (`or`) to the sum over predictors.
"""

from __future__ import annotations

import math

SERVER = "seldon_api_executor_server_requests_seconds"
CLIENT = "seldon_api_executor_client_requests_seconds"
ROUTING = "seldon_api_executor_routing_total"
OUTLIER_FLAGS = "mlconsole_outlier_flags_total"
OUTLIER_IMAGE = "MLCONSOLE_OUTLIER_DETECTOR"
PROCESS_LABEL = "mlconsole_process"
GATEWAY = f'{PROCESS_LABEL}="gateway"'
NOT_GATEWAY = f'{PROCESS_LABEL}!="gateway"'
ERRORS = 'code!~"2.."'
QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}
# Scope -> (grouping labels, the series' own filter). "overall" is handled apart (gateway, fallback).
GROUPING = {"predictor": ("predictor_name",), "node": ("predictor_name", "model_name")}


def duration(seconds: float) -> str:
    """A PromQL range: 60 -> '1m', 300 -> '5m', 90 -> '90s', 3600 -> '1h', 1.5 -> '1500ms'."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a range must be a positive number of seconds, not {seconds!r}")
    ms = round(seconds * 1000)
    if ms % 1000:
        return f"{ms}ms"
    s = ms // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(deployment: str, *matchers: str) -> str:
    """{deployment_name="X", more matchers...}."""
    return "{" + ", ".join([f"deployment_name={quote(deployment)}", *matchers]) + "}"


def _by(labels: tuple[str, ...]) -> str:
    return f"sum by ({', '.join(labels)})" if labels else "sum"


def _rate(metric: str, sel: str, rng: str, labels: tuple[str, ...]) -> str:
    return f"{_by(labels)} (rate({metric}{sel}[{rng}]))"


def _ratio(metric: str, part: str, whole: str, rng: str, labels: tuple[str, ...]) -> str:
    """part / whole of rates, 0 (not nothing) where whole had requests and part none."""
    whole_rate = _rate(metric, whole, rng, labels)
    return f"({_rate(metric, part, rng, labels)} or 0 * {whole_rate}) / {whole_rate}"


def _scoped(deployment: str, scope: str, *matchers: str) -> tuple[str, str, tuple[str, ...]]:
    """(metric, selector, grouping) of a scope's request histogram."""
    if scope == "node":
        return CLIENT, selector(deployment, *matchers), GROUPING["node"]
    return SERVER, selector(deployment, NOT_GATEWAY, *matchers), GROUPING["predictor"]


def request_rate(deployment: str, scope: str, rng: str) -> str:
    """Requests per second: overall, by predictor or by node."""
    if scope == "overall":
        return (f"{_rate(SERVER + '_count', selector(deployment, GATEWAY), rng, ())} or "
                f"{_rate(SERVER + '_count', selector(deployment, NOT_GATEWAY), rng, ())}")
    metric, sel, labels = _scoped(deployment, scope)
    return _rate(metric + "_count", sel, rng, labels)


def error_rate(deployment: str, scope: str, rng: str) -> str:
    """Non-2xx answers as a share of all, 0..1."""
    if scope == "overall":
        gateway = _ratio(SERVER + "_count", selector(deployment, GATEWAY, ERRORS), selector(deployment, GATEWAY),
                         rng, ())
        predictors = _ratio(SERVER + "_count", selector(deployment, NOT_GATEWAY, ERRORS),
                            selector(deployment, NOT_GATEWAY), rng, ())
        return f"({gateway}) or ({predictors})"
    metric, whole, labels = _scoped(deployment, scope)
    _, part, _ = _scoped(deployment, scope, ERRORS)
    return _ratio(metric + "_count", part, whole, rng, labels)


def latency_quantile(deployment: str, scope: str, q: float, rng: str) -> str:
    """histogram_quantile(q, ...) of the request latency, in seconds."""
    if scope == "overall":
        buckets = (f"{_rate(SERVER + '_bucket', selector(deployment, GATEWAY), rng, ('le',))} or "
                   f"{_rate(SERVER + '_bucket', selector(deployment, NOT_GATEWAY), rng, ('le',))}")
        return f"histogram_quantile({q:g}, {buckets})"
    metric, sel, labels = _scoped(deployment, scope)
    return f"histogram_quantile({q:g}, {_rate(metric + '_bucket', sel, rng, ('le', *labels))})"


def figure(metric: str, deployment: str, scope: str, rng: str) -> str:
    """The query of one of METRIC_NAMES for a scope ("overall", "predictor" or "node")."""
    if metric == "request_rate":
        return request_rate(deployment, scope, rng)
    if metric == "error_rate":
        return error_rate(deployment, scope, rng)
    if metric in QUANTILES:
        return latency_quantile(deployment, scope, QUANTILES[metric], rng)
    raise ValueError(f"unknown metric {metric!r}")


def routing_shares(deployment: str, rng: str) -> str:
    """Each router child's share of its router's decisions."""
    by_child = _rate(ROUTING, selector(deployment), rng, ("router", "child"))
    by_router = _rate(ROUTING, selector(deployment), rng, ("router",))
    return f"{by_child} / ignoring (child) group_left {by_router}"


def outlier_rate(deployment: str, rng: str) -> str:
    """Rows flagged by outlier detectors over the calls the detectors answered (one row per request)."""
    detectors = selector(deployment, f"model_image={quote(OUTLIER_IMAGE)}", 'code="200"')
    return _ratio_of(OUTLIER_FLAGS, selector(deployment), CLIENT + "_count", detectors, rng)


def _ratio_of(part_metric: str, part_sel: str, whole_metric: str, whole_sel: str, rng: str) -> str:
    whole = _rate(whole_metric, whole_sel, rng, ())
    return f"({_rate(part_metric, part_sel, rng, ())} or 0 * {whole}) / {whole}"


def custom_metrics(deployment: str) -> str:
    """The components' own metrics (not Seldon's or the runtime's), latest values by name."""
    return (f'sum by (__name__) ({{deployment_name={quote(deployment)}, {NOT_GATEWAY}, '
            f'__name__!~"seldon_api_.*|mlconsole_.*|.*_bucket|.*_created"}})')


def seen(deployment: str) -> str:
    """A series match[] for /api/v1/series: any request series of the deployment."""
    return f"{SERVER}_count{selector(deployment)}"
