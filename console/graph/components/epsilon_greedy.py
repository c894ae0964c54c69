"""MLCONSOLE_EPSILON_GREEDY: a bandit router that mostly sends traffic to the best branch so far."""

from __future__ import annotations

import random

from console.errors import InvalidSpec
from console.graph.components.base import BanditState, BuildContext, Component, RequestContext, number_param
from console.graph.payload import Payload
from console.graph.spec import Node


class EpsilonGreedy(Component):
    """With probability `epsilon` (default 0.1) a random branch, else the best mean reward.

    One branch per child. Rewards arrive through send_feedback with the branch the request
    took (meta.routing of the response being rewarded); until a branch has rewards its mean
    is 0, and ties go to the lowest index (`best_branch`, default 0, breaks the first tie).
    """

    default_type = "ROUTER"
    label = "MLCONSOLE_EPSILON_GREEDY"

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.node_name = node.name
        self.branches = max(len(node.children), 1)
        self.epsilon = number_param(node, "epsilon", 0.1, low=0.0, high=1.0)
        self.best_branch = int(number_param(node, "best_branch", 0, low=0, high=self.branches - 1))
        self.rng = random.Random(build.rng_seed(node))
        self.state = BanditState(self.branches)

    def route(self, msg: Payload, ctx: RequestContext) -> int:
        if self.rng.random() < self.epsilon:
            return self.rng.randrange(self.branches)
        means = self.state.means()
        best = max(means)
        return self.best_branch if means[self.best_branch] == best else means.index(best)

    def send_feedback(self, request: Payload | None, reward: float, truth: Payload | None,
                      routing: int | None, ctx: RequestContext) -> None:
        if routing is None or routing < 0:
            return  # not routed by this node: nothing to credit
        if routing >= self.branches:
            raise InvalidSpec(f"feedback routes node {self.node_name!r} to branch {routing}, "
                              f"but it has {self.branches}")
        self.state.record(routing, reward)

    def snapshot(self) -> dict[str, list[float]]:
        """Counts and mean rewards per branch, for display."""
        return {"counts": list(self.state.counts), "means": self.state.means()}
