"""Alert thresholds on live traffic figures: what counts as crossed, and when to say so.

A threshold is crossed per scope (the deployment overall, each predictor); the console says
so once when it is crossed and again only after it has cleared, so a sustained problem is one
notification, not one per poll.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from console.errors import InvalidSpec
from console.types import METRIC_NAMES, DeploymentMetrics, TrafficFigures

_THRESHOLD = re.compile(r"^(?P<metric>[a-z0-9_]+)\s*(?P<op>[<>])\s*(?P<value>[0-9.eE+-]+)(?P<unit>ms|s|%)?$")
_OPS = {">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Threshold:
    """`metric op value`: e.g. error_rate > 0.05, latency_p99 > 0.5 (seconds)."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def crossed(self, value: float | None) -> bool:
        return value is not None and _OPS[self.op](value, self.value)


def parse_thresholds(text: str) -> list[Threshold]:
    """`error_rate>0.05 latency_p99>500ms request_rate<1` -> thresholds (ms and % understood)."""
    out = []
    for part in text.replace(",", " ").split():
        match = _THRESHOLD.match(part)
        if not match or match.group("metric") not in METRIC_NAMES:
            raise InvalidSpec(f"{part!r} is not a threshold",
                              hint=f"write METRIC>VALUE or METRIC<VALUE with METRIC one of {', '.join(METRIC_NAMES)}")
        value = float(match.group("value"))
        unit = match.group("unit")
        if unit == "ms":
            value /= 1000
        elif unit == "%":
            value /= 100
        out.append(Threshold(match.group("metric"), match.group("op"), value))
    return out


class Alerts:
    """Thresholds plus which (scope, metric) pairs are currently crossed."""

    def __init__(self, thresholds: list[Threshold]) -> None:
        self.thresholds = thresholds
        self.active: set[tuple[str, str]] = set()

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.thresholds)

    def reset(self) -> None:
        self.active.clear()

    def crossed(self, figures: TrafficFigures, metric: str) -> bool:
        return any(t.metric == metric and t.crossed(figures.value(metric)) for t in self.thresholds)

    def check(self, metrics: DeploymentMetrics) -> list[str]:
        """Messages for thresholds newly crossed since the last check (cleared ones re-arm)."""
        messages = []
        now_active = set()
        for figures in [metrics.overall, *metrics.predictors]:
            scope = figures.name or "all"
            for t in self.thresholds:
                value = figures.value(t.metric)
                if t.crossed(value):
                    now_active.add((scope, t.metric))
                    if (scope, t.metric) not in self.active:
                        messages.append(f"{metrics.deployment} {scope}: {t.metric} {value:.4g} {t.op} {t.value:g}")
        self.active = now_active
        return messages
