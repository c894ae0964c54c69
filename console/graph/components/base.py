"""What every in-process component offers the executor, and what a request carries along."""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.graph.models import ModelSource
    from console.graph.payload import Payload
    from console.graph.spec import Node, Predictor


class RequestContext:
    """Per-request state that nodes add to: tags, custom metrics, routing, the path taken."""

    __slots__ = ("puid", "tags", "metrics", "routing", "request_path")

    def __init__(self, puid: str, tags: dict[str, Any] | None = None) -> None:
        self.puid = puid
        self.tags: dict[str, Any] = dict(tags) if tags else {}
        self.metrics: list[dict[str, Any]] = []
        self.routing: dict[str, int] = {}
        self.request_path: dict[str, str] = {}

    def meta(self) -> dict[str, Any]:
        """What a user component sees as `meta`: the request id and the tags so far."""
        return {"puid": self.puid, "tags": dict(self.tags)}


@dataclass
class BuildContext:
    """What building a node's component may use: the model source, the predictor, a seed."""

    model_source: ModelSource | None = None
    predictor: Predictor | None = None
    seed: int | None = None
    search_paths: tuple[str, ...] = ()

    def rng_seed(self, node: Node) -> int | None:
        """The node's own seed: its `seed` parameter, else one derived from the executor's seed."""
        own = node.param("seed")
        if own is not None:
            return int(own)
        if self.seed is None:
            return None
        return self.seed + zlib.crc32(node.name.encode())  # stable across runs, distinct per node


class Component:
    """An in-process graph component: Seldon's methods, on Payloads.

    A subclass implements the methods its node type calls (MODEL: predict, TRANSFORMER:
    transform_input, OUTPUT_TRANSFORMER: transform_output, ROUTER: route, COMBINER:
    aggregate) and may implement send_feedback. Methods may add tags and metrics to ctx.
    """

    default_type = "MODEL"
    """The node type assumed when the manifest leaves `type` out."""

    label = ""
    """What meta.requestPath shows for this node (Seldon shows the image)."""

    def predict(self, msg: Payload, ctx: RequestContext) -> Payload:
        """A MODEL's answer to msg."""
        raise NotImplementedError

    def transform_input(self, msg: Payload, ctx: RequestContext) -> Payload:
        """A TRANSFORMER's rewrite of msg for its children."""
        raise NotImplementedError

    def transform_output(self, msg: Payload, ctx: RequestContext) -> Payload:
        """An OUTPUT_TRANSFORMER's rewrite of its children's answer."""
        raise NotImplementedError

    def route(self, msg: Payload, ctx: RequestContext) -> int:
        """A ROUTER's pick: a child index, -1 for every child, -2 for none."""
        raise NotImplementedError

    def aggregate(self, msgs: list[Payload], ctx: RequestContext) -> Payload:
        """A COMBINER's single answer from its children's answers."""
        raise NotImplementedError

    def send_feedback(self, request: Payload | None, reward: float, truth: Payload | None,
                      routing: int | None, ctx: RequestContext) -> None:
        """Learn from a reward; most components ignore it."""

    def supports(self, method: str) -> bool:
        """True when this component implements `method` itself."""
        return getattr(type(self), method, None) is not getattr(Component, method, None)


class Transformer(Component):
    """A component whose one operation serves as transform_input, transform_output and predict."""

    default_type = "TRANSFORMER"

    def transform(self, msg: Payload, ctx: RequestContext) -> Payload:
        """The component's one operation on msg, whichever stage calls it."""
        raise NotImplementedError

    def transform_input(self, msg: Payload, ctx: RequestContext) -> Payload:
        return self.transform(msg, ctx)

    def transform_output(self, msg: Payload, ctx: RequestContext) -> Payload:
        return self.transform(msg, ctx)

    def predict(self, msg: Payload, ctx: RequestContext) -> Payload:
        return self.transform(msg, ctx)


class BanditState:
    """Per-branch reward statistics shared by the learning routers, behind a lock."""

    def __init__(self, branches: int) -> None:
        self.lock = threading.Lock()
        self.counts = [0] * branches
        self.totals = [0.0] * branches

    def record(self, branch: int, reward: float) -> None:
        """Add one reward to a branch's statistics."""
        with self.lock:
            self.counts[branch] += 1
            self.totals[branch] += reward

    def means(self) -> list[float]:
        """The mean reward per branch (0 for a branch never rewarded)."""
        with self.lock:
            return [t / c if c else 0.0 for t, c in zip(self.totals, self.counts, strict=True)]


def json_param(node: Node, name: str, default: Any, expect: type | tuple[type, ...]) -> Any:
    """A JSON (or plain) parameter checked for its shape, with an error naming node and parameter."""
    from console.errors import InvalidSpec

    try:
        value = node.param(name, default)
        if isinstance(value, str) and expect is not str and not (isinstance(expect, tuple) and str in expect):
            import json

            value = json.loads(value)  # given as STRING but holding JSON: accept it
    except ValueError as exc:
        raise InvalidSpec(f"node {node.name!r}: parameter {name!r} is not valid: {exc}",
                          location=node.path) from exc
    if value is not None and not isinstance(value, expect):
        kinds = expect if isinstance(expect, tuple) else (expect,)
        wanted = " or ".join("a JSON " + {list: "list", dict: "object"}.get(k, k.__name__) for k in kinds)
        raise InvalidSpec(f"node {node.name!r}: parameter {name!r} must be {wanted}, got {value!r}",
                          location=node.path)
    return value


def number_param(node: Node, name: str, default: float, low: float | None = None,
                 high: float | None = None) -> float:
    """A numeric parameter within [low, high], with an error naming node and parameter."""
    from console.errors import InvalidSpec

    try:
        value = float(node.param(name, default))
    except (TypeError, ValueError) as exc:
        raise InvalidSpec(f"node {node.name!r}: parameter {name!r} must be a number", location=node.path) from exc
    if (low is not None and value < low) or (high is not None and value > high) or value != value:
        raise InvalidSpec(f"node {node.name!r}: parameter {name!r} is {value}, outside [{low}, {high}]",
                          location=node.path)
    return value
