"""The embedded metrics for real: the supervisor scrapes its processes, serves the figures over its
API, saves the window, and LocalMetrics reads the saved history while no supervisor runs."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from backends.local.cluster import LocalCluster
from backends.local.metrics import LocalMetrics
from backends.local.metrics_window import metrics_dir
from backends.local.state import TOKEN_HEADER, read_state, read_token, supervisor_running
from backends.local.supervisor_client import ensure_supervisor, stop_supervisor
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.errors import ConsoleError, InvalidSpec, NotFound
from console.types import HealthState
from tests.local_runtime import REQUEST, ROOT, manifest, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(120)
BAD_REQUEST = {"data": {"names": ["a", "b"], "ndarray": "not a matrix"}}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("local-metrics") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


def deploy(home, name: str) -> str:
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(manifest(name), [str(ROOT)])
    wait_for(lambda: cluster.get_deployment(name).summary.phase == "Available", what=f"{name} Available")
    return cluster.get_deployment(name).summary.url


def send(url: str, ok: int, bad: int) -> None:
    with httpx.Client(timeout=5.0) as client:
        for body in [REQUEST] * ok + [BAD_REQUEST] * bad:
            client.post(f"{url}/api/v1.0/predictions", json=body)


def api(home, path: str) -> httpx.Response:
    port = read_state(home)["supervisor"]["port"]
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={TOKEN_HEADER: read_token(home)}, timeout=5.0)


def test_an_empty_home(tmp_path):
    metrics = LocalMetrics(tmp_path)
    health = metrics.health()
    assert health.state == HealthState.UP and health.reason == "nothing deployed yet"
    with pytest.raises(NotFound, match="no metrics recorded for deployment 'x'"):
        metrics.deployment_metrics("x")
    with pytest.raises(ConsoleError, match=r"PromQL needs a Prometheus backend \(--metrics URL\)"):
        metrics.query("up")
    with pytest.raises(InvalidSpec, match="unknown metric"):
        metrics.series("x", "latency_p42")


def test_live_figures_then_history_across_a_supervisor_restart(home):
    url = deploy(home, "solo")
    metrics = LocalMetrics(home)
    assert metrics.health().state == HealthState.UP
    send(url, ok=36, bad=4)
    # the gateway's answers reach the window within a scrape or two
    live = wait_for(lambda: (m := metrics.deployment_metrics("solo", 60)).overall.request_rate and
                    m.custom.get("risk_model_requests_total") == 36 and m, what="the requests in the window")
    assert live.overall.error_rate == pytest.approx(0.1, abs=0.02)
    assert live.overall.latency_p50 is not None and live.overall.latency_p99 >= live.overall.latency_p50
    assert [p.name for p in live.predictors] == ["main"] and live.predictors[0].error_rate == pytest.approx(0.1, abs=0.02)
    assert [(n.predictor, n.name) for n in live.nodes] == [("main", "model")]
    assert live.nodes[0].error_rate == 0.0  # malformed requests fail before the model runs
    (overall,) = metrics.series("solo", "request_rate", 60, 5, None)
    assert overall.label == "all" and overall.points and max(v for _, v in overall.points) > 0
    assert [s.label for s in metrics.series("solo", "latency_p95", 60, 5, "node")] == ["main/model"]
    # the API's own answers: its errors are typed, its stats say what scraping costs
    assert api(home, "/v1/metrics/solo/series?metric=nope").status_code == 422
    assert api(home, "/v1/metrics/absent").status_code == 404
    stats = api(home, "/v1/metrics").json()
    print(f"\nscraper: {stats['rounds']} rounds of {stats['targets']} targets, {stats['cpu_ms_per_round']} ms CPU "
          f"a round, last round {stats['last_round_ms']} ms, window {stats['window_bytes']} bytes")
    assert stats["targets"] == 2 and stats["failures"] <= 2 and stats["window_bytes"] > 0

    # The supervisor stops alone (SIGTERM): its processes keep serving, its window is saved.
    pid = read_state(home)["supervisor"]["pid"]
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not supervisor_running(home), what="the supervisor to stop")
    assert (metrics_dir(home) / "solo.window").exists()
    health = metrics.health()
    assert health.state == HealthState.DEGRADED
    assert health.reason.startswith("supervisor not running: showing history up to ") and health.reason.endswith("UTC")
    saved = metrics.deployment_metrics("solo", 3600)
    # "now" is the last scrape: the window edges hold samples, so the figures are exact counts
    assert saved.overall.request_rate * 3600 == pytest.approx(40)
    assert saved.overall.error_rate == pytest.approx(4 / 40)
    assert saved.at < time.time()

    send(url, ok=20, bad=0)  # served while nobody scrapes
    ensure_supervisor(home)
    # the new supervisor loaded the history and adopted the processes: the gap's requests count once
    wait_for(lambda: (m := metrics.deployment_metrics("solo", 3600)).custom.get("risk_model_requests_total") == 56
             and m, what="the adopted processes scraped")
    stop_supervisor(home)  # `local down`: processes stopped, window saved
    final = metrics.deployment_metrics("solo", 3600)
    assert final.overall.request_rate * 3600 == pytest.approx(60)
    assert final.overall.error_rate == pytest.approx(4 / 60)
    assert final.predictors[0].request_rate * 3600 == pytest.approx(60)
    assert final.custom["risk_model_requests_total"] == 56


def test_a_deleted_deployment_takes_its_history_along(home):
    url = deploy(home, "brief")
    metrics = LocalMetrics(home)
    send(url, ok=3, bad=0)
    wait_for(lambda: metrics.deployment_metrics("brief", 60).overall.request_rate, what="brief scraped")
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).delete("brief")
    with pytest.raises(NotFound):
        metrics.deployment_metrics("brief")
    assert not (metrics_dir(home) / "brief.window").exists()
