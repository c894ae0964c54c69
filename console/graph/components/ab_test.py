"""RANDOM_ABTEST: Seldon's built-in router, child 0 with probability `ratioA`, else child 1."""

from __future__ import annotations

import random

from console.graph.components.base import BuildContext, Component, RequestContext, number_param
from console.graph.payload import Payload
from console.graph.spec import Node


class RandomABTest(Component):
    """Seldon's executor draws uniform u and routes to 0 when u < ratioA (default 0.5).

    Seldon reads ratioA only when it is the node's sole parameter; here it is read whenever
    present, and the seed for tests comes from the executor, so the manifest stays exactly
    what Seldon runs.
    """

    default_type = "ROUTER"
    label = "RANDOM_ABTEST"

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.ratio_a = number_param(node, "ratioA", 0.5, low=0.0, high=1.0)
        self.rng = random.Random(build.rng_seed(node))

    def route(self, msg: Payload, ctx: RequestContext) -> int:
        return 0 if self.rng.random() < self.ratio_a else 1
