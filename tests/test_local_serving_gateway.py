"""The gateway as a real process over real graph servers: weights, shadows, faults, reloads, the log."""

from __future__ import annotations

import collections
import signal
import socket
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.serving_helpers import (
    metric_value,
    post,
    start_gateway,
    start_graph_server,
    wait_for,
    write_manifest,
    write_routes,
)

ROWS = {"data": {"names": ["a", "b"], "ndarray": [[-1.0, 0.5]]}}
PREDICT = "/api/v1.0/predictions"
HEADER = "X-Mlconsole-Predictor"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_manifest(tmp_path_factory.mktemp("gateway-manifest"))


@pytest.fixture(scope="module")
def backends(manifest, tmp_path_factory):
    """Graph servers for main, canary and shadow (each predictor answers differently)."""
    workdir = tmp_path_factory.mktemp("gateway-backends")
    started = {name: start_graph_server(manifest, name, workdir) for name in ("main", "canary", "shadow")}
    try:
        for served in started.values():
            served.wait()
        yield started
    finally:
        for served in started.values():
            served.stop()


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=10) as c:
        yield c


@pytest.fixture
def gateway(tmp_path):
    """make(predictors, **routes options) -> a started gateway over a fresh routes file."""
    started = []

    def make(predictors, home: Path | None = None, **options):
        routes = tmp_path / f"routes{len(started)}.json"  # one per gateway: each reloads its own
        write_routes(routes, predictors, **options)
        served = start_gateway(routes, tmp_path / f"gw{len(started)}", home or tmp_path / "home",
                               name=f"gateway{len(started)}")
        started.append(served)
        served.routes = routes
        return served.wait()

    yield make
    for served in started:
        served.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def routed(client, url: str, n: int, **kwargs) -> collections.Counter:
    """How many of n predictions each predictor answered."""
    counts: collections.Counter = collections.Counter()
    for _ in range(n):
        response = post(client, url + PREDICT, ROWS, **kwargs)
        assert response.status_code == 200, response.text
        counts[response.headers[HEADER]] += 1
    return counts


def test_traffic_splits_by_weight(backends, client, gateway):
    gw = gateway([("main", 80, False, [backends["main"].url]), ("canary", 20, False, [backends["canary"].url])])
    counts = routed(client, gw.url, 1000)
    assert set(counts) == {"main", "canary"}
    assert 750 <= counts["main"] <= 850, counts  # 80% +- 5%: about 4 standard deviations


def test_replicas_of_a_predictor_take_turns(backends, client, gateway):
    # Two "replicas" that answer differently (they serve different graphs), so turns show.
    gw = gateway([("main", 100, False, [backends["main"].url, backends["canary"].url])])
    answers = [post(client, gw.url + PREDICT, ROWS).json()["data"]["ndarray"] for _ in range(6)]
    assert answers[0] != answers[1] and answers[0::2] == [answers[0]] * 3 and answers[1::2] == [answers[1]] * 3


def test_answers_pass_through_unchanged_and_v2_and_metadata_work(backends, client, gateway):
    gw = gateway([("canary", 100, False, [backends["canary"].url])])
    request = {**ROWS, "meta": {"puid": "same"}}
    via_gateway = post(client, gw.url + PREDICT, request)
    direct = post(client, backends["canary"].url + PREDICT, request)
    assert via_gateway.headers[HEADER] == "canary"
    assert via_gateway.json()["data"] == direct.json()["data"]
    assert via_gateway.json()["meta"]["puid"] == "same"
    infer = post(client, gw.url + "/v2/models/risk/infer",
                 {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [-1.0, 0.5]}]})
    assert infer.status_code == 200 and infer.headers[HEADER] == "canary"
    assert infer.json()["outputs"][0]["data"] == direct.json()["data"]["ndarray"][0]
    assert client.get(gw.url + "/v2/models/risk").json()["platform"] == "mlconsole"
    assert client.get(gw.url + "/v2/models/risk/ready").status_code == 200
    assert client.get(gw.url + "/v2/health/ready").status_code == 200
    bad = client.post(gw.url + PREDICT, content=b"{oops")
    assert bad.status_code == 400 and bad.json()["status"]["code"] == 400
    text = client.get(gw.url + "/metrics").text
    assert metric_value(text, "seldon_api_executor_server_requests_seconds_count", deployment_name="risk",
                        predictor_name="canary", service="predictions", method="post", code="200") == 1
    assert metric_value(text, "mlconsole_gateway_requests_total", predictor_name="canary", code="400") == 1
    assert metric_value(text, "seldon_api_executor_server_requests_seconds_count", service="infer") == 1


def test_shadow_gets_every_request_and_its_answer_is_never_returned(backends, client, gateway):
    shadow_metrics = backends["shadow"].url + "/metrics"

    def shadow_count() -> float:
        return metric_value(client.get(shadow_metrics).text, "seldon_api_executor_server_requests_seconds_count",
                            predictor_name="shadow", service="predictions")

    before = shadow_count()
    gw = gateway([("main", 100, False, [backends["main"].url]), ("shadow", 0, True, [backends["shadow"].url])])
    main_answer = post(client, backends["main"].url + PREDICT, ROWS).json()["data"]
    shadow_answer = post(client, backends["shadow"].url + PREDICT, ROWS).json()["data"]
    assert main_answer != shadow_answer
    for _ in range(30):
        response = post(client, gw.url + PREDICT, ROWS)
        assert response.headers[HEADER] == "main" and response.json()["data"] == main_answer
    assert wait_for(lambda: shadow_count() >= before + 1 + 30), "the shadow did not see every request"
    text = client.get(gw.url + "/metrics").text
    assert wait_for(lambda: metric_value(client.get(gw.url + "/metrics").text,
                                         "mlconsole_gateway_shadow_requests_total", predictor_name="shadow",
                                         code="200") == 30)
    assert metric_value(text, "mlconsole_gateway_requests_total", predictor_name="shadow") == 0


def test_a_shadow_with_a_mirror_percentage_sees_that_share(backends, client, gateway):
    gw = gateway([("main", 100, False, [backends["main"].url]), ("shadow", 0, True, [backends["shadow"].url], 25.0)])
    for _ in range(400):
        assert post(client, gw.url + PREDICT, ROWS).headers[HEADER] == "main"

    def mirrored() -> float:
        return metric_value(client.get(gw.url + "/metrics").text, "mlconsole_gateway_shadow_requests_total",
                            predictor_name="shadow")

    wait_for(lambda: mirrored() > 0)
    assert 60 <= mirrored() <= 140  # 25% of 400 = 100, binomial sd ~8.7


def test_a_killed_predictor_leaves_the_others_answering(manifest, client, gateway, tmp_path):
    a = start_graph_server(manifest, "main", tmp_path / "a")
    b = start_graph_server(manifest, "canary", tmp_path / "b")
    try:
        a.wait(), b.wait()
        gw = gateway([("main", 50, False, [a.url]), ("canary", 50, False, [b.url])])
        assert set(routed(client, gw.url, 40)) == {"main", "canary"}  # both have pooled connections now
        b.signal(signal.SIGKILL)
        b.process.wait(5)
        counts = routed(client, gw.url, 200)  # every one answered 200 (asserted inside)
        assert counts == {"main": 200}
        text = client.get(gw.url + "/metrics").text
        assert metric_value(text, "mlconsole_gateway_errors_total", predictor_name="canary") >= 1
        assert metric_value(text, "mlconsole_gateway_endpoint_up", predictor_name="canary") == 0
        assert "Traceback" not in gw.log_text()
    finally:
        a.stop(), b.stop()


def test_no_available_predictor_answers_503_in_each_protocols_shape(client, gateway):
    gw = gateway([("main", 100, False, [f"http://127.0.0.1:{free_port()}"])])
    v1 = post(client, gw.url + PREDICT, ROWS)
    assert v1.status_code == 503 and v1.json()["status"]["status"] == "FAILURE"
    v2 = post(client, gw.url + "/v2/models/risk/infer",
              {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]})
    assert v2.status_code == 503 and "no predictor" in v2.json()["error"]
    assert client.get(gw.url + "/v2/health/ready").status_code == 503
    assert client.get(gw.url + "/v2/health/live").status_code == 200


def test_sticky_sessions_stay_on_one_predictor(backends, client, gateway):
    gw = gateway([("main", 50, False, [backends["main"].url]), ("canary", 50, False, [backends["canary"].url])],
                 sticky_header="X-Mlconsole-Session")
    seen = set()
    for session in range(16):
        counts = routed(client, gw.url, 6, headers={"X-Mlconsole-Session": f"user-{session}"})
        assert len(counts) == 1, counts
        seen |= set(counts)
    assert seen == {"main", "canary"}


def test_feedback_goes_to_the_predictor_that_made_the_prediction(backends, client, gateway):
    gw = gateway([("main", 50, False, [backends["main"].url]), ("canary", 50, False, [backends["canary"].url])])
    for _ in range(12):
        prediction = post(client, gw.url + PREDICT, ROWS)
        feedback = post(client, gw.url + "/api/v1.0/feedback",
                        {"request": ROWS, "response": prediction.json(), "reward": 1.0})
        assert feedback.status_code == 200
        assert feedback.headers[HEADER] == prediction.headers[HEADER]


def test_routes_reload_on_sighup_and_when_the_file_changes(backends, client, gateway):
    main, canary = backends["main"].url, backends["canary"].url
    gw = gateway([("main", 100, False, [main]), ("canary", 0, False, [canary])])
    assert routed(client, gw.url, 10) == {"main": 10}
    write_routes(gw.routes, [("main", 0, False, [main]), ("canary", 100, False, [canary])])
    gw.signal(signal.SIGHUP)
    assert wait_for(lambda: post(client, gw.url + PREDICT, ROWS).headers[HEADER] == "canary", timeout=5)
    assert routed(client, gw.url, 10) == {"canary": 10}
    # No signal this time: the gateway notices the new mtime within about a second.
    write_routes(gw.routes, [("main", 100, False, [main])])
    assert wait_for(lambda: post(client, gw.url + PREDICT, ROWS).headers[HEADER] == "main", timeout=5)
    assert routed(client, gw.url, 10) == {"main": 10}
    # A predictor at 0% stays at 0%, even when the one with the traffic is down.
    write_routes(gw.routes, [("main", 100, False, [f"http://127.0.0.1:{free_port()}"]), ("canary", 0, False, [canary])])
    gw.signal(signal.SIGHUP)
    assert wait_for(lambda: post(client, gw.url + PREDICT, ROWS).status_code == 503, timeout=5)
    write_routes(gw.routes, [("main", 100, False, [main])])
    gw.signal(signal.SIGHUP)
    assert wait_for(lambda: post(client, gw.url + PREDICT, ROWS).status_code == 200, timeout=5)
    gw.routes.write_text("{broken")
    gw.signal(signal.SIGHUP)
    assert routed(client, gw.url, 5) == {"main": 5}  # a broken file keeps the routes in force
    assert "routes not reloaded" in wait_for(lambda: "routes not reloaded" in gw.log_text() and gw.log_text())


def test_request_log_is_parquet_and_flushed_on_sigterm(backends, client, gateway, tmp_path):
    home = tmp_path / "logged-home"
    gw = gateway([("main", 100, False, [backends["main"].url]), ("shadow", 0, True, [backends["shadow"].url])],
                 home=home)
    puids = [post(client, gw.url + PREDICT, ROWS).json()["meta"]["puid"] for _ in range(10)]
    own = post(client, gw.url + PREDICT, {**ROWS, "meta": {"puid": "client-id"}})
    assert own.status_code == 200
    assert wait_for(lambda: metric_value(client.get(gw.url + "/metrics").text,
                                         "mlconsole_gateway_shadow_requests_total", code="200") == 11)
    gw.signal(signal.SIGTERM)  # well before the 2 s flush: the rows must be written on the way out
    assert gw.process.wait(10) == 0
    files = sorted((home / "runtime" / "requests" / "risk").glob("requests-*.parquet"))
    assert files, gw.log_text()
    table = [row for f in files for row in pq.read_table(f).to_pylist()]
    schema = pq.read_schema(files[0])
    assert schema.names[:9] == ["id", "ts", "deployment", "predictor", "shadow", "code", "latency_ms",
                                "request", "response"]
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"
    primary = [r for r in table if not r["shadow"]]
    shadows = [r for r in table if r["shadow"]]
    assert len(primary) == 11 and len(shadows) == 11
    assert {r["id"] for r in primary} == {*puids, "client-id"} == {r["id"] for r in shadows}
    assert {r["predictor"] for r in primary} == {"main"} and {r["predictor"] for r in shadows} == {"shadow"}
    row = primary[0]
    assert row["deployment"] == "risk" and row["code"] == 200 and row["latency_ms"] > 0
    assert '"ndarray"' in row["request"] and row["response"].startswith('{"data"')
    by_id = {r["id"]: r for r in shadows}
    assert by_id[row["id"]]["response"] != row["response"]  # the shadow's own answer, kept apart


def test_an_unwritable_log_directory_does_not_stop_serving(backends, client, gateway, tmp_path):
    home = tmp_path / "home-with-a-file"
    (home / "runtime").mkdir(parents=True)
    (home / "runtime" / "requests").write_text("a file where the log directory should be")
    gw = gateway([("main", 100, False, [backends["main"].url])], home=home)
    assert routed(client, gw.url, 20) == {"main": 20}

    def dropped() -> float:
        return metric_value(client.get(gw.url + "/metrics").text, "mlconsole_request_log_dropped_total")

    assert wait_for(lambda: dropped() >= 20, timeout=8), gw.log_text()
    assert routed(client, gw.url, 5) == {"main": 5}
    assert "dropped" in gw.log_text() and "Traceback" not in gw.log_text()


def test_logging_switched_off_or_sampled_writes_accordingly(backends, client, gateway, tmp_path):
    off = gateway([("main", 100, False, [backends["main"].url])], home=tmp_path / "off", log=False)
    half = gateway([("main", 100, False, [backends["main"].url])], home=tmp_path / "half", log_sample_rate=0.5)
    routed(client, off.url, 10)
    routed(client, half.url, 200)
    for gw in (off, half):
        gw.signal(signal.SIGTERM)
        assert gw.process.wait(10) == 0
    assert not list((tmp_path / "off").rglob("*.parquet"))
    rows = sum(pq.read_metadata(f).num_rows for f in (tmp_path / "half").rglob("requests-*.parquet"))
    assert 60 <= rows <= 140, rows
