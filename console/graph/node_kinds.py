"""The kinds of node the graph builder offers, each as the Seldon fields it writes.

Every kind maps onto fields a SeldonDeployment accepts: an MLflow model is a MODEL with a
`modelUri`; mlconsole's built-ins are an `implementation` with `parameters`; a Python
component is its import path in `implementation`, as Seldon's own Python wrapper names a
class. Parameters start at their defaults; those that need the user (a table path, a
reference dataset) start empty, so live validation points at them at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def param(name: str, value: Any, kind: str = "STRING") -> dict[str, str]:
    """One Seldon parameter; JSON values are written as JSON text, as Seldon expects."""
    text = json.dumps(value) if kind == "JSON" else str(value)
    return {"name": name, "value": text, "type": kind}


@dataclass(frozen=True)
class NodeKind:
    """One entry of the builder's "add node" list."""

    key: str
    label: str
    type: str
    implementation: str | None = None
    parameters: tuple[dict[str, str], ...] = ()
    needs: str | None = None  # "model": pick from the registry; "import": ask for an import path
    help: str = ""
    base_name: str = "node"
    extra: dict[str, Any] = field(default_factory=dict)

    def node(self, name: str, model_uri: str | None = None, import_path: str | None = None) -> dict[str, Any]:
        """The node mapping this kind writes, named `name`."""
        out: dict[str, Any] = {"name": name, "type": self.type}
        if self.needs == "import":
            out["implementation"] = import_path or ""
        elif self.implementation:
            out["implementation"] = self.implementation
        if self.needs == "model":
            out["modelUri"] = model_uri or ""
        if self.parameters:
            out["parameters"] = [dict(p) for p in self.parameters]
        out["children"] = []
        return out


KINDS: tuple[NodeKind, ...] = (
    NodeKind("mlflow-model", "MLflow model", "MODEL", needs="model", base_name="model",
             help="a registered model version or alias, served as pyfunc (any flavour)"),
    NodeKind("feature-transformer", "Feature transformer", "TRANSFORMER", "MLCONSOLE_FEATURE_TRANSFORMER",
             (param("columns", [], "JSON"),), base_name="features",
             help="select, scale, one-hot encode and rename columns"),
    NodeKind("enrichment", "Enrichment look-up", "TRANSFORMER", "MLCONSOLE_ENRICHMENT",
             (param("table", ""), param("key", ""), param("columns", [], "JSON")), base_name="enrich",
             help="join request rows with a Parquet or sqlite table by key"),
    NodeKind("outlier-detector", "Outlier detector", "TRANSFORMER", "MLCONSOLE_OUTLIER_DETECTOR",
             (param("reference", ""), param("features", [], "JSON"), param("method", "zscore"),
              param("threshold", 4.0, "FLOAT")), base_name="outliers",
             help="flag rows far from a reference dataset (z-score or isolation forest) in meta.tags"),
    NodeKind("ab-router", "A/B router (RANDOM_ABTEST)", "ROUTER", "RANDOM_ABTEST",
             (param("ratioA", 0.5, "FLOAT"),), base_name="ab-test",
             help="send a share ratioA of requests to the first child, the rest to the second"),
    NodeKind("epsilon-greedy", "Epsilon-greedy bandit router", "ROUTER", "MLCONSOLE_EPSILON_GREEDY",
             (param("epsilon", 0.1, "FLOAT"),), base_name="bandit",
             help="exploit the best-rewarded child, explore with probability epsilon; learns from feedback"),
    NodeKind("thompson", "Thompson-sampling bandit router", "ROUTER", "MLCONSOLE_THOMPSON_SAMPLING",
             (param("alpha", 1.0, "FLOAT"), param("beta", 1.0, "FLOAT")), base_name="thompson",
             help="Beta-Bernoulli Thompson sampling over the children; learns from feedback"),
    NodeKind("average-combiner", "Combiner: average", "COMBINER", "MLCONSOLE_COMBINER",
             (param("method", "average"),), base_name="ensemble",
             help="element-wise mean of the children's outputs"),
    NodeKind("vote-combiner", "Combiner: majority vote", "COMBINER", "MLCONSOLE_COMBINER",
             (param("method", "majority"),), base_name="vote",
             help="per row, the class most children chose"),
    NodeKind("output-transformer", "Output transformer (rename / select)", "OUTPUT_TRANSFORMER",
             "MLCONSOLE_FEATURE_TRANSFORMER", (param("rename", {}, "JSON"),), base_name="output",
             help="rename or select the answer's columns"),
    NodeKind("python-model", "Python component: model", "MODEL", needs="import", base_name="model",
             help="a class with predict(X, names), Seldon's Python component interface"),
    NodeKind("python-transformer", "Python component: transformer", "TRANSFORMER", needs="import",
             base_name="transformer", help="a class with transform_input(X, names)"),
    NodeKind("python-output-transformer", "Python component: output transformer", "OUTPUT_TRANSFORMER",
             needs="import", base_name="output", help="a class with transform_output(X, names)"),
    NodeKind("python-router", "Python component: router", "ROUTER", needs="import", base_name="router",
             help="a class with route(X, names) returning a child index (-1: all)"),
    NodeKind("python-combiner", "Python component: combiner", "COMBINER", needs="import",
             base_name="combiner", help="a class with aggregate(Xs, names_list)"),
)

BY_KEY = {kind.key: kind for kind in KINDS}
