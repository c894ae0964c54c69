"""Judge a Deployment: precise, located problems, as Seldon's admission webhook and the local
runtime would see them. Never raises: every finding is a Problem.

Seldon-side rules follow Seldon Core v1's CRD (field names and types) and its validating
webhook (traffic, duplicate predictors, prepackaged servers need a modelUri, one endpoint
type per graph); mlconsole-side rules cover its built-in components, MLflow `models:/` URIs
and Python components given by import path.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from console.errors import BackendUnavailable, ConsoleError, NotFound
from console.graph.spec import (
    IMPLEMENTATION_TYPES,
    MLCONSOLE_COMPONENTS,
    NODE_TYPES,
    PARAMETER_TYPES,
    SELDON_MODEL_SERVERS,
    SELDON_ROUTERS,
    Deployment,
    Node,
    Parameter,
    Predictor,
    containers_by_name,
)

ERROR, WARNING = "error", "warning"

# Seldon's CRD stops describing `children` after this many levels; the API server prunes below.
MAX_GRAPH_LEVELS = 11
SELDON_METHODS = ("predict", "transform_input", "transform_output", "route", "aggregate")
METHOD_FOR_TYPE = {"MODEL": "predict", "TRANSFORMER": "transform_input",
                   "OUTPUT_TRANSFORMER": "transform_output", "ROUTER": "route", "COMBINER": "aggregate"}
REMOTE_SCHEMES = ("gs", "s3", "azure", "wasb", "wasbs", "abfs", "abfss", "http", "https", "hdfs", "pvc")
COMPONENT_PARAMETER = "component"  # a Python component by import path: "package.module:ClassName"

# Field names Seldon Core v1's CRD knows at each level. Anything else is pruned by the API
# server (or refused by `kubectl apply --validate=strict`), so it is reported.
TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
METADATA_FIELDS = (
    "name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
    "managedFields", "selfLink",
)
SPEC_FIELDS = ("annotations", "name", "oauth_key", "oauth_secret", "predictors", "protocol", "replicas",
               "serverType", "transport")
PREDICTOR_FIELDS = ("annotations", "componentSpecs", "engineResources", "explainer", "graph", "labels", "name",
                    "replicas", "shadow", "ssl", "svcOrchSpec", "traffic")
NODE_FIELDS = ("children", "endpoint", "envSecretRefName", "implementation", "logger", "methods", "modelUri",
               "name", "parameters", "serviceAccountName", "storageInitializerImage", "type")
PARAMETER_FIELDS = ("name", "type", "value")
ENDPOINT_FIELDS = ("grpcPort", "httpPort", "service_host", "service_port", "type")
LOGGER_FIELDS = ("mode", "url")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class ComponentRule:
    """The parameters a built-in component takes: required, one-of, allowed values and ranges."""

    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    # The executor builds these components; a new parameter there belongs here too.

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.one_of + self.optional


# What each built-in reads from its parameters, as console/graph/components/ builds them.
# `shapes` are JSON parameters (a JSON-typed value, or a STRING holding JSON).
COMPONENT_RULES: dict[str, ComponentRule] = {
    "MLCONSOLE_FEATURE_TRANSFORMER": ComponentRule(
        one_of=("columns", "scale", "one_hot", "rename"), optional=("seed",)),
    "MLCONSOLE_ENRICHMENT": ComponentRule(required=("table", "key"), optional=("columns", "seed")),
    "MLCONSOLE_OUTLIER_DETECTOR": ComponentRule(
        required=("reference",), optional=("features", "method", "threshold", "contamination", "seed"),
        choices={"method": ("zscore", "isolation_forest")}),
    "MLCONSOLE_EPSILON_GREEDY": ComponentRule(optional=("epsilon", "best_branch", "seed"),
                                              ranges={"epsilon": (0.0, 1.0)}),
    "MLCONSOLE_THOMPSON_SAMPLING": ComponentRule(optional=("alpha", "beta", "seed")),
    "MLCONSOLE_COMBINER": ComponentRule(optional=("method", "seed"), choices={"method": ("average", "majority")}),
    "RANDOM_ABTEST": ComponentRule(optional=("ratioA", "seed"), ranges={"ratioA": (0.0, 1.0)}),
}
JSON_SHAPES: dict[str, type] = {"columns": list, "features": list, "scale": dict, "one_hot": dict, "rename": dict}


@dataclass
class Problem:
    """One finding: how bad, what, where (manifest path and YAML line) and what to do."""

    severity: str
    message: str
    path: str = ""
    line: int | None = None
    hint: str = ""
    code: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self, source: str = "") -> str:
        """`FILE:LINE: error: PATH: message (hint)`, the way compilers print."""
        where = source or "<manifest>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.severity}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


def has_errors(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error."""
    return any(p.is_error for p in problems)


# -- helpers ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _closest(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if not match:
        upper = [o for o in options if o.upper() == word.upper()]
        match = upper
    return f"did you mean {match[0]}?" if match else ""


def parse_model_uri(uri: str) -> tuple[str, str] | None:
    """'models:/credit-risk@champion' -> ('credit-risk', '@champion'); '.../3' -> (.., '3'); else None."""
    rest = uri[len("models:/"):] if uri.startswith("models:/") else ""
    rest = rest.lstrip("/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if name and alias and "/" not in alias and "/" not in name:
            return name, f"@{alias}"
        return None
    name, _, version = rest.partition("/")
    if name and version and "/" not in version:
        return name, version
    return None


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def _params(node: Node) -> list[Parameter]:
    return [p for p in node.parameters if isinstance(p, Parameter)] if isinstance(node.parameters, list) else []


def looks_like_import_path(text: Any) -> bool:
    """'pkg.mod:Class', 'pkg.mod.Class' or 'Module' — not one of Seldon's UPPER_CASE names."""
    if not isinstance(text, str) or not text or text.upper() == text:
        return False
    return all(part.isidentifier() for part in re.split(r"[.:]", text)) and text.count(":") <= 1 \
        and not re.search(r":.*\.", text)


def component_path(node: Node) -> str | None:
    """The import path of a node's Python component: in `implementation` (as the executor reads
    it), or in a `component` parameter when there is no implementation."""
    if looks_like_import_path(node.implementation):
        return node.implementation
    if node.implementation:
        return None
    for p in _params(node):
        if p.name == COMPONENT_PARAMETER:
            return _text(p.value)
    return None


def container_model_name(container: dict | None) -> str | None:
    """MODEL_NAME of a container's env: the class Seldon's Python wrapper serves."""
    env = container.get("env") if isinstance(container, dict) else None
    for item in env if isinstance(env, list) else []:
        if isinstance(item, dict) and item.get("name") == "MODEL_NAME" and isinstance(item.get("value"), str):
            return item["value"]
    return None


def _split_list(value: Any) -> list[str]:
    """A `columns` parameter as a list: JSON list or comma-separated text."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
                if isinstance(parsed, list):
                    return [str(v) for v in parsed]
            except ValueError:
                pass
        return [part.strip() for part in text.split(",") if part.strip()]
    return []


def _param_value(p: Parameter) -> tuple[bool, Any]:
    """(parses, value) for a parameter's declared type, the way Seldon's wrapper reads it."""
    kind = _text(p.type).upper()
    value = _text(p.value)
    try:
        if kind == "INT":
            return True, int(value)
        if kind in ("FLOAT", "DOUBLE"):
            return True, float(value)
        if kind == "BOOL":
            low = value.strip().lower()
            if low in ("true", "1", "yes", "false", "0", "no"):
                return True, low in ("true", "1", "yes")
            return False, None
        if kind == "JSON":
            return True, json.loads(value)
    except (ValueError, OverflowError, RecursionError):
        return False, None
    return True, value


# -- the validator ------------------------------------------------------------------------


class _Validator:
    def __init__(self, dep: Deployment, registry: Any, check_imports: bool, import_paths: tuple[str, ...]):
        self.dep = dep
        self.registry = registry
        self.check_imports = check_imports
        self.import_paths = import_paths
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = dep.lines if isinstance(getattr(dep, "lines", None), dict) else {}
        self.registry_down: str | None = None
        self.versions: dict[tuple[str, str], Any] = {}  # (name, ref) -> ModelVersion | Problem
        self.signatures: dict[str, Any] = {}  # models:/ URI -> ModelSignature | None
        self.imports: dict[str, tuple[Any, str]] = {}
        self.object_cycles: set[tuple[str, int]] = set()

    # where ------------------------------------------------------------------------------

    def line_of(self, source_path: str, fallback: int | None = None) -> int | None:
        if source_path and source_path in self.lines:
            return self.lines[source_path]
        return fallback

    def add(self, severity: str, code: str, path: str, message: str, hint: str = "",
            line: int | None = None) -> None:
        self.problems.append(Problem(severity, message, path, line, hint, code))

    # deployment level ---------------------------------------------------------------------

    def run(self) -> list[Problem]:
        dep = self.dep
        for note in dep.notes if isinstance(dep.notes, list) else []:
            self.add(WARNING, "source", "", _text(note), line=dep.line)
        raw = dep.raw if isinstance(dep.raw, dict) else {}
        self.unknown_fields(raw, "", TOP_FIELDS, "a SeldonDeployment")
        meta = raw.get("metadata")
        if isinstance(meta, dict):
            self.unknown_fields(meta, "metadata", METADATA_FIELDS, "metadata")
        spec = raw.get("spec")
        if isinstance(spec, dict):
            self.unknown_fields(spec, "spec", SPEC_FIELDS, "spec",
                                elsewhere={**dict.fromkeys(PREDICTOR_FIELDS, "a predictor"),
                                           **dict.fromkeys(NODE_FIELDS, "a graph node")})
        name = _text(dep.name)
        if not name:
            self.add(ERROR, "name", "metadata.name", "the deployment has no name",
                     line=self.line_of("metadata", dep.line))
        elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            self.add(ERROR, "name", "metadata.name", f"{name!r} is not a valid Kubernetes name",
                     "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
                     self.line_of("metadata.name", dep.line))
        predictors = [p for p in dep.predictors if isinstance(p, Predictor)] \
            if isinstance(dep.predictors, list) else []
        if not predictors:
            self.add(ERROR, "predictors", "spec.predictors", f"deployment {name!r} has no predictors",
                     "add a predictor with a graph", self.line_of("spec.predictors", dep.line))
        self.check_traffic(predictors)
        seen: dict[str, str] = {}
        endpoint_types: dict[str, str] = {}
        for i, predictor in enumerate(predictors):
            path = f"spec.predictors[{i}]"
            pname = _text(predictor.name)
            line = predictor.line
            if not pname:
                self.add(ERROR, "predictor-name", path, "a predictor has no name", line=line)
            elif pname in seen:
                self.add(ERROR, "duplicate-predictor", path,
                         f"predictor name {pname!r} is used twice (also {seen[pname]})",
                         "Seldon rejects duplicate predictor names: rename one", line)
            else:
                seen[pname] = path
                if not _DNS_LABEL.match(pname) or len(pname) > 63:
                    self.add(WARNING, "predictor-name", path,
                             f"predictor name {pname!r} is not a valid Kubernetes name part",
                             "Seldon names the predictor's Deployment after it: lowercase letters, digits, '-'",
                             line)
            praw = predictor.raw if isinstance(predictor.raw, dict) else {}
            self.unknown_fields(praw, path, PREDICTOR_FIELDS, f"predictor {pname!r}",
                                elsewhere=dict.fromkeys(NODE_FIELDS, "a graph node"),
                                source_path=predictor.path or path)
            if isinstance(predictor.graph, Node):
                self.check_graph(predictor, path, endpoint_types)
            else:
                self.add(ERROR, "graph", f"{path}.graph", f"predictor {pname!r} has no graph", line=line)
        if len(set(endpoint_types.values())) > 1:
            listed = ", ".join(f"{n} {t}" for n, t in endpoint_types.items())
            self.add(ERROR, "endpoint-type", "spec", f"the graph mixes endpoint types ({listed})",
                     "Seldon allows one endpoint type per deployment: use REST or GRPC throughout, "
                     "or set spec.transport", self.line_of("spec", dep.line))
        self.check_signatures(predictors)
        return self.problems

    def unknown_fields(self, raw: dict, path: str, known: tuple[str, ...], what: str,
                       elsewhere: dict[str, str] | None = None, source_path: str | None = None) -> None:
        source_path = path if source_path is None else source_path
        for key in raw:
            if not isinstance(key, str) or key in known:
                continue
            where = f"{path}.{key}" if path else key
            hint = _closest(key, known)
            if not hint and elsewhere:
                other = _closest(key, elsewhere) if key not in elsewhere else f"did you mean {key}?"
                if other:
                    meant = other.removeprefix("did you mean ").rstrip("?")
                    hint = f"{meant} belongs in {elsewhere[meant]}, not here"
            self.add(ERROR, "unknown-field", where, f"{what} has no field {key!r} in Seldon's CRD",
                     hint or "the API server would drop it: remove it or move it under parameters",
                     self.line_of(f"{source_path}.{key}" if source_path else key))

    def check_traffic(self, predictors: list[Predictor]) -> None:
        serving = [p for p in predictors if not p.shadow]
        for i, p in enumerate(predictors):
            traffic = p.traffic if isinstance(p.traffic, int) else 0
            where = f"{p.path or f'spec.predictors[{i}]'}.traffic"
            if traffic < 0 or traffic > 100:
                self.add(ERROR, "traffic", f"spec.predictors[{i}].traffic",
                         f"predictor {_text(p.name)!r} has traffic {traffic}", "traffic is a percentage, 0 to 100",
                         self.line_of(where, p.line))
        if not predictors:
            return
        if not serving:
            self.add(ERROR, "traffic", "spec.predictors", "every predictor is a shadow: none serves requests",
                     "set shadow: false on the predictor that should answer",
                     self.line_of("spec.predictors", self.dep.line))
            return
        total = sum(p.traffic for p in serving if isinstance(p.traffic, int))
        shadow_traffic = sum(p.traffic for p in predictors if p.shadow and isinstance(p.traffic, int))
        listed = ", ".join(f"{_text(p.name)} {p.traffic}" for p in serving)
        line = self.line_of("spec.predictors", self.dep.line)
        if len(serving) > 1 and total != 100:
            self.add(ERROR, "traffic", "spec.predictors",
                     f"traffic of the predictors that serve sums to {total} ({listed}), not 100",
                     "shadows excluded; Seldon rejects a split that does not sum to 100", line)
        elif len(serving) > 1 and shadow_traffic:
            self.add(WARNING, "traffic", "spec.predictors",
                     f"a shadow predictor has traffic {shadow_traffic}: Seldon's webhook adds it to the "
                     f"split, which then sums to {total + shadow_traffic}",
                     "set the shadow's traffic to 0; it receives a copy of every request anyway", line)
        elif len(predictors) == 1 and 0 < total < 100:
            self.add(ERROR, "traffic", "spec.predictors[0].traffic",
                     f"the only predictor has traffic {total}: Seldon wants 100 (or none) for a single predictor",
                     "remove traffic or set it to 100", self.line_of("spec.predictors[0].traffic", line))

    # graph level ----------------------------------------------------------------------

    def walk(self, predictor: Predictor, path: str) -> Iterator[tuple[Node, str, int, tuple[Node, ...]]]:
        """(node, current path, depth, ancestors) depth first, without recursion."""
        stack: list[tuple[Node, str, int, tuple[Node, ...]]] = [(predictor.graph, f"{path}.graph", 1, ())]
        while stack:
            node, npath, depth, ancestors = stack.pop()
            yield node, npath, depth, ancestors
            children = node.children if isinstance(node.children, list) else []
            for j in range(len(children) - 1, -1, -1):
                child = children[j]
                if not isinstance(child, Node):
                    continue
                if any(child is a for a in (*ancestors, node)):
                    # Only code can build this (a manifest cannot): stop here rather than loop forever.
                    if (npath, j) not in self.object_cycles:
                        self.object_cycles.add((npath, j))
                        self.add(ERROR, "cycle", f"{npath}.children[{j}]",
                                 f"node {_text(child.name)!r} contains itself", "a graph must be a tree",
                                 node.line)
                    continue
                stack.append((child, f"{npath}.children[{j}]", depth + 1, (*ancestors, node)))

    def check_graph(self, predictor: Predictor, path: str, endpoint_types: dict[str, str]) -> None:
        pname = _text(predictor.name)
        containers = containers_by_name(predictor)
        names: dict[str, tuple[Node, str]] = {}
        too_deep = False
        for node, npath, depth, ancestors in self.walk(predictor, path):
            line = node.line
            name = _text(node.name)
            label = f"node {name!r}" if name else "a node"
            if depth > MAX_GRAPH_LEVELS and not too_deep:
                too_deep = True
                self.add(ERROR, "depth", npath,
                         f"the graph of predictor {pname!r} is deeper than {MAX_GRAPH_LEVELS} levels",
                         "Seldon's CRD describes 11 levels; the API server drops deeper children", line)
            if not name:
                self.add(ERROR, "node-name", npath, "a graph node has no name", line=line)
            elif name in names:
                other, other_path = names[name]
                other_line = f", line {other.line}" if other.line else ""
                if any(a is other for a in ancestors):
                    self.add(ERROR, "cycle", npath,
                             f"node name {name!r} repeats its ancestor at {other_path}{other_line}: "
                             "Seldon finds nodes by name, so this is a cycle back into the ancestor",
                             "give every node of a predictor its own name", line)
                else:
                    self.add(ERROR, "duplicate-node", npath,
                             f"node name {name!r} is used twice in predictor {pname!r} "
                             f"(also at {other_path}{other_line})",
                             "Seldon finds nodes and their containers by name: rename one", line)
            else:
                names[name] = (node, npath)
                if not _DNS_LABEL.match(name) or len(name) > 63:
                    self.add(WARNING, "node-name", npath, f"node name {name!r} is not a valid container name",
                             "Seldon names the node's container after it: lowercase letters, digits, '-'", line)
            raw = node.raw if isinstance(node.raw, dict) else {}
            self.unknown_fields(raw, npath, NODE_FIELDS, label,
                                elsewhere=dict.fromkeys(PREDICTOR_FIELDS, "the predictor"),
                                source_path=node.path or npath)
            for key, fields, what in (("endpoint", ENDPOINT_FIELDS, "endpoint"), ("logger", LOGGER_FIELDS, "logger")):
                sub = raw.get(key)
                if isinstance(sub, dict):
                    self.unknown_fields(sub, f"{npath}.{key}", fields, f"the {what} of {label}",
                                        source_path=f"{node.path or npath}.{key}")
            logger = raw.get("logger")
            if isinstance(logger, dict) and not logger.get("mode"):
                self.add(ERROR, "logger", f"{npath}.logger", f"the logger of {label} has no mode",
                         "Seldon rejects it: set mode to all, request or response",
                         self.line_of(f"{node.path}.logger", line))
            if isinstance(node.endpoint, dict) and node.endpoint.get("type") is not None:
                etype = _text(node.endpoint.get("type"))
                if etype not in ("REST", "GRPC"):
                    self.add(ERROR, "endpoint-type", f"{npath}.endpoint.type",
                             f"{label} has endpoint type {etype!r}", "use REST or GRPC",
                             self.line_of(f"{node.path}.endpoint.type", line))
                else:
                    endpoint_types[name] = etype
            self.check_node(node, npath, label, containers)
            self.check_parameters(node, npath, label)

    def check_node(self, node: Node, npath: str, label: str, containers: dict[str, dict]) -> None:
        line = node.line
        declared = node.type
        impl = node.implementation
        kind = node.resolved_type
        if declared is not None and (not isinstance(declared, str) or declared not in NODE_TYPES):
            shown = _text(declared)
            hint = (f"write it in capitals: {shown.upper()}" if shown.upper() in NODE_TYPES
                    else "one of " + ", ".join(NODE_TYPES))
            self.add(ERROR, "unknown-type", f"{npath}.type", f"{label} has unknown type {shown!r}", hint,
                     self.line_of(f"{node.path}.type", line))
        known_impls = SELDON_MODEL_SERVERS + SELDON_ROUTERS + MLCONSOLE_COMPONENTS
        if impl is not None and impl not in known_impls and not looks_like_import_path(impl):
            shown = _text(impl)
            self.add(ERROR, "unknown-implementation", f"{npath}.implementation",
                     f"{label} has unknown implementation {shown!r}",
                     _closest(shown, known_impls) or
                     "known: Seldon's prepackaged servers (SKLEARN_SERVER, MLFLOW_SERVER, ...), its routers "
                     "(RANDOM_ABTEST, ...), mlconsole's MLCONSOLE_* components, or a Python component "
                     "as package.module:ClassName",
                     self.line_of(f"{node.path}.implementation", line))
        elif isinstance(impl, str) and isinstance(declared, str) and declared in NODE_TYPES:
            implied = IMPLEMENTATION_TYPES.get(impl)
            # A transformer works on either side of its children (transform_input or _output).
            if implied and implied != declared and {implied, declared} != {"TRANSFORMER", "OUTPUT_TRANSFORMER"}:
                self.add(WARNING, "type-mismatch", f"{npath}.type",
                         f"{label} is declared {declared} but {impl} is a {implied}",
                         f"set type: {implied} or leave type out", self.line_of(f"{node.path}.type", line))
        children = [c for c in node.children if isinstance(c, Node)] if isinstance(node.children, list) else []
        if kind in ("ROUTER", "COMBINER") and len(children) < 2:
            self.add(ERROR, "children", npath,
                     f"{kind} {label} has {len(children)} child{'ren' * (len(children) != 1)}; it needs at least two",
                     "a router chooses among children and a combiner merges them: add children or make it a "
                     "TRANSFORMER", line)
        if impl == "RANDOM_ABTEST" and len(children) > 2:
            self.add(ERROR, "children", npath, f"RANDOM_ABTEST {label} has {len(children)} children",
                     "Seldon's A/B router picks between exactly two children (ratioA for the first)", line)
        uri = _text(node.model_uri)
        container = containers.get(_text(node.name))
        component = component_path(node)
        external = isinstance(node.endpoint, dict) and bool(node.endpoint.get("service_host"))
        if kind == "MODEL" and not (uri or impl or container or component or external):
            self.add(ERROR, "no-model", npath, f"MODEL {label} has no model",
                     f"give it a modelUri (models:/NAME@ALIAS or models:/NAME/VERSION), an implementation, "
                     f"or a container named {_text(node.name)!r} in componentSpecs", line)
        elif kind != "MODEL" and kind in NODE_TYPES and not (impl or container or component or external):
            self.add(ERROR, "no-implementation", npath, f"{kind} {label} has nothing to run it",
                     f"give it an implementation (e.g. {_example_for(kind)}), a Python component (parameter "
                     f"component = 'package.module:ClassName') or a container named {_text(node.name)!r} in "
                     "componentSpecs", line)
        if impl in SELDON_MODEL_SERVERS and not uri:
            self.add(ERROR, "no-model-uri", npath, f"{label} uses {impl} without a modelUri",
                     "Seldon's prepackaged servers load the model from modelUri", line)
        if impl and not looks_like_import_path(impl) and any(p.name == COMPONENT_PARAMETER for p in _params(node)):
            self.add(WARNING, "component-ignored", npath,
                     f"{label} has both implementation {impl} and a component parameter; the component is ignored",
                     "remove one", line)
        if uri:
            self.check_model_uri(node, npath, label, uri)
        served = container_model_name(container)
        if container is not None and not impl and not uri and not component:
            if served:
                self.check_served_class(node, npath, label, served, kind)
            else:
                image = _text(container.get("image")) or "an image"
                self.add(WARNING, "local-runtime", npath,
                         f"valid for Seldon; cannot run on the local runtime: {label} is the container image "
                         f"{image!r}", "the local runtime runs registry models and Python components, not images: "
                         "give the node a modelUri, or its container a MODEL_NAME env naming an importable class",
                         line=line)
        if component:
            self.check_component(node, npath, label, component, kind)
        rule = COMPONENT_RULES.get(impl) if isinstance(impl, str) else None
        if rule is not None:
            self.check_rule(node, npath, label, impl, rule)

    def check_model_uri(self, node: Node, npath: str, label: str, uri: str) -> None:
        line = self.line_of(f"{node.path}.modelUri", node.line)
        scheme = _scheme(uri)
        mlflow_uri = uri.startswith(("models:/", "runs:/"))
        reason = ""
        if scheme in REMOTE_SCHEMES:
            where = ("a Kubernetes volume that only exists inside a cluster" if scheme == "pvc" else
                     f"a remote store ({scheme}://) the local runtime does not fetch from")
            reason = f"{uri} is {where}"
        elif node.implementation in SELDON_MODEL_SERVERS and node.implementation != "MLFLOW_SERVER" \
                and not mlflow_uri:
            # The local runtime runs MLflow models in-process, not Seldon's server images.
            reason = f"{node.implementation} is a Seldon server image; the local runtime runs MLflow models"
        if reason:
            self.add(WARNING, "local-runtime", f"{npath}.modelUri",
                     f"valid for Seldon; cannot run on the local runtime: {reason}",
                     "register the model in MLflow and use models:/NAME@ALIAS to run it here", line)
        if not uri.startswith("models:/"):
            return
        ref = parse_model_uri(uri)
        if ref is None:
            if re.fullmatch(r"models:/m-[0-9a-f]+", uri):
                return  # an MLflow 3 logged-model id: valid, but not a registry version to look up
            self.add(ERROR, "model-uri", f"{npath}.modelUri", f"{label} has a malformed model URI {uri!r}",
                     "write models:/NAME/VERSION or models:/NAME@ALIAS", line)
            return
        if self.registry is None:
            return
        name, version_ref = ref
        found = self.resolve(name, version_ref)
        if isinstance(found, Problem):
            self.add(found.severity, found.code, f"{npath}.modelUri", f"{label}: {found.message}",
                     found.hint, line)

    def resolve(self, name: str, ref: str) -> Any:
        """The ModelVersion for models:/name<ref>, or a Problem saying why not (cached)."""
        key = (name, ref)
        if key in self.versions:
            return self.versions[key]
        uri = f"models:/{name}{ref if ref.startswith('@') else '/' + ref}"
        result: Any
        if self.registry_down is not None:
            result = Problem(WARNING, f"could not check {uri}: registry down ({self.registry_down})",
                             hint="start the registry or check --registry", code="registry-down")
        elif ref.lower() == "latest" or not (ref.startswith("@") or ref.isdigit()):
            result = self._resolve_named(name, ref, uri)
        else:
            result = self._ask(lambda: self.registry.get_version(name, ref), uri)
        self.versions[key] = result
        return result

    def _resolve_named(self, name: str, ref: str, uri: str) -> Any:
        if ref.lower() != "latest":
            return Problem(WARNING, f"could not check {uri}: {ref!r} is neither a version number nor an alias "
                                    "(model stages are deprecated in MLflow)",
                           hint="use models:/NAME@ALIAS", code="model-uri")
        model = self._ask(lambda: self.registry.get_model(name), uri)
        if isinstance(model, Problem):
            return model
        if not getattr(model, "latest_version", None):
            return Problem(ERROR, f"{uri} does not resolve: model {name!r} has no versions", code="model-missing")
        return self._ask(lambda: self.registry.get_version(name, str(model.latest_version)), uri)

    def _ask(self, call, uri: str) -> Any:
        try:
            return call()
        except NotFound as exc:
            return Problem(ERROR, f"{uri} does not resolve in the registry: {exc.message}", hint=exc.hint,
                           code="model-missing")
        except BackendUnavailable as exc:
            self.registry_down = exc.message
            return Problem(WARNING, f"could not check {uri}: registry down ({exc.message})",
                           hint="start the registry or check --registry", code="registry-down")
        except ConsoleError as exc:
            return Problem(WARNING, f"could not check {uri}: {exc.message}", hint=exc.hint, code="registry-error")
        except Exception as exc:  # a registry is a port: anything it raises is its failure, not ours
            return Problem(WARNING, f"could not check {uri}: {type(exc).__name__}: {exc}", code="registry-error")

    def check_served_class(self, node: Node, npath: str, label: str, served: str, kind: str) -> None:
        """A container running Seldon's Python wrapper: its MODEL_NAME runs here if it imports."""
        if not self.check_imports or not looks_like_import_path(served):
            return
        _cls, error = self.import_component(served)
        if error:
            self.add(WARNING, "local-runtime", npath,
                     f"valid for Seldon; cannot run on the local runtime: {label}'s container serves "
                     f"MODEL_NAME {served!r}, which {error.removeprefix('does not import: ')} here",
                     "put the component's package on the path to run it locally", node.line)

    def check_component(self, node: Node, npath: str, label: str, spec: str, kind: str) -> None:
        line = node.line
        where = f"{npath}.implementation"
        if looks_like_import_path(node.implementation):
            line = self.line_of(f"{node.path}.implementation", line)
        else:
            where = f"{npath}.parameters"
            for k, p in enumerate(_params(node)):
                if p.name == COMPONENT_PARAMETER:
                    where = f"{npath}.parameters[{k}]"
                    line = self.line_of(f"{node.path}.parameters[{k}]", line)
                    break
        if not looks_like_import_path(spec):
            self.add(ERROR, "component", where, f"{label}: component {spec!r} is not an import path",
                     "write package.module:ClassName", line)
            return
        if not self.check_imports:
            return
        cls, error = self.import_component(spec)
        if error:
            self.add(ERROR, "component-import", where, f"{label}: component {spec!r} {error}",
                     "check the import path and that its package is installed or on the path", line)
            return
        methods = [m for m in SELDON_METHODS if callable(getattr(cls, m, None))]
        if not methods:
            self.add(ERROR, "component-methods", where,
                     f"{label}: class {spec!r} has none of Seldon's component methods "
                     f"({', '.join(SELDON_METHODS)})",
                     "Seldon's Python component interface: see predict / transform_input / route ...", line)
            return
        wanted = METHOD_FOR_TYPE.get(kind)
        if wanted and wanted not in methods:
            self.add(WARNING, "component-methods", where,
                     f"{label} is a {kind} but class {spec!r} has no {wanted}() (it has {', '.join(methods)})",
                     "Seldon passes the request through unchanged where the method is missing", line)

    def import_component(self, spec: str) -> tuple[Any, str]:
        """(class, '') or (None, why it does not import). Cached per path."""
        if spec in self.imports:
            return self.imports[spec]
        if ":" in spec:
            module_name, _, attr = spec.partition(":")
        else:
            module_name, _, attr = spec.rpartition(".")
            module_name = module_name or attr  # 'Module': a class named like its module, as Seldon allows
        added = [p for p in self.import_paths if p not in sys.path]
        sys.path[:0] = added
        try:
            module = importlib.import_module(module_name)
            result: tuple[Any, str]
            if not hasattr(module, attr):
                result = (None, f"does not import: module {module_name!r} has no {attr!r}")
            elif not inspect.isclass(getattr(module, attr)):
                result = (None, "is not a class (Seldon instantiates the component with its parameters)")
            else:
                result = (getattr(module, attr), "")
        except (Exception, SystemExit) as exc:  # importing user code can fail in any way
            result = (None, f"does not import: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            for p in added:
                if p in sys.path:
                    sys.path.remove(p)
        self.imports[spec] = result
        return result

    def check_rule(self, node: Node, npath: str, label: str, impl: str, rule: ComponentRule) -> None:
        given = {p.name: p for p in _params(node)}
        line = node.line
        for name in rule.required:
            if name not in given or not _text(given[name].value).strip():
                self.add(ERROR, "missing-parameter", f"{npath}.parameters",
                         f"{impl} {label} needs the parameter {name!r}", _PARAMETER_HINTS.get((impl, name), ""),
                         self.line_of(f"{node.path}.parameters", line))
        if rule.one_of and not any(n in given for n in rule.one_of):
            self.add(ERROR, "missing-parameter", f"{npath}.parameters",
                     f"{impl} {label} needs at least one of the parameters {', '.join(rule.one_of)}",
                     _PARAMETER_HINTS.get((impl, "*"), ""), self.line_of(f"{node.path}.parameters", line))
        for k, p in enumerate(node.parameters if isinstance(node.parameters, list) else []):
            if not isinstance(p, Parameter) or not p.name:
                continue
            where = f"{npath}.parameters[{k}]"
            pline = self.line_of(f"{node.path}.parameters[{k}]", line)
            if p.name not in rule.known and p.name != COMPONENT_PARAMETER:
                self.add(WARNING, "unknown-parameter", where, f"{impl} {label} does not use parameter {p.name!r}",
                         _closest(p.name, rule.known) or "it takes: " + (", ".join(rule.known) or "no parameters"),
                         pline)
                continue
            ok, value = _param_value(p)
            if not ok:
                continue  # reported by check_parameters
            shape = JSON_SHAPES.get(p.name)
            if shape is not None:
                if isinstance(value, str):
                    try:
                        value = json.loads(value)
                    except (ValueError, RecursionError):
                        value = None
                if not isinstance(value, shape):
                    kind = "list" if shape is list else "object"
                    self.add(ERROR, "parameter-value", where,
                             f"{impl} {label}: {p.name} must be a JSON {kind}, not {p.value!r}",
                             _SHAPE_HINTS.get(p.name, ""), pline)
                continue
            if p.name in rule.choices and str(value) not in rule.choices[p.name]:
                self.add(ERROR, "parameter-value", where, f"{impl} {label}: {p.name} is {str(value)!r}",
                         "one of " + ", ".join(rule.choices[p.name]), pline)
            if p.name in rule.ranges:
                low, high = rule.ranges[p.name]
                if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
                    self.add(ERROR, "parameter-value", where, f"{impl} {label}: {p.name} is {p.value!r}",
                             f"a number from {low:g} to {high:g}", pline)

    def check_parameters(self, node: Node, npath: str, label: str) -> None:
        params = node.parameters if isinstance(node.parameters, list) else []
        seen: set[str] = set()
        for k, p in enumerate(params):
            where = f"{npath}.parameters[{k}]"
            line = self.line_of(f"{node.path}.parameters[{k}]", node.line)
            if not isinstance(p, Parameter):
                self.add(ERROR, "parameter", where, f"{label} has a parameter that is not name/value/type",
                         line=line)
                continue
            raw = p.raw if isinstance(p.raw, dict) else None
            pname = _text(p.name)
            shown = f"parameter {pname!r} of {label}" if pname else f"a parameter of {label}"
            if raw is not None:
                self.unknown_fields(raw, where, PARAMETER_FIELDS, shown,
                                    source_path=f"{node.path}.parameters[{k}]" if node.path else where)
                missing = [key for key in PARAMETER_FIELDS if key not in raw]
                if missing:
                    self.add(ERROR, "parameter", where, f"{shown} has no {' or '.join(missing)}",
                             "Seldon's CRD requires name, value and type on every parameter", line)
                for key in ("name", "value", "type"):
                    if key in raw and not isinstance(raw[key], str):
                        self.add(ERROR, "parameter", f"{where}.{key}",
                                 f"the {key} of {shown} must be a string in Seldon's CRD, not {raw[key]!r}",
                                 f"quote it: '{p.value if key == 'value' else raw[key]}'",
                                 self.line_of(f"{node.path}.parameters[{k}].{key}", line))
            if not pname:
                if raw is None or "name" in raw:
                    self.add(ERROR, "parameter", where, f"{shown} has an empty name", line=line)
                continue
            if pname in seen:
                self.add(WARNING, "parameter", where, f"{shown} is given twice; the last one wins",
                         "remove one", line)
            seen.add(pname)
            ptype = _text(p.type)
            if ptype not in PARAMETER_TYPES:
                if raw is not None and "type" not in raw:
                    continue  # reported above as missing
                hint = (f"write it in capitals: {ptype.upper()}" if ptype.upper() in PARAMETER_TYPES
                        else "one of " + ", ".join(PARAMETER_TYPES))
                self.add(ERROR, "parameter-type", f"{where}.type", f"{shown} has unknown type {ptype!r}", hint,
                         line)
                continue
            ok, _ = _param_value(p)
            if not ok:
                self.add(ERROR, "parameter-value", f"{where}.value",
                         f"{shown} is {ptype} but its value {_text(p.value)!r} is not",
                         _TYPE_HINTS.get(ptype, ""), line)

    # signatures ---------------------------------------------------------------------------

    def check_signatures(self, predictors: list[Predictor]) -> None:
        """Warn where a node's declared output columns miss what the next model's signature needs."""
        if self.registry is None or self.registry_down is not None:
            return
        for i, predictor in enumerate(predictors):
            if not isinstance(predictor.graph, Node):
                continue
            for node, npath, _depth, _ in self.walk(predictor, f"spec.predictors[{i}]"):
                columns = self.output_columns(node)
                if columns is None:
                    continue
                for child, cpath in self.fed_models(node, npath):
                    self.compare(node, columns, child, cpath)

    def output_columns(self, node: Node) -> tuple[list[str], str] | None:
        """(columns, how we know) for a node that declares what it passes on, else None."""
        kind = node.resolved_type
        if kind in ("TRANSFORMER", "MODEL") and node.implementation not in ("MLCONSOLE_ENRICHMENT",) and \
                not (kind == "MODEL" and node.model_uri):
            names = {p.name: p for p in _params(node)}
            if "columns" in names and "one_hot" not in names:
                ok, value = _param_value(names["columns"])
                columns = _split_list(value if ok else names["columns"].value)
                if columns:
                    return columns, "its columns parameter"
        if kind == "MODEL" and _text(node.model_uri).startswith("models:/"):
            signature = self.signature(_text(node.model_uri))
            if signature is not None and signature.outputs and all(f.name for f in signature.outputs):
                return [f.name for f in signature.outputs], "its signature"
        return None

    def fed_models(self, node: Node, npath: str) -> Iterator[tuple[Node, str]]:
        """Children that receive node's output, looking through routers, combiners and outlier flags."""
        stack = [(c, f"{npath}.children[{j}]") for j, c in enumerate(node.children) if isinstance(c, Node)]
        seen: set[int] = set()
        while stack:
            child, cpath = stack.pop(0)
            if id(child) in seen:
                continue
            seen.add(id(child))
            kind = child.resolved_type
            if kind in ("ROUTER", "COMBINER") or child.implementation == "MLCONSOLE_OUTLIER_DETECTOR":
                stack.extend((c, f"{cpath}.children[{j}]") for j, c in enumerate(child.children)
                             if isinstance(c, Node))
            elif kind == "MODEL" and _text(child.model_uri).startswith("models:/"):
                yield child, cpath

    def signature(self, uri: str) -> Any:
        if uri in self.signatures:
            return self.signatures[uri]
        result = None
        ref = parse_model_uri(uri)
        version = self.resolve(*ref) if ref else None
        if version is not None and not isinstance(version, Problem):
            try:
                result = self.registry.get_signature(ref[0], str(version.version))
            except Exception:  # a missing signature only means there is nothing to compare
                result = None
        self.signatures[uri] = result
        return result

    def compare(self, node: Node, declared: tuple[list[str], str], child: Node, cpath: str) -> None:
        columns, how = declared
        signature = self.signature(_text(child.model_uri))
        if signature is None or not signature.inputs:
            return
        needed = [f.name for f in signature.inputs if f.name and f.required]
        if not needed:
            return  # a tensor signature: no column names to compare
        missing = [n for n in needed if n not in columns]
        if missing:
            shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
            self.add(WARNING, "signature", cpath,
                     f"model {_text(child.name)!r} ({_text(child.model_uri)}) needs {shown}, which "
                     f"{node.resolved_type.lower().replace('_', ' ')} {_text(node.name)!r} does not pass on "
                     f"(per {how})",
                     "add the columns to the node before it, or check that the right model is wired here",
                     child.line)


_TYPE_HINTS = {
    "INT": "a whole number such as '3'", "FLOAT": "a number such as '0.5'", "DOUBLE": "a number such as '0.5'",
    "BOOL": "true or false", "JSON": "valid JSON, e.g. '[\"a\", \"b\"]'",
}
_SHAPE_HINTS = {
    "columns": 'e.g. ["income", "age"] with type JSON', "features": 'e.g. ["amount", "hour"] with type JSON',
    "scale": 'column -> [mean, std], e.g. {"income": [52000, 18000]}',
    "one_hot": 'column -> categories, e.g. {"channel": ["web", "store"]}',
    "rename": 'old name -> new name, e.g. {"inc": "income"}',
}
_PARAMETER_HINTS = {
    ("MLCONSOLE_ENRICHMENT", "table"): "the Parquet or sqlite table to join with (a path)",
    ("MLCONSOLE_ENRICHMENT", "key"): "the column to join request rows and the table on",
    ("MLCONSOLE_FEATURE_TRANSFORMER", "*"): "columns (which to keep), scale, one_hot or rename (JSON)",
    ("MLCONSOLE_OUTLIER_DETECTOR", "reference"): "the Parquet file the detector is fitted on",
}


def _example_for(kind: str) -> str:
    return {"TRANSFORMER": "MLCONSOLE_FEATURE_TRANSFORMER", "OUTPUT_TRANSFORMER": "MLCONSOLE_FEATURE_TRANSFORMER",
            "ROUTER": "RANDOM_ABTEST", "COMBINER": "MLCONSOLE_COMBINER"}.get(kind, "")


def validate(dep: Deployment, registry: Any = None, check_imports: bool = True,
             import_paths: Iterable[str] = ()) -> list[Problem]:
    """Every problem of the deployment, errors and warnings, in manifest order.

    registry (a RegistryBackend) checks models:/ URIs and signatures; check_imports imports
    Python components (with import_paths put in front of sys.path while doing so).
    """
    from console.governance.data_pins import pin_problems

    problems = _Validator(dep, registry, check_imports, tuple(import_paths)).run() + pin_problems(dep, registry)
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))
