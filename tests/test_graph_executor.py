"""The in-process executor against Seldon v1 semantics, with the demo's real registry models.

Graphs are written from Seldon's documented SeldonDeployment schema; outputs are compared
with calling the same MLflow models directly.
"""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pandas as pd
import pytest
import yaml

from console.data.demo_dataset import FEATURES
from console.errors import ConsoleError, InvalidSpec, NotFound
from console.graph.executor import GraphExecutor, NodeFailed
from console.graph.models import StaticModelSource
from console.graph.spec import deployment_from_dict

CHAMPION = "models:/credit-risk@champion"
V2 = "models:/credit-risk/2"
V3 = "models:/credit-risk/3"
from tests.seldon_fixtures import SELDON  # noqa: E402

SELDON_EXAMPLES = SELDON / "examples"


def sdep(graph: str, name: str = "test") -> object:
    """A SeldonDeployment with one predictor whose graph is the given YAML block."""
    body = "\n".join("      " + line for line in graph.strip("\n").splitlines())
    text = f"""
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: {name}
spec:
  predictors:
  - name: default
    replicas: 1
    graph:
{body}
"""
    return deployment_from_dict(yaml.safe_load(text))


@pytest.fixture(scope="module")
def source(seeded_home):
    from backends.mlflow.model_loader import MlflowModelSource
    from console.config import default_registry_uri

    return MlflowModelSource(default_registry_uri(seeded_home))


@pytest.fixture(scope="module")
def eval_rows(seeded_home) -> pd.DataFrame:
    return pd.read_parquet(seeded_home / "data" / "credit-risk" / "eval.parquet").head(40).reset_index(drop=True)


def request_for(frame: pd.DataFrame) -> dict:
    """A Seldon v1 request carrying the frame's rows as JSON would (NaN becomes null)."""
    return {"data": {"names": list(frame.columns), "ndarray": json.loads(frame.to_json(orient="values"))},
            "meta": {"puid": "req-1"}}


def direct(source, uri: str, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(source.load(uri).model.predict(frame[FEATURES]))


def static_source() -> StaticModelSource:
    """Tiny in-memory models: 'a' answers [1, 0] per row, 'b' answers [0, 1]."""
    return StaticModelSource({
        "models:/a/1": lambda x: np.tile([1.0, 0.0], (len(x), 1)),
        "models:/b/1": lambda x: np.tile([0.0, 1.0], (len(x), 1)),
        "models:/sum/1": lambda x: np.asarray(x, dtype=float).sum(axis=1, keepdims=True),
    })


# -- single model, transformer -> model, output transformer ------------------------------


def test_single_model_matches_the_model_called_directly(source, eval_rows):
    ex = GraphExecutor(sdep(f"name: classifier\nmodelUri: '{CHAMPION}'\ntype: MODEL\nchildren: []"), source)
    response = ex.predict(request_for(eval_rows))
    assert response["data"]["names"] == ["t:0", "t:1"]  # Seldon's names for a 2-D output without class names
    np.testing.assert_allclose(response["data"]["ndarray"], direct(source, CHAMPION, eval_rows), rtol=1e-12)
    meta = response["meta"]
    assert meta["puid"] == "req-1"
    assert meta["requestPath"] == {"classifier": CHAMPION}
    assert meta["routing"] == {}


def test_transformer_then_model(source, eval_rows):
    columns = json.dumps(FEATURES)
    graph = f"""
name: features
type: TRANSFORMER
implementation: MLCONSOLE_FEATURE_TRANSFORMER
parameters:
- {{name: columns, type: JSON, value: '{columns}'}}
children:
- name: classifier
  type: MODEL
  modelUri: '{V2}'
"""
    run = GraphExecutor(sdep(graph), source).run(request_for(eval_rows), record=True)
    np.testing.assert_allclose(run.response["data"]["ndarray"], direct(source, V2, eval_rows), rtol=1e-12)
    first, second = run.nodes
    assert (first.name, first.type, second.name) == ("features", "TRANSFORMER", "classifier")
    assert first.output.names == FEATURES
    assert first.output_json()["data"]["names"] == FEATURES
    assert all(n.seconds >= 0 and n.total_seconds >= n.seconds for n in run.nodes)
    assert first.total_seconds >= second.total_seconds  # the transformer's total includes its child


def test_output_transformer_sees_the_models_answer(source, eval_rows):
    graph = f"""
name: rename
type: OUTPUT_TRANSFORMER
implementation: MLCONSOLE_FEATURE_TRANSFORMER
parameters:
- {{name: rename, type: JSON, value: '{{"t:1": "p_default"}}'}}
- {{name: columns, type: JSON, value: '["p_default"]'}}
children:
- name: classifier
  modelUri: '{CHAMPION}'
"""
    response = GraphExecutor(sdep(graph), source).predict(request_for(eval_rows))
    assert response["data"]["names"] == ["p_default"]
    np.testing.assert_allclose(np.asarray(response["data"]["ndarray"])[:, 0],
                               direct(source, CHAMPION, eval_rows)[:, 1], rtol=1e-12)


def test_seldon_tin_model_tout_order_with_python_components():
    """Seldon's graph_examples/tin-model-tout shape: output transformer -> input transformer -> model."""
    graph = """
name: output-transformer
type: OUTPUT_TRANSFORMER
implementation: tests.components.Scaler.Scaler
parameters: [{name: factor, value: "10", type: FLOAT}]
children:
- name: input-transformer
  type: TRANSFORMER
  implementation: tests.components.Scaler.Scaler
  parameters: [{name: offset, value: "1", type: FLOAT}]
  children:
  - name: model
    type: MODEL
    implementation: tests.components.risk_model:RiskModel
"""
    run = GraphExecutor(sdep(graph)).run({"data": {"names": ["a", "b"], "ndarray": [[1, 2], [3, 4]]}}, record=True)
    # The Scaler on the output side has no transform_output: Seldon passes the data through.
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    p = 1 / (1 + np.exp(-x.sum(axis=1)))
    np.testing.assert_allclose(run.response["data"]["ndarray"], np.column_stack([1 - p, p]))
    assert run.response["data"]["names"] == ["p_good", "p_bad"]  # the model's class_names(), passed through
    assert [n.name for n in run.nodes] == ["output-transformer", "input-transformer", "model"]
    meta = run.response["meta"]
    assert meta["tags"] == {"scaler": "v1", "model_version": "risk-1"}
    assert {m["key"] for m in meta["metrics"]} == {"risk_model_requests", "risk_model_calls"}


def test_model_with_children_chains_its_output_into_them():
    graph = """
name: first
type: MODEL
implementation: tests.components.risk_model.RiskModel
children:
- name: second
  type: MODEL
  modelUri: models:/sum/1
"""
    response = GraphExecutor(sdep(graph), static_source()).predict({"data": {"ndarray": [[0.0], [5.0]]}})
    np.testing.assert_allclose(response["data"]["ndarray"], [[1.0], [1.0]])  # p_good + p_bad of the first


# -- routers ------------------------------------------------------------------------------


def test_random_abtest_sends_ratio_a_to_child_zero():
    graph = """
name: random-ab-test
implementation: RANDOM_ABTEST
parameters:
- {name: ratioA, value: "0.3", type: FLOAT}
children:
- {name: model-a, modelUri: "models:/a/1", type: MODEL}
- {name: model-b, modelUri: "models:/b/1", type: MODEL}
"""
    ex = GraphExecutor(sdep(graph), static_source(), seed=42)
    n, to_a = 3000, 0
    for _ in range(n):
        response = ex.predict({"data": {"names": ["x"], "ndarray": [[1.0]]}})
        route = response["meta"]["routing"]["random-ab-test"]
        assert response["data"]["ndarray"] == ([[1.0, 0.0]] if route == 0 else [[0.0, 1.0]])
        assert set(response["meta"]["requestPath"]) == {"random-ab-test", "model-a" if route == 0 else "model-b"}
        to_a += route == 0
    assert abs(to_a / n - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5  # within four standard deviations
    again = GraphExecutor(sdep(graph), static_source(), seed=42)
    routes = [again.predict({"data": {"ndarray": [[1.0]]}})["meta"]["routing"]["random-ab-test"] for _ in range(50)]
    first = GraphExecutor(sdep(graph), static_source(), seed=42)
    assert routes == [first.predict({"data": {"ndarray": [[1.0]]}})["meta"]["routing"]["random-ab-test"]
                      for _ in range(50)]


def test_ab_test_over_the_registry_models_answers_like_each_model(source, eval_rows):
    graph = f"""
name: ab
implementation: RANDOM_ABTEST
parameters: [{{name: ratioA, value: "0.5", type: FLOAT}}]
children:
- {{name: champion, modelUri: '{CHAMPION}'}}
- {{name: challenger, modelUri: '{V2}'}}
"""
    ex = GraphExecutor(sdep(graph), source, seed=3)
    expected = {0: direct(source, CHAMPION, eval_rows.head(5)), 1: direct(source, V2, eval_rows.head(5))}
    seen = set()
    for _ in range(8):
        response = ex.predict(request_for(eval_rows.head(5)))
        route = response["meta"]["routing"]["ab"]
        seen.add(route)
        np.testing.assert_allclose(response["data"]["ndarray"], expected[route], rtol=1e-12)
    assert seen == {0, 1}


def importable(module_name: str, cls: type) -> None:
    """Make cls importable as module_name.ClassName, as a user's component module would be."""
    import sys
    import types

    module = types.ModuleType(module_name)
    setattr(module, cls.__name__, cls)
    sys.modules[module_name] = module


def test_router_minus_one_runs_every_child_and_answers_the_first():
    """Seldon v1: route -1 sends to all children; without AGGREGATE the first child's answer wins."""

    class AllRouter:
        def route(self, features, names):
            return -1

    importable("all_router_mod", AllRouter)
    graph = """
name: fan-out
type: ROUTER
implementation: all_router_mod.AllRouter
children:
- {name: model-a, modelUri: "models:/a/1", type: MODEL}
- {name: model-b, modelUri: "models:/b/1", type: MODEL}
"""
    response = GraphExecutor(sdep(graph), static_source()).predict({"data": {"ndarray": [[1.0]]}})
    assert response["data"]["ndarray"] == [[1.0, 0.0]]
    assert response["meta"]["routing"] == {"fan-out": -1}
    assert set(response["meta"]["requestPath"]) == {"fan-out", "model-a", "model-b"}


def test_router_minus_two_skips_the_children():
    class SkipRouter:
        def route(self, features, names):
            return -2

    importable("skip_router_mod", SkipRouter)
    graph = """
name: gate
type: ROUTER
implementation: skip_router_mod.SkipRouter
children:
- {name: model-a, modelUri: "models:/a/1", type: MODEL}
- {name: model-b, modelUri: "models:/b/1", type: MODEL}
"""
    response = GraphExecutor(sdep(graph), static_source()).predict({"data": {"names": ["x"], "ndarray": [[7]]}})
    assert response["data"] == {"names": ["x"], "ndarray": [[7]]}
    assert set(response["meta"]["requestPath"]) == {"gate"}


def test_router_out_of_range_names_the_node():
    graph = """
name: router
type: ROUTER
implementation: tests.components.routing.ThresholdRouter
parameters: [{name: threshold, value: "5", type: FLOAT}]
children:
- {name: only, modelUri: "models:/a/1", type: MODEL}
"""
    ex = GraphExecutor(sdep(graph), static_source())
    with pytest.raises(NodeFailed, match="node 'router' routed to child 1, but it has 1"):
        ex.predict({"data": {"ndarray": [[9.0]]}})


# -- combiners ----------------------------------------------------------------------------


def test_ensemble_average_matches_the_mean_of_the_models(source, eval_rows):
    graph = f"""
name: ensemble
type: COMBINER
implementation: AVERAGE_COMBINER
children:
- {{name: lr, modelUri: '{CHAMPION}', type: MODEL}}
- {{name: gb, modelUri: '{V2}', type: MODEL}}
"""
    response = GraphExecutor(sdep(graph), source).predict(request_for(eval_rows))
    expected = (direct(source, CHAMPION, eval_rows) + direct(source, V2, eval_rows)) / 2
    np.testing.assert_allclose(response["data"]["ndarray"], expected, rtol=1e-12)
    assert response["meta"]["routing"] == {}  # a combiner does not route
    assert set(response["meta"]["requestPath"]) == {"ensemble", "lr", "gb"}


def test_ensemble_majority_vote_matches_the_models_votes(source, eval_rows):
    graph = f"""
name: vote
type: COMBINER
implementation: MLCONSOLE_COMBINER
parameters: [{{name: method, value: majority}}]
children:
- {{name: v1, modelUri: '{CHAMPION}'}}
- {{name: v2, modelUri: '{V2}'}}
- {{name: v3, modelUri: '{V3}'}}
"""
    response = GraphExecutor(sdep(graph), source).predict(request_for(eval_rows))
    votes = np.stack([direct(source, uri, eval_rows).argmax(axis=1) for uri in (CHAMPION, V2, V3)])
    expected = (votes.sum(axis=0) >= 2).astype(int)  # three voters, two classes: no ties
    assert response["data"]["names"] == ["class"]
    assert [row[0] for row in response["data"]["ndarray"]] == expected.tolist()


# -- bandits learn from feedback ------------------------------------------------------------


@pytest.mark.parametrize("implementation,params", [
    ("MLCONSOLE_EPSILON_GREEDY", "[{name: epsilon, value: '0.1', type: FLOAT}]"),
    ("MLCONSOLE_THOMPSON_SAMPLING", "[]"),
])
def test_bandit_router_converges_to_the_better_branch(implementation, params):
    graph = f"""
name: bandit
type: ROUTER
implementation: {implementation}
parameters: {params}
children:
- {{name: worse, modelUri: "models:/a/1", type: MODEL}}
- {{name: better, modelUri: "models:/b/1", type: MODEL}}
"""
    ex = GraphExecutor(sdep(graph), static_source(), seed=7)
    world = random.Random(11)
    success = {0: 0.2, 1: 0.8}
    late = []
    for i in range(400):
        request = {"data": {"names": ["x"], "ndarray": [[float(i)]]}}
        response = ex.predict(request)
        branch = response["meta"]["routing"]["bandit"]
        reward = 1.0 if world.random() < success[branch] else 0.0
        answer = ex.feedback({"request": request, "response": response, "reward": reward})
        assert answer["meta"]["routing"] == {"bandit": branch}
        if i >= 300:
            late.append(branch)
    assert sum(late) / len(late) > 0.8


def test_feedback_reaches_only_the_routed_branch_with_its_routing():
    graph = """
name: router
type: ROUTER
implementation: tests.components.routing.ThresholdRouter
parameters: [{name: threshold, value: "5", type: FLOAT}]
children:
- name: left
  type: ROUTER
  implementation: tests.components.routing.ThresholdRouter
  children:
  - {name: a, modelUri: "models:/a/1", type: MODEL}
  - {name: b, modelUri: "models:/b/1", type: MODEL}
- name: right
  type: ROUTER
  implementation: tests.components.routing.ThresholdRouter
  children:
  - {name: c, modelUri: "models:/a/1", type: MODEL}
  - {name: d, modelUri: "models:/b/1", type: MODEL}
"""
    ex = GraphExecutor(sdep(graph), static_source())
    request = {"data": {"names": ["x"], "ndarray": [[1.0]]}}
    response = ex.predict(request)
    assert response["meta"]["routing"] == {"router": 0, "left": 1}
    ex.feedback({"request": request, "response": response, "reward": 0.5})
    assert ex.component("router").obj.feedback == [(0.5, 0)]
    assert ex.component("left").obj.feedback == [(0.5, 1)]
    assert ex.component("right").obj.feedback == []
    # Without routing (a reward for a response we never saw), Seldon sends it down every branch.
    ex.feedback({"request": request, "reward": 1.0})
    assert ex.component("right").obj.feedback == [(1.0, None)]


# -- loading, errors, threads -------------------------------------------------------------


def test_models_load_once_and_are_shared(source, eval_rows):
    calls = []

    class Counting:
        def load(self, uri):
            calls.append(uri)
            return source.load(uri)

        def signature_columns(self, uri):
            return source.signature_columns(uri)

    graph = f"""
name: both
type: COMBINER
implementation: AVERAGE_COMBINER
children:
- {{name: one, modelUri: '{CHAMPION}'}}
- {{name: two, modelUri: '{CHAMPION}'}}
"""
    ex = GraphExecutor(sdep(graph), Counting())
    for _ in range(3):
        ex.predict(request_for(eval_rows.head(2)))
    assert calls == [CHAMPION, CHAMPION]  # once per node at build, never per request
    assert source.load(CHAMPION) is source.load(CHAMPION)


def test_loading_a_registry_model_writes_nothing_into_the_registry(seeded_home):
    """MLflow's models:/ download drops `registered_model_meta` into the model's directory,
    which for a local store is the registry itself; the loader reads from the underlying path."""
    from backends.mlflow.model_loader import MlflowModelSource
    from console.config import default_registry_uri

    store = seeded_home / "registry"
    before = sorted(str(p) for p in store.rglob("*") if p.is_file() and p.name != "mlflow.db")
    fresh = MlflowModelSource(default_registry_uri(seeded_home))
    assert fresh.load(CHAMPION) is not None
    fresh.load("models:/credit-risk/1")
    after = sorted(str(p) for p in store.rglob("*") if p.is_file() and p.name != "mlflow.db")
    assert after == before


def test_unknown_registry_model_is_not_found(source):
    with pytest.raises(NotFound, match="node 'ghost'.*credit-risk@nobody"):
        GraphExecutor(sdep("name: ghost\nmodelUri: models:/credit-risk@nobody"), source)


def test_concurrent_predictions_from_threads_agree(source, eval_rows):
    graph = f"""
name: ab
implementation: RANDOM_ABTEST
children:
- {{name: champion, modelUri: '{CHAMPION}'}}
- {{name: challenger, modelUri: '{V2}'}}
"""
    ex = GraphExecutor(sdep(graph), source, seed=5)
    expected = {0: direct(source, CHAMPION, eval_rows.head(3)), 1: direct(source, V2, eval_rows.head(3))}
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                response = ex.predict(request_for(eval_rows.head(3)))
                route = response["meta"]["routing"]["ab"]
                np.testing.assert_allclose(response["data"]["ndarray"], expected[route], rtol=1e-12)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_a_failing_component_is_a_typed_error_naming_the_node():
    ex = GraphExecutor(sdep("name: broken\ntype: MODEL\nimplementation: tests.components.routing.Broken"))
    with pytest.raises(NodeFailed) as info:
        ex.predict({"data": {"ndarray": [[1]]}})
    assert "node 'broken'" in str(info.value) and "model file is corrupt" in str(info.value)
    assert info.value.target == "broken"


def test_seldon_container_example_says_what_cannot_run_in_process():
    dep = deployment_from_dict(yaml.safe_load((SELDON_EXAMPLES / "graph_examples_combiner.yaml").read_text()))
    with pytest.raises(InvalidSpec, match="node 'combiner' names no model.*Seldon cluster"):
        GraphExecutor(dep)


def test_seldon_component_named_by_model_name_env_runs():
    """Seldon's own convention: the container's MODEL_NAME names the Python class."""
    text = """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: wrapped}
spec:
  predictors:
  - name: default
    componentSpecs:
    - spec:
        containers:
        - name: classifier
          image: registry.example/risk:0.1
          env:
          - {name: MODEL_NAME, value: tests.components.risk_model.RiskModel}
          - {name: SERVICE_TYPE, value: MODEL}
    graph:
      name: classifier
      type: MODEL
      parameters: [{name: weight, value: "0", type: FLOAT}]
"""
    response = GraphExecutor(deployment_from_dict(yaml.safe_load(text))).predict({"data": {"ndarray": [[3.0]]}})
    assert response["data"] == {"names": ["p_good", "p_bad"], "ndarray": [[0.5, 0.5]]}


def test_predictor_is_chosen_by_name():
    text = """
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: two}
spec:
  predictors:
  - {name: main, traffic: 90, graph: {name: m, modelUri: "models:/a/1"}}
  - {name: canary, traffic: 10, graph: {name: m, modelUri: "models:/b/1"}}
"""
    dep = deployment_from_dict(yaml.safe_load(text))
    request = {"data": {"ndarray": [[0]]}}
    assert GraphExecutor(dep, static_source()).predict(request)["data"]["ndarray"] == [[1.0, 0.0]]
    assert GraphExecutor(dep, static_source(), "canary").predict(request)["data"]["ndarray"] == [[0.0, 1.0]]
    with pytest.raises(NotFound, match="no predictor 'blue'"):
        GraphExecutor(dep, static_source(), "blue")


def test_every_error_is_a_console_error():
    assert issubclass(NodeFailed, ConsoleError)


def _seldon_example(name: str):
    docs = yaml.safe_load_all((SELDON_EXAMPLES / name).read_text())
    return deployment_from_dict(next(d for d in docs if d and d.get("kind") == "SeldonDeployment"))


def test_seldon_prepackaged_server_example_runs_once_pointed_at_the_registry(source, eval_rows):
    dep = _seldon_example("iter8_progressive_rollout_single_sdep_abtest.yaml")
    with pytest.raises(InvalidSpec, match="node 'classifier' uses SKLEARN_SERVER with gs://.*runs on a Seldon cluster"):
        GraphExecutor(dep, source, "baseline")
    dep.predictors[0].graph.model_uri = CHAMPION  # what the builder's "use a registry model" does
    response = GraphExecutor(dep, source, "baseline").predict(request_for(eval_rows.head(4)))
    np.testing.assert_allclose(response["data"]["ndarray"], direct(source, CHAMPION, eval_rows.head(4)), rtol=1e-12)
