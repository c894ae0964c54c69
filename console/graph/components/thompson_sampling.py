"""MLCONSOLE_THOMPSON_SAMPLING: a Bayesian bandit router over Beta posteriors per branch."""

from __future__ import annotations

import random
import threading

from console.errors import InvalidSpec
from console.graph.components.base import BuildContext, Component, RequestContext, number_param
from console.graph.payload import Payload
from console.graph.spec import Node


class ThompsonSampling(Component):
    """Draws p_b ~ Beta(alpha_b, beta_b) per branch and routes to the largest draw.

    A reward r in [0, 1] adds r to the branch's alpha and 1 - r to its beta (a success rate,
    or the fraction of a batch that succeeded). Priors `alpha` and `beta` default to 1.
    """

    default_type = "ROUTER"
    label = "MLCONSOLE_THOMPSON_SAMPLING"

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.node_name = node.name
        self.branches = max(len(node.children), 1)
        prior_a = number_param(node, "alpha", 1.0, low=1e-9)
        prior_b = number_param(node, "beta", 1.0, low=1e-9)
        self.alpha = [prior_a] * self.branches
        self.beta = [prior_b] * self.branches
        self.rng = random.Random(build.rng_seed(node))
        self.lock = threading.Lock()

    def route(self, msg: Payload, ctx: RequestContext) -> int:
        with self.lock:  # betavariate keeps state between its two gamma draws
            draws = [self.rng.betavariate(a, b) for a, b in zip(self.alpha, self.beta, strict=True)]
        return draws.index(max(draws))

    def send_feedback(self, request: Payload | None, reward: float, truth: Payload | None,
                      routing: int | None, ctx: RequestContext) -> None:
        if routing is None or routing < 0:
            return
        if routing >= self.branches:
            raise InvalidSpec(f"feedback routes node {self.node_name!r} to branch {routing}, "
                              f"but it has {self.branches}")
        if not 0.0 <= reward <= 1.0:
            raise InvalidSpec(f"node {self.node_name!r} (Thompson sampling) takes rewards in [0, 1], got {reward}")
        with self.lock:
            self.alpha[routing] += reward
            self.beta[routing] += 1.0 - reward

    def snapshot(self) -> dict[str, list[float]]:
        """The Beta parameters per branch, for display."""
        with self.lock:
            return {"alpha": list(self.alpha), "beta": list(self.beta)}
