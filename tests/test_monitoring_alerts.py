"""Alert thresholds: parsing with units, crossing per scope, one notice per crossing."""

import pytest

from console.errors import InvalidSpec
from console.monitoring import Alerts, parse_thresholds
from console.types import DeploymentMetrics, TrafficFigures


def metrics(error_all, error_canary, p99=0.1):
    return DeploymentMetrics(
        "scoring", 300.0, 0.0,
        TrafficFigures("deployment", "", request_rate=50.0, error_rate=error_all, latency_p99=p99),
        [TrafficFigures("predictor", "main", request_rate=45.0, error_rate=0.0, latency_p99=p99),
         TrafficFigures("predictor", "canary", request_rate=5.0, error_rate=error_canary, latency_p99=p99)])


def test_thresholds_parse_units():
    parsed = parse_thresholds("error_rate>5% latency_p99>500ms, request_rate<1")
    assert [(t.metric, t.op, t.value) for t in parsed] == [
        ("error_rate", ">", 0.05), ("latency_p99", ">", 0.5), ("request_rate", "<", 1.0)]
    for bad in ("errors>1", "error_rate=1", "latency_p99>fast"):
        with pytest.raises(InvalidSpec):
            parse_thresholds(bad)


def test_alerts_fire_once_per_crossing_and_rearm_after_clearing():
    alerts = Alerts(parse_thresholds("error_rate>0.05"))
    assert alerts.check(metrics(0.01, 0.02)) == []
    first = alerts.check(metrics(0.01, 0.2))
    assert first == ["scoring canary: error_rate 0.2 > 0.05"]
    assert alerts.check(metrics(0.01, 0.3)) == []  # still crossed: said once
    assert alerts.crossed(metrics(0.01, 0.3).predictors[1], "error_rate")
    assert alerts.check(metrics(0.01, 0.0)) == []  # cleared
    assert alerts.check(metrics(0.01, 0.2)) == first  # crossed again: said again


def test_missing_data_never_crosses():
    alerts = Alerts(parse_thresholds("request_rate<1"))
    assert alerts.check(DeploymentMetrics("x", 60.0, 0.0, TrafficFigures("deployment", ""))) == []
