"""Run a predictor's graph in-process with Seldon Core v1's semantics.

Per node, as Seldon's executor (executor/predictor/predictor_process.go) does:
1. input: a MODEL calls predict, a TRANSFORMER transform_input (either way the result is
   what its children get: a MODEL with children chains its output into them);
2. children: a ROUTER's route picks one child by index, -1 sends the message to every
   child, -2 skips the children; any other node with children sends to all of them;
3. aggregate: a COMBINER combines the children's outputs; any other node takes the first
   child's output (so a router answering -1 returns child 0's answer);
4. output: an OUTPUT_TRANSFORMER calls transform_output on that.
A node's `methods` list (TRANSFORM_INPUT, ROUTE, AGGREGATE, TRANSFORM_OUTPUT, SEND_FEEDBACK)
adds those calls as in Seldon. Children run one after another here (Seldon runs them
concurrently; the answer is the same). Feedback walks the same tree: the routing recorded
in the rewarded response's meta picks the child (absent: all children), and MODEL and
ROUTER nodes get send_feedback, so bandit routers learn.

Responses are Seldon v1 JSON; meta carries puid, tags (merged over every node, later nodes
winning), routing ({router: child index}), requestPath ({node: what ran}) and metrics
(components' custom metrics). `run(request, record=True)` also returns each node's input,
output and own latency, for the graph builder's "Try it".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from console.errors import ConsoleError, InvalidSpec, NotFound
from console.graph.components import build_component
from console.graph.components.base import BuildContext, Component, RequestContext
from console.graph.models import ModelSource
from console.graph.payload import (
    Payload,
    encode_data,
    encode_message,
    new_puid,
    parse_feedback,
    parse_message,
)
from console.graph.spec import NODE_TYPES, SELDON_MODEL_SERVERS, Deployment, Node, Predictor

_perf = time.perf_counter


class NodeFailed(ConsoleError):
    """A node's component raised while serving a request; the message names the node."""


@dataclass
class NodeTrace:
    """One node's part in a request: what it got, what it answered, and its own time."""

    name: str
    type: str
    runs: str
    seconds: float = 0.0
    """Time in this node's own calls, children excluded."""
    total_seconds: float = 0.0
    """Time from entering the node to its answer, children included."""
    route: int | None = None
    input: Payload | None = None
    output: Payload | None = None
    """What the node's own last call produced (a router, which only routes: its answer)."""
    answer: Payload | None = None
    """What the node answered its parent, its children's work included."""

    def input_json(self) -> dict[str, Any] | None:
        """The node's input as a Seldon message (recorded runs only)."""
        return encode_message(self.input) if self.input is not None else None

    def output_json(self) -> dict[str, Any] | None:
        """The node's output as a Seldon message (recorded runs only)."""
        return encode_message(self.output) if self.output is not None else None


@dataclass
class GraphRun:
    """A response and the nodes it went through, in the order they were entered."""

    response: dict[str, Any]
    nodes: list[NodeTrace] = field(default_factory=list)


class _Unit:
    """A node ready to run: its component and which of Seldon's calls apply to it."""

    __slots__ = ("name", "type", "label", "component", "children", "first", "routes", "aggregates",
                 "last", "feedback")

    def __init__(self, node: Node, component: Component, node_type: str, children: list[_Unit]) -> None:
        methods = {str(m).upper() for m in (node.raw.get("methods") or []) if isinstance(m, str)}
        self.name = node.name
        self.type = node_type
        self.label = component.label or node.implementation or node.model_uri or node.name
        self.component = component
        self.children = children
        # Seldon: TRANSFORM_INPUT wins over predict when both apply.
        if node_type == "TRANSFORMER" or "TRANSFORM_INPUT" in methods:
            self.first = "transform_input"
        elif node_type == "MODEL":
            self.first = "predict"
        else:
            self.first = None
        self.routes = bool(children) and (node_type == "ROUTER" or "ROUTE" in methods)
        self.aggregates = node_type == "COMBINER" or "AGGREGATE" in methods
        self.last = "transform_output" if node_type == "OUTPUT_TRANSFORMER" or "TRANSFORM_OUTPUT" in methods \
            else None
        self.feedback = (node_type in ("MODEL", "ROUTER") or "SEND_FEEDBACK" in methods) \
            and component.supports("send_feedback")
        needed = [m for m in (self.first, self.last) if m]
        if self.routes:
            needed.append("route")
        if self.aggregates and children:
            needed.append("aggregate")
        for method in needed:
            if not component.supports(method):
                raise InvalidSpec(f"node {node.name!r} is a {node_type} but {self.label} has no {method}",
                                  hint="change the node's type or its implementation", location=node.path)


def node_type(node: Node, component: Component) -> str:
    """The type Seldon would give the node: declared, else implied by its implementation."""
    if node.implementation in SELDON_MODEL_SERVERS:
        return "MODEL"  # Seldon's operator forces prepackaged servers to MODEL
    if node.type:
        declared = str(node.type).upper()
        if declared not in NODE_TYPES:
            raise InvalidSpec(f"node {node.name!r} has unknown type {node.type!r}",
                              hint=f"one of {', '.join(NODE_TYPES)}", location=node.path)
        return declared
    return component.default_type


def _pick_graph(source: Deployment | Predictor | Node, predictor: str | None) -> tuple[Node, Predictor | None]:
    if isinstance(source, Node):
        return source, None
    if isinstance(source, Predictor):
        return source.graph, source
    if not source.predictors:
        raise InvalidSpec(f"deployment {source.name!r} has no predictors")
    if predictor is None:
        chosen = next((p for p in source.predictors if not p.shadow), source.predictors[0])
        return chosen.graph, chosen
    for p in source.predictors:
        if p.name == predictor:
            return p.graph, p
    raise NotFound(f"deployment {source.name!r} has no predictor {predictor!r}",
                   hint=f"its predictors: {', '.join(p.name for p in source.predictors)}", target=predictor)


def _json(body: Any, what: str = "request") -> Any:
    """A request given as JSON text (bytes from HTTP, a CLI argument) parsed; anything else as is."""
    if not isinstance(body, (str, bytes, bytearray)):
        return body
    import json

    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise InvalidSpec(f"{what} is not valid JSON: {exc}") from exc


def check_request(body: Any) -> Any:
    """A Seldon v1 request (JSON text or a dict) parsed and checked, as `run` would; InvalidSpec if not."""
    request = _json(body)
    parse_message(request)
    return request


def _in_node(exc: Exception, unit: _Unit, method: str) -> ConsoleError:
    """The error as a typed console error that names the node it happened in."""
    if isinstance(exc, ConsoleError):
        if f"node {unit.name!r}" not in exc.message:
            exc.message = f"node {unit.name!r}: {exc.message}"
            exc.args = (exc.message,)
        exc.target = exc.target or unit.name
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return NodeFailed(f"node {unit.name!r} ({unit.label}) failed in {method}: {detail}", target=unit.name)


class GraphExecutor:
    """Serves one predictor's graph in-process: predict and feedback, Seldon v1 JSON in and out.

    Components and models load when the executor is built (models once, through the
    ModelSource, which caches them). predict and feedback may be called from several
    threads at once: per-request state lives in the call, and learning routers lock theirs.
    """

    def __init__(self, deployment_or_predictor: Deployment | Predictor | Node,
                 model_source: ModelSource | None = None, predictor: str | None = None, *,
                 seed: int | None = None, search_paths: tuple[str, ...] = ()) -> None:
        graph, chosen = _pick_graph(deployment_or_predictor, predictor)
        self.predictor = chosen
        self.graph = graph
        self._build = BuildContext(model_source=model_source, predictor=chosen, seed=seed,
                                   search_paths=tuple(search_paths))
        self._units: dict[str, _Unit] = {}
        self.root = self._unit(graph)

    def _unit(self, node: Node) -> _Unit:
        if not node.name:
            raise InvalidSpec("a graph node has no name", location=node.path)
        if node.name in self._units:
            raise InvalidSpec(f"node name {node.name!r} is used twice: routing and feedback are keyed by name",
                              location=node.path)
        self._units[node.name] = None  # type: ignore[assignment]  # reserve the name before the children
        try:
            component = build_component(node, self._build)
        except ConsoleError as exc:
            if f"node {node.name!r}" not in exc.message:
                exc.message = f"node {node.name!r}: {exc.message}"
                exc.args = (exc.message,)
            raise
        except Exception as exc:  # a component's own constructor failing: say which node
            raise NodeFailed(f"node {node.name!r} could not start: {type(exc).__name__}: {exc}",
                             target=node.name) from exc
        children = [self._unit(child) for child in node.children]
        unit = _Unit(node, component, node_type(node, component), children)
        self._units[node.name] = unit
        return unit

    # -- introspection ----------------------------------------------------------------

    def component(self, name: str) -> Component:
        """The component serving a node (for display: a bandit's statistics, a table's size)."""
        try:
            return self._units[name].component
        except KeyError:
            raise NotFound(f"no node {name!r} in this graph", target=name) from None

    @property
    def node_names(self) -> list[str]:
        """Every node's name, depth first."""
        return list(self._units)

    # -- predict ----------------------------------------------------------------------

    def predict(self, request: Any) -> dict[str, Any]:
        """A Seldon v1 response for a Seldon v1 request (a dict or JSON text).

        Raises InvalidSpec for a malformed request, NodeFailed (or the component's own typed
        error) naming the node when a component fails; never another exception type.
        """
        return self.run(request).response

    def run(self, request: Any, record: bool = False) -> GraphRun:
        """predict, plus each node's own latency (and with record=True its input and output)."""
        msg = parse_message(_json(request))
        meta = msg.meta
        ctx = RequestContext(meta.get("puid") or new_puid(), meta.get("tags"))
        msg.meta = {"puid": ctx.puid}
        trace: list[NodeTrace] = []
        out = self._predict(self.root, msg, ctx, trace, record)
        response = encode_data(out)
        response["meta"] = {"puid": ctx.puid, "tags": ctx.tags, "routing": ctx.routing,
                            "requestPath": ctx.request_path, "metrics": ctx.metrics}
        return GraphRun(response, trace)

    def _call(self, unit: _Unit, method: str, ctx: RequestContext, *args: Any) -> Any:
        try:
            return getattr(unit.component, method)(*args, ctx)
        except Exception as exc:
            raise _in_node(exc, unit, method) from exc

    def _predict(self, unit: _Unit, msg: Payload, ctx: RequestContext, trace: list[NodeTrace],
                 record: bool) -> Payload:
        start = _perf()
        entry = NodeTrace(unit.name, unit.type, unit.label, input=msg if record else None)
        trace.append(entry)
        ctx.request_path[unit.name] = unit.label
        out = self._call(unit, unit.first, ctx, msg) if unit.first else msg
        own = out if unit.first else None
        children_time = 0.0
        if unit.children:
            route = self._call(unit, "route", ctx, out) if unit.routes else -1
            if unit.routes:
                ctx.routing[unit.name] = route
                entry.route = route
            if route == -2:
                results = None  # Seldon: the router answers its input, skipping the children
            elif route == -1:
                results = []
                for child in unit.children:
                    mark = _perf()
                    results.append(self._predict(child, out, ctx, trace, record))
                    children_time += _perf() - mark
            elif 0 <= route < len(unit.children):
                mark = _perf()
                results = [self._predict(unit.children[route], out, ctx, trace, record)]
                children_time += _perf() - mark
            else:
                raise NodeFailed(f"node {unit.name!r} routed to child {route}, but it has "
                                 f"{len(unit.children)} (0..{len(unit.children) - 1}, -1 for all, -2 for none)",
                                 target=unit.name)
            if results is not None:
                if unit.aggregates:
                    out = own = self._call(unit, "aggregate", ctx, results)
                else:
                    out = results[0]
        if unit.last:
            out = own = self._call(unit, unit.last, ctx, out)
        total = _perf() - start
        entry.total_seconds = total
        entry.seconds = total - children_time
        if record:
            entry.output = out if own is None else own
            entry.answer = out
        return out

    # -- feedback ---------------------------------------------------------------------

    def feedback(self, feedback: Any) -> dict[str, Any]:
        """Send a Seldon v1 Feedback's reward down the path its response took; answer a Seldon message."""
        request, response_meta, reward, truth = parse_feedback(_json(feedback, "feedback"))
        routing = response_meta.get("routing") or {}
        puid = response_meta.get("puid") or (request.meta.get("puid") if request else None) or new_puid()
        ctx = RequestContext(puid)
        self._feedback(self.root, request, reward, truth, routing, ctx)
        return {"data": {"names": [], "ndarray": []},
                "meta": {"puid": puid, "tags": ctx.tags, "routing": dict(routing), "metrics": ctx.metrics}}

    def _feedback(self, unit: _Unit, request: Payload | None, reward: float, truth: Payload | None,
                  routing: dict[str, int], ctx: RequestContext) -> None:
        route = routing.get(unit.name)
        if unit.children:
            chosen = -1 if route is None else route
            if chosen == -1:
                targets = unit.children
            elif chosen == -2:
                targets = []
            elif 0 <= chosen < len(unit.children):
                targets = [unit.children[chosen]]
            else:
                raise InvalidSpec(f"response.meta.routing.{unit.name} is {chosen}, but node {unit.name!r} has "
                                  f"{len(unit.children)} children", location=f"response.meta.routing.{unit.name}")
            for child in targets:
                self._feedback(child, request, reward, truth, routing, ctx)
        if unit.feedback:
            self._call(unit, "send_feedback", ctx, request, reward, truth, route)
