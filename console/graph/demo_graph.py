"""The demo inference graph: application -> bureau enrichment -> outlier flags -> A/B over the
champion and challenger -> a named decision. Written by `mlconsole demo` under home/graphs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from console.data.demo_dataset import KEY

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
    return target
