"""The graph server as a real process on 127.0.0.1: Seldon v1, Open Inference V2, errors, metrics.

The graphs are Seldon-style Python components from tests/components plus the built-in outlier
detector, so no registry is needed; answers are compared with the in-process GraphExecutor.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.serving_helpers import metric_value, post, start_graph_server, write_manifest


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_manifest(tmp_path_factory.mktemp("serving-manifest"))


@pytest.fixture(scope="module")
def servers(manifest, tmp_path_factory):
    """A graph server each for `main`, `canary` and `broken`, started together."""
    workdir = tmp_path_factory.mktemp("graph-servers")
    started = {name: start_graph_server(manifest, name, workdir) for name in ("main", "canary", "broken")}
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


ROWS = {"data": {"names": ["a", "b"], "ndarray": [[-1.0, 0.5], [0.2, 0.1]]}}


def in_process(manifest: Path, predictor: str, request: dict) -> dict:
    from console.graph.executor import GraphExecutor
    from console.graph.manifest_io import load_file

    return GraphExecutor(load_file(str(manifest)), predictor=predictor).predict(request)


# -- Seldon v1 -----------------------------------------------------------------------------------


def test_v1_prediction_answers_as_the_in_process_executor(servers, client, manifest):
    request = {**ROWS, "meta": {"puid": "req-42"}}
    response = post(client, servers["main"].url + "/api/v1.0/predictions", request)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    got = response.json()
    expected = in_process(manifest, "main", request)
    assert got["data"] == expected["data"]
    assert got["data"]["names"] == ["p_good", "p_bad"]
    for key in ("puid", "tags", "routing", "requestPath"):
        assert got["meta"][key] == expected["meta"][key], key
    assert [m["key"] for m in got["meta"]["metrics"]] == [m["key"] for m in expected["meta"]["metrics"]]
    assert got["meta"]["puid"] == "req-42"
    assert got["meta"]["routing"] == {"router": 0}  # first feature -1.0 < 0: the left child


def test_seldon_puid_header_names_a_request_that_brings_no_puid(servers, client):
    url = servers["canary"].url + "/api/v1.0/predictions"
    assert post(client, url, ROWS, headers={"Seldon-Puid": "from-header"}).json()["meta"]["puid"] == "from-header"
    own = {**ROWS, "meta": {"puid": "own"}}
    assert post(client, url, own, headers={"Seldon-Puid": "from-header"}).json()["meta"]["puid"] == "own"


def test_feedback_reaches_the_graph_and_is_counted(servers, client):
    url = servers["main"].url
    answer = post(client, url + "/api/v1.0/predictions", ROWS).json()
    feedback = {"request": ROWS, "response": answer, "reward": 0.75}
    response = post(client, url + "/api/v1.0/feedback", feedback)
    assert response.status_code == 200
    assert response.json()["meta"]["routing"] == {"router": 0}
    text = client.get(url + "/metrics").text
    # Seldon sends feedback to the models and routers on the rewarded path: router and left.
    assert metric_value(text, "seldon_api_model_feedback_total", model_name="left", method="feedback") >= 1
    assert metric_value(text, "seldon_api_model_feedback_reward_total", model_name="router") >= 0.75
    assert metric_value(text, "seldon_api_model_feedback_total", model_name="right") == 0


# -- Open Inference Protocol (V2) ----------------------------------------------------------------


def test_v2_infer_with_a_tritonclient_style_tensor(servers, client, manifest):
    # What tritonclient / mlserver's client send: one named FP32 tensor, row-major data.
    request = {"id": "v2-1", "inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP32",
                                         "data": [1.0, 2.0, 3.0, 4.0]}]}
    response = post(client, servers["canary"].url + "/v2/models/risk/infer", request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "risk" and body["id"] == "v2-1"
    (output,) = body["outputs"]
    assert output["name"] == "predict" and output["shape"] == [2, 2] and output["datatype"] == "FP64"
    expected = in_process(manifest, "canary", {"data": {"ndarray": [[1.0, 2.0], [3.0, 4.0]]}})
    np.testing.assert_allclose(np.reshape(output["data"], (2, 2)), expected["data"]["ndarray"])


def test_v2_infer_with_one_input_per_column(servers, client, manifest):
    # MLServer's pandas codec shape: one input per column, the names are the input names.
    request = {"inputs": [{"name": "a", "shape": [2, 1], "datatype": "FP64", "data": [[-1.0], [0.2]]},
                          {"name": "b", "shape": [2], "datatype": "FP64", "data": [0.5, 0.1]}],
               "parameters": {"content_type": "pd"}}
    response = post(client, servers["main"].url + "/v2/models/main/infer", request)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    expected = in_process(manifest, "main", ROWS)["data"]["ndarray"]
    assert list(outputs) == ["p_good", "p_bad"] and outputs["p_bad"]["shape"] == [2]
    np.testing.assert_allclose(outputs["p_bad"]["data"], [row[1] for row in expected])
    only = post(client, servers["main"].url + "/v2/models/risk/infer", {**request, "outputs": [{"name": "p_bad"}]})
    assert [o["name"] for o in only.json()["outputs"]] == ["p_bad"]


def test_metadata_and_health_endpoints(servers, client):
    url = servers["main"].url
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/risk/ready", "/v2/models/main/ready",
                 "/live", "/ready"):
        assert client.get(url + path).status_code == 200, path
    assert client.get(url + "/health/ping").text == "pong"
    metadata = client.get(url + "/v2/models/risk").json()
    assert metadata["name"] == "risk" and metadata["platform"] == "mlconsole"
    assert metadata["inputs"] == []  # Python components have no MLflow signature
    assert client.get(url + "/v2/models/main").json()["name"] == "risk"
    missing = client.get(url + "/v2/models/other/ready")
    assert missing.status_code == 404 and "other" in missing.json()["error"]
    assert client.get(url + "/v2").json()["name"] == "mlconsole"


# -- errors ---------------------------------------------------------------------------------------

BAD_V1 = [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "must be a JSON object"),
    (json.dumps({"data": {"names": ["a", "b"], "ndarray": [[1.0]]}}).encode(), "names has 2"),
    (json.dumps({"meta": {}}).encode(), "has no data"),
    (json.dumps({"data": {"names": ["x", "y"], "ndarray": [[1.0, 2.0]]}}).encode(), "lacks feature"),
]
BAD_V2 = [
    (b"{", "not valid JSON"),
    (json.dumps({"inputs": []}).encode(), "no inputs"),
    (json.dumps({"inputs": [{"name": "a", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}).encode(),
     "shape [3] needs 3"),
    (json.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "FP99", "data": [1]}]}).encode(), "FP99"),
    (json.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": ["x"]}]}).encode(),
     "not a number"),
    (json.dumps({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                            {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]}).encode(), "rows"),
]


@pytest.mark.parametrize("body, expected", BAD_V1)
def test_malformed_v1_payloads_get_400_in_seldons_error_shape(servers, client, body, expected):
    response = client.post(servers["main"].url + "/api/v1.0/predictions", content=body)
    assert response.status_code == 400
    status = response.json()["status"]
    assert status["code"] == 400 and status["status"] == "FAILURE" and expected in status["info"]


@pytest.mark.parametrize("body, expected", BAD_V2)
def test_malformed_v2_payloads_get_400_with_an_error(servers, client, body, expected):
    response = client.post(servers["main"].url + "/v2/models/risk/infer", content=body)
    assert response.status_code == 400
    assert expected in response.json()["error"]


def test_bad_requests_leave_the_server_up_and_log_one_line_each(servers, client):
    url = servers["main"].url
    for body, _ in BAD_V1:
        client.post(url + "/api/v1.0/predictions", content=body)
    assert post(client, url + "/api/v1.0/predictions", ROWS).status_code == 200
    assert servers["main"].process.poll() is None
    log = servers["main"].log_text()
    assert "Traceback" not in log
    assert "400 /api/v1.0/predictions: the request body is not valid JSON" in log


def test_a_failing_component_gets_500_naming_its_node(servers, client):
    url = servers["broken"].url
    v1 = post(client, url + "/api/v1.0/predictions", ROWS)
    assert v1.status_code == 500
    assert "fragile" in v1.json()["status"]["info"] and "model file is corrupt" in v1.json()["status"]["info"]
    v2 = post(client, url + "/v2/models/risk/infer",
              {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]})
    assert v2.status_code == 500 and "fragile" in v2.json()["error"]
    assert client.get(url + "/v2/health/live").status_code == 200
    assert "Traceback" not in servers["broken"].log_text()
    text = client.get(url + "/metrics").text
    assert metric_value(text, "seldon_api_executor_client_requests_seconds_count", model_name="fragile",
                        code="500") == 2


# -- metrics ---------------------------------------------------------------------------------------


def test_metrics_carry_seldons_names_and_labels_after_traffic(servers, client):
    url = servers["main"].url
    for _ in range(3):
        assert post(client, url + "/api/v1.0/predictions", ROWS).status_code == 200
    outlier = {"data": {"names": ["a", "b"], "ndarray": [[100.0, 0.0], [0.5, 0.5], [0.1, -50.0]]}}
    answer = post(client, url + "/api/v1.0/predictions", outlier).json()
    assert answer["meta"]["tags"]["outlier"] == [True, False, True]
    response = client.get(url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    server = dict(deployment_name="risk", predictor_name="main", predictor_version="v7", service="predictions",
                  method="post", code="200")
    assert metric_value(text, "seldon_api_executor_server_requests_seconds_count", **server) >= 4
    assert metric_value(text, "seldon_api_executor_server_requests_seconds_bucket", le="+Inf", **server) >= 4
    client_labels = dict(deployment_name="risk", predictor_name="main", model_name="left", service="/predict",
                         model_image="tests.components.risk_model:RiskModel", code="200")
    assert metric_value(text, "seldon_api_executor_client_requests_seconds_count", **client_labels) >= 3
    assert metric_value(text, "seldon_api_executor_client_requests_seconds_count", model_name="router",
                        service="/route") >= 4
    assert metric_value(text, "seldon_api_executor_routing_total", deployment_name="risk", predictor_name="main",
                        router="router", child="0") >= 3
    assert metric_value(text, "seldon_api_executor_routing_total", router="router", child="1") >= 1
    assert metric_value(text, "mlconsole_outlier_flags_total", deployment_name="risk", predictor_name="main",
                        node="outliers") >= 2
    # The components' own metrics (Seldon's custom metrics), under their keys.
    assert metric_value(text, "risk_model_requests_total", deployment_name="risk", predictor_name="main") >= 4
    assert metric_value(text, "risk_model_calls", predictor_name="main") >= 1
    assert "_created" not in text


SLOW_COMPONENT = '''
import time


class SlowModel:
    def predict(self, X, feature_names):
        time.sleep(0.6)
        return X
'''
SLOW_MANIFEST = """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: slow}
spec:
  predictors:
  - name: main
    graph: {name: slow, type: MODEL, implementation: slow_model.SlowModel}
"""


def test_a_slow_graph_leaves_health_checks_answering(tmp_path, client):
    # The component sits beside the manifest, as a user's would: the server imports it from there.
    (tmp_path / "slow_model.py").write_text(SLOW_COMPONENT)
    (tmp_path / "slow.yaml").write_text(SLOW_MANIFEST)
    served = start_graph_server(tmp_path / "slow.yaml", "main", tmp_path / "run", deployment="slow")
    try:
        served.wait()
        url = served.url + "/api/v1.0/predictions"
        assert post(client, url, ROWS).json()["data"]["ndarray"] == ROWS["data"]["ndarray"]
        # Slow calls now run in a worker thread: the event loop keeps answering meanwhile.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            pending = [pool.submit(post, client, url, ROWS) for _ in range(2)]
            time.sleep(0.1)
            start = time.monotonic()
            assert client.get(served.url + "/v2/health/ready").status_code == 200
            assert time.monotonic() - start < 0.4  # blocked, it would wait 0.5 s or more
            assert [f.result().status_code for f in pending] == [200, 200]
    finally:
        served.stop()
