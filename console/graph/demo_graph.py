"""The demo inference graph: application -> bureau enrichment -> outlier flags -> A/B over the
champion and challenger -> a named decision. Written by `mlconsole demo` under home/graphs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.data.demo_dataset import KEY

if TYPE_CHECKING:
    from console.rollout.spec import RolloutSpec

# What an application carries; the credit bureau supplies the rest by applicant id.
APPLICATION = [KEY, "age", "income", "loan_amount", "loan_term_months", "debt_to_income",
               "employment_type", "home_ownership", "loan_purpose", "region"]
BUREAU = ["credit_history_years", "num_open_accounts", "num_late_payments"]
OUTLIER_FEATURES = ["income", "loan_amount", "debt_to_income"]


def _param(name: str, value: Any, kind: str = "STRING") -> dict[str, str]:
    text = json.dumps(value) if kind == "JSON" else str(value)
    return {"name": name, "value": text, "type": kind}


def demo_manifest(home: Path) -> dict[str, Any]:
    """The SeldonDeployment of the demo graph, with paths under home."""
    data = home / "data" / "credit-risk"
    model = lambda name, ref: {  # noqa: E731 - two identical leaves
        "name": name, "type": "MODEL", "modelUri": f"models:/credit-risk@{ref}", "children": []}
    router = {"name": "ab-test", "type": "ROUTER", "implementation": "RANDOM_ABTEST",
              # Seldon reads ratioA only when it is the router's sole parameter.
              "parameters": [_param("ratioA", 0.5, "FLOAT")],
              "children": [model("champion", "champion"), model("challenger", "challenger")]}
    outliers = {"name": "outliers", "type": "TRANSFORMER", "implementation": "MLCONSOLE_OUTLIER_DETECTOR",
                "parameters": [_param("reference", data / "train.parquet"),
                               _param("features", OUTLIER_FEATURES, "JSON"),
                               _param("threshold", 4.0, "FLOAT")],
                "children": [router]}
    enrich = {"name": "bureau", "type": "TRANSFORMER", "implementation": "MLCONSOLE_ENRICHMENT",
              "parameters": [_param("table", data / "bureau.parquet"), _param("key", KEY),
                             _param("columns", BUREAU, "JSON")],
              "children": [outliers]}
    application = {"name": "application", "type": "TRANSFORMER",
                   "implementation": "MLCONSOLE_FEATURE_TRANSFORMER",
                   "parameters": [_param("columns", APPLICATION, "JSON")], "children": [enrich]}
    decision = {"name": "decision", "type": "OUTPUT_TRANSFORMER",
                "implementation": "MLCONSOLE_FEATURE_TRANSFORMER",
                "parameters": [_param("rename", {"t:0": "p_repay", "t:1": "p_default"}, "JSON")],
                "children": [application]}
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "credit-risk", "labels": {"app": "credit-risk"},
                     "annotations": {"mlconsole.io/description":
                                     "credit decision: A/B between @champion and @challenger"}},
        "spec": {"name": "credit-risk",
                 "predictors": [{"name": "main", "traffic": 100, "replicas": 1, "graph": decision}]},
    }


def challenger_manifest(home: Path) -> dict[str, Any]:
    """The demo graph's next version: the same pipeline with every request going to @challenger.

    This is what a canary of the challenger rolls out (the A/B inside the graph is how the
    demo compares the two models on live traffic; the canary is how the winner ships).
    """
    manifest = demo_manifest(home)
    outliers = _find(manifest["spec"]["predictors"][0]["graph"], "outliers")
    outliers["children"] = [{"name": "challenger", "type": "MODEL",
                             "modelUri": "models:/credit-risk@challenger", "children": []}]
    manifest["metadata"]["annotations"]["mlconsole.io/description"] = "credit decision by @challenger"
    return manifest


def _find(node: dict[str, Any], name: str) -> dict[str, Any] | None:
    if node["name"] == name:
        return node
    for child in node.get("children", []):
        if (found := _find(child, name)) is not None:
            return found
    return None


def demo_rollouts(challenger_version: str) -> dict[str, RolloutSpec]:
    """Strategies the demo offers in home/rollouts (the Cluster view's `o` lists them).

    The canary ships the challenger in three steps gated on errors and p99 and, once it
    serves everything, points credit-risk@champion at its version; the drill is a canary
    with a fifth of the candidate's requests failing, held at 20% so it can only roll back.
    """
    from console.rollout.spec import AliasMove, Gate, RolloutSpec, Step

    errors = Gate("error_rate", "<", 0.05, window_seconds=20.0, min_requests=10, failure_limit=2,
                  inconclusive_limit=3)
    p99 = Gate("latency_p99", "<", 0.5, window_seconds=20.0, min_requests=10, failure_limit=2,
               inconclusive_limit=3)
    canary = RolloutSpec(
        "canary", steps=(Step(set_weight=10), Step(pause_seconds=20.0), Step(set_weight=50),
                         Step(pause_seconds=20.0), Step(set_weight=100)),
        gates=(errors, p99), analysis_interval=5.0,
        alias=AliasMove("credit-risk", "champion", str(challenger_version)))
    drill = RolloutSpec(
        "canary", steps=(Step(set_weight=20), Step(pause_indefinite=True), Step(set_weight=100)),
        gates=(Gate("error_rate", "<", 0.05, window_seconds=10.0, min_requests=10, failure_limit=1,
                    inconclusive_limit=3),),
        analysis_interval=2.0, fault_rate=0.2)
    return {"challenger-canary.yaml": canary, "challenger-drill.yaml": drill}


def write_demo_rollouts(home: Path, challenger_version: str) -> list[Path]:
    """Write the demo's rollout strategies under home/rollouts; return their paths."""
    from console.rollout.spec import dump_spec

    folder = home / "rollouts"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, spec in demo_rollouts(challenger_version).items():
        path = folder / filename
        path.write_text(dump_spec(spec), encoding="utf-8")
        written.append(path)
    return written


def write_demo_graph(home: Path) -> Path:
    """Write the bureau look-up table and the manifest; return the manifest's path."""
    import pandas as pd
    import yaml

    data = home / "data" / "credit-risk"
    frames = [pd.read_parquet(data / f"{part}.parquet", columns=[KEY, *BUREAU]) for part in ("train", "eval")]
    pd.concat(frames, ignore_index=True).to_parquet(data / "bureau.parquet", index=False)
    target = home / "graphs" / "credit-risk.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(demo_manifest(home), sort_keys=False), encoding="utf-8")
    target.with_name("credit-risk-challenger.yaml").write_text(
        yaml.safe_dump(challenger_manifest(home), sort_keys=False), encoding="utf-8")
    return target
