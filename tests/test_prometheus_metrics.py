"""Both metrics backends against the same real traffic: a real Prometheus scrapes the local runtime
(through the target list the supervisor writes), the supervisor keeps its own window, and
`mlconsole traffic` drives a two-predictor deployment. Their figures must match the generated
traffic and each other. Timings and agreement figures are printed (-s), never asserted."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import pytest

from backends.local.cluster import LocalCluster
from backends.local.metrics import LocalMetrics
from backends.local.metrics_window import metrics_dir
from backends.local.scraper import TARGETS_FILE
from backends.prometheus.metrics import PASSWORD_ENV, USER_ENV, PrometheusMetrics
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.errors import BackendUnavailable, Forbidden, InvalidSpec, NotFound
from console.types import HealthState
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, manifest, mlconsole, stop_runtime, wait_for
from tests.prometheus_server import BASIC_PASSWORD, BASIC_USER, start_prometheus
from tests.servers import free_port

pytestmark = pytest.mark.timeout(150)
RATE, DURATION, ERROR_RATE = 40, 20, 0.1
GATEWAY_COUNT = 'sum(seldon_api_executor_server_requests_seconds_count{deployment_name="duo", mlconsole_process="gateway"})'


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, prometheus):
    """A two-predictor deployment served locally and scraped by the session's Prometheus."""
    home = tmp_path_factory.mktemp("prometheus-metrics") / "home"
    home.mkdir()
    try:
        cluster = LocalCluster(home)
        ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(
            manifest("duo", [("main", 70), ("canary", 30)]), [str(ROOT)])
        wait_for(lambda: cluster.get_deployment("duo").summary.phase == "Available", what="duo Available")
        targets = metrics_dir(home) / TARGETS_FILE
        wait_for(lambda: targets.exists() and len(json.loads(targets.read_text())) == 3, what="3 scrape targets")
        prometheus.scrape("duo", targets)
        started = time.monotonic()
        prometheus.wait_for_query('up{mlconsole_deployment="duo"} == 1', lambda r: len(r) == 3)
        print(f"\nPrometheus scraping the 3 processes after {time.monotonic() - started:.1f}s")
        yield home
    finally:
        stop_runtime(home)


@pytest.fixture(scope="module")
def traffic(runtime, prometheus, tmp_path_factory):
    """`mlconsole traffic` for 20 s; both backends' figures over 8 s taken in the middle of it."""
    rows = tmp_path_factory.mktemp("rows") / "rows.csv"
    rows.write_text("a,b\n" + "".join(f"{i / 10:.1f},{(i % 7) / 3:.3f}\n" for i in range(50)))
    local, prom = LocalMetrics(runtime), PrometheusMetrics(prometheus.url, min_series_range=5)
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(runtime), "traffic", "duo",
                             "--rate", str(RATE), "--duration", str(DURATION), "--error-rate", str(ERROR_RATE),
                             "--seed", "11", "--from-dataset", str(rows), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=subprocess_env())
    try:
        wait_for(lambda: time.time() >= started + 14, timeout=30, every=0.05, what="the middle of the traffic")
        middle = (local.deployment_metrics("duo", 8), prom.deployment_metrics("duo", 8))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    answered = summary["ok"] + summary["4xx"] + summary["5xx"]
    # wait for data, not a fixed time: both have scraped the last answers
    prometheus.wait_for_query(GATEWAY_COUNT, lambda r: r and float(r[0]["value"][1]) == answered)
    # the graph servers are scraped apart from the gateway: wait for their last answers too
    prometheus.wait_for_query('sum(risk_model_requests_total{deployment_name="duo"})',
                              lambda r: r and float(r[0]["value"][1]) == summary["ok"])
    wait_for(lambda: local.deployment_metrics("duo", 60).custom.get("risk_model_requests_total") == summary["ok"],
             what="the supervisor's window to hold the last answers")
    return {"started": started, "summary": summary, "answered": answered, "middle": middle,
            "local": local, "prom": prom}


def close(a, b, rel, abs_=0.0) -> bool:
    return a is not None and b is not None and abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def test_rates_in_the_middle_of_the_traffic_match_the_generator(traffic):
    local, prom = traffic["middle"]
    print(f"\nmiddle, 8 s: local {local.overall.request_rate:.2f} req/s, Prometheus {prom.overall.request_rate:.2f}"
          f" req/s (generator {RATE})")
    for m in (local, prom):
        assert m.overall.request_rate == pytest.approx(RATE, rel=0.10)
        assert [p.name for p in m.predictors] == ["canary", "main"]
        assert sum(p.request_rate for p in m.predictors) == pytest.approx(m.overall.request_rate, rel=0.10)
    for a, b in zip(local.predictors, prom.predictors, strict=True):
        assert close(a.request_rate, b.request_rate, 0.15), (a, b)


def test_figures_over_the_whole_run_agree_with_the_generator_and_each_other(traffic):
    summary, answered = traffic["summary"], traffic["answered"]
    window = time.time() - traffic["started"] + 3
    local = traffic["local"].deployment_metrics("duo", window)
    prom = traffic["prom"].deployment_metrics("duo", window)
    expected_rate = answered / window
    expected_errors = (summary["4xx"] + summary["5xx"]) / answered
    print(f"\nwhole run over {window:.1f}s: sent {summary['sent']}, answered {answered}, "
          f"{summary['4xx'] + summary['5xx']} errors ({expected_errors:.3f})")
    for label, m in (("local", local), ("prometheus", prom)):
        o = m.overall
        print(f"  {label:10} rate {o.request_rate:.3f} (x{o.request_rate / expected_rate:.3f})  errors "
              f"{o.error_rate:.4f}  p50 {o.latency_p50 * 1000:.2f} ms  p95 {o.latency_p95 * 1000:.2f} ms  "
              f"p99 {o.latency_p99 * 1000:.2f} ms")
        assert o.request_rate == pytest.approx(expected_rate, rel=0.10)
        assert o.error_rate == pytest.approx(expected_errors, abs=0.02)
        assert m.custom["risk_model_requests_total"] == summary["ok"]
        assert m.routing == {} and m.outlier_rate is None  # no router, no outlier detector in this graph
    # the two backends: same scopes, same figures within tolerance (the same histograms, summed and
    # extrapolated in a different order)
    assert [(n.predictor, n.name) for n in local.nodes] == [(n.predictor, n.name) for n in prom.nodes] == \
        [("canary", "model"), ("main", "model")]
    pairs = [(local.overall, prom.overall), *zip(local.predictors, prom.predictors, strict=True),
             *zip(local.nodes, prom.nodes, strict=True)]
    for a, b in pairs:
        assert (a.name, a.predictor) == (b.name, b.predictor)
        assert close(a.request_rate, b.request_rate, 0.10), (a, b)
        assert close(a.error_rate, b.error_rate, 0.0, abs_=0.02), (a, b)
        for q in ("latency_p50", "latency_p95", "latency_p99"):
            assert close(a.value(q), b.value(q), 0.25, abs_=0.0005), (q, a, b)
    assert local.custom == prom.custom


def test_chart_series_agree(traffic):
    window = time.time() - traffic["started"] + 3
    for backend in (traffic["local"], traffic["prom"]):
        (overall,) = backend.series("duo", "request_rate", window, 2, None)
        plateau = [v for _, v in overall.points if v > RATE / 2]
        assert len(plateau) >= 5 and statistics.median(plateau) == pytest.approx(RATE, rel=0.10), overall
        assert [s.label for s in backend.series("duo", "latency_p99", window, 2, "predictor")] == ["canary", "main"]
        assert [s.label for s in backend.series("duo", "error_rate", window, 2, "node")] == \
            ["canary/model", "main/model"]


def test_the_metrics_command_reads_either_backend(traffic, runtime, prometheus):
    window = f"{int(time.time() - traffic['started'] + 3)}s"
    shown = {}
    for backend, flags in (("local", []), ("prometheus", ["--metrics", prometheus.url])):
        done = mlconsole(runtime, *flags, "metrics", "duo", "--window", window, "--json")
        assert done.returncode == 0, done.stderr
        shown[backend] = data = json.loads(done.stdout)
        assert data["backend"] == backend and set(data["overall"]) == \
            {"request_rate", "error_rate", "latency_p50", "latency_p95", "latency_p99"}
        assert [p["name"] for p in data["predictors"]] == ["canary", "main"]
        assert [(n["predictor"], n["name"]) for n in data["nodes"]] == [("canary", "model"), ("main", "model")]
    assert close(shown["local"]["overall"]["request_rate"], shown["prometheus"]["overall"]["request_rate"], 0.10)
    table = mlconsole(runtime, "--metrics", prometheus.url, "metrics", "duo", "--window", window)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split()[:3] == ["SCOPE", "NAME", "REQ/S"]
    assert [line.split()[:2] for line in lines[2:7]] == [["deployment", "(all)"], ["predictor", "canary"],
                                                        ["predictor", "main"], ["node", "canary/model"],
                                                        ["node", "main/model"]]
    missing = mlconsole(runtime, "--metrics", prometheus.url, "metrics", "nothing-here")
    assert missing.returncode == 1 and "has no metrics for deployment 'nothing-here'" in missing.stderr


def test_prometheus_errors_reach_the_port_typed(prometheus):
    prom = PrometheusMetrics(prometheus.url)
    with pytest.raises(InvalidSpec, match="Prometheus refused the query: .*parse error"):
        prom.query("sum(rate(up[5x]))")
    result = prom.query('up{mlconsole_process="gateway"}')
    assert result and result[0]["metric"]["job"] == "mlconsole" and result[0]["value"] in (0.0, 1.0)
    with pytest.raises(NotFound, match="no metrics for deployment 'absent'"):
        prom.deployment_metrics("absent", 60)
    with pytest.raises(InvalidSpec, match="unknown metric"):
        prom.series("absent", "latency_p42")
    down = PrometheusMetrics(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="unreachable: ConnectError"):
        down.deployment_metrics("duo")
    assert down.health().state == HealthState.DOWN


def test_prometheus_behind_basic_auth(tmp_path, monkeypatch):
    server = start_prometheus(tmp_path / "auth", basic_auth=True)
    try:
        anonymous = PrometheusMetrics(server.url)
        with pytest.raises(Forbidden, match="HTTP 401") as refused:
            anonymous.query("up")
        assert USER_ENV in refused.value.hint
        assert anonymous.health().state == HealthState.DOWN and "HTTP 401" in anonymous.health().reason
        monkeypatch.setenv(USER_ENV, BASIC_USER)
        monkeypatch.setenv(PASSWORD_ENV, BASIC_PASSWORD)
        signed = PrometheusMetrics(server.url)
        assert signed.query("vector(1)")[0]["value"] == 1.0
        health = signed.health()
        assert health.state == HealthState.UP and BASIC_PASSWORD not in f"{health} {signed.endpoint}"
    finally:
        server.stop()
