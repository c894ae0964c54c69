"""`mlconsole metrics NAME [--window 5m] [--json]`: a deployment's traffic figures over a window.

Request rate, error rate and latency quantiles overall, per predictor and per graph node, plus
routing shares, outlier rate and the components' own metrics: from the embedded runtime's
window by default, from Prometheus with --metrics URL (the same PromQL a dashboard would run).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from console.commands.cluster_common import usage_error
from console.commands.output import print_json, print_table
from console.config import Settings
from console.types import METRIC_NAMES, DeploymentMetrics, TrafficFigures

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    metrics = sub.add_parser("metrics", parents=parents,
                             help="a deployment's request rate, errors and latency over a window")
    metrics.add_argument("name", help="the deployment")
    metrics.add_argument("--window", default="5m", metavar="DURATION",
                         help="how far back: 30s, 5m, 1h or seconds (default 5m)")
    metrics.add_argument("--json", action="store_true", help="machine-readable output")
    metrics.set_defaults(run=run_metrics)


def parse_duration(text: str) -> float | None:
    """Seconds from '90', '30s', '5m', '1h', '1d', '500ms'; None when it is not a duration."""
    match = _DURATION.match(text or "")
    if not match:
        return None
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    return seconds if seconds > 0 else None


def figures_dict(f: TrafficFigures) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name}
    if f.scope == "node":
        out["predictor"] = f.predictor
    out.update({m: f.value(m) for m in METRIC_NAMES})
    return out


def metrics_dict(m: DeploymentMetrics, backend: Any) -> dict[str, Any]:
    """The figures as `--json` prints them."""
    return {"deployment": m.deployment, "backend": backend.kind, "endpoint": backend.endpoint,
            "window_seconds": m.window_seconds, "at": m.at,
            "overall": {k: v for k, v in figures_dict(m.overall).items() if k != "name"},
            "predictors": [figures_dict(p) for p in m.predictors], "nodes": [figures_dict(n) for n in m.nodes],
            "routing": m.routing, "outlier_rate": m.outlier_rate, "custom": m.custom}


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _share(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.2f}"


def _row(scope: str, name: str, f: TrafficFigures) -> tuple[str, ...]:
    return (scope, name, _rate(f.request_rate), _share(f.error_rate), _ms(f.latency_p50), _ms(f.latency_p95),
            _ms(f.latency_p99))


def run_metrics(args: argparse.Namespace, settings: Settings) -> int:
    from console.wiring import make_metrics

    window = parse_duration(args.window)
    if window is None:
        return usage_error(f"--window must be a duration like 30s, 5m or 1h, not {args.window!r}")
    backend = make_metrics(settings)
    figures = backend.deployment_metrics(args.name, window)
    if args.json:
        print_json(metrics_dict(figures, backend))
        return 0
    health = backend.health()
    if health.state == "degraded":
        print(f"mlconsole: {backend.kind} metrics: {health.reason}", file=sys.stderr)
    shown = time.strftime("%H:%M:%S", time.gmtime(figures.at)) if figures.at else "-"
    print(f"{figures.deployment}: last {args.window.strip()} from {backend.endpoint}, as of {shown} UTC")
    rows = [_row("deployment", "(all)", figures.overall)]
    rows += [_row("predictor", p.name, p) for p in figures.predictors]
    rows += [_row("node", f"{n.predictor}/{n.name}", n) for n in figures.nodes]
    print_table(["scope", "name", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms"], rows)
    for router, shares in figures.routing.items():
        print(f"routing {router}: " + "  ".join(f"child {c} {_share(s)}" for c, s in shares.items()))
    if figures.outlier_rate is not None:
        print(f"outlier rate: {_share(figures.outlier_rate)}")
    if figures.custom:
        print("custom: " + "  ".join(f"{k} {v:g}" for k, v in figures.custom.items()))
    return 0
