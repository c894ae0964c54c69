"""`mlconsole metrics`: the figures from a saved window (no supervisor running), its errors and flags.
Against live backends it is exercised in test_prometheus_metrics.py."""

from __future__ import annotations

import json

import pytest

from backends.local.metrics_window import MetricsWindow, metrics_dir
from backends.local.serving.metrics import GatewayMetrics, GraphMetrics, NodeLabels
from console.commands.metrics_cmd import parse_duration
from tests.local_runtime import mlconsole
from tests.servers import free_port
from tests.test_metrics_window import T0, families


@pytest.mark.parametrize(("text", "seconds"), [("300", 300), ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800),
                                               ("1500ms", 1.5), (" 2.5m ", 150), ("0", None), ("5x", None),
                                               ("", None), ("-5m", None)])
def test_windows_read_as_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.fixture
def saved_home(home):
    """A home whose runtime recorded 'credit' (main 75% / canary 25%) before its supervisor stopped."""
    window = MetricsWindow()
    nodes = {"model": NodeLabels("/predict", "img", "1")}
    gateway, main, canary = GatewayMetrics("credit"), GraphMetrics("credit", "main", "", dict(nodes)), \
        GraphMetrics("credit", "canary", "", dict(nodes))
    processes = {"gateway": gateway, "main-0": main, "canary-0": canary}

    def scrape(at):
        for label, metrics in processes.items():
            window.ingest("credit", label, families(metrics), at)

    scrape(T0)
    for tick in range(1, 61):
        for i in range(4):
            who, g = ("canary", canary) if i == 0 else ("main", main)
            code = 500 if (tick % 5 == 0 and i == 1) else 200
            g.observe_request("predictions", code, 0.003)
            if code == 200:
                g.observe_node("model", 200, 0.002)
            gateway.answered(who, "predictions", code, 0.004)
        scrape(T0 + tick)
    window.save(metrics_dir(home))
    return home, window


def test_figures_from_the_saved_window(saved_home):
    home, window = saved_home
    done = mlconsole(home, "metrics", "credit", "--window", "1m", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    expected = window.deployment_metrics("credit", 60)
    assert data["backend"] == "local" and data["window_seconds"] == 60 and data["at"] == T0 + 60
    assert data["overall"] == {"request_rate": pytest.approx(4.0), "error_rate": pytest.approx(12 / 240),
                               "latency_p50": expected.overall.latency_p50,
                               "latency_p95": expected.overall.latency_p95,
                               "latency_p99": expected.overall.latency_p99}
    assert [(p["name"], p["request_rate"]) for p in data["predictors"]] == [("canary", pytest.approx(1.0)),
                                                                            ("main", pytest.approx(3.0))]
    assert [(n["predictor"], n["name"]) for n in data["nodes"]] == [("canary", "model"), ("main", "model")]
    assert data["routing"] == {} and data["outlier_rate"] is None and data["custom"] == {}

    table = mlconsole(home, "metrics", "credit", "--window", "60")
    assert table.returncode == 0, table.stderr
    assert "supervisor not running: showing history up to" in table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("credit: last 60 from embedded")
    o = expected.overall  # all answers took 4 ms: interpolated inside the (2.5 ms, 5 ms] bucket
    assert lines[2].split() == ["deployment", "(all)", "4.00", "5.0%", "3.75",
                                f"{o.latency_p95 * 1000:.2f}", f"{o.latency_p99 * 1000:.2f}"]
    assert o.latency_p95 == pytest.approx(0.0025 + 0.0025 * 0.95)
    assert lines[3].split()[:4] == ["predictor", "canary", "1.00", "0.0%"]


def test_errors_and_usage(home):
    bad = mlconsole(home, "metrics", "credit", "--window", "soon")
    assert bad.returncode == 2 and "--window must be a duration" in bad.stderr
    missing = mlconsole(home, "metrics", "credit")
    assert missing.returncode == 1 and "no metrics recorded for deployment 'credit'" in missing.stderr
    down = mlconsole(home, "--metrics", f"http://127.0.0.1:{free_port()}", "metrics", "credit")
    assert down.returncode == 1 and "unreachable" in down.stderr
