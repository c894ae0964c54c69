"""Seldon v1 payloads: encodings kept, malformed input refused with a clear InvalidSpec, never a crash."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.errors import ConsoleError, InvalidSpec
from console.graph.executor import GraphExecutor
from console.graph.models import StaticModelSource
from console.graph.payload import parse_feedback, parse_message
from console.graph.spec import deployment_from_dict

PIPELINE = """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: payloads}
spec:
  predictors:
  - name: p
    graph:
      name: out
      type: OUTPUT_TRANSFORMER
      implementation: MLCONSOLE_FEATURE_TRANSFORMER
      parameters: [{name: rename, type: JSON, value: '{"t:0": "total"}'}]
      children:
      - name: sum
        type: MODEL
        modelUri: models:/sum/1
"""


def summing(x):
    return np.asarray(x, dtype=float).reshape(len(x), -1).sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def executor() -> GraphExecutor:
    return GraphExecutor(deployment_from_dict(yaml.safe_load(PIPELINE)), StaticModelSource({"models:/sum/1": summing}))


# -- encodings --------------------------------------------------------------------------------


def test_ndarray_in_ndarray_out(executor):
    out = executor.predict({"data": {"names": ["a", "b"], "ndarray": [[1, 2], [3, 4]]}})
    assert out["data"] == {"names": ["total"], "ndarray": [[3.0], [7.0]]}


def test_tensor_in_tensor_out(executor):
    out = executor.predict({"data": {"names": ["a", "b"], "tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}})
    assert out["data"] == {"names": ["total"], "tensor": {"shape": [2, 1], "values": [3.0, 7.0]}}


def test_json_data_in_numeric_tensor_out_as_seldon_does():
    ex = GraphExecutor(deployment_from_dict(yaml.safe_load(PIPELINE)).predictors[0].graph.children[0],
                       StaticModelSource({"models:/sum/1": lambda frame: frame.to_numpy().sum(axis=1)}))
    out = ex.predict({"jsonData": {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}})
    assert out["data"] == {"names": [], "tensor": {"shape": [1], "values": [3]}}


def test_meta_puid_kept_and_generated(executor):
    given_puid = executor.predict({"data": {"ndarray": [[1]]}, "meta": {"puid": "abc"}})["meta"]["puid"]
    fresh = executor.predict({"data": {"ndarray": [[1]]}})["meta"]["puid"]
    assert given_puid == "abc" and len(fresh) == 32


def test_json_text_requests(executor):
    out = executor.predict('{"data": {"names": ["a"], "ndarray": [[2]]}}')
    assert out["data"] == {"names": ["total"], "ndarray": [[2.0]]}
    assert executor.predict(b'{"data": {"ndarray": [[1, 1]]}}')["data"]["ndarray"] == [[2.0]]
    with pytest.raises(InvalidSpec, match="request is not valid JSON"):
        executor.predict('{"data": ')
    with pytest.raises(InvalidSpec, match="feedback is not valid JSON"):
        executor.feedback(b"\xff")


def test_bin_and_str_data_parse():
    raw = parse_message({"binData": base64.b64encode(b"\x00\x01").decode()})
    assert (raw.kind, raw.data) == ("binData", b"\x00\x01")
    assert parse_message({"strData": "hello"}).data == "hello"


# -- malformed payloads -----------------------------------------------------------------------

MALFORMED = [
    ([1, 2], "request must be a JSON object, got a list"),
    ({}, "request has no data: expected one of data, jsonData, strData or binData (keys present: none)"),
    ({"dat": {}}, "keys present: dat"),
    ({"data": {"ndarray": [[1]]}, "strData": "x"}, "has both data and strData"),
    ({"data": [1, 2]}, "data must be an object with names and ndarray or tensor, got a list"),
    ({"data": {"names": ["a"]}}, "data has neither ndarray nor tensor"),
    ({"data": {"names": "a", "ndarray": [[1]]}}, "data.names must be a list of strings"),
    ({"data": {"names": ["a", "b", "c", "d"], "ndarray": [[1, 2, 3, 4]] * 3 + [[1, 2]]}},
     "data.ndarray row 3 has 2 values but names has 4"),
    ({"data": {"ndarray": [[1, 2], [3]]}}, "data.ndarray row 1 has 1 values but row 0 has 2"),
    ({"data": {"ndarray": [[1], 2]}}, "data.ndarray mixes rows and single values (row 1 is a number)"),
    ({"data": {"ndarray": {"a": 1}}}, "data.ndarray must be a list, got an object"),
    ({"data": {"ndarray": [{"a": 1}]}}, "data.ndarray[0] is an object; put objects in jsonData"),
    ({"data": {"ndarray": [[1]], "tensor": {"shape": [1], "values": [1]}}}, "data has both ndarray and tensor"),
    ({"data": {"tensor": {"shape": [2, 4], "values": [1, 2, 3, 4, 5, 6]}}},
     "data.tensor has 6 values but shape [2, 4] needs 8"),
    ({"data": {"tensor": {"shape": [1, 2], "values": [1, "x"]}}}, "data.tensor.values[1] is 'x', not a number"),
    ({"data": {"tensor": {"shape": [-1], "values": [1]}}}, "data.tensor.shape must be a list of non-negative"),
    ({"data": {"tensor": [1, 2]}}, "data.tensor must be an object with shape and values"),
    ({"data": {"names": ["a"], "tensor": {"shape": [1, 2], "values": [1, 2]}}},
     "data.tensor has 2 columns but names has 1"),
    ({"data": {"tftensor": {}}}, "data.tftensor is not supported in-process"),
    ({"strData": 5}, "strData must be a string, got a number"),
    ({"binData": "not base64!"}, "binData is not valid base64"),
    ({"data": {"ndarray": [[1]]}, "meta": []}, "meta must be an object, got a list"),
    ({"data": {"ndarray": [[1]]}, "meta": {"puid": 7}}, "meta.puid must be a string"),
    ({"data": {"ndarray": [[1]]}, "meta": {"tags": "x"}}, "meta.tags must be an object"),
    ({"data": {"ndarray": [[1]]}, "meta": {"routing": {"r": "left"}}}, "meta.routing.r must be an integer"),
]


@pytest.mark.parametrize("payload,message", MALFORMED, ids=[m[:40] for _, m in MALFORMED])
def test_malformed_payloads_say_what_is_wrong(executor, payload, message):
    with pytest.raises(InvalidSpec) as info:
        executor.predict(payload)
    assert message in str(info.value)


def test_a_well_formed_request_the_graph_cannot_use_is_still_a_clear_error(executor):
    with pytest.raises(InvalidSpec, match="node 'out' transforms data with names, not strData|node 'sum'"):
        executor.predict({"strData": "hello"})


@pytest.mark.parametrize("feedback,message", [
    ([1], "feedback must be a JSON object, got a list"),
    ("reward", "feedback is not valid JSON"),
    ({"reward": "high"}, "feedback.reward must be a finite number"),
    ({"reward": float("nan")}, "feedback.reward must be a finite number"),
    ({"reward": 1, "request": {"data": {}}}, "request.data has neither ndarray nor tensor"),
    ({"reward": 1, "response": []}, "feedback.response must be an object"),
    ({"reward": 1, "response": {"meta": {"routing": {"out": 3.5}}}}, "response.meta.routing.out must be an integer"),
    ({"reward": 1, "truth": {"strData": 1}}, "truth.strData must be a string"),
])
def test_malformed_feedback(executor, feedback, message):
    with pytest.raises(InvalidSpec) as info:
        executor.feedback(feedback)
    assert message in str(info.value)


def test_feedback_without_routing_goes_everywhere(executor):
    out = executor.feedback({"request": {"data": {"ndarray": [[1]]}}, "reward": 0.5})
    assert out["data"] == {"names": [], "ndarray": []}
    assert parse_feedback({})[2] == 0.0


# -- never another exception --------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, width=32) | st.text(max_size=5)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)
row = st.lists(st.integers(-100, 100) | st.floats(-1e3, 1e3) | st.none() | st.text(max_size=3), min_size=1, max_size=3)
requests_ = st.one_of(
    json_values,
    st.fixed_dictionaries({"data": st.fixed_dictionaries(
        {"names": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
         "ndarray": st.lists(row, max_size=3)})}),
    st.fixed_dictionaries({"data": st.fixed_dictionaries(
        {"tensor": st.fixed_dictionaries({"shape": st.lists(st.integers(-1, 3), max_size=3),
                                          "values": st.lists(json_values, max_size=6)})})}),
    st.dictionaries(st.sampled_from(["data", "jsonData", "strData", "binData", "meta", "x"]), json_values, max_size=3),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_)
def test_random_payloads_never_raise_anything_but_typed_errors(executor, payload):
    try:
        parse_message(payload)
    except InvalidSpec:
        pass
    try:
        response = executor.predict(payload)
    except ConsoleError:
        return
    assert set(response) == {"data", "meta"} or {"jsonData", "strData", "binData"} & set(response)


@settings(max_examples=200, deadline=None)
@given(json_values | st.dictionaries(st.sampled_from(["request", "response", "reward", "truth"]), json_values))
def test_random_feedback_never_raises_anything_but_typed_errors(executor, feedback):
    try:
        executor.feedback(feedback)
    except ConsoleError:
        pass
