"""Property tests over the inputs not covered elsewhere: Open Inference (V2) requests, the config
file, the rollout spec. Whatever comes in, the parser answers or raises InvalidSpec with a message —
never another exception, never a hang. (Manifests: test_graph_fuzz.py; Seldon v1 payloads:
test_graph_payloads.py.)"""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.local.serving.protocols import V2_DATATYPES, seldon_to_v2, v2_to_seldon
from console.config import read_config_file
from console.errors import InvalidSpec
from console.rollout.spec import load_spec

FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=5)),
                           max_leaves=25)


def v2_input():
    """Mostly well-formed V2 inputs with a random field broken now and then."""
    return st.fixed_dictionaries({
        "name": st.one_of(st.text(min_size=1, max_size=6), scalars),
        "shape": st.one_of(st.lists(st.integers(-1, 4), min_size=1, max_size=3), scalars),
        "datatype": st.one_of(st.sampled_from(V2_DATATYPES), st.text(max_size=6)),
        "data": st.one_of(st.lists(scalars, max_size=12), st.lists(st.lists(scalars, max_size=4), max_size=4),
                          scalars),
    })


@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries({"inputs": st.lists(v2_input(), max_size=3)},
                                                    optional={"id": scalars, "outputs": json_values,
                                                              "parameters": json_values})))
def test_v2_requests_parse_or_are_refused_with_a_message(body):
    try:
        request = v2_to_seldon(body)
    except InvalidSpec as exc:
        assert str(exc)
        return
    # Accepted: the Seldon message is JSON, and an answer of the same shape converts back to V2.
    json.dumps(request.message, allow_nan=True)
    names = request.message["data"].get("names") if isinstance(request.message.get("data"), dict) else None
    answer = {"data": {"names": names or [], "ndarray": [[0.5]]}}
    try:
        reply = seldon_to_v2(answer, request, "m")
    except InvalidSpec as exc:
        assert str(exc)
        return
    assert reply["model_name"] == "m" and reply["outputs"]


toml_lines = st.lists(st.one_of(
    st.sampled_from(['home = "/tmp/x"', "readonly = true", 'theme = "light"', "registry = 3",
                     'metrics = "http://127.0.0.1:9090"', "[table]", "unknown = 1", "readonly = \"maybe\"",
                     'context = ""', "= broken", '"unterminated']),
    st.text(max_size=20)), max_size=6)


@FUZZ
@given(toml_lines)
def test_config_files_load_or_are_refused_with_a_message(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        data = read_config_file(path)
    except InvalidSpec as exc:
        assert str(exc) and str(path) in str(exc)
        return
    assert isinstance(data, dict)


spec_docs = st.fixed_dictionaries({}, optional={
    "strategy": st.one_of(st.sampled_from(["canary", "bluegreen", "shadow", "ab"]), scalars),
    "steps": st.one_of(st.lists(st.one_of(
        st.fixed_dictionaries({"setWeight": st.one_of(st.integers(-10, 120), scalars)}),
        st.fixed_dictionaries({"pause": st.one_of(st.fixed_dictionaries({"duration": scalars}), scalars)}),
        json_values), max_size=5), scalars),
    "gates": st.one_of(st.lists(st.one_of(st.fixed_dictionaries({
        "metric": st.one_of(st.sampled_from(["error_rate", "latency_p99", "agreement"]), scalars),
        "op": st.one_of(st.sampled_from(["<", ">"]), scalars),
        "threshold": scalars}), json_values), max_size=3), scalars),
    "analysisInterval": scalars, "alias": json_values, "faultRate": scalars, "mirrorPercent": scalars,
})


@FUZZ
@given(st.one_of(spec_docs, json_values))
def test_rollout_specs_load_or_are_refused_with_a_message(doc):
    try:
        text = json.dumps(doc)
    except ValueError:
        return
    try:
        spec = load_spec(text)
    except InvalidSpec as exc:
        assert str(exc)
        return
    assert spec.strategy in ("canary", "bluegreen", "shadow", "ab")
    assert math.isfinite(spec.analysis_interval) and spec.analysis_interval > 0
