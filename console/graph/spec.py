"""The inference graph spec: Seldon Core v1 SeldonDeployment, as plain dataclasses.

Each object keeps the mapping it was read from (`raw`), so fields this project does not
interpret — componentSpecs, svcOrchSpec, explainer, labels, anything a newer Seldon adds —
survive a load/dump round trip unchanged and in their original order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "machinelearning.seldon.io/v1"
KIND = "SeldonDeployment"

NODE_TYPES = ("MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER", "ROUTER", "COMBINER")

# Seldon's prepackaged servers and built-in routers (implementation field). Prepackaged model
# servers imply type MODEL when a node leaves its type out.
SELDON_MODEL_SERVERS = (
    "SKLEARN_SERVER", "XGBOOST_SERVER", "TENSORFLOW_SERVER", "MLFLOW_SERVER", "TRITON_SERVER",
    "HUGGINGFACE_SERVER", "TEMPO_SERVER",
)
SELDON_ROUTERS = ("RANDOM_ABTEST", "AVERAGE_COMBINER", "SIMPLE_MODEL", "SIMPLE_ROUTER")

# mlconsole's built-in components ride in Seldon's fields: a node's `implementation` names
# the component and its `parameters` configure it, so the manifest stays valid for Seldon.
MLCONSOLE_COMPONENTS = (
    "MLCONSOLE_FEATURE_TRANSFORMER", "MLCONSOLE_ENRICHMENT", "MLCONSOLE_OUTLIER_DETECTOR",
    "MLCONSOLE_EPSILON_GREEDY", "MLCONSOLE_THOMPSON_SAMPLING", "MLCONSOLE_COMBINER",
)
PARAMETER_TYPES = ("STRING", "INT", "FLOAT", "DOUBLE", "BOOL", "JSON")

# The node type an implementation implies when the node leaves `type` out. Seldon itself
# infers MODEL for prepackaged servers; its routers and mlconsole's built-ins act as below.
IMPLEMENTATION_TYPES = {
    **{server: "MODEL" for server in SELDON_MODEL_SERVERS},
    "RANDOM_ABTEST": "ROUTER", "SIMPLE_ROUTER": "ROUTER", "AVERAGE_COMBINER": "COMBINER",
    "SIMPLE_MODEL": "MODEL",
    "MLCONSOLE_FEATURE_TRANSFORMER": "TRANSFORMER", "MLCONSOLE_ENRICHMENT": "TRANSFORMER",
    "MLCONSOLE_OUTLIER_DETECTOR": "TRANSFORMER", "MLCONSOLE_EPSILON_GREEDY": "ROUTER",
    "MLCONSOLE_THOMPSON_SAMPLING": "ROUTER", "MLCONSOLE_COMBINER": "COMBINER",
}


@dataclass
class Parameter:
    """A Seldon graph parameter: name, type and a value kept as Seldon writes it (a string)."""

    name: str
    value: str
    type: str = "STRING"
    # The mapping it was read from; None when built in the console (then every field is written).
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def typed(self) -> Any:
        """The value converted by its declared type (JSON parsed, numbers as numbers)."""
        import json

        kind = self.type.upper()
        if kind in ("INT",):
            return int(self.value)
        if kind in ("FLOAT", "DOUBLE"):
            return float(self.value)
        if kind == "BOOL":
            return str(self.value).strip().lower() in ("1", "true", "yes")
        if kind == "JSON":
            return json.loads(self.value)
        return self.value


@dataclass
class Node:
    """One node of a predictor's graph."""

    name: str
    type: str | None = None
    implementation: str | None = None
    model_uri: str | None = None
    parameters: list[Parameter] = field(default_factory=list)
    endpoint: dict[str, Any] | None = None
    children: list[Node] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    path: str = ""
    line: int | None = field(default=None, compare=False)

    @property
    def effective_type(self) -> str:
        """The declared type, or MODEL (Seldon's default) when it is left out."""
        return (self.type or "MODEL").upper()

    @property
    def resolved_type(self) -> str:
        """The declared type, else the one its implementation implies, else MODEL (as Seldon does)."""
        if isinstance(self.type, str) and self.type:
            return self.type.upper()
        implied = IMPLEMENTATION_TYPES.get(self.implementation) if isinstance(self.implementation, str) else None
        return implied or "MODEL"

    def param(self, name: str, default: Any = None) -> Any:
        """A parameter's typed value, or default."""
        for p in self.parameters:
            if p.name == name:
                return p.typed()
        return default

    def walk(self):
        """This node and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Predictor:
    """A predictor: one graph with its share of traffic (or a shadow copy)."""

    name: str
    graph: Node
    traffic: int = 0
    shadow: bool = False
    replicas: int | None = None
    component_specs: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    path: str = ""
    line: int | None = field(default=None, compare=False)


def containers_by_name(predictor: Predictor) -> dict[str, dict[str, Any]]:
    """The containers of a predictor's componentSpecs by name (Seldon matches them to nodes by name)."""
    out: dict[str, dict[str, Any]] = {}
    specs = predictor.component_specs if isinstance(predictor.component_specs, list) else []
    for spec in specs:
        pod = spec.get("spec") if isinstance(spec, dict) else None
        containers = pod.get("containers") if isinstance(pod, dict) else None
        for c in containers if isinstance(containers, list) else []:
            if isinstance(c, dict) and isinstance(c.get("name"), str):
                out.setdefault(c["name"], c)
    return out


@dataclass
class Deployment:
    """A SeldonDeployment: metadata plus predictors."""

    name: str
    predictors: list[Predictor] = field(default_factory=list)
    namespace: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    line: int | None = field(default=None, compare=False)
    # Where it was read from: the file, the YAML line of every manifest path
    # ("spec.predictors[0].traffic" -> 12), and what the loader noticed on the way.
    source: str = field(default="", compare=False)
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    notes: list[str] = field(default_factory=list, compare=False)

    def nodes(self):
        """(predictor, node) for every node of every predictor."""
        for predictor in self.predictors:
            for node in predictor.graph.walk():
                yield predictor, node


# -- from and to plain mappings ---------------------------------------------------------


def _node_from(data: dict[str, Any], path: str) -> Node:
    params = [
        Parameter(name=str(p.get("name", "")), value="" if p.get("value") is None else str(p.get("value")),
                  type=str(p.get("type", "STRING")), raw=p)
        for p in data.get("parameters") or [] if isinstance(p, dict)
    ]
    children = data.get("children") or []
    return Node(
        name=str(data.get("name", "")),
        type=data.get("type"),
        implementation=data.get("implementation"),
        model_uri=data.get("modelUri"),
        parameters=params,
        endpoint=data.get("endpoint"),
        children=[_node_from(c, f"{path}.children[{i}]") for i, c in enumerate(children) if isinstance(c, dict)],
        raw=data,
        path=path,
    )


def deployment_from_dict(data: dict[str, Any]) -> Deployment:
    """Build the dataclasses from a parsed manifest. Structural checks live in validate.py."""
    meta = data.get("metadata") or {}
    spec = data.get("spec") or {}
    predictors = []
    for i, p in enumerate(spec.get("predictors") or []):
        if not isinstance(p, dict):
            continue
        path = f"spec.predictors[{i}]"
        predictors.append(Predictor(
            name=str(p.get("name", "")),
            graph=_node_from(p.get("graph") or {}, f"{path}.graph"),
            traffic=int(p.get("traffic") or 0) if str(p.get("traffic") or 0).lstrip("-").isdigit() else 0,
            shadow=bool(p.get("shadow", False)),
            replicas=p.get("replicas"),
            component_specs=list(p.get("componentSpecs") or []),
            raw=p,
            path=path,
        ))
    return Deployment(
        name=str(meta.get("name") or spec.get("name") or ""),
        predictors=predictors,
        namespace=meta.get("namespace"),
        annotations=dict(meta.get("annotations") or {}),
        labels=dict(meta.get("labels") or {}),
        raw=data,
    )


_EMPTY = (None, [], {})


def _merged(raw: dict[str, Any], fields: dict[str, Any], always: tuple[str, ...] = ()) -> dict[str, Any]:
    """raw with the interpreted fields replaced, keys in the source's order.

    A field the source had keeps its place (an explicit null or [] stays as written); one
    that was cleared since (None) is dropped; a new one is added after the source's keys
    unless it is empty. Everything else in raw is carried over untouched.
    """
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            out[key] = copy.deepcopy(value)
        elif fields[key] is None and value is not None:
            continue
        else:
            out[key] = fields[key]
    for key, value in fields.items():
        if key not in raw and (key in always or not any(value is e or value == e for e in _EMPTY)):
            out[key] = value
    return out


def _same_text(raw_value: Any, text: str) -> bool:
    return raw_value is not None and not isinstance(raw_value, (dict, list)) and str(raw_value) == text


def _parameter_to(p: Parameter) -> dict[str, Any]:
    from_source = isinstance(p.raw, dict)
    raw = p.raw if from_source else {}
    # Keep the source's own spelling (e.g. an unquoted number) when the value is unchanged.
    name = raw["name"] if _same_text(raw.get("name"), p.name) else p.name
    value = raw["value"] if _same_text(raw.get("value"), p.value) else p.value
    fields = {"name": name, "value": value, "type": p.type}
    # What the source left out stays out (validate.py reports it): name and value when
    # still empty, type when still Seldon's default.
    for key, default in (("name", ""), ("value", ""), ("type", "STRING")):
        if from_source and key not in raw and fields[key] == default:
            fields.pop(key)
    return _merged(raw, fields, always=tuple(fields))


def _node_to(node: Node) -> dict[str, Any]:
    fields = {
        "name": node.name,
        "type": node.type,
        "implementation": node.implementation,
        "modelUri": node.model_uri,
        "parameters": [_parameter_to(p) for p in node.parameters],
        "endpoint": copy.deepcopy(node.endpoint),
        "children": [_node_to(c) for c in node.children],
    }
    return _merged(node.raw if isinstance(node.raw, dict) else {}, fields, always=("name",))


def _predictor_to(p: Predictor) -> dict[str, Any]:
    fields = {
        "name": p.name,
        "graph": _node_to(p.graph),
        "traffic": p.traffic if (p.traffic or "traffic" in p.raw) else None,
        "shadow": p.shadow if (p.shadow or "shadow" in p.raw) else None,
        "replicas": p.replicas,
        "componentSpecs": copy.deepcopy(p.component_specs),
    }
    return _merged(p.raw if isinstance(p.raw, dict) else {}, fields, always=("name", "graph"))


def deployment_to_dict(dep: Deployment) -> dict[str, Any]:
    """The manifest, with every field the source had (in its order) and the edits applied."""
    raw = dep.raw if isinstance(dep.raw, dict) else {}
    meta_raw = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    spec_raw = raw.get("spec") if isinstance(raw.get("spec"), dict) else {}
    metadata = _merged(meta_raw, {
        "name": dep.name,
        "namespace": dep.namespace,
        "annotations": dict(dep.annotations),
        "labels": dict(dep.labels),
    }, always=("name",))
    spec = _merged(spec_raw, {"predictors": [_predictor_to(p) for p in dep.predictors]},
                   always=("predictors",))
    return _merged(raw, {"apiVersion": raw.get("apiVersion", API_VERSION), "kind": raw.get("kind", KIND),
                         "metadata": metadata, "spec": spec}, always=("apiVersion", "kind", "metadata", "spec"))
