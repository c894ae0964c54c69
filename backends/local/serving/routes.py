"""The gateway's routes file: which predictors get what share of traffic, at which endpoints.

The supervisor writes it (atomically) and signals the gateway with SIGHUP; the gateway also
re-reads it when its mtime changes. Shape:

    {"deployment": "NAME",
     "predictors": [{"name": "main", "traffic": 90, "shadow": false,
                     "endpoints": ["http://127.0.0.1:PORT", ...]}, ...],
     "sticky_header": "X-Mlconsole-Session" or null,
     "log_sample_rate": 1.0,
     "log": true}
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec


@dataclass
class RoutePredictor:
    """One predictor as the gateway sees it: its traffic weight, shadow flag and replica URLs."""

    name: str
    traffic: float = 0
    shadow: bool = False
    endpoints: list[str] = field(default_factory=list)
    mirror: float = 100.0  # a shadow gets this percentage of requests mirrored


@dataclass
class Routes:
    """Everything the gateway routes by, for one deployment."""

    deployment: str
    predictors: list[RoutePredictor] = field(default_factory=list)
    sticky_header: str | None = None
    log_sample_rate: float = 1.0
    log: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The routes as the JSON object the file holds."""
        return asdict(self)


def _number(value: Any, where: str, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidSpec(f"routes: {where} must be a number, got {value!r}", location=where)
    if value < low or (high is not None and value > high):
        raise InvalidSpec(f"routes: {where} is {value}, outside [{low}, {high if high is not None else 'inf'}]",
                          location=where)
    return value


def routes_from_dict(data: Any) -> Routes:
    """Routes from the parsed JSON; InvalidSpec naming the field that is wrong."""
    if not isinstance(data, dict):
        raise InvalidSpec("routes must be a JSON object")
    deployment = data.get("deployment")
    if not isinstance(deployment, str) or not deployment:
        raise InvalidSpec("routes: deployment must be a non-empty string", location="deployment")
    raw_predictors = data.get("predictors") or []
    if not isinstance(raw_predictors, list):
        raise InvalidSpec("routes: predictors must be a list", location="predictors")
    predictors = []
    seen: set[str] = set()
    for i, p in enumerate(raw_predictors):
        where = f"predictors[{i}]"
        if not isinstance(p, dict):
            raise InvalidSpec(f"routes: {where} must be an object", location=where)
        name = p.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidSpec(f"routes: {where}.name must be a non-empty string", location=f"{where}.name")
        if name in seen:
            raise InvalidSpec(f"routes: predictor {name!r} appears twice", location=f"{where}.name")
        seen.add(name)
        endpoints = p.get("endpoints") or []
        if not isinstance(endpoints, list) or not all(isinstance(e, str) and e.startswith(("http://", "https://"))
                                                      for e in endpoints):
            raise InvalidSpec(f"routes: {where}.endpoints must be a list of http:// URLs", location=f"{where}.endpoints")
        shadow = p.get("shadow", False)
        if not isinstance(shadow, bool):
            raise InvalidSpec(f"routes: {where}.shadow must be true or false", location=f"{where}.shadow")
        predictors.append(RoutePredictor(
            name=name, traffic=_number(p.get("traffic", 0), f"{where}.traffic", 0), shadow=shadow,
            endpoints=[e.rstrip("/") for e in endpoints],
            mirror=float(_number(p.get("mirror", 100.0), f"{where}.mirror", 0.0, 100.0))))
    sticky = data.get("sticky_header")
    if sticky is not None and (not isinstance(sticky, str) or not sticky.strip()):
        raise InvalidSpec("routes: sticky_header must be a header name or null", location="sticky_header")
    log = data.get("log", True)
    if not isinstance(log, bool):
        raise InvalidSpec("routes: log must be true or false", location="log")
    rate = _number(data.get("log_sample_rate", 1.0), "log_sample_rate", 0.0, 1.0)
    return Routes(deployment=deployment, predictors=predictors, sticky_header=sticky.strip() if sticky else None,
                  log_sample_rate=float(rate), log=log)


def read_routes(path: Path | str) -> Routes:
    """The routes in the file at path; InvalidSpec (with the path) when unreadable or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidSpec(f"cannot read routes file {path}: {exc.strerror or exc}", location=str(path)) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidSpec(f"routes file {path} is not valid JSON: {exc}", location=str(path)) from exc
    try:
        return routes_from_dict(data)
    except InvalidSpec as exc:
        exc.message = f"{path}: {exc.message}"
        exc.args = (exc.message,)
        raise


def write_routes(path: Path | str, routes: Routes) -> None:
    """Write the routes so a reading gateway sees the old file or the new one, never half."""
    from backends.local.state import write_atomic

    write_atomic(Path(path), json.dumps(routes.to_dict(), indent=1) + "\n")
