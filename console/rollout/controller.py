"""The rollout controller: a pure state machine that a driver ticks with fresh metrics.

No I/O here: the driver passes the time, the metrics (or None when the metrics backend is
down) and a RolloutActions that changes traffic, finishes the rollout, moves registry aliases
and writes the audit log. tick() and command() never change the state they are given; they
return an updated copy, which the driver persists (RolloutState.to_dict()).

Semantics, where the contract left a choice:
- a gate aborts the rollout when its consecutive failures *reach* failure_limit (1 = the
  first failure); a pass resets the count, an inconclusive measurement leaves it alone;
- a gate with no data, too few requests, or no metrics at all is inconclusive; when its
  consecutive inconclusive measurements reach inconclusive_limit (default 1) the rollout
  pauses as Inconclusive and stays there until `resume` (or promote/abort) even when data
  returns (analysis keeps running meanwhile, so a failing gate still aborts it);
- the candidate's traffic never goes up, and nothing is promoted, while the latest analysis
  failed or was inconclusive; a promotion point (canary completion, blue-green switch and
  finish, shadow and A/B decisions) needs the latest analysis to have passed (it runs one
  when none ran since the start, a resume or the switch);
- the alias moves when the candidate takes all traffic (blue-green: at the switch; others: on
  completion); move_alias's answer is the version an abort restores;
- A/B: mann-whitney compares per-request values the driver passes as
  `samples={predictor: [values]}` (e.g. latencies); two-proportion compares error rates from
  the DeploymentMetrics (requests = request_rate * window). The candidate wins only when it
  is better with p < ab_alpha; otherwise the stable predictor is kept (phase Completed,
  promoted False);
- fairness gates read `fairness={gate.key: {predictor: Disparity}}` (the driver measures each
  predictor's demographic-parity difference on its logged requests; "" is the whole
  deployment). The candidate passes when its disparity is under the threshold and not above
  the stable predictor's by more than the gate's tolerance (when the stable one's is known);
  fewer than min_requests rows with the attribute, or fewer than two groups, is inconclusive.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from console.errors import Conflict, InvalidSpec
from console.rollout.spec import Gate, RolloutSpec, format_duration, validate_spec
from console.rollout.state import (
    ABORTED,
    COMPLETED,
    FAILED,
    INCONCLUSIVE,
    MAX_MEASUREMENTS,
    MAX_TRANSITIONS,
    PAUSED,
    PROGRESSING,
    Measurement,
    RolloutState,
    Transition,
)
from console.types import DeploymentMetrics, TrafficFigures

if TYPE_CHECKING:
    from console.governance.fairness import Disparity

CONTROLLER = "rollout-controller"
"""The actor of transitions the controller makes on its own (analysis, steps, timers)."""

VERBS = ("promote", "promote_full", "pause", "resume", "abort", "retry")
AB_MIN_SAMPLES = 20
"""An A/B decision needs at least this many samples (or requests) from each predictor."""

MetricsInput = DeploymentMetrics | Mapping[float, DeploymentMetrics] | None
FairnessInput = Mapping[str, Mapping[str, "Disparity"]] | None


class RolloutActions(Protocol):
    """What the controller asks the driver to do; the driver decides how."""

    def set_traffic(self, weights: dict[str, int], shadow: dict[str, bool]) -> None:
        """Set the stable and candidate predictors' percentages and shadow (mirror) flags."""
        ...

    def finish(self, promoted: bool) -> None:
        """promoted: the candidate's graph becomes the stable one and the candidate predictor goes;
        not promoted: the candidate predictor goes and the stable one keeps 100%."""
        ...

    def move_alias(self, model: str, alias: str, version: str) -> str | None:
        """Point model@alias at version; return the version it pointed at before (None: none)."""
        ...

    def audit(self, action: str, before: str, after: str, reason: str) -> None:
        """Write one audit-log entry about this rollout's deployment."""
        ...


# --- public API ------------------------------------------------------------------------


def start(deployment: str, spec: RolloutSpec, now: float, actor: str, actions: RolloutActions) -> RolloutState:
    """Begin a rollout: candidate at 0% (A/B: at ab_split), shadow flags per strategy; audited.

    A canary's first step applies on the first tick. Raises InvalidSpec for a bad spec; when
    the initial traffic cannot be set, the returned state is Failed.
    """
    spec = validate_spec(spec)
    state = RolloutState(deployment=deployment, spec=spec, phase=PROGRESSING, started_at=now, step_started_at=now,
                         updated_at=now, last_analysis_at=now, actor=actor,
                         weights={spec.stable: 100, spec.candidate: 0},
                         shadow={spec.stable: False, spec.candidate: False})
    run = _Run(state, now, actions, actor)
    weights, shadow = initial_traffic(spec)
    if not run.set_weights(weights, shadow, "set the initial traffic", force=True):
        return state
    reason = f"{spec.strategy} rollout of {spec.candidate} started by {actor}: {plan_text(spec)}"
    state.message = f"{spec.strategy} rollout started"
    run.record("rollout.start", "", reason, "no rollout")
    return state


def tick(state: RolloutState, now: float, metrics: MetricsInput, actions: RolloutActions,
         agreement: float | None = None,
         samples: Mapping[str, Sequence[float]] | None = None,
         fairness: FairnessInput = None) -> RolloutState:
    """Move a rollout on: analysis when due, steps, timers, decisions. Call it every second or so.

    metrics: the deployment's figures (None when the metrics backend is down), either one
    DeploymentMetrics used for every gate, or {window_seconds: DeploymentMetrics} for each of
    analysis_windows(spec). agreement: the shadow's agreement with the stable predictor (0..1),
    None while unknown. samples: for A/B with mann-whitney, per-request values of ab_metric by
    predictor name. fairness: for fairness gates, {gate.key: {predictor ("" for the deployment):
    Disparity}}. Inactive rollouts come back unchanged.
    """
    state = _copy(state)
    if not state.is_active:
        return state
    run = _Run(state, now, actions, CONTROLLER, metrics, agreement, samples, can_analyze=True,
               fairness=fairness)
    if analysis_due(state, now):
        if run.candidate_live():
            run.analyze()
        else:
            state.last_analysis_at = now  # nothing flows to the candidate yet: nothing to measure
    if state.phase in (PROGRESSING, PAUSED) and state.pause_reason != "user":
        run.progress()
    return state


def command(state: RolloutState, verb: str, now: float, actor: str, actions: RolloutActions) -> RolloutState:
    """Apply a person's command: promote, promote_full, pause, resume, abort, retry.

    Refused commands raise Conflict saying why (and leave the state as it was); an unknown verb
    raises InvalidSpec.
    """
    name = verb.strip().lower().replace("-", "_")
    if name not in VERBS:
        raise InvalidSpec(f"unknown rollout command {verb!r}", hint=f"one of {', '.join(VERBS)}")
    state = _copy(state)
    run = _Run(state, now, actions, actor)
    getattr(run, f"cmd_{name}")()
    return state


def analysis_due(state: RolloutState, now: float) -> bool:
    """Whether the next tick measures the gates (so a driver may fetch metrics only then).

    Decision points (A/B two-proportion, a promotion with no analysis yet) read metrics too:
    passing fresh metrics on every tick is always right.
    """
    return state.is_active and now - state.last_analysis_at >= state.spec.analysis_interval


def analysis_windows(spec: RolloutSpec) -> tuple[float, ...]:
    """The windows (seconds) the gates and decisions read, for a {window: metrics} mapping."""
    windows = {g.window_seconds for g in spec.gates if g.metric not in ("agreement", "fairness")}
    if spec.strategy == "ab" and spec.ab_test == "two-proportion":
        windows.add(spec.duration_seconds)
    return tuple(sorted(windows))


def initial_traffic(spec: RolloutSpec) -> tuple[dict[str, int], dict[str, bool]]:
    """The weights and shadow flags a rollout starts (and restarts) with."""
    candidate_weight = spec.ab_split if spec.strategy == "ab" else 0
    mirrored = spec.strategy == "shadow" or (spec.strategy == "bluegreen" and spec.mirror_percent > 0)
    return _split(spec, candidate_weight, mirrored)


def traffic_text(weights: Mapping[str, int], shadow: Mapping[str, bool]) -> str:
    """e.g. 'main 90 / canary 10', 'main 100 / canary (shadow)'."""
    parts = []
    for name, weight in weights.items():
        if shadow.get(name) and not weight:
            parts.append(f"{name} (shadow)")
        else:
            parts.append(f"{name} {weight}" + (" +shadow" if shadow.get(name) else ""))
    return " / ".join(parts)


def plan_text(spec: RolloutSpec) -> str:
    """One line describing the plan: steps or durations, and gates."""
    if spec.strategy == "canary":
        plan = ", ".join(s.describe() for s in spec.steps)
    elif spec.strategy == "bluegreen":
        plan = (f"preview {format_duration(spec.duration_seconds)}"
                f"{' mirrored' if spec.mirror_percent else ''}, switch, keep {spec.stable} "
                f"{format_duration(spec.rollback_window_seconds)}")
    elif spec.strategy == "shadow":
        plan = (f"mirror {spec.mirror_percent}% for {format_duration(spec.duration_seconds)}, "
                f"promote on agreement >= {spec.agreement_threshold:g}")
    else:
        plan = (f"split {100 - spec.ab_split}/{spec.ab_split} for {format_duration(spec.duration_seconds)}, "
                f"{spec.ab_test} on {spec.ab_metric}")
    gates = ", ".join(g.describe() for g in spec.gates) or "none"
    alias = f"; then {spec.alias.model}@{spec.alias.alias} -> {spec.alias.to_version}" if spec.alias else ""
    return f"{plan}; gates: {gates}{alias}"


# --- internals -------------------------------------------------------------------------


def _split(spec: RolloutSpec, candidate_weight: int, mirrored: bool = False) -> tuple[dict[str, int], dict[str, bool]]:
    return ({spec.stable: 100 - candidate_weight, spec.candidate: candidate_weight},
            {spec.stable: False, spec.candidate: mirrored})


def _copy(state: RolloutState) -> RolloutState:
    new = copy.copy(state)
    new.weights = dict(state.weights)
    new.shadow = dict(state.shadow)
    new.measurements = list(state.measurements)
    new.transitions = list(state.transitions)
    new.consecutive_failures = dict(state.consecutive_failures)
    new.consecutive_inconclusive = dict(state.consecutive_inconclusive)
    return new


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _pick(metrics: MetricsInput, window: float) -> DeploymentMetrics | None:
    if metrics is None or isinstance(metrics, DeploymentMetrics):
        return metrics
    return metrics.get(window)


def _predictor(metrics: DeploymentMetrics, name: str) -> TrafficFigures | None:
    return next((f for f in metrics.predictors if f.name == name), None)


def _finite(values: Sequence[float] | None) -> list[float]:
    return [float(v) for v in values or () if v is not None and math.isfinite(float(v))]


class _Run:
    """One tick or command over a (copied) state."""

    def __init__(self, state: RolloutState, now: float, actions: RolloutActions, actor: str,
                 metrics: MetricsInput = None, agreement: float | None = None,
                 samples: Mapping[str, Sequence[float]] | None = None, can_analyze: bool = False,
                 fairness: FairnessInput = None) -> None:
        self.s = state
        self.fairness = fairness
        self.spec = state.spec
        self.now = now
        self.actions = actions
        self.actor = actor
        self.metrics = metrics
        self.agreement = _clean(agreement)
        self.samples = samples
        self.can_analyze = can_analyze
        self.last: list[Measurement] = []  # this tick's analysis

    # --- bookkeeping ---

    def names(self) -> dict[str, str]:
        return {"candidate": self.spec.candidate, "stable": self.spec.stable, "deployment": "deployment"}

    def describe(self, m: Measurement) -> str:
        return m.describe(self.names())

    def snapshot(self) -> str:
        s = self.s
        return f"{s.phase} {s.step_text()}: {traffic_text(s.weights, s.shadow)}"

    def record(self, verb: str, from_phase: str, reason: str, before: str,
               measurements: Sequence[Measurement] = (), actor: str | None = None) -> None:
        s = self.s
        s.updated_at = self.now
        s.transitions.append(Transition(at=self.now, actor=actor or self.actor, from_phase=from_phase,
                                        to_phase=s.phase, step=s.step_index, reason=reason,
                                        measurements=[copy.copy(m) for m in measurements]))
        del s.transitions[:-MAX_TRANSITIONS]
        try:
            self.actions.audit(verb, before, self.snapshot(), reason)
        except Exception as exc:  # the change is made; say the evidence is missing rather than crash the driver
            s.message = f"{s.message} (audit log not written: {exc})"

    def call(self, what: str, fn, *args):
        """(ok, answer) of one action; a failing action makes the rollout Failed."""
        try:
            return True, fn(*args)
        except Exception as exc:
            self.fail(f"could not {what}: {exc}")
            return False, None

    def fail(self, reason: str) -> None:
        s = self.s
        before, from_phase = self.snapshot(), s.phase
        s.phase, s.message = FAILED, reason
        self.clear_pause()
        self.record("rollout.fail", from_phase, reason, before, self.last)

    def clear_pause(self) -> None:
        self.s.pause_reason = ""
        self.s.paused_at = None

    def set_weights(self, weights: dict[str, int], shadow: dict[str, bool], what: str, force: bool = False) -> bool:
        s = self.s
        unchanged = all(s.weights.get(k) == v for k, v in weights.items()) and \
            all(s.shadow.get(k, False) == v for k, v in shadow.items())
        if unchanged and not force:
            return True
        ok, _ = self.call(what, self.actions.set_traffic, dict(weights), dict(shadow))
        if ok:
            s.weights.update(weights)
            s.shadow.update(shadow)
            s.last_analysis_at = self.now  # the new split needs a window of its own before it is judged
            s.updated_at = self.now
        return ok

    def candidate_live(self) -> bool:
        c = self.spec.candidate
        return self.s.weights.get(c, 0) > 0 or bool(self.s.shadow.get(c))

    # --- analysis ---

    def measure(self, gate: Gate) -> Measurement:

        def measured(value, scope, passed, requests=None, note=""):
            return Measurement(at=self.now, metric=gate.metric, scope=scope, value=value, op=gate.op,
                               threshold=float(gate.threshold), passed=passed, requests=requests, note=note)

        if gate.metric == "agreement":
            if self.agreement is None:
                return measured(None, "candidate", None, note="agreement unknown")
            return measured(self.agreement, "candidate", gate.passes(self.agreement))
        if gate.metric == "fairness":
            return self.measure_fairness(gate, measured)
        # Outlier rates exist for the whole deployment only.
        scope = "deployment" if gate.metric == "outlier_rate" else gate.scope
        metrics = _pick(self.metrics, gate.window_seconds)
        if metrics is None:
            note = "metrics unavailable" if self.metrics is None else \
                f"no metrics for the {format_duration(gate.window_seconds)} window"
            return measured(None, scope, None, note=note)
        name = self.names()[scope]
        figures = metrics.overall if scope == "deployment" else _predictor(metrics, name)
        if figures is None:
            return measured(None, scope, None, note=f"no figures for predictor {name}")
        rate = _clean(figures.request_rate)
        requests = None if rate is None else rate * metrics.window_seconds
        value = _clean(metrics.outlier_rate if gate.metric == "outlier_rate" else figures.value(gate.metric))
        if value is None:
            return measured(None, scope, None, requests, note="no data")
        if gate.metric != "request_rate" and (requests is None or requests < gate.min_requests):
            seen = "unknown" if requests is None else f"{requests:.0f}"
            return measured(value, scope, None, requests,
                            note=f"too few requests: {seen} < {gate.min_requests} needed")
        return measured(value, scope, gate.passes(value), requests)

    def measure_fairness(self, gate: Gate, measured) -> Measurement:
        """The scope's disparity under the threshold and, for the candidate, not worse than stable's."""
        scope = gate.scope
        what = f"demographic parity on {gate.sensitive}"
        readings = (self.fairness or {}).get(gate.key)
        if readings is None:
            return measured(None, scope, None, note=f"{what}: not measured")
        name = "" if scope == "deployment" else self.names()[scope]
        mine = readings.get(name)
        value = None if mine is None else _clean(mine.value)
        rows = None if mine is None else float(mine.rows)
        if mine is None or value is None:
            why = "no logged requests" if mine is None else (mine.note or "no data")
            return measured(None, scope, None, rows, note=f"{what}: {why}")
        if rows < gate.min_requests:
            few = f"too few requests with {gate.sensitive}: {rows:.0f} < {gate.min_requests}"
            return measured(value, scope, None, rows, note=f"{what}: {few}")
        if not gate.passes(value):
            return measured(value, scope, False, rows, note=what)
        stable = readings.get(self.spec.stable) if scope == "candidate" else None
        reference = None if stable is None or stable.rows < gate.min_requests else _clean(stable.value)
        if scope != "candidate":
            return measured(value, scope, True, rows, note=what)
        if reference is None:
            return measured(value, scope, True, rows, note=f"{what}; {self.spec.stable}'s not measured")
        worse = value > reference + gate.tolerance
        margin = f", worse by more than {gate.tolerance:g}" if worse else f" (+{gate.tolerance:g} allowed)"
        note = f"{what}; {self.spec.stable} {reference:.4g}{margin}"
        return measured(value, scope, not worse, rows, note=note)

    def analyze(self) -> None:
        s, gates = self.s, self.spec.gates
        s.last_analysis_at = self.now
        if not gates:
            return
        ms = [self.measure(g) for g in gates]
        self.last = ms
        s.verdict_weight = s.canary_weight
        s.measurements.extend(ms)
        del s.measurements[:-MAX_MEASUREMENTS]
        s.updated_at = self.now
        for gate, m in zip(gates, ms, strict=True):
            key = gate.key
            if m.passed is None:
                s.consecutive_inconclusive[key] = s.consecutive_inconclusive.get(key, 0) + 1
                continue
            s.consecutive_inconclusive[key] = 0
            s.consecutive_failures[key] = 0 if m.passed else s.consecutive_failures.get(key, 0) + 1
        failed = [(g, m) for g, m in zip(gates, ms, strict=True) if m.passed is False]
        unknown = [(g, m) for g, m in zip(gates, ms, strict=True) if m.passed is None]

        def counted(pairs, counts, limit):
            return "; ".join(f"{self.describe(m)} [{counts[g.key]}/{getattr(g, limit)} in a row]" for g, m in pairs)

        if failed:
            s.last_verdict = "fail"
            over = [(g, m) for g, m in failed if s.consecutive_failures[g.key] >= g.failure_limit]
            if over:
                self.rollback("analysis failed: " + counted(over, s.consecutive_failures, "failure_limit"), ms)
            else:
                s.message = "analysis failed, holding: " + counted(failed, s.consecutive_failures, "failure_limit")
            return
        if unknown:
            s.last_verdict = "inconclusive"
            reason = "analysis inconclusive: " + counted(unknown, s.consecutive_inconclusive, "inconclusive_limit")
            limit_reached = any(s.consecutive_inconclusive[g.key] >= g.inconclusive_limit for g, _ in unknown)
            if limit_reached and s.phase in (PROGRESSING, PAUSED):
                self.enter_inconclusive(reason, ms)
            elif s.phase == INCONCLUSIVE:
                s.message = f"still {reason}; resume to continue, or abort"
            else:
                s.message = f"{reason}, holding"
            return
        s.last_verdict = "pass"
        passed = "analysis passed: " + "; ".join(self.describe(m) for m in ms)
        if s.phase == INCONCLUSIVE:
            why = next((t.reason for t in reversed(s.transitions) if t.to_phase == INCONCLUSIVE), "")
            s.message = f"gates pass again ({passed}); still Inconclusive until resumed, paused for: {why}"
        elif s.phase == PAUSED and s.pause_reason == "user":
            s.message = f"paused; {passed}"
        else:
            s.message = passed

    def latest_trouble(self) -> str:
        """The non-passing measurements of the latest analysis, for hold messages."""
        found = []
        for gate in self.spec.gates:
            for m in reversed(self.s.measurements):
                if m.metric == gate.metric and m.op == gate.op and m.threshold == float(gate.threshold):
                    if m.passed is not True:
                        found.append(self.describe(m))
                    break
        return "; ".join(found)

    def hold(self, what: str) -> None:
        verdict = self.s.last_verdict
        if verdict == "":
            self.s.message = f"holding before {what}: waiting for an analysis to pass"
        else:
            word = "failed" if verdict == "fail" else "was inconclusive"
            self.s.message = f"holding before {what}: the latest analysis {word}: {self.latest_trouble()}"

    def may_increase(self, what: str) -> bool:
        s = self.s
        if not self.spec.gates:
            return True
        if self.candidate_live() and s.verdict_weight != s.canary_weight:
            # Each weight is judged before the next: a pause shorter than the analysis interval
            # stretches to the first analysis at this weight instead of raising it blind.
            s.message = f"holding before {what}: waiting for the first analysis at {s.canary_weight}%"
            return False
        if s.last_verdict in ("", "pass"):
            return True
        self.hold(what)
        return False

    def gates_clear(self, what: str) -> bool:
        """At a promotion point: the latest analysis must have passed (one runs now if none has)."""
        s = self.s
        if not self.spec.gates or not self.candidate_live():
            return True
        if s.last_verdict == "" and self.can_analyze:
            self.analyze()
            if s.phase not in (PROGRESSING, PAUSED):
                return False
        if s.verdict_weight != s.canary_weight and s.canary_weight < 100:  # (at 100 the raise was judged)
            s.message = f"holding before {what}: waiting for the first analysis at {s.canary_weight}%"
            return False
        if s.last_verdict == "pass":
            return True
        self.hold(what)
        return False

    # --- phase changes ---

    def enter_inconclusive(self, reason: str, ms: Sequence[Measurement]) -> None:
        s = self.s
        before, from_phase = self.snapshot(), s.phase
        if s.paused_at is None:
            s.paused_at = self.now  # the step's clock stops until resumed
        s.phase, s.pause_reason = INCONCLUSIVE, ""
        s.message = f"{reason}; paused until resumed (or promoted, or aborted)"
        self.record("rollout.inconclusive", from_phase, reason, before, ms, actor=CONTROLLER)

    def move_alias(self) -> bool:
        alias = self.spec.alias
        ok, previous = self.call(f"move {alias.model}@{alias.alias} to version {alias.to_version}",
                                 self.actions.move_alias, alias.model, alias.alias, alias.to_version)
        if ok:
            self.s.previous_alias_version = None if previous is None else str(previous)
            self.s.alias_moved = True
        return ok

    def restore_alias(self) -> str | None:
        """Undo this rollout's alias move; None when that failed (the rollout is then Failed)."""
        s, alias = self.s, self.spec.alias
        if not (s.alias_moved and alias):
            return ""
        if s.previous_alias_version is None:
            s.alias_moved = False
            return (f"; {alias.model}@{alias.alias} pointed nowhere before and still points at "
                    f"{alias.to_version}: remove it by hand if needed")
        ok, _ = self.call(f"restore {alias.model}@{alias.alias} to version {s.previous_alias_version}",
                          self.actions.move_alias, alias.model, alias.alias, s.previous_alias_version)
        if not ok:
            return None
        s.alias_moved = False
        return f"; {alias.model}@{alias.alias} back to version {s.previous_alias_version}"

    def rollback(self, reason: str, ms: Sequence[Measurement], actor: str | None = None) -> None:
        """Stable back to 100%, candidate removed, alias restored: Aborted."""
        s, spec = self.s, self.spec
        before, from_phase = self.snapshot(), s.phase
        weights, shadow = _split(spec, 0)
        if not self.set_weights(weights, shadow, f"send all traffic back to {spec.stable} ({reason})", force=True):
            return
        ok, _ = self.call(f"remove {spec.candidate} after rolling back ({reason})", self.actions.finish, False)
        if not ok:
            return
        note = self.restore_alias()
        if note is None:
            return
        s.phase, s.aborted_at = ABORTED, self.now
        self.clear_pause()
        s.message = f"rolled back to {spec.stable}: {reason}{note}"
        self.record("rollout.abort", from_phase, reason + note, before, ms, actor)

    def complete(self, verb: str, reason: str, ms: Sequence[Measurement], actor: str | None = None) -> None:
        """Candidate at 100%, made the stable graph, alias moved: Completed."""
        s, spec = self.s, self.spec
        before, from_phase = self.snapshot(), s.phase
        weights, shadow = _split(spec, 100)
        if not self.set_weights(weights, shadow, f"send all traffic to {spec.candidate}"):
            return
        ok, _ = self.call(f"promote {spec.candidate} to {spec.stable}", self.actions.finish, True)
        if not ok:
            return
        note = ""
        if spec.alias and not s.alias_moved:
            if not self.move_alias():
                return
        if spec.alias:
            note = f"; {spec.alias.model}@{spec.alias.alias} -> version {spec.alias.to_version}"
        s.phase, s.completed_at, s.promoted = COMPLETED, self.now, True
        self.clear_pause()
        s.message = f"promoted {spec.candidate}: {reason}{note}"
        self.record(verb, from_phase, reason + note, before, ms, actor)

    def keep_stable(self, reason: str, ms: Sequence[Measurement]) -> None:
        """A/B without a better candidate: stable keeps 100%, candidate removed: Completed."""
        s, spec = self.s, self.spec
        before, from_phase = self.snapshot(), s.phase
        weights, shadow = _split(spec, 0)
        if not self.set_weights(weights, shadow, f"send all traffic back to {spec.stable}", force=True):
            return
        ok, _ = self.call(f"remove {spec.candidate}", self.actions.finish, False)
        if not ok:
            return
        s.phase, s.completed_at, s.promoted = COMPLETED, self.now, False
        self.clear_pause()
        s.message = f"kept {spec.stable}: {reason}"
        self.record("rollout.complete", from_phase, reason, before, ms)

    def switch(self, reason: str, verb: str = "rollout.switch") -> None:
        """Blue-green: all traffic to the candidate; the stable one stays for the rollback window."""
        s, spec = self.s, self.spec
        before, from_phase = self.snapshot(), s.phase
        weights, shadow = _split(spec, 100)
        if not self.set_weights(weights, shadow, f"switch all traffic to {spec.candidate}", force=True):
            return
        if spec.alias and not s.alias_moved and not self.move_alias():
            return
        s.phase, s.step_index, s.step_started_at = PROGRESSING, 1, self.now
        s.last_verdict, s.last_analysis_at = "", self.now
        s.consecutive_inconclusive.clear()
        self.clear_pause()
        window = format_duration(spec.rollback_window_seconds)
        s.message = f"switched to {spec.candidate}; {spec.stable} kept {window} for rollback"
        self.record(verb, from_phase, reason, before, self.last)

    # --- progress per strategy ---

    def progress(self) -> None:
        getattr(self, f"progress_{self.spec.strategy}")()

    def progress_canary(self, override: bool = False) -> None:
        """Run steps from the current one; `override` (promote) applies one held step regardless."""
        s, steps = self.s, self.spec.steps
        n = len(steps)
        while s.phase in (PROGRESSING, PAUSED) and s.pause_reason != "user":
            i = s.step_index
            if i >= n:
                if override or self.gates_clear("completing"):
                    by = f" (promoted by {self.actor})" if override else ""
                    self.complete("rollout.complete", f"all {n} steps done{by}", self.last)
                return
            step = steps[i]
            if step.set_weight is not None:
                target = step.set_weight
                if target > s.canary_weight and not override and not self.may_increase(f"setWeight {target}"):
                    return
                before, from_phase = self.snapshot(), s.phase
                weights, shadow = _split(self.spec, target)
                if not self.set_weights(weights, shadow, f"set {self.spec.candidate} to {target}%"):
                    return
                s.phase = PROGRESSING
                s.step_index, s.step_started_at = i + 1, self.now
                by = f" (promoted by {self.actor})" if override else ""
                s.message = f"step {i + 1}/{n}: {self.spec.candidate} at {target}%{by}"
                self.record("rollout.set_weight", from_phase, f"step {i + 1}/{n} setWeight {target}{by}", before,
                            self.last)
                # A promote covers one step, and the completion when that step was the last one.
                override = override and s.step_index >= n
                continue
            if step.pause_indefinite:
                if s.phase != PAUSED:
                    self.enter_step_pause(i, "until promoted")
                return
            if self.now - s.step_started_at >= (step.pause_seconds or 0.0):
                before, from_phase = self.snapshot(), s.phase
                s.step_index, s.step_started_at = i + 1, self.now
                if from_phase == PAUSED:
                    s.phase, s.pause_reason = PROGRESSING, ""
                    reason = f"step {i + 1}/{n} {step.describe()} over"
                    s.message = reason
                    self.record("rollout.resume", from_phase, reason, before)
                continue
            if s.phase != PAUSED:
                self.enter_step_pause(i, f"for {format_duration(step.pause_seconds or 0.0)}")
            return

    def enter_step_pause(self, i: int, how: str) -> None:
        s = self.s
        before, from_phase = self.snapshot(), s.phase
        s.phase, s.pause_reason = PAUSED, "step"
        s.message = f"step {i + 1}/{len(self.spec.steps)}: paused {how}"
        self.record("rollout.pause", from_phase, s.message, before)

    def progress_bluegreen(self) -> None:
        s, spec = self.s, self.spec
        elapsed = self.now - s.step_started_at
        if s.step_index == 0:
            if elapsed >= spec.duration_seconds and self.gates_clear("switching"):
                self.switch(f"preview of {format_duration(spec.duration_seconds)} passed")
        elif elapsed >= spec.rollback_window_seconds and self.gates_clear("finishing"):
            self.complete("rollout.complete",
                          f"rollback window of {format_duration(spec.rollback_window_seconds)} passed", self.last)

    def progress_shadow(self) -> None:
        s, spec = self.s, self.spec
        if self.now - s.step_started_at < spec.duration_seconds or not self.gates_clear("deciding"):
            return
        value, threshold = self.agreement, spec.agreement_threshold
        m = Measurement(at=self.now, metric="agreement", scope="candidate", value=value, op=">=",
                        threshold=threshold, passed=None if value is None else value >= threshold,
                        note="shadow decision" if value is not None else "agreement unknown")
        s.measurements.append(m)
        del s.measurements[:-MAX_MEASUREMENTS]
        ms = [*self.last, m]
        observed = format_duration(spec.duration_seconds)
        if value is None:
            self.enter_inconclusive(f"shadow observed for {observed} but the agreement with {spec.stable} "
                                    "is unknown: never promoted without it", ms)
        elif value < threshold:
            self.rollback(f"agreement {value:.4g} < {threshold:g} after {observed}", ms)
        else:
            self.complete("rollout.complete", f"agreement {value:.4g} >= {threshold:g} after {observed}", ms)

    def progress_ab(self) -> None:
        s, spec = self.s, self.spec
        if self.now - s.step_started_at < spec.duration_seconds or not self.gates_clear("deciding"):
            return
        winner, m, reason = self.ab_decision()
        s.measurements.append(m)
        del s.measurements[:-MAX_MEASUREMENTS]
        ms = [*self.last, m]
        if winner is None:
            self.enter_inconclusive(reason, ms)
        elif winner == "candidate":
            self.complete("rollout.complete", reason, ms)
        else:
            self.keep_stable(reason, ms)

    def ab_decision(self) -> tuple[str | None, Measurement, str]:
        """(winner: 'candidate', 'stable' or None when undecidable, the measurement, why)."""
        spec = self.spec
        cand, stable, alpha = spec.candidate, spec.stable, spec.ab_alpha
        metric = f"ab:{spec.ab_metric}"

        def measured(p, passed, requests, note):
            return Measurement(at=self.now, metric=metric, scope="candidate", value=p, op="<", threshold=alpha,
                               passed=passed, requests=requests, note=note)

        try:
            if spec.ab_test == "mann-whitney":
                a = _finite((self.samples or {}).get(cand))
                b = _finite((self.samples or {}).get(stable))
                if len(a) < AB_MIN_SAMPLES or len(b) < AB_MIN_SAMPLES:
                    note = (f"A/B needs {AB_MIN_SAMPLES} samples of {spec.ab_metric} per predictor, got "
                            f"{cand} {len(a)} and {stable} {len(b)}")
                    return None, measured(None, None, float(len(a)), note), note
                from console.rollout.stats import mann_whitney

                u, p = mann_whitney(a, b)
                half = len(a) * len(b) / 2
                candidate_better = u < half if spec.ab_better == "lower" else u > half
                detail = (f"Mann-Whitney on {spec.ab_metric}: U={u:.1f}, p={p:.4g}; median {cand} "
                          f"{statistics.median(a):.4g} vs {stable} {statistics.median(b):.4g} "
                          f"({len(a)}/{len(b)} samples)")
                requests = float(len(a))
            else:
                figures = self.ab_counts()
                if isinstance(figures, str):
                    return None, measured(None, None, None, figures), figures
                (n_c, err_c), (n_s, err_s) = figures
                from console.rollout.stats import two_proportion

                z, p = two_proportion(n_c - err_c, n_c, n_s - err_s, n_s)  # successes = requests without error
                candidate_better = z > 0 if spec.ab_better == "lower" else z < 0
                detail = (f"two-proportion on error rates: z={z:.3f}, p={p:.4g}; {cand} {err_c / n_c:.4g} "
                          f"of {n_c:.0f} vs {stable} {err_s / n_s:.4g} of {n_s:.0f}")
                requests = float(n_c)
        except (ImportError, ValueError) as exc:
            note = f"A/B test could not run: {exc}"
            return None, measured(None, None, None, note), note
        significant = p < alpha
        m = measured(p, significant and candidate_better, requests, detail)
        if significant and candidate_better:
            return "candidate", m, f"{cand} is better (p={p:.4g} < {alpha:g}): {detail}"
        if significant:
            return "stable", m, f"{stable} is better (p={p:.4g} < {alpha:g}): {detail}"
        return "stable", m, f"no significant difference (p={p:.4g} >= {alpha:g}): {detail}"

    def ab_counts(self) -> tuple[tuple[float, float], tuple[float, float]] | str:
        """((requests, errors) of the candidate, of the stable) over the A/B window, or why not."""
        spec = self.spec
        metrics = _pick(self.metrics, spec.duration_seconds)
        if metrics is None:
            return "A/B decision needs metrics: " + ("metrics unavailable" if self.metrics is None else
                                                     f"none for the {format_duration(spec.duration_seconds)} window")
        out = []
        for name in (spec.candidate, spec.stable):
            figures = _predictor(metrics, name)
            rate = _clean(figures.request_rate) if figures else None
            errors = _clean(figures.error_rate) if figures else None
            if rate is None or errors is None:
                return f"A/B decision needs the request and error rates of {name}: no data"
            n = round(rate * metrics.window_seconds)
            if n < AB_MIN_SAMPLES:
                return f"A/B decision needs {AB_MIN_SAMPLES} requests per predictor, {name} had {n}"
            out.append((float(n), float(round(errors * n))))
        return out[0], out[1]

    # --- commands ---

    def refuse(self, verb: str, why: str, hint: str = "") -> Conflict:
        return Conflict(f"cannot {verb} the rollout of {self.s.deployment}: {why}", hint=hint,
                        target=self.s.deployment)

    def require_active(self, verb: str) -> None:
        s = self.s
        if s.is_active:
            return
        hints = {COMPLETED: "it is over; start a new rollout to change it again",
                 ABORTED: "retry starts it again from the first step",
                 FAILED: "abort rolls it back; retry starts it again"}
        raise self.refuse(verb, f"it is {s.phase}", hints.get(s.phase, ""))

    def cmd_promote(self) -> None:
        s, spec = self.s, self.spec
        self.require_active("promote")
        if spec.strategy == "bluegreen":
            if s.step_index == 0:
                self.switch(f"promoted by {self.actor} before the preview ended", verb="rollout.promote")
            else:
                self.complete("rollout.promote", f"promoted by {self.actor} before the rollback window ended", [])
            return
        before, from_phase = self.snapshot(), s.phase
        self.clear_pause()
        s.phase = PROGRESSING
        s.consecutive_inconclusive.clear()
        if spec.strategy == "canary":
            i, step = s.step_index, s.current_step
            if step is not None and step.is_pause:
                s.step_index, s.step_started_at = i + 1, self.now
                reason = f"promoted by {self.actor}: skipped step {i + 1}/{len(spec.steps)} {step.describe()}"
            else:
                reason = f"promoted by {self.actor}"
            s.message = reason
            self.record("rollout.promote", from_phase, reason, before)
            self.progress_canary(override=True)
            return
        s.step_started_at = min(s.step_started_at, self.now - spec.duration_seconds)
        reason = f"promoted by {self.actor}: observation ended early; the decision follows on the next tick"
        s.message = reason
        self.record("rollout.promote", from_phase, reason, before)

    def cmd_promote_full(self) -> None:
        self.require_active("promote_full")
        self.complete("rollout.promote_full", f"promoted to 100% by {self.actor}", [])

    def cmd_pause(self) -> None:
        s = self.s
        self.require_active("pause")
        if s.phase == INCONCLUSIVE:
            raise self.refuse("pause", "it is already paused as Inconclusive", "resume or abort it")
        if s.phase == PAUSED and s.pause_reason == "user":
            raise self.refuse("pause", "it is already paused", "resume to continue")
        step = s.current_step
        if s.phase == PAUSED and step is not None and step.pause_indefinite:
            raise self.refuse("pause", f"it is already paused at step {s.step_text()}", "promote or resume it")
        before, from_phase = self.snapshot(), s.phase
        s.phase, s.pause_reason, s.paused_at = PAUSED, "user", self.now
        s.message = f"paused by {self.actor}"
        self.record("rollout.pause", from_phase, s.message, before)

    def cmd_resume(self) -> None:
        s, spec = self.s, self.spec
        self.require_active("resume")
        before, from_phase = self.snapshot(), s.phase
        step = s.current_step
        if s.phase == INCONCLUSIVE or (s.phase == PAUSED and s.pause_reason == "user"):
            if s.paused_at is not None:
                s.step_started_at += self.now - s.paused_at  # the step's clock stood still while paused
            reason = f"resumed by {self.actor}"
            if s.phase == INCONCLUSIVE:
                s.consecutive_inconclusive.clear()
                s.last_verdict = ""
                s.last_analysis_at = self.now - spec.analysis_interval  # measure again on the next tick
                reason += "; the gates are measured again on the next tick"
        elif s.phase == PAUSED and step is not None and step.pause_indefinite:
            s.step_index, s.step_started_at = s.step_index + 1, self.now
            reason = f"resumed by {self.actor}: step {s.step_index}/{len(spec.steps)} {step.describe()} done"
        elif s.phase == PAUSED and step is not None:
            left = max(0.0, (step.pause_seconds or 0.0) - (self.now - s.step_started_at))
            raise self.refuse("resume", f"step {s.step_text()} ends by itself in {left:.0f}s",
                              "promote skips the pause")
        else:
            raise self.refuse("resume", f"it is {s.phase}, not paused")
        self.clear_pause()
        s.phase, s.message = PROGRESSING, reason
        self.record("rollout.resume", from_phase, reason, before)

    def cmd_abort(self) -> None:
        s = self.s
        if s.phase in (COMPLETED, ABORTED):
            hint = "retry starts it again" if s.phase == ABORTED else \
                "it is over; roll forward with a new rollout of the previous version"
            raise self.refuse("abort", f"it is already {s.phase}", hint)
        self.rollback(f"aborted by {self.actor}", [], self.actor)

    def cmd_retry(self) -> None:
        s, spec = self.s, self.spec
        if s.phase not in (ABORTED, FAILED):
            hint = "abort it first" if s.is_active else "start a new rollout"
            raise self.refuse("retry", f"it is {s.phase}; retry restarts an aborted or failed rollout", hint)
        before, from_phase = self.snapshot(), s.phase
        if self.restore_alias() is None:
            return
        weights, shadow = initial_traffic(spec)
        if not self.set_weights(weights, shadow, "set the initial traffic again", force=True):
            return
        s.phase, s.step_index = PROGRESSING, 0
        s.step_started_at = s.last_analysis_at = self.now
        s.consecutive_failures.clear()
        s.consecutive_inconclusive.clear()
        s.last_verdict = ""
        s.aborted_at = s.completed_at = s.promoted = None
        self.clear_pause()
        reason = f"retried by {self.actor}: starting again from the first step"
        s.message = reason
        self.record("rollout.retry", from_phase, reason, before)
