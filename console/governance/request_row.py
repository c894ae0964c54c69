"""The row a registry model actually saw for a logged request, so that it can be explained.

A request reaches the model through the graph's transformers (column selection, enrichment
look-ups, outlier flags), so the logged request body is not the model's input. The graph is
replayed in-process (console.graph.executor, recording each node's input) and the input of the
model that answered is taken: the one the logged response's `meta.routing` leads to (the replay's
own router might pick another child; siblings under a router get the same input).
"""

from __future__ import annotations

import json
from typing import Any

from console.errors import InvalidSpec, NotFound

_executors: dict[tuple[int, str], Any] = {}  # (manifest hash, predictor) -> GraphExecutor


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidSpec(f"the logged {what} is not complete JSON ({exc})",
                          hint="the request tail keeps the first 2000 characters of a body") from None


def _served_model(graph, routing: dict[str, Any]):
    """(the models:/ node the logged routing leads to, its parent) along the request's path."""
    node, parent = graph, None
    while True:
        if isinstance(node.model_uri, str) and node.model_uri.startswith("models:/"):
            return node, parent
        if not node.children:
            return None, None
        index = routing.get(node.name)
        child = node.children[index] if isinstance(index, int) and 0 <= index < len(node.children) \
            else node.children[0]
        node, parent = child, node


def _first_row(payload) -> dict[str, Any]:
    if payload.kind == "jsonData" and isinstance(payload.data, dict):
        data = payload.data
        if all(isinstance(v, list) for v in data.values()):
            return {k: (v[0] if v else None) for k, v in data.items()}
        return dict(data)
    rows = payload.rows()
    if not rows or not payload.names:
        raise InvalidSpec("the model's input has no named columns to explain")
    return dict(zip(payload.names, rows[0], strict=False))


def model_input(manifest: str, predictor: str, request: str, response: str, model_source: Any,
                search_paths: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    """(model URI, the row it was given) for a logged request of a deployment's predictor."""
    from console.graph.executor import GraphExecutor
    from console.graph.manifest_io import load_manifest

    dep = load_manifest(manifest, "deployed manifest")
    chosen = next((p for p in dep.predictors if p.name == predictor), None) or \
        next((p for p in dep.predictors if not p.shadow), None)
    if chosen is None:
        raise NotFound(f"the deployment has no predictor {predictor!r}")
    body = _json(request, "request")
    answer = _json(response, "response") if response.strip().startswith("{") else {}
    routing = ((answer.get("meta") or {}).get("routing") or {}) if isinstance(answer, dict) else {}
    node, parent = _served_model(chosen.graph, routing)
    if node is None:
        raise NotFound(f"predictor {chosen.name!r} has no registry model (models:/...) on this "
                       "request's path",
                       hint="explanations load models from the registry")
    key = (hash(manifest), chosen.name)
    executor = _executors.get(key)
    if executor is None:
        executor = GraphExecutor(chosen, model_source, search_paths=search_paths)
        _executors.clear()  # one graph at a time: its components hold tables in memory
        _executors[key] = executor
    traces = {t.name: t for t in executor.run(body, record=True).nodes}
    trace = traces.get(node.name)
    if trace is None and parent is not None and parent.name in traces:
        trace = traces[parent.name]  # a router passes its input on unchanged to the child it picks
    if trace is None or trace.input is None:
        raise InvalidSpec(f"replaying the request did not reach model node {node.name!r}")
    return node.model_uri, _first_row(trace.input)
