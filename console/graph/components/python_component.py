"""User components written for Seldon's Python wrapper, run in-process and unchanged.

Loading follows `seldon-core-microservice`: the import path names a module and a class
("pkg.mod.Class", or "pkg.mod:Class", or "Module" for a class named like its module), the
object is built with the node's parameters as keyword arguments, then `load()` is called
when the class has one. Calls follow `seldon_core.user_model`: `predict(X, names, meta=...)`
falling back to `predict(X, names)`, missing transform methods pass data through, tags()
and metrics() are read after every call, `*_raw` methods take whole messages, and a
returned object with `data`/`tags`/`metrics` (SeldonResponse) contributes runtime tags.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
from numbers import Integral, Real
from typing import Any

from console.errors import ConsoleError, InvalidSpec
from console.graph.components.base import BuildContext, Component, RequestContext
from console.graph.payload import Payload, encode_message, parse_message, payload_from_result
from console.graph.spec import Node

METHODS = ("predict", "transform_input", "transform_output", "route", "aggregate", "send_feedback")
METRIC_TYPES = ("COUNTER", "GAUGE", "TIMER")
_path_lock = threading.Lock()


class ComponentFailed(ConsoleError):
    """A user component raised, or returned something Seldon's wrapper would refuse."""


def split_import_path(path: str) -> tuple[str, str]:
    """(module, class) from 'pkg.mod:Class', 'pkg.mod.Class' or 'Module' (Seldon's MODEL_NAME)."""
    path = path.strip()
    if ":" in path:
        module, _, cls = path.partition(":")
        return module, cls
    module, _, cls = path.rpartition(".")
    return (module, cls) if module else (path, path)


def looks_like_import_path(text: str | None) -> bool:
    """True for 'pkg.mod:Class' / 'pkg.mod.Class'; False for Seldon's UPPER_CASE implementations."""
    if not text or text.upper() == text:
        return False
    module, cls = split_import_path(text)
    return all(part.isidentifier() for part in (*module.split("."), cls))


def import_component_class(path: str, search_paths: tuple[str, ...] = ()) -> type:
    """The class an import path names; InvalidSpec saying why when it does not import."""
    module_name, class_name = split_import_path(path)
    with _path_lock:
        # Seldon's wrapper appends the working directory so components beside the app import.
        for extra in (*search_paths, os.getcwd()):
            if extra and extra not in sys.path:
                sys.path.append(extra)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise InvalidSpec(f"component {path!r} does not import: {type(exc).__name__}: {exc}",
                          hint="check the module path and that it is on PYTHONPATH or in the working directory",
                          target=path) from exc
    cls = getattr(module, class_name, None)
    if cls is None or inspect.ismodule(cls):
        # "pkg.Model" may name module pkg/Model.py holding class Model (Seldon's MODEL_NAME habit).
        try:
            inner = cls if inspect.ismodule(cls) else importlib.import_module(f"{module_name}.{class_name}")
        except ImportError:
            inner = None
        cls = getattr(inner, class_name, None) if inner is not None else None
    if cls is None:
        raise InvalidSpec(f"component {path!r}: module {module_name!r} has no {class_name!r}", target=path)
    if not callable(cls):
        raise InvalidSpec(f"component {path!r}: {class_name!r} is not a class", target=path)
    return cls


def seldon_parameters(node: Node) -> dict[str, Any]:
    """The node's parameters typed as Seldon's wrapper types them (plus JSON, parsed)."""
    out: dict[str, Any] = {}
    for p in node.parameters:
        if p.name == "component" and not node.implementation:
            continue  # it named the component; Seldon would not pass it, it is ours
        kind = (p.type or "STRING").upper()
        try:
            if kind == "BOOL":
                text = str(p.value).strip().lower()
                if text not in ("y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0"):
                    raise ValueError(f"{p.value!r} is not a boolean")
                out[p.name] = text in ("y", "yes", "t", "true", "on", "1")
            else:
                out[p.name] = p.typed()
        except ValueError as exc:
            raise InvalidSpec(f"node {node.name!r}: parameter {p.name!r} with value {p.value!r} can't be "
                              f"parsed as {kind}: {exc}", location=node.path) from exc
    return out


def _not_implemented(exc: BaseException) -> bool:
    return isinstance(exc, NotImplementedError) or type(exc).__name__ == "SeldonNotImplementedError"


def _takes_kwargs(fn: Any) -> bool | None:
    """Whether fn accepts meta=...; None when its signature cannot be read."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return any(p.kind is p.VAR_KEYWORD or p.name == "meta" for p in params)


def _validate_metrics(metrics: Any, where: str) -> list[dict[str, Any]]:
    """Seldon's rule: a list of {key, type: COUNTER|GAUGE|TIMER, value: number}."""
    ok = isinstance(metrics, list) and all(
        isinstance(m, dict) and {"key", "type", "value"} <= m.keys() and m["type"] in METRIC_TYPES
        and isinstance(m["value"], Real) and not isinstance(m["value"], bool)
        for m in metrics)
    if not ok:
        raise ComponentFailed(f"{where} returned a bad metric: {metrics!r}",
                              hint="metrics are a list of {key, type: COUNTER|GAUGE|TIMER, value: number}")
    return metrics


class PythonComponent(Component):
    """A Seldon Python component object, called the way Seldon's wrapper calls it."""

    def __init__(self, node: Node, build: BuildContext, path: str) -> None:
        self.node_name = node.name
        self.path = path
        self.label = path
        cls = import_component_class(path, build.search_paths)
        params = seldon_parameters(node)
        try:
            self.obj = cls(**params)
        except Exception as exc:
            raise InvalidSpec(f"node {node.name!r}: {path}(**parameters) failed: {type(exc).__name__}: {exc}",
                              hint=f"parameters given: {', '.join(params) or 'none'}", location=node.path) from exc
        load = getattr(self.obj, "load", None)
        if callable(load):
            try:
                load()
            except Exception as exc:
                if not (_not_implemented(exc) or isinstance(exc, AttributeError)):
                    raise ComponentFailed(f"node {node.name!r}: {path}.load() failed: {type(exc).__name__}: {exc}",
                                          target=node.name) from exc
        self.has = {m: callable(getattr(self.obj, m, None)) for m in METHODS}
        self.raw = {m: callable(getattr(self.obj, f"{m}_raw", None)) for m in METHODS}
        self.kwargs = {m: _takes_kwargs(getattr(self.obj, m)) if self.has[m] else None for m in METHODS}

    def supports(self, method: str) -> bool:
        """Transform methods always work (missing ones pass data through, as in Seldon)."""
        if method in ("transform_input", "transform_output", "predict"):
            return True
        return self.has.get(method, False) or self.raw.get(method, False)

    # -- calling ----------------------------------------------------------------------

    def _call(self, method: str, X: Any, names: list[str], ctx: RequestContext) -> Any:
        fn = getattr(self.obj, method)
        takes = self.kwargs[method]
        if takes:
            return fn(X, names, meta=ctx.meta())
        if takes is None:  # unknown signature: Seldon's own try-then-fallback
            try:
                return fn(X, names, meta=ctx.meta())
            except TypeError:
                return fn(X, names)
        return fn(X, names)

    def _after(self, result: Any, ctx: RequestContext, method: str) -> Any:
        """Unwrap a SeldonResponse and merge the component's tags and metrics into ctx."""
        runtime_tags: dict[str, Any] = {}
        runtime_metrics: list[dict[str, Any]] = []
        if hasattr(result, "data") and (hasattr(result, "tags") or hasattr(result, "metrics")) \
                and not hasattr(result, "dtype"):
            runtime_tags = dict(getattr(result, "tags", None) or {})
            runtime_metrics = list(getattr(result, "metrics", None) or [])
            result = result.data
        where = f"{self.path}.{method}"
        tags = self._custom("tags", dict)
        if tags or runtime_tags:
            ctx.tags.update(tags)
            ctx.tags.update(runtime_tags)
        metrics = self._custom("metrics", list)
        if metrics or runtime_metrics:
            ctx.metrics.extend(_validate_metrics(metrics + runtime_metrics, where))
        return result

    def _custom(self, name: str, kind: type) -> Any:
        attr = getattr(self.obj, name, None)
        if attr is None:
            return kind()
        try:
            value = attr() if callable(attr) else attr
        except Exception as exc:
            if _not_implemented(exc):
                return kind()
            raise
        if value is None:
            return kind()
        if not isinstance(value, kind):
            raise ComponentFailed(f"{self.path}.{name}() returned {type(value).__name__}, not a {kind.__name__}")
        return value

    def _features(self, msg: Payload) -> Any:
        return msg.array() if msg.is_tabular() else msg.data

    def _transform(self, method: str, msg: Payload, ctx: RequestContext, is_request: bool) -> Payload:
        if self.raw[method]:
            out = self._raw(method, encode_message(msg, ctx.meta()), ctx)
            if out is not None:
                return out
        if not self.has[method]:
            if method == "predict":
                return payload_from_result([], msg)  # Seldon answers an empty prediction
            return msg  # a missing transform passes the data through
        try:
            result = self._call(method, self._features(msg), msg.names, ctx)
        except Exception as exc:
            if not _not_implemented(exc):
                raise
            return payload_from_result([], msg) if method == "predict" else msg
        result = self._after(result, ctx, method)
        names = self._output_names(msg, is_request)
        return payload_from_result(result, msg, names)

    def _output_names(self, msg: Payload, is_request: bool) -> list[str] | None:
        """Seldon: feature_names() (or the input's) on the way in, class_names() on the way out."""
        source = "feature_names" if is_request else "class_names"
        attr = getattr(self.obj, source, None)
        if attr is not None:
            try:
                return list(attr() if callable(attr) else attr)
            except Exception as exc:
                if not _not_implemented(exc):
                    raise
        return list(msg.names) if is_request else None

    def _raw(self, method: str, message: dict[str, Any], ctx: RequestContext) -> Payload | None:
        """Call method_raw with a whole message; None when it says it is not implemented."""
        try:
            reply = getattr(self.obj, f"{method}_raw")(message)
        except Exception as exc:
            if _not_implemented(exc):
                self.raw[method] = False
                return None
            raise
        if not isinstance(reply, dict):
            raise ComponentFailed(f"{self.path}.{method}_raw returned {type(reply).__name__}, not a SeldonMessage")
        try:
            out = parse_message(reply, f"{method}_raw reply")
        except InvalidSpec as exc:
            raise ComponentFailed(f"{self.path}.{method}_raw returned an invalid SeldonMessage: {exc.message}") \
                from exc
        tags = (reply.get("meta") or {}).get("tags")
        if tags:
            ctx.tags.update(tags)
        metrics = (reply.get("meta") or {}).get("metrics")
        if metrics:
            ctx.metrics.extend(_validate_metrics(metrics, f"{self.path}.{method}_raw"))
        return out

    # -- Seldon's methods ---------------------------------------------------------------

    def predict(self, msg: Payload, ctx: RequestContext) -> Payload:
        return self._transform("predict", msg, ctx, is_request=False)

    def transform_input(self, msg: Payload, ctx: RequestContext) -> Payload:
        return self._transform("transform_input", msg, ctx, is_request=True)

    def transform_output(self, msg: Payload, ctx: RequestContext) -> Payload:
        return self._transform("transform_output", msg, ctx, is_request=False)

    def route(self, msg: Payload, ctx: RequestContext) -> int:
        if self.raw["route"]:
            out = self._raw("route", encode_message(msg, ctx.meta()), ctx)
            if out is not None:
                return _route_from(out.rows()[0][0] if out.is_tabular() and out.rows() and out.rows()[0] else None,
                                   self.path)
        if not self.has["route"]:
            raise ComponentFailed(f"{self.path} has no route method", hint="a ROUTER component must define route")
        result = self._after(self._call("route", self._features(msg), msg.names, ctx), ctx, "route")
        return _route_from(result, self.path)

    def aggregate(self, msgs: list[Payload], ctx: RequestContext) -> Payload:
        if self.raw["aggregate"]:
            out = self._raw("aggregate", {"seldonMessages": [encode_message(m, ctx.meta()) for m in msgs]}, ctx)
            if out is not None:
                return out
        if not self.has["aggregate"]:
            raise ComponentFailed(f"{self.path} has no aggregate method",
                                  hint="a COMBINER component must define aggregate")
        result = self.obj.aggregate([self._features(m) for m in msgs], [list(m.names) for m in msgs])
        result = self._after(result, ctx, "aggregate")
        return payload_from_result(result, msgs[0], self._output_names(msgs[0], is_request=False))

    def send_feedback(self, request: Payload | None, reward: float, truth: Payload | None,
                      routing: int | None, ctx: RequestContext) -> None:
        import numpy as np

        if self.raw["send_feedback"]:
            message: dict[str, Any] = {"reward": reward}
            if request is not None:
                message["request"] = encode_message(request, ctx.meta())
            if truth is not None:
                message["truth"] = encode_message(truth, {})
            message["response"] = {"meta": {"routing": {self.node_name: routing}} if routing is not None else {}}
            try:
                reply = self.obj.send_feedback_raw(message)
            except Exception as exc:
                if not _not_implemented(exc):
                    raise
                self.raw["send_feedback"] = False
            else:
                tags = ((reply or {}).get("meta") or {}).get("tags") if isinstance(reply, dict) else None
                if isinstance(tags, dict):
                    ctx.tags.update(tags)
                return
        if not self.has["send_feedback"]:
            return
        features = self._features(request) if request is not None else np.array([])
        names = list(request.names) if request is not None else []
        truth_value = self._features(truth) if truth is not None else np.array([])
        try:
            result = self.obj.send_feedback(features, names, reward, truth_value, routing=routing)
        except Exception as exc:
            if _not_implemented(exc):
                return
            raise
        self._after(result, ctx, "send_feedback")


def _route_from(result: Any, path: str) -> int:
    if isinstance(result, Integral) and not isinstance(result, bool):
        return int(result)
    if isinstance(result, float) and result.is_integer():
        return int(result)  # route_raw replies travel as JSON numbers
    raise ComponentFailed(f"{path}.route must return an int, got {result!r}")
