"""Each built-in component, and Seldon-style user components, run through the executor."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from console.errors import ConsoleError, InvalidSpec, NotFound
from console.graph.executor import GraphExecutor
from console.graph.models import StaticModelSource
from console.graph.spec import deployment_from_dict


def graph(text: str):
    """A one-predictor SeldonDeployment around a graph given as YAML."""
    body = "\n".join("      " + line for line in text.strip("\n").splitlines())
    return deployment_from_dict(yaml.safe_load(
        "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: t}\n"
        f"spec:\n  predictors:\n  - name: p\n    graph:\n{body}\n"))


def node(implementation: str, params: dict | None = None, type_: str = "TRANSFORMER", children: str = ""):
    params_yaml = json.dumps([{"name": k, "value": v if isinstance(v, str) else json.dumps(v),
                               "type": "STRING" if isinstance(v, str) else "JSON"}
                              for k, v in (params or {}).items()])
    text = f"name: node\ntype: {type_}\nimplementation: {implementation}\nparameters: {params_yaml}\n"
    return graph(text + children)


def req(names, rows):
    return {"data": {"names": names, "ndarray": rows}}


# -- feature transformer --------------------------------------------------------------------


def test_feature_transformer_scales_one_hot_encodes_renames_and_selects():
    ex = GraphExecutor(node("MLCONSOLE_FEATURE_TRANSFORMER", {
        "scale": {"income": [50000, 10000]},
        "one_hot": {"region": ["north", "south"]},
        "rename": {"age": "age_years"},
        "columns": ["age_years", "income", "region=south"],
    }))
    out = ex.predict(req(["id", "age", "income", "region"], [["a", 30, 60000, "south"], ["b", 40, None, "east"]]))
    assert out["data"] == {"names": ["age_years", "income", "region=south"],
                           "ndarray": [[30, 1.0, 1.0], [40, None, 0.0]]}


def test_feature_transformer_keeps_tensors_numeric():
    ex = GraphExecutor(node("MLCONSOLE_FEATURE_TRANSFORMER", {"scale": {"x": [1, 2]}}))
    out = ex.predict({"data": {"names": ["x", "y"], "tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}})
    assert out["data"] == {"names": ["x", "y"], "tensor": {"shape": [2, 2], "values": [0.0, 2.0, 1.0, 4.0]}}


@pytest.mark.parametrize("params,request_,message", [
    ({"columns": ["nope"]}, req(["a"], [[1]]), "columns 'nope' are not in the data"),
    ({"scale": {"a": [0, 1]}}, req(["a"], [["text"]]), "row 0 column 'a' is 'text', not a number"),
    ({"scale": {"b": [0, 1]}}, req(["a"], [[1]]), "column 'b' is not in the request"),
    ({"columns": ["a"]}, {"jsonData": {"a": 1}}, "transforms data with names, not jsonData"),
    ({"columns": ["a"]}, {"data": {"ndarray": [[1]]}}, "needs data.names"),
])
def test_feature_transformer_errors_name_the_node_and_the_column(params, request_, message):
    ex = GraphExecutor(node("MLCONSOLE_FEATURE_TRANSFORMER", params))
    with pytest.raises(InvalidSpec, match=message) as info:
        ex.predict(request_)
    assert "node 'node'" in str(info.value)


def test_feature_transformer_rejects_bad_parameters_at_build():
    with pytest.raises(InvalidSpec, match=r"scale\['a'\] must be \[mean, std\] with std != 0"):
        GraphExecutor(node("MLCONSOLE_FEATURE_TRANSFORMER", {"scale": {"a": [0, 0]}}))
    with pytest.raises(InvalidSpec, match="parameter 'columns' must be a JSON list"):
        GraphExecutor(node("MLCONSOLE_FEATURE_TRANSFORMER", {"columns": {"a": 1}}))


# -- enrichment -------------------------------------------------------------------------------


@pytest.fixture
def customers_parquet(tmp_path):
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.table({"customer_id": [1, 2, 3], "segment": ["gold", "silver", "bronze"],
                             "tenure_years": [7.5, 2.0, 0.5]}), path)
    return path


@pytest.fixture
def customers_sqlite(tmp_path):
    path = tmp_path / "crm.db"
    con = sqlite3.connect(path)
    con.execute("create table customers (customer_id text primary key, segment text, tenure_years real)")
    con.executemany("insert into customers values (?, ?, ?)",
                    [("C-1", "gold", 7.5), ("C-2", "silver", 2.0)])
    con.commit()
    con.close()
    return path


def test_enrichment_joins_a_parquet_table_and_counts_misses(customers_parquet):
    ex = GraphExecutor(node("MLCONSOLE_ENRICHMENT", {"table": str(customers_parquet), "key": "customer_id"}))
    out = ex.predict(req(["customer_id", "amount"], [[2, 10.0], [9, 5.0], ["3", 1.0]]))
    assert out["data"] == {"names": ["customer_id", "amount", "segment", "tenure_years"],
                           "ndarray": [[2, 10.0, "silver", 2.0], [9, 5.0, None, None], ["3", 1.0, "bronze", 0.5]]}
    assert out["meta"]["tags"] == {"enrichment_misses": 1}
    clean = ex.predict(req(["customer_id"], [[1]]))
    assert "enrichment_misses" not in clean["meta"]["tags"]


def test_enrichment_joins_a_sqlite_table_with_chosen_columns(customers_sqlite):
    spec = f"sqlite:///{customers_sqlite}?table=customers"
    ex = GraphExecutor(node("MLCONSOLE_ENRICHMENT", {"table": spec, "key": "customer_id", "columns": ["segment"]}))
    out = ex.predict(req(["customer_id", "segment_hint"], [["C-1", "x"], ["C-404", "y"]]))
    assert out["data"]["names"] == ["customer_id", "segment_hint", "segment"]
    assert out["data"]["ndarray"] == [["C-1", "x", "gold"], ["C-404", "y", None]]
    assert out["meta"]["tags"]["enrichment_misses"] == 1


def test_enrichment_keeps_columns_the_request_already_has(customers_parquet):
    ex = GraphExecutor(node("MLCONSOLE_ENRICHMENT", {"table": str(customers_parquet), "key": "customer_id"}))
    out = ex.predict(req(["customer_id", "segment"], [[1, "platinum"]]))
    assert out["data"] == {"names": ["customer_id", "segment", "tenure_years"], "ndarray": [[1, "platinum", 7.5]]}


def test_enrichment_caches_the_table_and_rereads_it_when_it_changes(customers_parquet):
    from console.graph.components.enrichment import load_table

    first = load_table(str(customers_parquet), "customer_id")
    assert load_table(str(customers_parquet), "customer_id") is first
    time.sleep(0.01)
    pq.write_table(pa.table({"customer_id": [1], "segment": ["new"], "tenure_years": [1.0]}), customers_parquet)
    os.utime(customers_parquet, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    second = load_table(str(customers_parquet), "customer_id")
    assert second is not first and second.index == {1: ("new", 1.0)}


@pytest.mark.parametrize("params,error,message", [
    ({"table": "/nonexistent/t.parquet", "key": "id"}, NotFound, "look-up table /nonexistent/t.parquet not found"),
    ({"table": "CUSTOMERS", "key": "nope"}, InvalidSpec, "has no key column 'nope'"),
    ({"table": "sqlite:///CRM?table=missing", "key": "customer_id"}, NotFound, "sqlite table 'missing' not found"),
    ({"table": "sqlite:///CRM", "key": "customer_id"}, InvalidSpec, "names no table"),
    ({"table": "sqlite:///CRM?table=x;drop", "key": "customer_id"}, InvalidSpec, "not a plain identifier"),
    ({"key": "customer_id"}, InvalidSpec, "needs parameters `table` and `key`"),
])
def test_enrichment_configuration_errors(params, error, message, customers_parquet, customers_sqlite):
    params = {k: v.replace("CUSTOMERS", str(customers_parquet)).replace("CRM", str(customers_sqlite))
              for k, v in params.items()}
    with pytest.raises(error, match=message):
        GraphExecutor(node("MLCONSOLE_ENRICHMENT", params))


def test_enrichment_request_without_the_key_column(customers_parquet):
    ex = GraphExecutor(node("MLCONSOLE_ENRICHMENT", {"table": str(customers_parquet), "key": "customer_id"}))
    with pytest.raises(InvalidSpec, match="node 'node': the request has no key column 'customer_id'"):
        ex.predict(req(["id"], [[1]]))


# -- outlier detector -------------------------------------------------------------------------


@pytest.fixture
def reference(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "reference.parquet"
    pq.write_table(pa.table({"amount": rng.normal(100, 10, 2000), "hour": rng.normal(12, 3, 2000),
                             "label": ["x"] * 2000}), path)
    return path


@pytest.mark.parametrize("method", ["zscore", "isolation_forest"])
def test_outlier_detector_flags_injected_extreme_rows_and_passes_data_through(reference, method):
    ex = GraphExecutor(node("MLCONSOLE_OUTLIER_DETECTOR", {"reference": str(reference), "method": method,
                                                           "features": ["amount", "hour"]}), seed=1)
    rows = [[101.0, 11.0, "a"], [5000.0, 12.0, "b"], [99.0, 13.0, "c"], [100.0, -40.0, "d"], [None, 12.0, "e"]]
    out = ex.predict(req(["amount", "hour", "note"], rows))
    assert out["data"] == {"names": ["amount", "hour", "note"], "ndarray": rows}
    assert out["meta"]["tags"]["outlier"] == [False, True, False, True, False]
    scores = out["meta"]["tags"]["outlier_score"]
    assert len(scores) == 5 and scores[1] > scores[0] and scores[3] > scores[2]


def test_outlier_zscore_threshold_and_default_features(reference):
    ex = GraphExecutor(node("MLCONSOLE_OUTLIER_DETECTOR", {"reference": str(reference), "threshold": "2"}))
    out = ex.predict(req(["hour", "amount"], [[12.0, 125.0], [12.0, 115.0]]))  # 2.5 and 1.5 std from the mean
    assert out["meta"]["tags"]["outlier"] == [True, False]
    assert out["meta"]["tags"]["outlier_score"][0] == pytest.approx(2.5, abs=0.2)


def test_outlier_detector_errors(reference):
    with pytest.raises(InvalidSpec, match="needs parameter `reference`"):
        GraphExecutor(node("MLCONSOLE_OUTLIER_DETECTOR", {}))
    with pytest.raises(InvalidSpec, match="method 'lof' is not one of zscore, isolation_forest"):
        GraphExecutor(node("MLCONSOLE_OUTLIER_DETECTOR", {"reference": str(reference), "method": "lof"}))
    with pytest.raises(InvalidSpec, match="has no column 'nope'"):
        GraphExecutor(node("MLCONSOLE_OUTLIER_DETECTOR", {"reference": str(reference), "features": ["nope"]}))
    ex = GraphExecutor(node("MLCONSOLE_OUTLIER_DETECTOR", {"reference": str(reference)}))
    with pytest.raises(InvalidSpec, match="the request lacks feature"):
        ex.predict(req(["amount"], [[1.0]]))


# -- routers and combiners as components --------------------------------------------------------

TWO = """
children:
- {name: a, modelUri: "models:/a/1", type: MODEL}
- {name: b, modelUri: "models:/b/1", type: MODEL}
"""
MODELS = StaticModelSource({"models:/a/1": lambda x: np.array([[1.0, 0.0]] * len(x)),
                            "models:/b/1": lambda x: np.array([[0.2, 0.8]] * len(x))})


def test_random_abtest_with_its_own_seed_parameter():
    dep = node("RANDOM_ABTEST", {"ratioA": "0.9", "seed": "3"}, "ROUTER", TWO)
    routes = [GraphExecutor(dep, MODELS).predict({"data": {"ndarray": [[0]]}})["meta"]["routing"]["node"]
              for _ in range(3)]
    assert len(set(routes)) == 1  # a fresh executor with the same seed routes the same way
    ex = GraphExecutor(dep, MODELS)
    share = sum(ex.predict({"data": {"ndarray": [[0]]}})["meta"]["routing"]["node"] == 0 for _ in range(500)) / 500
    assert 0.85 < share < 0.95


def test_epsilon_greedy_learns_from_rewards_per_branch():
    ex = GraphExecutor(node("MLCONSOLE_EPSILON_GREEDY", {"epsilon": "0"}, "ROUTER", TWO), MODELS)
    request = {"data": {"ndarray": [[0]]}}
    assert ex.predict(request)["meta"]["routing"]["node"] == 0  # no rewards yet: best_branch 0
    ex.feedback({"request": request, "response": {"meta": {"routing": {"node": 1}}}, "reward": 1.0})
    assert ex.predict(request)["meta"]["routing"]["node"] == 1
    assert ex.component("node").snapshot() == {"counts": [0, 1], "means": [0.0, 1.0]}
    with pytest.raises(InvalidSpec, match="response.meta.routing.node is 5, but node 'node' has 2 children"):
        ex.feedback({"response": {"meta": {"routing": {"node": 5}}}, "reward": 1.0})


def test_thompson_sampling_updates_beta_posteriors_and_checks_rewards():
    ex = GraphExecutor(node("MLCONSOLE_THOMPSON_SAMPLING", {}, "ROUTER", TWO), MODELS, seed=1)
    for _ in range(30):
        ex.feedback({"response": {"meta": {"routing": {"node": 1}}}, "reward": 1.0})
        ex.feedback({"response": {"meta": {"routing": {"node": 0}}}, "reward": 0.0})
    assert ex.component("node").snapshot() == {"alpha": [1.0, 31.0], "beta": [31.0, 1.0]}
    assert all(ex.predict({"data": {"ndarray": [[0]]}})["meta"]["routing"]["node"] == 1 for _ in range(20))
    with pytest.raises(InvalidSpec, match=r"takes rewards in \[0, 1\], got 3.0"):
        ex.feedback({"response": {"meta": {"routing": {"node": 1}}}, "reward": 3})


def test_combiner_average_and_majority_on_static_models():
    avg = GraphExecutor(node("MLCONSOLE_COMBINER", {}, "COMBINER", TWO), MODELS)
    assert avg.predict({"data": {"ndarray": [[0]]}})["data"]["ndarray"] == [[0.6, 0.4]]
    vote = GraphExecutor(node("MLCONSOLE_COMBINER", {"method": "majority"}, "COMBINER", TWO), MODELS)
    # One vote each (class 0 and class 1): the tie goes to the larger summed score, class 0 (1.2 vs 0.8).
    assert vote.predict({"data": {"ndarray": [[0], [1]]}})["data"] == {"names": ["class"], "ndarray": [[0], [0]]}


def test_majority_vote_over_label_outputs():
    def answering(label):
        return lambda x: np.array([label] * len(x))

    labels = StaticModelSource({f"models:/m{i}/1": answering(v) for i, v in enumerate(["cat", "dog", "dog"])})
    kids = "\n".join(f"- {{name: m{i}, modelUri: 'models:/m{i}/1', type: MODEL}}" for i in range(3))
    ex = GraphExecutor(node("MLCONSOLE_COMBINER", {"method": "majority"}, "COMBINER", "children:\n" + kids), labels)
    assert ex.predict({"data": {"ndarray": [[0]]}})["data"] == {"names": ["class"], "ndarray": [["dog"]]}


def test_combiner_refuses_mismatched_shapes():
    odd = StaticModelSource({"models:/a/1": lambda x: np.zeros((len(x), 2)), "models:/b/1": lambda x: np.zeros((len(x), 3))})
    ex = GraphExecutor(node("AVERAGE_COMBINER", {}, "COMBINER", TWO), odd)
    with pytest.raises(InvalidSpec, match=r"node 'node': child outputs have shapes \(1, 2\) and \(1, 3\)"):
        ex.predict({"data": {"ndarray": [[0]]}})


def test_seldon_simple_model_and_router():
    ex = GraphExecutor(graph("name: r\nimplementation: SIMPLE_ROUTER\nchildren:\n"
                             "- {name: m, implementation: SIMPLE_MODEL}\n- {name: n, implementation: SIMPLE_MODEL}"))
    out = ex.predict({"data": {"ndarray": [[1, 2]]}})
    assert out["data"] == {"names": ["class0", "class1", "class2"], "ndarray": [[0.1, 0.9, 0.5]]}
    assert out["meta"]["routing"] == {"r": 0}


def test_node_type_must_fit_the_component():
    with pytest.raises(InvalidSpec, match="node 'node' is a ROUTER but MLCONSOLE_FEATURE_TRANSFORMER has no route"):
        GraphExecutor(node("MLCONSOLE_FEATURE_TRANSFORMER", {}, "ROUTER", TWO), MODELS)
    with pytest.raises(InvalidSpec, match="unknown type 'SPLITTER'"):
        GraphExecutor(node("MLCONSOLE_COMBINER", {}, "SPLITTER", TWO), MODELS)


# -- Seldon-style user components ----------------------------------------------------------------


def test_user_transformer_with_parameters_as_keyword_arguments():
    dep = graph("""
name: scale
type: TRANSFORMER
implementation: tests.components.Scaler
parameters:
- {name: offset, value: "2", type: FLOAT}
- {name: factor, value: "0.5", type: DOUBLE}
""")
    out = GraphExecutor(dep).predict({"data": {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [4, 6]}}})
    assert out["data"] == {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}
    assert out["meta"]["tags"] == {"scaler": "v1"}


def test_user_model_old_signature_class_names_metrics_and_load():
    ex = GraphExecutor(graph("name: m\ntype: MODEL\nimplementation: tests.components.risk_model:RiskModel\n"
                             "parameters: [{name: weight, value: '0', type: INT}]"))
    assert ex.component("m").obj.loaded is True
    out = ex.predict({"data": {"ndarray": [[1, 2, 3]]}, "meta": {"puid": "p1", "tags": {"source": "test"}}})
    assert out["data"] == {"names": ["p_good", "p_bad"], "ndarray": [[0.5, 0.5]]}
    assert out["meta"]["tags"] == {"source": "test", "model_version": "risk-1"}
    assert out["meta"]["metrics"] == [{"type": "COUNTER", "key": "risk_model_requests", "value": 1},
                                      {"type": "GAUGE", "key": "risk_model_calls", "value": 1}]


def test_user_router_and_combiner():
    dep = graph("""
name: pick
type: ROUTER
implementation: tests.components.routing.ThresholdRouter
parameters: [{name: threshold, value: "10", type: FLOAT}]
children:
- name: both
  type: COMBINER
  implementation: tests.components.routing.MaxCombiner
  children:
  - {name: a, modelUri: "models:/a/1", type: MODEL}
  - {name: b, modelUri: "models:/b/1", type: MODEL}
- {name: b2, modelUri: "models:/b/1", type: MODEL}
""")
    ex = GraphExecutor(dep, MODELS)
    low = ex.predict({"data": {"ndarray": [[1.0]]}})
    assert low["data"]["ndarray"] == [[1.0, 0.8]] and low["meta"]["routing"] == {"pick": 0}
    high = ex.predict({"data": {"ndarray": [[50.0]]}})
    assert high["data"]["ndarray"] == [[0.2, 0.8]] and high["meta"]["routing"] == {"pick": 1}


def test_user_component_named_by_a_component_parameter():
    dep = graph("name: m\ntype: MODEL\nparameters:\n- {name: component, value: 'tests.components.risk_model:RiskModel'}\n"
                "- {name: bias, value: '0', type: FLOAT}\n- {name: weight, value: '0', type: FLOAT}")
    assert GraphExecutor(dep).predict({"data": {"ndarray": [[1]]}})["data"]["ndarray"] == [[0.5, 0.5]]


def test_user_component_raw_interface():
    ex = GraphExecutor(graph("name: raw\ntype: MODEL\nimplementation: tests.components.routing.RawEcho"))
    out = ex.predict(req(["a", "b", "c"], [[1, 2, 3]]))
    assert out["data"] == {"names": ["n"], "ndarray": [[3]]}
    assert out["meta"]["tags"] == {"raw": True}


@pytest.mark.parametrize("implementation,params,message", [
    ("tests.components.nope.Missing", "[]", "does not import: ModuleNotFoundError"),
    ("tests.components.routing.Missing", "[]", "module 'tests.components.routing' has no 'Missing'"),
    ("tests.components.Scaler", "[{name: colour, value: red}]", r"Scaler\(\*\*parameters\) failed: TypeError"),
    ("tests.components.Scaler", "[{name: offset, value: abc, type: FLOAT}]", "can't be parsed as FLOAT"),
])
def test_user_component_load_errors_are_invalid_spec(implementation, params, message):
    with pytest.raises(InvalidSpec, match=message):
        GraphExecutor(graph(f"name: c\ntype: TRANSFORMER\nimplementation: {implementation}\nparameters: {params}"))


def test_user_component_bad_metrics_fail_the_node():
    import sys
    import types

    class BadMetrics:
        def predict(self, X, names):
            return X

        def metrics(self):
            return [{"key": "x", "type": "HISTOGRAM", "value": 1}]

    sys.modules["bad_metrics_mod"] = types.SimpleNamespace(BadMetrics=BadMetrics)
    ex = GraphExecutor(graph("name: m\ntype: MODEL\nimplementation: bad_metrics_mod.BadMetrics"))
    with pytest.raises(ConsoleError, match="node 'm': .*bad metric"):
        ex.predict({"data": {"ndarray": [[1]]}})
