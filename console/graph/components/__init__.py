"""The in-process components a graph node can run, and how a node picks its component.

A node runs, in this order of precedence: a built-in named by `implementation` (mlconsole's
MLCONSOLE_* components and Seldon's RANDOM_ABTEST, AVERAGE_COMBINER, SIMPLE_MODEL,
SIMPLE_ROUTER); an MLflow model named by `modelUri` (alone, or with MLFLOW_SERVER); a
Python component named by an import path in `implementation`, or (with no implementation)
in a `component` parameter, or — Seldon's own way — by the `MODEL_NAME` environment
variable of the node's container in `componentSpecs`.
Anything else (a bare container image, a non-MLflow prepackaged server) runs only on a
cluster, and building it says so.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from console.errors import InvalidSpec
from console.graph.spec import SELDON_MODEL_SERVERS

if TYPE_CHECKING:
    from console.graph.components.base import BuildContext, Component
    from console.graph.spec import Node, Predictor

COMPONENT_PARAMETER = "component"  # names a Python component; not passed to its constructor
BUILTINS = {
    "MLCONSOLE_FEATURE_TRANSFORMER": "feature_transformer:FeatureTransformer",
    "MLCONSOLE_ENRICHMENT": "enrichment:Enrichment",
    "MLCONSOLE_OUTLIER_DETECTOR": "outlier_detector:OutlierDetector",
    "MLCONSOLE_EPSILON_GREEDY": "epsilon_greedy:EpsilonGreedy",
    "MLCONSOLE_THOMPSON_SAMPLING": "thompson_sampling:ThompsonSampling",
    "MLCONSOLE_COMBINER": "combiner:Combiner",
    "RANDOM_ABTEST": "ab_test:RandomABTest",
    "AVERAGE_COMBINER": "combiner:Combiner",
    "SIMPLE_MODEL": "seldon_builtins:SimpleModel",
    "SIMPLE_ROUTER": "seldon_builtins:SimpleRouter",
}


def container_model_name(node: Node, predictor: Predictor | None) -> str | None:
    """MODEL_NAME from the env of the container named like the node (Seldon's Python wrapper)."""
    if predictor is None:
        return None
    for spec in predictor.component_specs or []:
        pod = (spec or {}).get("spec") if isinstance(spec, dict) else None
        for container in (pod or {}).get("containers") or []:
            if not isinstance(container, dict) or container.get("name") != node.name:
                continue
            for env in container.get("env") or []:
                if isinstance(env, dict) and env.get("name") == "MODEL_NAME" and env.get("value"):
                    return str(env["value"])
    return None


def runs_as(node: Node, predictor: Predictor | None = None) -> tuple[str, str]:
    """(kind, what) a node runs as in-process: ('builtin', impl), ('model', uri), ('python', path).

    InvalidSpec, naming the node and its manifest path, when it can only run on a cluster.
    """
    from console.graph.components.python_component import looks_like_import_path

    impl = node.implementation
    if impl in BUILTINS:
        return "builtin", impl
    named = None if impl else node.param(COMPONENT_PARAMETER)
    if named:
        return "python", str(named)
    if node.model_uri and impl in (None, "", "MLFLOW_SERVER"):
        return "model", node.model_uri
    if looks_like_import_path(impl):
        return "python", impl or ""
    if impl in SELDON_MODEL_SERVERS:
        if node.model_uri and node.model_uri.startswith(("models:/", "runs:/")):
            return "model", node.model_uri  # a registry model, whatever server the manifest names
        raise InvalidSpec(f"node {node.name!r} uses {impl} with {node.model_uri or 'no modelUri'}: it runs on "
                          "a Seldon cluster, not in-process",
                          hint="point modelUri at the registry (models:/name@alias) to run it here",
                          location=node.path)
    model_name = None if impl else container_model_name(node, predictor)
    if model_name:
        return "python", model_name
    if impl:
        raise InvalidSpec(f"node {node.name!r}: implementation {impl!r} is not one mlconsole runs "
                          "(not a built-in, a prepackaged server or a Python import path)", location=node.path)
    raise InvalidSpec(f"node {node.name!r} names no model, component or built-in: it runs only as its "
                      "container image on a Seldon cluster",
                      hint="give it modelUri: models:/name@alias, an implementation, or a container with "
                           "env MODEL_NAME=module.Class",
                      location=node.path)


def build_component(node: Node, build: BuildContext) -> Component:
    """The component object for a node, loaded and ready (models loaded, tables read)."""
    kind, what = runs_as(node, build.predictor)
    if kind == "builtin":
        module_name, _, class_name = BUILTINS[what].partition(":")
        module = importlib.import_module(f"console.graph.components.{module_name}")
        return getattr(module, class_name)(node, build)
    if kind == "model":
        from console.graph.components.mlflow_model import MlflowModel

        return MlflowModel(node, build)
    from console.graph.components.python_component import PythonComponent

    return PythonComponent(node, build, what)
