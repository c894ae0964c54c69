"""The serving processes' parts on their own: routes file, V2 codec, weighted pick, metrics, request log."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from backends.local.serving.gateway import pick, sticky_fraction
from backends.local.serving.metrics import CustomMetrics, metric_name
from backends.local.serving.protocols import V2Request, seldon_to_v2, v2_to_seldon
from backends.local.serving.request_log import RequestLog
from backends.local.serving.routes import RoutePredictor, Routes, read_routes, write_routes
from console.errors import InvalidSpec
from tests.serving_helpers import metric_value

# -- routes file ----------------------------------------------------------------------------------


def test_routes_round_trip_through_the_file(tmp_path):
    routes = Routes("risk", [RoutePredictor("main", 90, False, ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]),
                             RoutePredictor("shadow", 0, True, ["http://127.0.0.1:9003"])],
                    sticky_header="X-Mlconsole-Session", log_sample_rate=0.5)
    path = tmp_path / "routes" / "risk.json"
    write_routes(path, routes)
    assert read_routes(path) == routes
    assert json.loads(path.read_text())["predictors"][0] == {
        "name": "main", "traffic": 90, "shadow": False, "endpoints": ["http://127.0.0.1:9001", "http://127.0.0.1:9002"],
        "mirror": 100.0}
    assert [p.name for p in tmp_path.joinpath("routes").iterdir()] == ["risk.json"]  # no temporary left behind


@pytest.mark.parametrize("change, message", [
    ({"predictors": [{"name": "a", "traffic": -1}]}, "traffic"),
    ({"predictors": [{"name": "a"}, {"name": "a"}]}, "twice"),
    ({"predictors": [{"name": "a", "endpoints": ["127.0.0.1:1"]}]}, "http:// URLs"),
    ({"log_sample_rate": 2}, "log_sample_rate"),
    ({"predictors": [{"name": "a", "shadow": True, "mirror": 120}]}, "mirror"),
    ({"deployment": ""}, "deployment"),
    ({"sticky_header": 5}, "sticky_header"),
])
def test_bad_routes_are_refused_naming_the_field(tmp_path, change, message):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"deployment": "risk", "predictors": [], **change}))
    with pytest.raises(InvalidSpec, match=message):
        read_routes(path)


def test_unreadable_routes_say_which_file(tmp_path):
    with pytest.raises(InvalidSpec, match="cannot read routes file"):
        read_routes(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidSpec, match="not valid JSON"):
        read_routes(tmp_path / "bad.json")


# -- weighted choice ------------------------------------------------------------------------------


class _P:
    def __init__(self, name: str, traffic: float) -> None:
        self.name, self.traffic = name, traffic


def test_pick_follows_the_weights_and_never_picks_a_zero_weight():
    a, b, c = _P("a", 75), _P("b", 0), _P("c", 25)
    picks = [pick([a, b, c], i / 1000).name for i in range(1000)]
    assert picks.count("a") == 750 and picks.count("c") == 250 and "b" not in picks
    assert pick([a, b, c], 0.999999).name == "c"
    zero = [_P("x", 0), _P("y", 0)]
    assert {pick(zero, f).name for f in (0.1, 0.9)} == {"x", "y"}  # all zero: equal shares
    assert pick([], 0.5) is None


def test_sticky_fraction_is_stable_and_spread():
    assert sticky_fraction("user-1") == sticky_fraction("user-1")
    fractions = [sticky_fraction(f"user-{i}") for i in range(2000)]
    assert 0.45 < sum(f < 0.5 for f in fractions) / 2000 < 0.55


# -- V2 codec ---------------------------------------------------------------------------------------


def test_v2_nested_data_and_mixed_columns_become_a_named_table():
    decoded = v2_to_seldon({"id": "r1", "inputs": [
        {"name": "age", "shape": [2, 1], "datatype": "INT64", "data": [[34], [51]]},
        {"name": "job", "shape": [2], "datatype": "BYTES", "data": ["salaried", "self"]},
        {"name": "ok", "shape": [2], "datatype": "BOOL", "data": [True, False]}]})
    assert decoded.columnar and decoded.id == "r1"
    assert decoded.message == {"data": {"names": ["age", "job", "ok"],
                                        "ndarray": [[34, "salaried", True], [51, "self", False]]},
                               "meta": {"puid": "r1"}}


def test_v2_images_become_a_seldon_tensor():
    decoded = v2_to_seldon({"inputs": [{"name": "img", "shape": [1, 2, 2], "datatype": "UINT8",
                                        "data": [[[1, 2], [3, 4]]]}]})
    assert decoded.message["data"]["tensor"] == {"shape": [1, 2, 2], "values": [1, 2, 3, 4]}


@pytest.mark.parametrize("inputs, message", [
    ([{"name": "x", "shape": [2, 2], "datatype": "INT32", "data": [1, 2, 3, 4.5]}], "not an integer"),
    ([{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}], "BOOL"),
    ([{"name": "x", "shape": [1, 2, 2], "datatype": "BYTES", "data": ["a"] * 4}], "numeric"),
    ([{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]},
      {"name": "y", "shape": [2], "datatype": "FP32", "data": [1, 2]}], "every input must be"),
    ([{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}], "non-negative"),
    ([{"shape": [1], "datatype": "FP32", "data": [1]}], "name"),
])
def test_v2_malformed_inputs_say_what_is_wrong(inputs, message):
    with pytest.raises(InvalidSpec, match=message):
        v2_to_seldon({"inputs": inputs})


def test_seldon_answers_become_v2_outputs():
    response = {"data": {"names": ["id", "p"], "ndarray": [["a", 0.25], ["b", 0.75]]}, "meta": {"puid": "p1"}}
    plain = seldon_to_v2(response, V2Request({}, False, None, None), "risk")
    assert plain["id"] == "p1" and plain["model_name"] == "risk"
    # One tensor has one datatype: a table of strings and numbers comes back a column each.
    assert [(o["name"], o["datatype"], o["data"]) for o in plain["outputs"]] == [
        ("id", "BYTES", ["a", "b"]), ("p", "FP64", [0.25, 0.75])]
    chosen = seldon_to_v2(response, V2Request({}, False, ["p"], "r9"), "risk")
    assert [o["name"] for o in chosen["outputs"]] == ["p"] and chosen["id"] == "r9"
    with pytest.raises(InvalidSpec, match="no output named 'q'"):
        seldon_to_v2(response, V2Request({}, False, ["q"], None), "risk")
    as_json = seldon_to_v2({"jsonData": {"k": 1}, "meta": {}}, V2Request({}, False, None, None), "risk")
    assert as_json["outputs"] == [{"name": "json", "shape": [1], "datatype": "BYTES", "data": ['{"k": 1}']}]


# -- metrics -----------------------------------------------------------------------------------------


def test_custom_metrics_are_exposed_as_seldon_does():
    registry = CollectorRegistry(auto_describe=False)
    custom = CustomMetrics({"deployment_name": "risk", "predictor_name": "main"})
    registry.register(custom)
    custom.update([{"type": "COUNTER", "key": "approved", "value": 2, "tags": {"segment": "retail"}},
                   {"type": "COUNTER", "key": "approved", "value": 1, "tags": {"segment": "retail"}},
                   {"type": "GAUGE", "key": "queue-depth", "value": 7},
                   {"type": "TIMER", "key": "lookup_ms", "value": 3.0},
                   {"type": "GAUGE", "key": "approved", "value": 1},  # a type clash: ignored
                   {"type": "COUNTER", "key": "bad", "value": "x"}])
    text = generate_latest(registry).decode()
    assert metric_value(text, "approved_total", segment="retail", deployment_name="risk") == 3
    assert metric_value(text, "queue_depth", predictor_name="main") == 7
    assert metric_value(text, "lookup_ms_bucket", le="0.005") == 1  # 3 ms, in seconds
    assert metric_value(text, "lookup_ms_count") == 1 and "bad" not in text
    assert metric_name("seldon_api_executor_server_requests_seconds") != "seldon_api_executor_server_requests_seconds"
    assert metric_name("9lives") == "_9lives"


# -- request log ---------------------------------------------------------------------------------------


def test_request_log_rotates_and_drops_a_batch_it_cannot_write(tmp_path):
    dropped = []
    directory = tmp_path / "requests" / "risk"
    log = RequestLog(directory, "risk", max_files=3, on_drop=dropped.append)
    for i in range(5):
        log.record(f"id-{i}", "main", False, 200, 1.5, b'{"data": {"ndarray": [[1]]}}', b'{"data": {}}',
                   "/api/v1.0/predictions")
        assert log.flush() == 1
    files = sorted(directory.glob("requests-*.parquet"))
    assert len(files) == 3
    assert [pq.read_table(f).column("id").to_pylist() for f in files] == [["id-2"], ["id-3"], ["id-4"]]
    log.record("x", "main", False, 200, 1.0, b'{"meta": {"puid": "own"}}', b"{}", "/p")
    blocked = RequestLog(tmp_path / "a-file" / "risk", "risk", on_drop=dropped.append)
    (tmp_path / "a-file").write_text("not a directory")
    blocked.record("y", "main", False, 200, 1.0, b"{}", b"{}", "/p")
    assert blocked.flush() == 0 and dropped == [1] and blocked.pending == 0
    assert log.flush() == 1
    newest = sorted(directory.glob("requests-*.parquet"))[-1]
    assert pq.read_table(newest).column("id").to_pylist() == ["own"]  # the request's own puid wins


def test_traffic_summary_line_counts_splits_and_quantiles():
    from backends.local.serving.traffic_summary import TrafficSummary

    summary = TrafficSummary(interval=10.0)
    assert summary.line() is None
    for i in range(100):
        summary.record("main" if i < 80 else "canary", 200 if i % 10 else 500, (i + 1) / 1000)
    line = summary.line()
    assert line.startswith("traffic: 100 requests in 10s (10.0/s); main 80 canary 20; 2xx 90 5xx 10;")
    assert "p50 51.0 ms p99 100.0 ms" in line
    assert summary.line() is None  # a new interval starts empty
