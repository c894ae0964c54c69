"""Progressive delivery: canary, blue-green, shadow and A/B rollouts gated by live metrics.

spec: what a rollout does (the `mlconsole.io/rollout` annotation); state: where one stands;
controller: the pure state machine a driver ticks; stats: the tests behind A/B decisions.
"""

from console.rollout.controller import RolloutActions, command, start, tick
from console.rollout.spec import (
    ANNOTATION,
    AliasMove,
    Gate,
    RolloutSpec,
    Step,
    default_canary,
    dump_spec,
    load_spec,
)
from console.rollout.state import Measurement, RolloutState, Transition

__all__ = [
    "ANNOTATION", "AliasMove", "Gate", "Measurement", "RolloutActions", "RolloutSpec", "RolloutState", "Step",
    "Transition", "command", "default_canary", "dump_spec", "load_spec", "start", "tick",
]
