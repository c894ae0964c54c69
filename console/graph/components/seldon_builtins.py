"""Seldon's stub implementations, kept so manifests that use them run: SIMPLE_MODEL, SIMPLE_ROUTER."""

from __future__ import annotations

from console.graph.components.base import BuildContext, Component, RequestContext
from console.graph.payload import Payload
from console.graph.spec import Node

SIMPLE_CLASSES = ["class0", "class1", "class2"]
SIMPLE_VALUES = [0.1, 0.9, 0.5]


class SimpleModel(Component):
    """Seldon's SIMPLE_MODEL: the fixed scores 0.1, 0.9, 0.5 for class0..class2, per row."""

    default_type = "MODEL"
    label = "SIMPLE_MODEL"

    def __init__(self, node: Node, build: BuildContext) -> None:
        pass

    def predict(self, msg: Payload, ctx: RequestContext) -> Payload:
        import numpy as np

        n = len(msg.rows()) if msg.is_tabular() and msg.rows() else 1
        out = np.array([SIMPLE_VALUES] * n)
        return Payload(msg.kind if msg.is_tabular() else "tensor", list(SIMPLE_CLASSES), out, msg.meta)


class SimpleRouter(Component):
    """Seldon's SIMPLE_ROUTER: always the first child."""

    default_type = "ROUTER"
    label = "SIMPLE_ROUTER"

    def __init__(self, node: Node, build: BuildContext) -> None:
        pass

    def route(self, msg: Payload, ctx: RequestContext) -> int:
        return 0
