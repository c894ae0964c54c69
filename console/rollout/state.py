"""A rollout in flight: its phase, step, traffic, measurements and history, JSON-safe.

The local runtime's supervisor keeps `RolloutState.to_dict()` in state.json under
state["rollouts"][deployment]; the top-level keys deployment, strategy, phase, step,
canary_weight and message are what cluster listings read without the rollout package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from console.errors import InvalidSpec
from console.rollout.spec import RolloutSpec, format_duration, spec_from_dict, spec_to_dict
from console.types import RolloutSummary

PROGRESSING = "Progressing"
PAUSED = "Paused"
INCONCLUSIVE = "Inconclusive"
ANALYZING = "Analyzing"  # listed for readers of the contract; this controller never enters it
COMPLETED = "Completed"
ABORTED = "Aborted"
FAILED = "Failed"
ACTIVE_PHASES = (PROGRESSING, PAUSED, INCONCLUSIVE, ANALYZING)
PHASES = (PROGRESSING, PAUSED, INCONCLUSIVE, ANALYZING, COMPLETED, ABORTED, FAILED)

MAX_MEASUREMENTS = 500
MAX_TRANSITIONS = 300
STATE_VERSION = 1


@dataclass
class Measurement:
    """One gate measured once: `passed` is None when inconclusive (no data, too few requests)."""

    at: float
    metric: str
    scope: str
    value: float | None
    op: str
    threshold: float
    passed: bool | None
    requests: float | None = None
    note: str = ""  # why it is inconclusive, or what it decided

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """e.g. 'canary error_rate 0.12 (needs < 0.05): failed, 360 requests'; names maps scopes to
        predictor names."""
        value = "no data" if self.value is None else f"{self.value:.4g}"
        verdict = {True: "passed", False: "failed", None: "inconclusive"}[self.passed]
        requests = "" if self.requests is None else f", {self.requests:.0f} requests"
        note = f" ({self.note})" if self.note else ""
        scope = (names or {}).get(self.scope, self.scope)
        return f"{scope} {self.metric} {value} (needs {self.op} {self.threshold:g}): {verdict}{requests}{note}"


@dataclass
class Transition:
    """One entry of a rollout's history, with the measurements that decided it."""

    at: float
    actor: str
    from_phase: str
    to_phase: str
    step: int
    reason: str
    measurements: list[Measurement] = field(default_factory=list)


@dataclass
class RolloutState:
    """Where a rollout stands; tick() and command() in console.rollout.controller move it on."""

    deployment: str
    spec: RolloutSpec
    phase: str
    step_index: int = 0
    weights: dict[str, int] = field(default_factory=dict)
    shadow: dict[str, bool] = field(default_factory=dict)
    started_at: float = 0.0
    step_started_at: float = 0.0
    updated_at: float = 0.0
    message: str = ""
    measurements: list[Measurement] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    consecutive_failures: dict[str, int] = field(default_factory=dict)
    last_analysis_at: float = 0.0
    previous_alias_version: str | None = None
    aborted_at: float | None = None
    completed_at: float | None = None
    # Additions to the contract ------------------------------------------------------
    consecutive_inconclusive: dict[str, int] = field(default_factory=dict)
    pause_reason: str = ""  # "step" (a pause step) or "user" (the pause command) while Paused
    paused_at: float | None = None  # when the clock stopped (user pause, Inconclusive)
    last_verdict: str = ""  # latest analysis: "pass", "fail", "inconclusive"; "" = none since (re)start
    verdict_weight: int | None = None  # the candidate's weight when that analysis ran
    alias_moved: bool = False  # this rollout moved spec.alias (so an abort must restore it)
    promoted: bool | None = None  # on Completed: True = the candidate won, False = stable kept (A/B)
    actor: str = ""  # who started it

    @property
    def is_active(self) -> bool:
        """Still moving: Progressing, Paused, Inconclusive or Analyzing."""
        return self.phase in ACTIVE_PHASES

    @property
    def canary_weight(self) -> int:
        return int(self.weights.get(self.spec.candidate, 0))

    @property
    def current_step(self):
        """The canary step being run, or None past the last one (and for other strategies)."""
        steps = self.spec.steps if self.spec.strategy == "canary" else ()
        return steps[self.step_index] if self.step_index < len(steps) else None

    def step_text(self) -> str:
        """e.g. '2/5 pause 30s', '1/2 preview', 'done'."""
        spec = self.spec
        if not self.is_active:
            return "done" if self.phase == COMPLETED else self.phase.lower()
        if spec.strategy == "canary":
            n = len(spec.steps)
            step = self.current_step
            if step is None:
                return f"{n}/{n} completing"
            return f"{self.step_index + 1}/{n} {step.describe()}"
        if spec.strategy == "bluegreen":
            if self.step_index == 0:
                return f"1/2 preview {format_duration(spec.duration_seconds)}"
            return f"2/2 switched (rollback window {format_duration(spec.rollback_window_seconds)})"
        if spec.strategy == "shadow":
            return f"1/1 shadow {spec.mirror_percent}% for {format_duration(spec.duration_seconds)}"
        return f"1/1 A/B {100 - spec.ab_split}/{spec.ab_split} for {format_duration(spec.duration_seconds)}"

    def summary(self, namespace: str = "") -> RolloutSummary:
        """What cluster listings show."""
        return RolloutSummary(deployment=self.deployment, strategy=self.spec.strategy, phase=self.phase,
                              step=self.step_text(), canary_weight=self.canary_weight, namespace=namespace,
                              message=self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe and lossless; from_dict() reads it back."""
        return {
            "version": STATE_VERSION,
            "deployment": self.deployment,
            "strategy": self.spec.strategy,
            "phase": self.phase,
            "step": self.step_text(),
            "canary_weight": self.canary_weight,
            "message": self.message,
            "spec": spec_to_dict(self.spec, full=True),
            "step_index": self.step_index,
            "weights": dict(self.weights),
            "shadow": dict(self.shadow),
            "started_at": self.started_at,
            "step_started_at": self.step_started_at,
            "updated_at": self.updated_at,
            "measurements": [asdict(m) for m in self.measurements],
            "transitions": [asdict(t) for t in self.transitions],
            "consecutive_failures": dict(self.consecutive_failures),
            "consecutive_inconclusive": dict(self.consecutive_inconclusive),
            "last_analysis_at": self.last_analysis_at,
            "previous_alias_version": self.previous_alias_version,
            "aborted_at": self.aborted_at,
            "completed_at": self.completed_at,
            "pause_reason": self.pause_reason,
            "paused_at": self.paused_at,
            "last_verdict": self.last_verdict,
            "verdict_weight": self.verdict_weight,
            "alias_moved": self.alias_moved,
            "promoted": self.promoted,
            "actor": self.actor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutState:
        """The state to_dict() wrote; InvalidSpec when it is not one."""
        try:
            return cls(
                deployment=str(data["deployment"]),
                spec=spec_from_dict(data["spec"]),
                phase=str(data["phase"]),
                step_index=int(data.get("step_index", 0)),
                weights={str(k): int(v) for k, v in (data.get("weights") or {}).items()},
                shadow={str(k): bool(v) for k, v in (data.get("shadow") or {}).items()},
                started_at=float(data.get("started_at", 0.0)),
                step_started_at=float(data.get("step_started_at", 0.0)),
                updated_at=float(data.get("updated_at", 0.0)),
                message=str(data.get("message", "")),
                measurements=[Measurement(**m) for m in data.get("measurements") or []],
                transitions=[_transition(t) for t in data.get("transitions") or []],
                consecutive_failures={str(k): int(v) for k, v in (data.get("consecutive_failures") or {}).items()},
                consecutive_inconclusive={str(k): int(v)
                                          for k, v in (data.get("consecutive_inconclusive") or {}).items()},
                last_analysis_at=float(data.get("last_analysis_at", 0.0)),
                previous_alias_version=data.get("previous_alias_version"),
                aborted_at=data.get("aborted_at"),
                completed_at=data.get("completed_at"),
                pause_reason=str(data.get("pause_reason", "")),
                paused_at=data.get("paused_at"),
                last_verdict=str(data.get("last_verdict", "")),
                verdict_weight=data.get("verdict_weight"),
                alias_moved=bool(data.get("alias_moved", False)),
                promoted=data.get("promoted"),
                actor=str(data.get("actor", "")),
            )
        except InvalidSpec as exc:
            raise InvalidSpec(f"stored rollout {data.get('deployment', '?')!r}: {exc.message}", hint=exc.hint,
                              location=exc.location) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = data.get("deployment", "?") if isinstance(data, dict) else "?"
            raise InvalidSpec(f"stored rollout {name!r} is malformed: {exc!r}",
                              hint="abort it, or remove it from the runtime's state") from None


def _transition(raw: dict[str, Any]) -> Transition:
    raw = dict(raw)
    raw["measurements"] = [Measurement(**m) for m in raw.get("measurements") or []]
    return Transition(**raw)
