"""The demo graph: a valid SeldonDeployment that runs in-process on the demo models."""

import json

import pandas as pd
import yaml

from backends.mlflow.model_loader import MlflowModelSource
from console.config import default_registry_uri
from console.graph.demo_graph import APPLICATION, write_demo_graph
from console.graph.executor import GraphExecutor
from console.graph.spec import deployment_from_dict, deployment_to_dict


def test_demo_graph_runs_end_to_end_on_the_registry_models(seeded_home):
    path = write_demo_graph(seeded_home)
    manifest = yaml.safe_load(path.read_text())
    dep = deployment_from_dict(manifest)
    assert deployment_to_dict(dep) == manifest
    kinds = {n.name: n.effective_type for _, n in dep.nodes()}
    assert kinds == {"decision": "OUTPUT_TRANSFORMER", "application": "TRANSFORMER", "bureau": "TRANSFORMER",
                     "outliers": "TRANSFORMER", "ab-test": "ROUTER", "champion": "MODEL", "challenger": "MODEL"}

    rows = pd.read_parquet(seeded_home / "data" / "credit-risk" / "eval.parquet").head(20)
    request = {"data": {"names": APPLICATION, "ndarray": json.loads(rows[APPLICATION].to_json(orient="values"))}}
    executor = GraphExecutor(dep, MlflowModelSource(default_registry_uri(seeded_home)), seed=3)
    seen = set()
    for _ in range(8):
        response = executor.predict(request)
        assert response["data"]["names"] == ["p_repay", "p_default"]
        probs = response["data"]["ndarray"]
        assert len(probs) == 20 and all(abs(sum(p) - 1) < 1e-6 for p in probs)
        assert len(response["meta"]["tags"]["outlier"]) == 20
        seen.add(response["meta"]["routing"]["ab-test"])
    assert seen == {0, 1}, "the A/B router sends traffic to both the champion and the challenger"


def test_the_challenger_version_and_the_demo_strategies(seeded_home, tmp_path):
    """What the walkthrough rolls out: the same pipeline on @challenger alone, a gated canary that moves
    @champion, and a drill that can only roll back."""
    from backends.mlflow.registry import MlflowRegistry
    from console.graph.demo_graph import write_demo_rollouts
    from console.graph.manifest_io import load_file
    from console.graph.validate import has_errors, validate
    from console.rollout.spec import load_spec

    path = write_demo_graph(seeded_home).with_name("credit-risk-challenger.yaml")
    manifest = yaml.safe_load(path.read_text())
    dep = deployment_from_dict(manifest)
    assert [n.name for _, n in dep.nodes()] == ["decision", "application", "bureau", "outliers", "challenger"]
    problems = validate(load_file(path), registry=MlflowRegistry(default_registry_uri(seeded_home)))
    assert not has_errors(problems), problems
    rows = pd.read_parquet(seeded_home / "data" / "credit-risk" / "eval.parquet").head(5)
    request = {"data": {"names": APPLICATION, "ndarray": json.loads(rows[APPLICATION].to_json(orient="values"))}}
    response = GraphExecutor(dep, MlflowModelSource(default_registry_uri(seeded_home))).predict(request)
    assert response["data"]["names"] == ["p_repay", "p_default"]

    canary, drill = (load_spec(p.read_text()) for p in write_demo_rollouts(tmp_path, "2"))
    assert [s.set_weight for s in canary.steps if s.set_weight] == [10, 50, 100]
    assert {g.metric for g in canary.gates} == {"error_rate", "latency_p99"}
    assert (canary.alias.model, canary.alias.alias, canary.alias.to_version) == ("credit-risk", "champion", "2")
    assert drill.fault_rate == 0.2 and drill.alias is None and any(s.pause_indefinite for s in drill.steps)
