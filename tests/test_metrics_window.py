"""The embedded metrics window on deterministic scrapes: the serving processes' own metric classes
render the text format, prometheus_client parses it, the window ingests it at chosen times."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backends.local import metrics_window as mw
from backends.local.metrics_window import (
    DeploymentWindow,
    MetricsWindow,
    bucket_quantile,
    extrapolated_increase,
    metrics_from_dict,
    metrics_to_dict,
)
from backends.local.serving.metrics import (
    LATENCY_BUCKETS,
    GatewayMetrics,
    GraphMetrics,
    NodeLabels,
    exposition,
)
from console.errors import InvalidSpec, NotFound

T0 = 1_800_000_000.0
BOUNDS = [*LATENCY_BUCKETS, math.inf]


def families(metrics) -> list:
    return list(text_string_to_metric_families(exposition(metrics.registry)[0].decode()))


def graph(predictor: str = "main", nodes: dict[str, NodeLabels] | None = None) -> GraphMetrics:
    return GraphMetrics("d", predictor, "", nodes or {"model": NodeLabels("/predict", "img", "1")})


def scrape(window: MetricsWindow, at: float, processes: dict) -> None:
    for label, metrics in processes.items():
        window.ingest("d", label, families(metrics), at)


def expected_quantile(q: float, observations: list[float]) -> float:
    """Prometheus' interpolation, done with numpy: the cumulative bucket counts against the bounds."""
    counts = np.array([np.sum(np.asarray(observations) <= b) for b in BOUNDS[:-1]], dtype=float)
    xs, ys = [0.0], [0.0]
    for count, bound in zip(counts, BOUNDS[:-1], strict=True):
        if count > xs[-1]:  # a flat stretch (empty bucket) keeps its lowest bound, as Prometheus' search does
            xs.append(count)
            ys.append(bound)
    return float(np.interp(q * len(observations), xs, ys))


def test_rates_errors_and_quantiles_of_a_steady_stream():
    window = MetricsWindow()
    gateway, main = GatewayMetrics("d"), graph()
    scrape(window, T0, {"gateway": gateway, "main-0": main})
    rng = random.Random(7)
    observed = []
    for tick in range(1, 121):
        for i in range(10):
            seconds = rng.lognormvariate(math.log(0.004), 0.6)
            code = 400 if i == 0 else 200
            gateway.answered("main", "predictions", code, seconds)
            main.observe_request("predictions", code, seconds)
            if tick > 60:
                observed.append(seconds)
        scrape(window, T0 + tick, {"gateway": gateway, "main-0": main})
    m = window.deployment_metrics("d", 60)
    assert m.at == T0 + 120 and m.window_seconds == 60
    # Samples sit on the range's edges: no extrapolation, the figures are exact.
    assert m.overall.request_rate == pytest.approx(10.0)
    assert m.overall.error_rate == pytest.approx(0.1)
    for metric, q in (("latency_p50", 0.5), ("latency_p95", 0.95), ("latency_p99", 0.99)):
        assert m.overall.value(metric) == pytest.approx(expected_quantile(q, observed), rel=1e-9), metric
        # and it lands in the bucket holding numpy's own quantile of the raw data
        raw = float(np.quantile(observed, q))
        upper = next(b for b in BOUNDS if raw <= b)
        lower = max([0.0, *[b for b in BOUNDS if b < upper]])
        assert lower <= m.overall.value(metric) <= upper
    (main_figures,) = m.predictors
    assert main_figures.name == "main" and main_figures.request_rate == pytest.approx(10.0)
    assert main_figures.latency_p99 == pytest.approx(m.overall.latency_p99)


def test_bucket_quantile_edges_follow_prometheus():
    buckets = [(0.1, 0.0), (0.5, 10.0), (1.0, 10.0), (math.inf, 20.0)]
    assert bucket_quantile(0.25, buckets) == pytest.approx(0.3)  # halfway through (0.1, 0.5]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.5)  # the first bucket reaching the rank
    assert bucket_quantile(0.99, buckets) == 1.0  # in the +Inf bucket: the highest finite bound
    assert bucket_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None  # no observations: NaN
    assert bucket_quantile(0.5, [(0.1, 3.0), (0.5, 5.0)]) is None  # no +Inf bucket
    # rates of separate buckets can dip a little: made monotonic first
    assert bucket_quantile(0.5, [(0.1, 4.0), (0.2, 3.9), (math.inf, 8.0)]) == pytest.approx(0.1)


def test_extrapolation_matches_prometheus():
    # samples every second from t=1 to t=9 inside [0, 10]: extended by a full interval at each end
    assert extrapolated_increase(1.0, 10.0, 9.0, 90.0, 9, 0.0, 10.0) == pytest.approx(100.0)
    # far from the edges: only half an interval each side
    assert extrapolated_increase(3.0, 30.0, 7.0, 70.0, 5, 0.0, 10.0) == pytest.approx(50.0)
    # a counter born in the range is not extrapolated back past zero
    assert extrapolated_increase(5.0, 2.0, 9.0, 10.0, 5, 0.0, 10.0) == pytest.approx(8 * (4 + 1 + 1) / 4)
    assert extrapolated_increase(5.0, 2.0, 5.0, 2.0, 1, 0.0, 10.0) is None


def test_a_counter_reset_counts_the_restarted_process_from_zero():
    window = MetricsWindow()
    gateway, main = GatewayMetrics("d"), graph()
    scrape(window, T0, {"gateway": gateway, "main-0": main})
    for tick in range(1, 11):
        for _ in range(10):
            main.observe_request("predictions", 200, 0.001)
        scrape(window, T0 + tick, {"gateway": gateway, "main-0": main})
    main = graph()  # the process restarted: its counters start at 0 again
    for tick in range(11, 21):
        for _ in range(3):
            main.observe_request("predictions", 200, 0.001)
        scrape(window, T0 + tick, {"gateway": gateway, "main-0": main})
    m = window.deployment_metrics("d", 20)
    assert m.predictors[0].request_rate * 20 == pytest.approx(100 + 30)
    series = window.series("d", "request_rate", 20, 5, "predictor")
    assert [v for _, v in series[0].points] == pytest.approx([10.0, 10.0, 3.0, 3.0])
    assert all(v >= 0 for _, v in series[0].points)


def test_new_processes_give_a_baseline_and_new_series_count_in_full():
    window = MetricsWindow()
    gateway, main0, main1 = GatewayMetrics("d"), graph(), graph()
    for _ in range(500):
        main1.observe_request("predictions", 200, 0.001)  # served before it was first scraped
    scrape(window, T0, {"gateway": gateway, "main-0": main0})
    for tick in range(1, 11):
        main0.observe_request("predictions", 200, 0.001)
        main1.observe_request("predictions", 200, 0.001)
        if tick == 5:
            main0.observe_request("predictions", 500, 0.001)  # a series born between two scrapes
        processes = {"gateway": gateway, "main-0": main0}
        if tick >= 3:
            processes["main-1"] = main1  # a replica scaled up: its first scrape is its baseline
        scrape(window, T0 + tick, processes)
    m = window.deployment_metrics("d", 10)
    # main-0: 10 + 1 error; main-1: its increments after its first scrape (ticks 4..10)
    assert m.predictors[0].request_rate * 10 == pytest.approx(11 + 7)
    assert m.predictors[0].error_rate == pytest.approx(1 / 18)
    assert m.overall.request_rate is None  # the gateway answered nothing: no series, no figure


def test_a_process_that_just_started_counts_all_it_counted_and_a_new_incarnation_counts_from_zero():
    window = MetricsWindow()
    gateway = GatewayMetrics("d")
    for _ in range(40):
        gateway.answered("main", "predictions", 200, 0.001)  # served before the first scrape
    window.ingest("d", "gateway", families(gateway), T0 + 2, started_at=T0)
    assert len(window.deployments["d"]) == 2  # a zero tick at its start, then the scrape
    for tick in range(3, 6):
        window.ingest("d", "gateway", families(gateway), T0 + tick, started_at=T0)
    assert window.deployment_metrics("d", 5).overall.request_rate * 5 == pytest.approx(40)
    # the same label, another incarnation: its counters restarted even where they are not lower
    gateway = GatewayMetrics("d")
    for _ in range(40):
        gateway.answered("main", "predictions", 200, 0.001)
    window.ingest("d", "gateway", families(gateway), T0 + 7, started_at=T0 + 6)
    assert window.deployment_metrics("d", 7).overall.request_rate * 7 == pytest.approx(80)
    # a process that has run for long when first seen (adopted without history) gives its baseline
    window.ingest("d", "main-0", families(graph_with(500)), T0 + 8, started_at=T0 - 3600)
    window.ingest("d", "main-0", families(graph_with(505)), T0 + 9, started_at=T0 - 3600)
    assert window.deployment_metrics("d", 9).predictors[0].request_rate * 9 == pytest.approx(5, rel=0.15)


def graph_with(requests: int) -> GraphMetrics:
    g = graph()
    for _ in range(requests):
        g.observe_request("predictions", 200, 0.001)
    return g


def test_replicas_add_up_per_predictor_and_shadow_traffic_stays_out_of_the_overall():
    window = MetricsWindow()
    gateway = GatewayMetrics("d")
    procs = {"gateway": gateway, "main-0": graph("main"), "main-1": graph("main"), "shadow-0": graph("shadow")}
    scrape(window, T0, procs)
    for tick in range(1, 31):
        for i in range(8):
            replica = procs[f"main-{i % 2}"]
            replica.observe_request("predictions", 200, 0.002)
            replica.observe_node("model", 200, 0.001)
            gateway.answered("main", "predictions", 200, 0.003)
            procs["shadow-0"].observe_request("predictions", 200, 0.02)  # mirrored, not answered
        scrape(window, T0 + tick, procs)
    m = window.deployment_metrics("d", 30)
    assert m.overall.request_rate == pytest.approx(8.0)
    by_name = {p.name: p for p in m.predictors}
    assert by_name["main"].request_rate == pytest.approx(8.0) and by_name["shadow"].request_rate == pytest.approx(8.0)
    assert by_name["shadow"].latency_p50 > by_name["main"].latency_p50
    (node,) = m.nodes
    assert (node.predictor, node.name, node.request_rate) == ("main", "model", pytest.approx(8.0))
    # a replica that goes away keeps what it counted; the predictor's figures do not drop
    del procs["main-1"]
    for tick in range(31, 41):
        for _ in range(4):
            procs["main-0"].observe_request("predictions", 200, 0.002)
        scrape(window, T0 + tick, procs)
    assert window.deployment_metrics("d", 10).predictors[0].request_rate == pytest.approx(4.0)


def test_nodes_routing_outliers_and_custom_metrics():
    nodes = {"router": NodeLabels("/route", "tests.Router", ""), "a": NodeLabels("/predict", "img", "1"),
             "b": NodeLabels("/predict", "img", "2"),
             "detector": NodeLabels("/transform-input", mw.OUTLIER_IMAGE, "")}
    window = MetricsWindow()
    replicas = {"gateway": GatewayMetrics("d"), "main-0": graph("main", dict(nodes)),
                "main-1": graph("main", dict(nodes))}
    scrape(window, T0, replicas)
    for tick in range(1, 21):
        for i in range(10):
            g = replicas[f"main-{i % 2}"]
            child = 0 if i < 7 else 1
            g.observe_node("detector", 200, 0.0002)
            g.observe_node("router", 200, 0.0001)
            g.observe_node("a" if child == 0 else "b", 200, 0.001 if child == 0 else 0.01)
            meta = {"routing": {"router": child}, "requestPath": {"detector": "x", "router": "y"},
                    "tags": {"outlier": [i == 3]},
                    "metrics": [{"type": "COUNTER", "key": "rows_scored", "value": 1},
                                {"type": "GAUGE", "key": "queue", "value": 2},
                                {"type": "TIMER", "key": "lookup_ms", "value": 3}]}
            g.observe_meta(meta, ("detector",))
        scrape(window, T0 + tick, replicas)
    m = window.deployment_metrics("d", 20)
    by_node = {n.name: n for n in m.nodes}
    assert set(by_node) == {"router", "a", "b", "detector"}
    assert by_node["a"].request_rate == pytest.approx(7.0) and by_node["b"].request_rate == pytest.approx(3.0)
    assert by_node["a"].latency_p50 < 0.001 < 0.005 < by_node["b"].latency_p50 <= 0.01
    assert m.routing == {"router": {"0": pytest.approx(0.7), "1": pytest.approx(0.3)}}
    assert m.outlier_rate == pytest.approx(0.1)
    # latest values, summed over the replicas (buckets left out, count and sum kept)
    assert m.custom == {"rows_scored_total": 200.0, "queue": 4.0, "lookup_ms_count": 200.0,
                        "lookup_ms_sum": pytest.approx(0.6)}


def test_the_window_is_bounded():
    window = DeploymentWindow("d", capacity=50)
    main = graph()
    for tick in range(200):
        main.observe_request("predictions", 200, 0.001)
        window.ingest("main-0", families(main), T0 + tick)
    assert len(window) == 50
    assert window.times[window.start] == T0 + 150 and window.last_at == T0 + 199
    assert window.nbytes() == 8 * 50 * (len(window.columns) + 1)
    assert window.metrics(30).predictors[0].request_rate == pytest.approx(1.0)
    assert window.metrics(3600).predictors[0].request_rate == pytest.approx(49 / 3600, rel=0.05)


def test_columns_are_capped(monkeypatch):
    monkeypatch.setattr(mw, "MAX_COLUMNS", 40)
    window = DeploymentWindow("d", capacity=10)
    main = graph("main", {f"n{i}": NodeLabels("/predict", "img", "") for i in range(10)})
    for tick in range(3):
        for i in range(10):
            main.observe_node(f"n{i}", 200, 0.001)
        window.ingest("main-0", families(main), T0 + tick)
    assert len(window.columns) == 40 and window.dropped_columns > 0


def test_save_and_load_round_trip(tmp_path):
    window = MetricsWindow()
    gateway, main = GatewayMetrics("d"), graph()
    scrape(window, T0, {"gateway": gateway, "main-0": main})
    for tick in range(1, 61):
        code = 503 if tick % 10 == 0 else 200
        gateway.answered("main", "predictions", code, 0.002 * (1 + tick % 3))
        main.observe_request("predictions", code, 0.001 * (1 + tick % 3))
        main.observe_meta({"metrics": [{"type": "GAUGE", "key": "temperature", "value": tick}]}, ())
        scrape(window, T0 + tick, {"gateway": gateway, "main-0": main})
    before = window.deployment_metrics("d", 60)
    (path,) = window.save(tmp_path)
    assert path == tmp_path / "d.window" and not list(tmp_path.glob(".*.tmp"))
    loaded = MetricsWindow.load(tmp_path)
    assert loaded.deployment_metrics("d", 60) == before
    assert loaded.series("d", "error_rate", 60, 10) == window.series("d", "error_rate", 60, 10)
    assert metrics_from_dict(metrics_to_dict(before)) == before
    # the processes kept running: after the load, only what they count from now on is added
    for _ in range(5):
        main.observe_request("predictions", 200, 0.001)
    loaded.ingest("d", "main-0", families(main), T0 + 61)
    assert loaded.deployments["d"].columns[("p", "main", "", "count")][loaded.deployments["d"]._newest()] == 65.0
    # a smaller window keeps the newest ticks
    small = DeploymentWindow.load(path, capacity=10)
    assert len(small) == 10 and small.last_at == T0 + 60
    assert small.metrics(9) == window.deployments["d"].metrics(9)


def test_damaged_or_missing_window_files(tmp_path):
    (tmp_path / "bad.window").write_bytes(b"not a window")
    with pytest.raises(InvalidSpec, match="not an mlconsole metrics window"):
        DeploymentWindow.load(tmp_path / "bad.window")
    with pytest.raises(NotFound):
        DeploymentWindow.load(tmp_path / "missing.window")
    assert MetricsWindow.load(tmp_path).deployments == {}
    with pytest.raises(NotFound, match="no metrics for deployment 'x'"):
        MetricsWindow().deployment_metrics("x")


def test_series_lines_by_predictor_node_and_overall():
    window = MetricsWindow()
    gateway, main, canary = GatewayMetrics("d"), graph("main"), graph("canary")
    scrape(window, T0, {"gateway": gateway, "main-0": main, "canary-0": canary})
    for tick in range(1, 61):
        for i in range(10):
            who, g = ("canary", canary) if i < 2 else ("main", main)
            g.observe_request("predictions", 200, 0.001)
            g.observe_node("model", 200, 0.0005)
            gateway.answered(who, "predictions", 200, 0.002)
        scrape(window, T0 + tick, {"gateway": gateway, "main-0": main, "canary-0": canary})
    by_predictor = window.series("d", "request_rate", 60, 10, "predictor")
    assert [s.label for s in by_predictor] == ["canary", "main"]
    assert [t for t, _ in by_predictor[1].points] == [T0 + 10 * k for k in range(7)][1:]  # T0 itself: too early
    assert [v for _, v in by_predictor[0].points] == pytest.approx([2.0] * 6)
    assert [s.label for s in window.series("d", "latency_p99", 60, 10, "node")] == ["canary/model", "main/model"]
    (overall,) = window.series("d", "request_rate", 60, 10, None)
    assert overall.label == "all" and [v for _, v in overall.points] == pytest.approx([10.0] * 6)
    assert window.series("d", "error_rate", 60, 10, None)[0].points[-1][1] == 0.0


@pytest.mark.parametrize(("args", "message"), [
    (("nope", 60, 5, None), "unknown metric"),
    (("request_rate", 0, 5, None), "window must be more than 0"),
    (("request_rate", 60, 0, None), "step must be more than 0"),
    (("request_rate", 86400, 1, None), "more than 11000 points"),
    (("request_rate", 60, 5, "pod"), "by must be"),
])
def test_bad_series_arguments(args, message):
    window = MetricsWindow()
    window.ingest("d", "main-0", families(graph()), T0)
    with pytest.raises(InvalidSpec, match=message):
        window.series("d", *args)


def test_the_remembering_parser_reads_what_prometheus_client_reads():
    from backends.local.scraper import ExpositionParser

    g = graph("main", {"model": NodeLabels("/predict", 'img "quoted"\\', "1")})
    parser = ExpositionParser()
    for round_ in range(3):
        g.observe_request("predictions", 200 if round_ else 500, 0.001 * (round_ + 1))
        g.observe_node("model", 200, 0.002)
        g.observe_meta({"metrics": [{"type": "GAUGE", "key": "weird key", "value": float("nan")},
                                    {"type": "COUNTER", "key": "k", "value": 1e9}]}, ())
        text = exposition(g.registry)[0].decode()
        expected = sorted((s.name, sorted(s.labels.items()), s.value) for f in families(g) for s in f.samples)
        got = sorted((s.name, sorted(s.labels.items()), s.value) for f in parser.parse(text) for s in f.samples)
        assert [(n, labels) for n, labels, _ in got] == [(n, labels) for n, labels, _ in expected]
        assert all(a == b or (math.isnan(a) and math.isnan(b)) for (*_, a), (*_, b) in zip(got, expected, strict=True))
    with pytest.raises(ValueError):
        parser.parse('broken{le="0.1" 3\n')
