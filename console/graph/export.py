"""Export a graph: as a SeldonDeployment for a Seldon Core v1 cluster, or as KServe objects.

Seldon: the manifest itself, normalised for `kubectl apply` (apiVersion v1, server-set
fields dropped, node types made explicit where only mlconsole knows them). mlconsole's
built-ins keep `implementation: MLCONSOLE_*` — the CRD types `implementation` as a free
string and Seldon's webhook only checks its own prepackaged servers — so the manifest
validates and re-imports unchanged; `seldon_notes` says what a cluster still needs.

KServe: one InferenceService per node that runs something, and an InferenceGraph whose
routers follow Seldon's semantics where KServe has them (chains -> Sequence, RANDOM_ABTEST
-> Splitter, COMBINER -> Ensemble, routers with conditions -> Switch); `to_kserve` lists
in plain sentences what does not map.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from console.graph.spec import (
    IMPLEMENTATION_TYPES,
    MLCONSOLE_COMPONENTS,
    Deployment,
    Node,
    Predictor,
    containers_by_name,
    deployment_to_dict,
)
from console.graph.validate import MAX_GRAPH_LEVELS, component_path, container_model_name

SELDON_API_VERSION = "machinelearning.seldon.io/v1"
KSERVE_GRAPH_API = "serving.kserve.io/v1alpha1"
KSERVE_SERVICE_API = "serving.kserve.io/v1beta1"
# Fields the API server sets: exporting them would make `kubectl apply` fail or conflict.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                   "deletionGracePeriodSeconds", "managedFields", "selfLink")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KSERVE_FORMATS = {"SKLEARN_SERVER": "sklearn", "XGBOOST_SERVER": "xgboost", "TENSORFLOW_SERVER": "tensorflow",
                  "MLFLOW_SERVER": "mlflow", "TRITON_SERVER": "triton", "HUGGINGFACE_SERVER": "huggingface"}
CONDITIONS_PARAMETER = "conditions"  # a router's JSON list of GJSON conditions, one per child, for Switch


def _children(node: Node) -> list[Node]:
    return [c for c in node.children if isinstance(c, Node)] if isinstance(node.children, list) else []


def _walk_dicts(graph: dict) -> list[dict]:
    out, stack = [], [graph]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(c for c in node.get("children") or [] if isinstance(c, dict))
    return out


# -- Seldon -------------------------------------------------------------------------------


def to_seldon(dep: Deployment) -> dict[str, Any]:
    """The SeldonDeployment to apply to a cluster (machinelearning.seldon.io/v1)."""
    out = deployment_to_dict(dep)
    out["apiVersion"] = SELDON_API_VERSION  # v1alpha2/3 have the same spec; only v1 is served by 1.18
    out.pop("status", None)
    meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
    for key in SERVER_METADATA:
        meta.pop(key, None)
    if isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
        if not meta["annotations"]:
            meta.pop("annotations")
    for pdict, predictor in zip(out["spec"]["predictors"], dep.predictors, strict=False):
        containers = containers_by_name(predictor)
        for node in _walk_dicts(pdict["graph"]):
            impl = node.get("implementation")
            # Seldon infers a type only for its own servers; for ours it would assume MODEL.
            if impl in MLCONSOLE_COMPONENTS and not node.get("type"):
                node["type"] = IMPLEMENTATION_TYPES[impl]
            uri = node.get("modelUri")
            # An MLflow model alone runs in Seldon's MLflow server (the webhook needs a container or a server).
            if isinstance(uri, str) and uri and not impl and node.get("name") not in containers:
                node["implementation"] = "MLFLOW_SERVER"
            for param in node.get("parameters") or []:
                # The CRD requires name, value and type, all strings.
                param.setdefault("type", "STRING")
                for key in ("name", "value", "type"):
                    value = param.get(key)
                    if not isinstance(value, str):
                        param[key] = "" if value is None else json.dumps(value) if isinstance(value, bool) \
                            else str(value)
    return out


def seldon_notes(dep: Deployment) -> list[str]:
    """What a Seldon cluster needs beyond the exported manifest, one sentence each."""
    notes: list[str] = []
    for predictor in dep.predictors:
        containers = containers_by_name(predictor)
        depth_noted = False
        stack = [(predictor.graph, 1)] if isinstance(predictor.graph, Node) else []
        while stack:
            node, depth = stack.pop()
            stack.extend((c, depth + 1) for c in reversed(_children(node)))
            has_container = node.name in containers
            if depth > MAX_GRAPH_LEVELS and not depth_noted:
                depth_noted = True
                notes.append(f"Predictor {predictor.name!r} is deeper than {MAX_GRAPH_LEVELS} levels: the API "
                             "server drops the children below that level.")
            if node.implementation in MLCONSOLE_COMPONENTS and not has_container:
                notes.append(f"Node {node.name!r} is mlconsole's {node.implementation}: Seldon accepts the manifest "
                             "but has no server for it; give it a container named "
                             f"{node.name!r} in componentSpecs that serves it.")
            path = component_path(node)
            if path and not has_container:
                notes.append(f"Node {node.name!r} runs the Python component {path!r}: on a cluster it needs a "
                             f"container named {node.name!r} running Seldon's Python wrapper with "
                             f"MODEL_NAME={path.replace(':', '.')}.")
            uri = node.model_uri or ""
            if uri.startswith(("models:/", "runs:/")):
                notes.append(f"Node {node.name!r} loads {uri} (exported with MLFLOW_SERVER): Seldon's storage "
                             "initializer cannot fetch MLflow registry URIs; point modelUri at the version's "
                             "artifact location (s3://, gs://, ...) before applying.")
    return notes


# -- KServe --------------------------------------------------------------------------------


def _dns(name: str, limit: int = 63) -> str:
    """A DNS-1035 label: lowercase, '-', starting with a letter, at most `limit` characters."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "node"
    if not text[0].isalpha():
        text = f"n-{text}"
    if len(text) > limit:
        digest = hashlib.sha1(text.encode()).hexdigest()[:6]
        text = f"{text[:limit - 7].rstrip('-')}-{digest}"
    return text


class _KServeGraph:
    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.services: dict[str, dict] = {}
        self.nodes: dict[str, dict] = {}
        self.notes: list[str] = []
        self.meta = {"namespace": dep.namespace} if dep.namespace else {}
        self.protocol_noted = False
        self.registry_noted = False

    def unique_node(self, wanted: str) -> str:
        base = _dns(wanted, 50)
        name, i = base, 2
        while name in self.nodes or name == "root":
            name, i = f"{base}-{i}", i + 1
        return name

    def service(self, node: Node, predictor: Predictor, prefix: str) -> dict:
        """The step calling node's InferenceService (declared here when it maps)."""
        name = _dns(f"{prefix}-{node.name}")
        step = {"name": _dns(node.name, 50), "serviceName": name}
        if name in self.services:
            return step
        container = containers_by_name(predictor).get(node.name)
        impl = node.implementation
        uri = node.model_uri or ""
        spec: dict[str, Any] | None = None
        if container is not None:
            c = copy.deepcopy(container)
            c["name"] = "kserve-container"
            spec = {"containers": [c]}
            if not self.protocol_noted and (container_model_name(container) or not impl):
                self.protocol_noted = True
                self.notes.append("Containers built for Seldon's Python wrapper speak Seldon's protocol; KServe's "
                                  "graph router sends KServe v1/v2 payloads, so such images need a KServe server.")
        elif impl in KSERVE_FORMATS and uri:
            spec = {"model": {"modelFormat": {"name": KSERVE_FORMATS[impl]}, "storageUri": uri}}
            if impl == "MLFLOW_SERVER":
                spec["model"]["protocolVersion"] = "v2"
        elif uri and not impl:
            spec = {"model": {"modelFormat": {"name": "mlflow"}, "protocolVersion": "v2", "storageUri": uri}}
        if spec is not None and uri.startswith(("models:/", "runs:/")) and not self.registry_noted:
            self.registry_noted = True
            self.notes.append("MLflow registry URIs (models:/...) are not storage KServe can fetch: set each "
                              "storageUri to the version's artifact location before applying.")
        if spec is None:
            what = impl or component_path(node) or "no model"
            self.notes.append(f"Node {node.name!r} ({what}) has no KServe equivalent: the graph calls "
                              f"InferenceService {name!r}, which you must provide.")
            self.services[name] = {}
            return step
        self.services[name] = {
            "apiVersion": KSERVE_SERVICE_API, "kind": "InferenceService",
            "metadata": {"name": name, **self.meta, "labels": {"mlconsole.io/graph": _dns(self.dep.name)}},
            "spec": {"predictor": spec},
        }
        return step

    def chain(self, node: Node, predictor: Predictor, prefix: str) -> list[dict]:
        """The steps a request takes through node's subtree, in order."""
        kind = node.resolved_type
        children = _children(node)
        if kind == "ROUTER":
            return [self.router(node, children, predictor, prefix)]
        if kind == "COMBINER":
            return [self.ensemble(node, children, predictor, prefix)]
        own = self.service(node, predictor, prefix)
        if not children:
            below: list[dict] = []
        elif len(children) == 1:
            below = self.chain(children[0], predictor, prefix)
        else:
            self.notes.append(f"Node {node.name!r} ({kind}) has {len(children)} children without being a "
                              "combiner: mapped to an Ensemble of them.")
            below = [self.ensemble(node, children, predictor, prefix, own_name=f"{node.name}-children")]
        return below + [own] if kind == "OUTPUT_TRANSFORMER" else [own] + below

    def as_step(self, child: Node, predictor: Predictor, prefix: str) -> dict:
        """One step standing for a whole subtree (a Sequence node when it has several steps)."""
        steps = self.chain(child, predictor, prefix)
        if len(steps) == 1:
            return steps[0]
        name = self.unique_node(child.name)
        self.nodes[name] = {"routerType": "Sequence", "steps": _sequence(steps)}
        return {"name": _dns(child.name, 50), "nodeName": name}

    def ensemble(self, node: Node, children: list[Node], predictor: Predictor, prefix: str,
                 own_name: str | None = None) -> dict:
        name = self.unique_node(own_name or node.name)
        self.nodes[name] = {"routerType": "Ensemble", "steps": []}
        self.nodes[name]["steps"] = _unique_names([self.as_step(c, predictor, prefix) for c in children])
        if own_name is None:
            how = _param(node, "method", "average") if node.implementation == "MLCONSOLE_COMBINER" else None
            what = f"{node.implementation} ({how})" if how else (node.implementation or "its aggregate()")
            self.notes.append(f"Combiner {node.name!r} maps to an Ensemble, which returns every child's response "
                              f"side by side: {what} is not applied.")
        return {"name": _dns(node.name, 50), "nodeName": name}

    def router(self, node: Node, children: list[Node], predictor: Predictor, prefix: str) -> dict:
        impl = node.implementation
        if impl == "SIMPLE_ROUTER" and children:
            if len(children) > 1:
                self.notes.append(f"Router {node.name!r} (SIMPLE_ROUTER) always picks its first child: the others "
                                  "are left out.")
            return self.as_step(children[0], predictor, prefix)
        name = self.unique_node(node.name)
        self.nodes[name] = {"routerType": "Splitter", "steps": []}
        steps = _unique_names([self.as_step(c, predictor, prefix) for c in children])
        conditions = _conditions(node, len(children))
        if impl == "RANDOM_ABTEST" and len(steps) == 2:
            try:
                ratio = float(_param(node, "ratioA", 0.5))
            except (TypeError, ValueError):
                ratio = 0.5
            first = max(0, min(100, round(ratio * 100)))
            for step, weight in zip(steps, (first, 100 - first), strict=True):
                step["weight"] = weight
        elif conditions is not None:
            self.nodes[name]["routerType"] = "Switch"
            for step, condition in zip(steps, conditions, strict=True):
                step["condition"] = condition
        else:
            for step, weight in zip(steps, _even(len(steps)), strict=True):
                step["weight"] = weight
            what = impl or component_path(node) or "a custom router"
            self.notes.append(f"Router {node.name!r} ({what}) decides in code KServe cannot run: exported as a "
                              f"Splitter with equal weights; give it a {CONDITIONS_PARAMETER!r} parameter (a JSON "
                              "list of GJSON conditions, one per child) to export a Switch instead.")
        self.nodes[name]["steps"] = steps
        return {"name": _dns(node.name, 50), "nodeName": name}

    def build(self) -> list[dict]:
        predictors = [p for p in self.dep.predictors if isinstance(p.graph, Node)]
        serving = [p for p in predictors if not p.shadow]
        for p in predictors:
            if p.shadow:
                self.notes.append(f"Shadow predictor {p.name!r} is left out: an InferenceGraph cannot mirror traffic.")
        multi = len(serving) > 1
        if not serving:
            root_steps: list[dict] = []
        elif not multi:
            root_steps = self.chain(serving[0].graph, serving[0], _dns(self.dep.name))
        else:
            split = []
            for p in serving:
                steps = self.chain(p.graph, p, _dns(f"{self.dep.name}-{p.name}"))
                name = self.unique_node(p.name)
                self.nodes[name] = {"routerType": "Sequence", "steps": _sequence(steps)}
                split.append({"name": _dns(p.name, 50), "nodeName": name, "weight": p.traffic})
            root_steps = [{"nodeName": "root"}]
            self.nodes["root"] = {"routerType": "Splitter", "steps": _unique_names(split)}
        if not multi:
            if len(root_steps) == 1 and "nodeName" in root_steps[0]:
                # The graph starts with a router or combiner: that node is the root.
                self.nodes["root"] = self.nodes.pop(root_steps[0]["nodeName"])
            else:
                self.nodes["root"] = {"routerType": "Sequence", "steps": _sequence(root_steps)}
        nodes = {"root": self.nodes.pop("root"), **self.nodes}
        graph = {"apiVersion": KSERVE_GRAPH_API, "kind": "InferenceGraph",
                 "metadata": {"name": _dns(self.dep.name), **self.meta}, "spec": {"nodes": nodes}}
        return [s for s in self.services.values() if s] + [graph]


def _sequence(steps: list[dict]) -> list[dict]:
    """Sequence steps: each after the first takes the previous step's response."""
    out = _unique_names([dict(s) for s in steps])
    for step in out[1:]:
        step["data"] = "$response"
    return out


def _unique_names(steps: list[dict]) -> list[dict]:
    seen: set[str] = set()
    for step in steps:
        base, i = step.get("name", "step"), 2
        while step.get("name") in seen:
            step["name"], i = f"{base}-{i}", i + 1
        seen.add(step["name"])
    return steps


def _even(n: int) -> list[int]:
    base, extra = divmod(100, max(n, 1))
    return [base + (1 if i < extra else 0) for i in range(n)]


def _param(node: Node, name: str, default: Any = None) -> Any:
    try:
        return node.param(name, default)
    except (ValueError, TypeError, RecursionError):
        return default


def _conditions(node: Node, count: int) -> list[str] | None:
    value = _param(node, CONDITIONS_PARAMETER)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, list) and len(value) == count and all(isinstance(v, str) and v for v in value):
        return value
    return None


def to_kserve(dep: Deployment) -> tuple[list[dict[str, Any]], list[str]]:
    """KServe InferenceServices and one InferenceGraph, and what does not map, in sentences."""
    graph = _KServeGraph(dep)
    docs = graph.build()
    notes = list(dict.fromkeys(graph.notes))  # once each, in order
    return docs, notes
