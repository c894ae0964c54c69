"""The rollout state machine, driven by hand: fake actions record calls, metrics are built here.

The controller is a pure domain (time, metrics and actions are passed in), so fakes are the
right inputs; the local runtime's tests drive it against real processes.
"""

import json
import random

import pytest

from console.errors import BackendUnavailable, Conflict, InvalidSpec
from console.rollout.controller import (
    CONTROLLER,
    analysis_due,
    analysis_windows,
    command,
    initial_traffic,
    start,
    tick,
    traffic_text,
)
from console.rollout.spec import AliasMove, Gate, RolloutSpec, Step, default_canary
from console.rollout.state import RolloutState
from console.types import DeploymentMetrics, TrafficFigures

T0 = 1_700_000_000.0
ALIAS = AliasMove("credit-risk", "champion", "4")


class FakeActions:
    """Records every call; raises for the actions named in `fail`."""

    def __init__(self, aliases=None, fail=()):
        self.calls = []
        self.audits = []
        self.aliases = dict(aliases if aliases is not None else {"credit-risk@champion": "3"})
        self.fail = set(fail)

    def _check(self, name):
        if name in self.fail:
            raise BackendUnavailable(f"{name} refused: the runtime is down")

    def set_traffic(self, weights, shadow):
        self._check("set_traffic")
        self.calls.append(("set_traffic", dict(weights), dict(shadow)))

    def finish(self, promoted):
        self._check("finish")
        self.calls.append(("finish", promoted))

    def move_alias(self, model, alias, version):
        self._check("move_alias")
        key = f"{model}@{alias}"
        before = self.aliases.get(key)
        self.aliases[key] = version
        self.calls.append(("move_alias", model, alias, version))
        return before

    def audit(self, action, before, after, reason):
        self._check("audit")
        self.audits.append((action, before, after, reason))

    def of(self, name):
        return [c[1:] for c in self.calls if c[0] == name]

    @property
    def weights(self):
        return self.of("set_traffic")[-1][0]

    @property
    def verbs(self):
        return [a[0] for a in self.audits]


def figures(name, rate=20.0, error_rate=0.0, p50=0.02, p95=0.05, p99=0.08):
    return TrafficFigures("predictor", name, rate, error_rate, p50, p95, p99)


def metrics(canary=None, main=None, window=30.0, overall=None, outlier=None):
    canary = canary if canary is not None else figures("canary")
    main = main if main is not None else figures("main")
    overall = overall if overall is not None else TrafficFigures("deployment", "", 40.0, 0.0, 0.02, 0.05, 0.08)
    return DeploymentMetrics("web", window, T0, overall, [main, canary], outlier_rate=outlier)


HEALTHY = metrics()
ERRORS = metrics(canary=figures("canary", error_rate=0.2))


def drive(state, actions, t_from, t_to, feed=HEALTHY, **kw):
    """Tick once a second from t_from to t_to (offsets from T0), inclusive."""
    for t in range(t_from, t_to + 1):
        m = feed(t) if callable(feed) else feed
        state = tick(state, T0 + t, m, actions, **kw)
    return state


def canary(**kw):
    return start("web", default_canary(), T0, "alice", kw.pop("actions"))


def with_alias(spec):
    return RolloutSpec(**{**spec.__dict__, "alias": ALIAS})


# --- canary ----------------------------------------------------------------------------


def test_start_sets_candidate_to_zero_and_audits():
    actions = FakeActions()
    state = start("web", default_canary(), T0, "alice", actions)
    assert state.phase == "Progressing" and state.step_index == 0 and state.actor == "alice"
    assert actions.calls == [("set_traffic", {"main": 100, "canary": 0}, {"main": False, "canary": False})]
    assert actions.verbs == ["rollout.start"]
    action, before, after, reason = actions.audits[0]
    assert before == "no rollout" and "main 100 / canary 0" in after
    assert "setWeight 10" in reason and "error_rate < 0.05" in reason and "alice" in reason
    assert state.transitions[0].from_phase == "" and state.transitions[0].to_phase == "Progressing"


def test_healthy_canary_goes_10_50_100_and_completes():
    actions = FakeActions()
    state = start("web", with_alias(default_canary()), T0, "alice", actions)
    state = drive(state, actions, 1, 1)
    assert actions.weights == {"main": 90, "canary": 10}  # the first step applies on the first tick
    assert state.phase == "Paused" and state.pause_reason == "step" and state.step_text() == "2/5 pause 30s"
    state = drive(state, actions, 2, 60)
    assert state.phase == "Paused" and actions.weights == {"main": 50, "canary": 50}
    state = drive(state, actions, 61, 61)
    assert state.phase == "Completed" and state.completed_at == T0 + 61 and state.promoted is True
    assert [w for w, _ in actions.of("set_traffic")] == [
        {"main": 100, "canary": 0}, {"main": 90, "canary": 10}, {"main": 50, "canary": 50}, {"main": 0, "canary": 100}]
    assert actions.of("finish") == [(True,)]
    assert actions.of("move_alias") == [("credit-risk", "champion", "4")]
    assert state.previous_alias_version == "3" and state.alias_moved
    assert actions.verbs == ["rollout.start", "rollout.set_weight", "rollout.pause", "rollout.resume",
                             "rollout.set_weight", "rollout.pause", "rollout.resume", "rollout.set_weight",
                             "rollout.complete"]
    done = state.transitions[-1]
    assert done.to_phase == "Completed" and done.actor == CONTROLLER
    assert {m.metric for m in done.measurements} == {"error_rate", "latency_p99"}
    assert all(m.passed for m in state.measurements)
    # Analyses every 10 s once traffic reached the candidate.
    assert sorted({m.at - T0 for m in state.measurements}) == [11, 21, 31, 41, 51, 61]
    summary = state.summary()
    assert (summary.phase, summary.canary_weight, summary.step) == ("Completed", 100, "done")
    assert not state.is_active
    assert drive(state, actions, 62, 70) == state  # ticks after the end change nothing
    assert len(actions.calls) == 6


def test_failing_error_rate_gate_aborts_within_failure_limit_analyses():
    actions = FakeActions()
    state = start("web", with_alias(default_canary()), T0, "alice", actions)
    state = drive(state, actions, 1, 11, ERRORS)
    assert state.phase == "Paused" and state.consecutive_failures[default_canary().gates[0].key] == 1
    assert "analysis failed, holding" in state.message and "[1/2 in a row]" in state.message
    state = drive(state, actions, 12, 21, ERRORS)
    assert state.phase == "Aborted" and state.aborted_at == T0 + 21
    assert actions.weights == {"main": 100, "canary": 0}
    assert actions.of("finish") == [(False,)]
    assert actions.of("move_alias") == []  # never moved, so untouched
    assert max(w["canary"] for w, _ in actions.of("set_traffic")) == 10
    abort = state.transitions[-1]
    assert abort.to_phase == "Aborted" and abort.actor == CONTROLLER
    failed = [m for m in abort.measurements if m.passed is False]
    assert [(m.metric, m.value) for m in failed] == [("error_rate", 0.2)]
    verb, before, after, reason = actions.audits[-1]
    assert verb == "rollout.abort" and "canary error_rate 0.2 (needs < 0.05): failed" in reason
    assert "[2/2 in a row]" in reason and "main 100 / canary 0" in after and "canary 10" in before
    assert state.summary().phase == "Aborted" and state.summary().canary_weight == 0
    assert drive(state, actions, 22, 40, HEALTHY) == state


def test_failure_limit_one_aborts_on_the_first_failure():
    spec = RolloutSpec("canary", gates=(Gate("latency_p99", "<", 0.05, failure_limit=1),))
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 11)  # p99 0.08 fails 0.05
    assert state.phase == "Aborted" and state.aborted_at == T0 + 11


def test_a_pass_resets_the_failure_count_and_a_failure_holds_the_next_weight():
    spec = RolloutSpec("canary", gates=(Gate("error_rate", "<", 0.05, failure_limit=3),))
    actions = FakeActions()
    state = start("web", spec, T0, "a", actions)
    # Failing at 21 and 31: the pause ends at 31 but 50% waits for a passing analysis.
    state = drive(state, actions, 1, 35, lambda t: ERRORS if t in (21, 31) else HEALTHY)
    assert state.phase == "Progressing" and actions.weights == {"main": 90, "canary": 10}
    assert state.message.startswith("holding before setWeight 50: the latest analysis failed")
    state = drive(state, actions, 36, 41)
    assert actions.weights == {"main": 50, "canary": 50} and state.consecutive_failures[spec.gates[0].key] == 0
    state = drive(state, actions, 42, 200)
    assert state.phase == "Completed"


def test_metrics_down_goes_inconclusive_never_promotes_and_resume_continues():
    actions = FakeActions()
    state = start("web", with_alias(default_canary()), T0, "alice", actions)
    state = drive(state, actions, 1, 11, None)
    assert state.phase == "Inconclusive" and state.paused_at == T0 + 11
    assert "metrics unavailable" in state.message and "paused until resumed" in state.message
    assert state.measurements[-1].passed is None and state.measurements[-1].note == "metrics unavailable"
    assert actions.verbs[-1] == "rollout.inconclusive"
    state = drive(state, actions, 12, 300, None)
    assert state.phase == "Inconclusive"
    assert actions.of("finish") == [] and actions.of("move_alias") == []
    assert actions.weights == {"main": 90, "canary": 10}
    state = command(state, "resume", T0 + 300, "bob", actions)
    assert state.phase == "Progressing" and actions.verbs[-1] == "rollout.resume"
    assert "resumed by bob" in state.message
    # The gates are measured again at once; the pause keeps the 20 s it had left.
    state = drive(state, actions, 301, 301)
    assert state.measurements[-1].at == T0 + 301 and state.measurements[-1].passed is True
    assert state.phase == "Paused" and state.step_index == 1
    state = drive(state, actions, 302, 319)
    assert actions.weights == {"main": 90, "canary": 10}
    state = drive(state, actions, 320, 320)
    assert actions.weights == {"main": 50, "canary": 50}
    state = drive(state, actions, 321, 400)
    assert state.phase == "Completed" and actions.of("finish") == [(True,)]


def test_resume_while_data_is_still_missing_goes_inconclusive_again():
    actions = FakeActions()
    state = drive(canary(actions=actions), actions, 1, 11, None)
    state = command(state, "resume", T0 + 20, "bob", actions)
    state = drive(state, actions, 21, 21, None)
    assert state.phase == "Inconclusive"


def test_too_few_requests_is_inconclusive():
    actions = FakeActions()
    trickle = metrics(canary=figures("canary", rate=0.1))  # 3 requests in 30 s, 10 needed
    state = drive(canary(actions=actions), actions, 1, 11, trickle)
    assert state.phase == "Inconclusive"
    m = state.measurements[-2]
    assert m.passed is None and m.value == 0.0 and m.requests == pytest.approx(3.0)
    assert m.note == "too few requests: 3 < 10 needed"


def test_no_figures_for_the_candidate_is_inconclusive():
    actions = FakeActions()
    only_main = DeploymentMetrics("web", 30.0, T0, HEALTHY.overall, [figures("main")])
    state = drive(canary(actions=actions), actions, 1, 11, only_main)
    assert state.phase == "Inconclusive" and "no figures for predictor canary" in state.message


def test_inconclusive_stays_when_data_returns_but_a_failing_gate_still_aborts():
    actions = FakeActions()
    state = drive(canary(actions=actions), actions, 1, 11, None)
    state = drive(state, actions, 12, 21)
    assert state.phase == "Inconclusive" and state.message.startswith("gates pass again")
    assert "paused for: analysis inconclusive" in state.message
    state = drive(state, actions, 22, 41, ERRORS)
    assert state.phase == "Aborted" and actions.of("finish") == [(False,)]


def test_inconclusive_limit_tolerates_gaps_but_holds_meanwhile():
    spec = RolloutSpec("canary", steps=(Step(set_weight=10), Step(pause_seconds=15.0), Step(set_weight=100)),
                       gates=(Gate("error_rate", "<", 0.05, inconclusive_limit=3),))
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 21, lambda t: None if t >= 11 else HEALTHY)
    assert state.phase == "Progressing" and actions.weights == {"main": 90, "canary": 10}
    assert "holding before setWeight 100" in state.message
    state = drive(state, actions, 22, 31, None)
    assert state.phase == "Inconclusive"


# --- commands ---------------------------------------------------------------------------


def at_first_pause():
    actions = FakeActions()
    state = start("web", with_alias(default_canary()), T0, "alice", actions)
    return drive(state, actions, 1, 5), actions


def test_pause_holds_the_rollout_and_resume_keeps_the_remaining_pause():
    state, actions = at_first_pause()
    state = command(state, "pause", T0 + 5, "bob", actions)
    assert (state.phase, state.pause_reason, state.message) == ("Paused", "user", "paused by bob")
    assert actions.verbs[-1] == "rollout.pause" and state.transitions[-1].actor == "bob"
    state = drive(state, actions, 6, 100)
    assert state.phase == "Paused" and state.step_index == 1 and actions.weights["canary"] == 10
    assert state.message.startswith("paused; analysis passed")  # analysis goes on while paused
    with pytest.raises(Conflict, match="already paused"):
        command(state, "pause", T0 + 100, "bob", actions)
    state = command(state, "resume", T0 + 100, "bob", actions)
    assert state.phase == "Progressing"
    # 4 s of the 30 s pause ran before the pause command: 26 s are left.
    state = drive(state, actions, 101, 125)
    assert actions.weights["canary"] == 10 and state.phase == "Paused"
    state = drive(state, actions, 126, 126)
    assert actions.weights["canary"] == 50


def test_refused_resumes():
    state, actions = at_first_pause()
    with pytest.raises(Conflict, match="ends by itself") as caught:
        command(state, "resume", T0 + 5, "bob", actions)
    assert "promote" in caught.value.hint
    fresh = start("web", default_canary(), T0, "alice", actions)
    with pytest.raises(Conflict, match="not paused"):
        command(fresh, "resume", T0, "bob", actions)


def test_promote_skips_the_pause_and_applies_the_next_step_now():
    state, actions = at_first_pause()
    state = command(state, "promote", T0 + 5, "bob", actions)
    assert actions.weights == {"main": 50, "canary": 50}
    assert state.phase == "Paused" and state.step_index == 3
    assert actions.verbs[-3:] == ["rollout.promote", "rollout.set_weight", "rollout.pause"]
    assert "promoted by bob: skipped step 2/5 pause 30s" in actions.audits[-3][3]
    state = command(state, "promote", T0 + 6, "bob", actions)
    assert state.phase == "Completed" and actions.of("finish") == [(True,)]
    assert actions.of("move_alias") == [("credit-risk", "champion", "4")]


def test_promote_full_goes_straight_to_100_and_completes():
    state, actions = at_first_pause()
    state = command(state, "promote-full", T0 + 5, "bob", actions)
    assert state.phase == "Completed" and state.promoted
    assert actions.weights == {"main": 0, "canary": 100} and actions.of("finish") == [(True,)]
    assert actions.verbs[-1] == "rollout.promote_full" and "by bob" in actions.audits[-1][3]
    with pytest.raises(Conflict, match="it is Completed") as caught:
        command(state, "promote", T0 + 6, "bob", actions)
    assert "over" in caught.value.hint
    for verb in ("promote_full", "pause", "resume", "abort", "retry"):
        with pytest.raises(Conflict):
            command(state, verb, T0 + 6, "bob", actions)


def test_abort_then_retry_starts_again_from_the_first_step():
    state, actions = at_first_pause()
    state = command(state, "abort", T0 + 5, "bob", actions)
    assert state.phase == "Aborted" and actions.weights == {"main": 100, "canary": 0}
    assert actions.of("finish") == [(False,)] and "aborted by bob" in state.message
    with pytest.raises(Conflict, match="already Aborted"):
        command(state, "abort", T0 + 6, "bob", actions)
    with pytest.raises(Conflict, match="it is Aborted"):
        command(state, "promote", T0 + 6, "bob", actions)
    state = command(state, "retry", T0 + 10, "bob", actions)
    assert (state.phase, state.step_index, state.aborted_at) == ("Progressing", 0, None)
    assert actions.verbs[-1] == "rollout.retry" and state.consecutive_failures == {}
    state = drive(state, actions, 11, 11)
    assert actions.weights == {"main": 90, "canary": 10}
    state = drive(state, actions, 12, 100)
    assert state.phase == "Completed"


def test_retry_refused_while_running_and_unknown_verbs():
    state, actions = at_first_pause()
    with pytest.raises(Conflict, match="retry restarts an aborted or failed rollout") as caught:
        command(state, "retry", T0 + 5, "bob", actions)
    assert caught.value.hint == "abort it first" and caught.value.target == "web"
    with pytest.raises(InvalidSpec, match="unknown rollout command"):
        command(state, "rollback", T0 + 5, "bob", actions)


def test_commands_and_ticks_never_change_the_state_they_are_given():
    state, actions = at_first_pause()
    before = json.dumps(state.to_dict())
    command(state, "promote_full", T0 + 5, "bob", actions)
    command(state, "pause", T0 + 5, "bob", actions)
    tick(state, T0 + 60, ERRORS, actions)
    assert json.dumps(state.to_dict()) == before


def test_indefinite_pause_waits_for_a_person():
    spec = RolloutSpec("canary", steps=(Step(set_weight=20), Step(pause_indefinite=True), Step(set_weight=100)))
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 1000)
    assert state.phase == "Paused" and state.step_text() == "2/3 pause (until promoted)"
    with pytest.raises(Conflict, match="already paused"):
        command(state, "pause", T0 + 1000, "bob", actions)
    resumed = command(state, "resume", T0 + 1000, "bob", actions)
    assert resumed.phase == "Progressing" and resumed.step_index == 2
    resumed = drive(resumed, actions, 1001, 1001)
    assert resumed.phase == "Completed" and actions.weights == {"main": 0, "canary": 100}
    promoted = command(state, "promote", T0 + 1000, "bob", FakeActions())
    assert promoted.phase == "Completed"


def test_promote_out_of_inconclusive_is_a_human_override():
    actions = FakeActions()
    state = drive(canary(actions=actions), actions, 1, 11, None)
    state = command(state, "promote", T0 + 12, "bob", actions)
    assert actions.weights == {"main": 50, "canary": 50} and state.phase == "Paused"


# --- actions failing ---------------------------------------------------------------------


def test_an_action_that_fails_makes_the_rollout_failed_then_abort_and_retry_work():
    actions = FakeActions()
    state = drive(canary(actions=actions), actions, 1, 30)
    actions.fail.add("set_traffic")
    state = drive(state, actions, 31, 40)
    assert state.phase == "Failed" and "could not set canary to 50%" in state.message
    assert "runtime is down" in state.message and actions.verbs[-1] == "rollout.fail"
    assert not state.is_active and state.summary().step == "failed"
    with pytest.raises(Conflict, match="it is Failed"):
        command(state, "promote", T0 + 41, "bob", actions)
    still = command(state, "abort", T0 + 41, "bob", actions)
    assert still.phase == "Failed" and "could not send all traffic back to main" in still.message
    actions.fail.clear()
    aborted = command(state, "abort", T0 + 42, "bob", actions)
    assert aborted.phase == "Aborted" and actions.weights == {"main": 100, "canary": 0}
    retried = command(state, "retry", T0 + 42, "bob", actions)
    assert retried.phase == "Progressing" and actions.weights == {"main": 100, "canary": 0}


def test_start_fails_when_the_traffic_cannot_be_set():
    actions = FakeActions(fail={"set_traffic"})
    state = start("web", default_canary(), T0, "alice", actions)
    assert state.phase == "Failed" and actions.verbs == ["rollout.fail"]


def test_a_failing_audit_log_does_not_stop_the_rollout():
    actions = FakeActions(fail={"audit"})
    state = start("web", default_canary(), T0, "alice", actions)
    assert state.phase == "Progressing" and "audit log not written" in state.message
    state = drive(state, actions, 1, 100)
    assert state.phase == "Completed"


def test_start_refuses_a_bad_spec():
    with pytest.raises(InvalidSpec, match="unknown strategy"):
        start("web", RolloutSpec("rainbow"), T0, "a", FakeActions())


# --- blue-green ----------------------------------------------------------------------------

BLUEGREEN = RolloutSpec("bluegreen", gates=(Gate("error_rate", "<", 0.05),), duration_seconds=60.0,
                        rollback_window_seconds=30.0, alias=ALIAS)


def test_bluegreen_previews_mirrored_then_switches_then_finishes():
    actions = FakeActions()
    state = start("web", BLUEGREEN, T0, "alice", actions)
    assert actions.calls[0] == ("set_traffic", {"main": 100, "canary": 0}, {"main": False, "canary": True})
    assert state.step_text() == "1/2 preview 1m"
    state = drive(state, actions, 1, 59)
    assert state.step_index == 0 and len(actions.of("set_traffic")) == 1
    assert {m.at - T0 for m in state.measurements} == {10, 20, 30, 40, 50}
    state = drive(state, actions, 60, 60)
    assert state.step_index == 1 and state.phase == "Progressing"
    assert actions.calls[-2:] == [("set_traffic", {"main": 0, "canary": 100}, {"main": False, "canary": False}),
                                  ("move_alias", "credit-risk", "champion", "4")]
    assert actions.verbs[-1] == "rollout.switch" and state.previous_alias_version == "3"
    assert state.summary().canary_weight == 100 and state.step_text().startswith("2/2 switched")
    state = drive(state, actions, 61, 89)
    assert state.phase == "Progressing"
    state = drive(state, actions, 90, 90)
    assert state.phase == "Completed" and actions.of("finish") == [(True,)]
    assert len(actions.of("move_alias")) == 1 and len(actions.of("set_traffic")) == 2


def test_bluegreen_abort_in_the_rollback_window_switches_back_and_restores_the_alias():
    actions = FakeActions()
    state = start("web", BLUEGREEN, T0, "alice", actions)
    state = drive(state, actions, 1, 80, lambda t: ERRORS if t > 75 else HEALTHY)
    assert state.phase == "Aborted" and state.aborted_at == T0 + 80
    assert actions.calls[-3:] == [("set_traffic", {"main": 100, "canary": 0}, {"main": False, "canary": False}),
                                  ("finish", False), ("move_alias", "credit-risk", "champion", "3")]
    assert actions.aliases["credit-risk@champion"] == "3" and not state.alias_moved
    assert "credit-risk@champion back to version 3" in state.message


def test_bluegreen_user_abort_in_the_window_too():
    actions = FakeActions()
    state = drive(start("web", BLUEGREEN, T0, "alice", actions), actions, 1, 65)
    state = command(state, "abort", T0 + 65, "bob", actions)
    assert state.phase == "Aborted" and actions.aliases["credit-risk@champion"] == "3"


def test_bluegreen_without_mirroring_switches_on_time_and_judges_after():
    spec = RolloutSpec(**{**BLUEGREEN.__dict__, "mirror_percent": 0, "alias": None})
    actions = FakeActions()
    state = start("web", spec, T0, "alice", actions)
    assert actions.calls[0][2] == {"main": False, "canary": False}
    state = drive(state, actions, 1, 60, None)  # nothing reaches the candidate: nothing to measure
    assert state.step_index == 1 and state.measurements == []
    state = drive(state, actions, 61, 90)
    assert state.phase == "Completed"


def test_bluegreen_pause_stops_the_preview_clock():
    actions = FakeActions()
    state = drive(start("web", BLUEGREEN, T0, "alice", actions), actions, 1, 30)
    state = command(state, "pause", T0 + 30, "bob", actions)
    state = drive(state, actions, 31, 100)
    assert state.step_index == 0 and state.phase == "Paused"
    state = command(state, "resume", T0 + 100, "bob", actions)
    state = drive(state, actions, 101, 129)
    assert state.step_index == 0
    state = drive(state, actions, 130, 130)
    assert state.step_index == 1 and actions.weights == {"main": 0, "canary": 100}


def test_bluegreen_promote_switches_early_then_finishes():
    actions = FakeActions()
    state = drive(start("web", BLUEGREEN, T0, "alice", actions), actions, 1, 5)
    state = command(state, "promote", T0 + 5, "bob", actions)
    assert state.step_index == 1 and actions.weights == {"main": 0, "canary": 100}
    assert actions.verbs[-1] == "rollout.promote"
    state = command(state, "promote", T0 + 6, "bob", actions)
    assert state.phase == "Completed" and actions.of("finish") == [(True,)]


# --- shadow -----------------------------------------------------------------------------------

SHADOW = RolloutSpec("shadow", gates=(Gate("error_rate", "<", 0.05),), duration_seconds=30.0)


def test_shadow_mirrors_and_low_agreement_is_not_promoted():
    actions = FakeActions()
    state = start("web", SHADOW, T0, "alice", actions)
    assert actions.calls[0] == ("set_traffic", {"main": 100, "canary": 0}, {"main": False, "canary": True})
    assert traffic_text(state.weights, state.shadow) == "main 100 / canary (shadow)"
    state = drive(state, actions, 1, 30, agreement=0.80)
    assert state.phase == "Aborted" and actions.of("finish") == [(False,)]
    assert "agreement 0.8 < 0.95" in state.message
    decided = state.transitions[-1].measurements[-1]
    assert (decided.metric, decided.value, decided.passed) == ("agreement", 0.8, False)
    assert actions.weights == {"main": 100, "canary": 0}


def test_shadow_with_high_agreement_is_promoted():
    actions = FakeActions()
    state = drive(start("web", SHADOW, T0, "alice", actions), actions, 1, 29, agreement=0.99)
    assert state.phase == "Progressing"
    state = drive(state, actions, 30, 30, agreement=0.99)
    assert state.phase == "Completed" and actions.of("finish") == [(True,)]
    assert actions.calls[-2] == ("set_traffic", {"main": 0, "canary": 100}, {"main": False, "canary": False})


def test_shadow_without_agreement_is_inconclusive_until_it_is_known():
    actions = FakeActions()
    state = drive(start("web", SHADOW, T0, "alice", actions), actions, 1, 60)
    assert state.phase == "Inconclusive" and "never promoted without it" in state.message
    assert actions.of("finish") == []
    state = command(state, "resume", T0 + 60, "bob", actions)
    state = drive(state, actions, 61, 61, agreement=None)
    assert state.phase == "Inconclusive"
    state = command(state, "resume", T0 + 62, "bob", actions)
    state = drive(state, actions, 63, 63, agreement=0.97)
    assert state.phase == "Completed"


def test_shadow_agreement_gate_aborts_early():
    spec = RolloutSpec("shadow", gates=(Gate("agreement", ">", 0.9),), duration_seconds=300.0)
    actions = FakeActions()
    state = drive(start("web", spec, T0, "alice", actions), actions, 1, 10, agreement=0.5)
    assert state.phase == "Aborted" and state.aborted_at == T0 + 10


def test_shadow_promote_ends_the_observation_and_decides_on_the_next_tick():
    actions = FakeActions()
    state = drive(start("web", SHADOW, T0, "alice", actions), actions, 1, 12, agreement=0.99)
    state = command(state, "promote", T0 + 12, "bob", actions)
    assert state.phase == "Progressing" and actions.of("finish") == []
    state = drive(state, actions, 13, 13, agreement=0.99)
    assert state.phase == "Completed"


# --- A/B ----------------------------------------------------------------------------------------

AB = RolloutSpec("ab", ab_split=30, duration_seconds=60.0)


def samples(candidate_mean, stable_mean, n=200, seed=3):
    rng = random.Random(seed)
    return {"canary": [rng.gauss(candidate_mean, 0.01) for _ in range(n)],
            "main": [rng.gauss(stable_mean, 0.01) for _ in range(n)]}


def test_ab_sets_the_split_right_away_and_promotes_a_faster_candidate():
    actions = FakeActions()
    state = start("web", AB, T0, "alice", actions)
    assert actions.calls[0] == ("set_traffic", {"main": 70, "canary": 30}, {"main": False, "canary": False})
    assert state.summary().canary_weight == 30 and state.step_text() == "1/1 A/B 70/30 for 1m"
    state = drive(state, actions, 1, 59, samples=samples(0.05, 0.06))
    assert state.phase == "Progressing"
    state = drive(state, actions, 60, 60, samples=samples(0.05, 0.06))
    assert state.phase == "Completed" and state.promoted is True and actions.of("finish") == [(True,)]
    decided = state.measurements[-1]
    assert decided.metric == "ab:latency_p50" and decided.passed and decided.value < 0.05
    assert "Mann-Whitney" in state.message and "canary is better" in state.message


def test_ab_keeps_stable_when_there_is_no_difference_or_the_candidate_is_worse():
    same = {"canary": [0.05 + i * 1e-4 for i in range(50)], "main": [0.05 + i * 1e-4 for i in range(50)]}
    actions = FakeActions()
    state = drive(start("web", AB, T0, "alice", actions), actions, 1, 60, samples=same)
    assert state.phase == "Completed" and state.promoted is False
    assert actions.of("finish") == [(False,)] and actions.weights == {"main": 100, "canary": 0}
    assert "no significant difference" in state.message and state.summary().canary_weight == 0
    actions = FakeActions()
    state = drive(start("web", AB, T0, "alice", actions), actions, 1, 60, samples=samples(0.07, 0.05))
    assert state.promoted is False and "main is better" in state.message


def test_ab_higher_is_better_metric():
    spec = RolloutSpec("ab", duration_seconds=10.0, ab_metric="reward", ab_better="higher")
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 10, samples=samples(0.9, 0.5))
    assert state.promoted is True


def test_ab_without_samples_is_inconclusive():
    actions = FakeActions()
    state = drive(start("web", AB, T0, "alice", actions), actions, 1, 60, samples={"canary": [0.1] * 5})
    assert state.phase == "Inconclusive" and "needs 20 samples" in state.message
    assert actions.of("finish") == []


def test_ab_two_proportion_decides_on_error_rates():
    spec = RolloutSpec("ab", ab_test="two-proportion", ab_metric="error_rate", duration_seconds=60.0)
    assert analysis_windows(spec) == (60.0,)
    better = {60.0: metrics(canary=figures("canary", rate=50, error_rate=0.01),
                            main=figures("main", rate=50, error_rate=0.05), window=60.0)}
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 60, better)
    assert state.promoted is True and "two-proportion" in state.message
    assert state.measurements[-1].requests == 3000
    worse = {60.0: metrics(canary=figures("canary", rate=50, error_rate=0.08),
                           main=figures("main", rate=50, error_rate=0.05), window=60.0)}
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 60, worse)
    assert state.promoted is False and "main is better" in state.message
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 60, None)
    assert state.phase == "Inconclusive" and "metrics unavailable" in state.message


def test_ab_gates_still_abort_during_the_split():
    spec = RolloutSpec("ab", gates=(Gate("error_rate", "<", 0.05),), duration_seconds=60.0)
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 10, ERRORS)
    assert state.phase == "Aborted"


# --- scopes, windows ------------------------------------------------------------------------------


def test_gates_read_their_scope_and_their_window():
    spec = RolloutSpec("canary", gates=(
        Gate("latency_p99", "<", 0.5, window_seconds=120.0, scope="stable"),
        Gate("error_rate", "<", 0.05, scope="deployment"),
        Gate("outlier_rate", "<", 0.1),
        Gate("request_rate", ">", 1.0, min_requests=1000),
    ))
    assert analysis_windows(spec) == (30.0, 120.0)
    feed = {30.0: metrics(outlier=0.02, overall=TrafficFigures("deployment", "", 40.0, 0.01)),
            120.0: metrics(main=figures("main", p99=0.3), window=120.0)}
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 11, feed)
    got = {m.metric: (m.scope, m.value, m.passed) for m in state.measurements}
    assert got == {"latency_p99": ("stable", 0.3, True), "error_rate": ("deployment", 0.01, True),
                   "outlier_rate": ("deployment", 0.02, True), "request_rate": ("candidate", 20.0, True)}
    assert [m.requests for m in state.measurements] == [pytest.approx(2400.0), pytest.approx(1200.0),
                                                        pytest.approx(1200.0), pytest.approx(600.0)]
    missing = {30.0: feed[30.0]}
    state = drive(state, actions, 12, 21, missing)
    assert state.phase == "Inconclusive" and "no metrics for the 2m window" in state.message


def test_analysis_due_and_initial_traffic():
    actions = FakeActions()
    state = start("web", default_canary(), T0, "a", actions)
    assert not analysis_due(state, T0 + 9.5) and analysis_due(state, T0 + 10)
    assert initial_traffic(RolloutSpec("ab", ab_split=25))[0] == {"main": 75, "canary": 25}
    assert initial_traffic(RolloutSpec("shadow"))[1] == {"main": False, "canary": True}


# --- persistence --------------------------------------------------------------------------------


def test_to_dict_round_trips_mid_rollout_and_resumes_with_the_same_next_actions():
    actions = FakeActions()
    state = start("web", with_alias(default_canary()), T0, "alice", actions)
    state = drive(state, actions, 1, 45, lambda t: ERRORS if t == 41 else HEALTHY)
    data = state.to_dict()
    assert {k: data[k] for k in ("deployment", "strategy", "phase", "step", "canary_weight")} == {
        "deployment": "web", "strategy": "canary", "phase": "Paused", "step": "4/5 pause 30s", "canary_weight": 50}
    assert data["message"] == state.message
    restored = RolloutState.from_dict(json.loads(json.dumps(data)))  # as state.json keeps it
    assert restored == state
    assert restored.to_dict() == data

    original_actions, restarted_actions = FakeActions(), FakeActions()
    a = drive(state, original_actions, 46, 120)
    b = drive(restored, restarted_actions, 46, 120)
    assert a == b and a.phase == "Completed"
    assert original_actions.calls == restarted_actions.calls and original_actions.audits == restarted_actions.audits
    assert original_actions.calls[0] == ("set_traffic", {"main": 0, "canary": 100}, {"main": False, "canary": False})


@pytest.mark.parametrize("spec", [BLUEGREEN, SHADOW, AB], ids=lambda s: s.strategy)
def test_to_dict_round_trips_every_strategy(spec):
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 15, None)
    state = command(state, "pause", T0 + 16, "bob", actions) if state.phase == "Progressing" else state
    assert RolloutState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_the_local_cluster_lists_a_stored_rollout(home):
    from backends.local.cluster import LocalCluster

    actions = FakeActions()
    state = drive(canary(actions=actions), actions, 1, 5)
    (home / "runtime").mkdir()
    (home / "runtime" / "state.json").write_text(json.dumps(
        {"deployments": {}, "rollouts": {"web": state.to_dict()}}))
    (listed,) = LocalCluster(home).list_rollouts()
    assert listed == state.summary(namespace="local")


def test_from_dict_refuses_garbage():
    with pytest.raises(InvalidSpec, match="malformed"):
        RolloutState.from_dict({"deployment": "web", "phase": "Paused"})
    data = start("web", default_canary(), T0, "a", FakeActions()).to_dict()
    data["spec"]["strategy"] = "rainbow"
    with pytest.raises(InvalidSpec, match="stored rollout 'web'"):
        RolloutState.from_dict(data)


def test_measurements_are_bounded():
    spec = RolloutSpec("canary", steps=(Step(set_weight=10), Step(pause_indefinite=True)),
                       gates=(Gate("error_rate", "<", 0.05), Gate("latency_p99", "<", 0.5)), analysis_interval=1.0)
    actions = FakeActions()
    state = drive(start("web", spec, T0, "a", actions), actions, 1, 400)
    assert len(state.measurements) == 500 and state.measurements[-1].at == T0 + 400


def test_a_pause_shorter_than_the_interval_waits_for_an_analysis_at_the_current_weight():
    """Each weight is judged before the next: 10% -> (2 s pause) -> 50% waits for the first analysis at 10%
    (due 10 s after the weight changed) rather than raising the weight blind."""
    actions = FakeActions()
    spec = RolloutSpec("canary", steps=(Step(set_weight=10), Step(pause_seconds=2.0), Step(set_weight=50)),
                       gates=(Gate("error_rate", "<", 0.05),), analysis_interval=10.0)
    state = start("web", spec, T0, "alice", actions)
    state = drive(state, actions, 1, 9)
    assert actions.weights == {"main": 90, "canary": 10}
    assert "waiting for the first analysis at 10%" in state.message
    state = drive(state, actions, 10, 12)
    assert actions.weights == {"main": 50, "canary": 50}
    assert [m.at - T0 for m in state.measurements] == [11]  # the analysis that allowed it, at 10%
    state = drive(state, actions, 13, 20)
    assert state.phase == "Progressing" and "waiting for the first analysis at 50%" in state.message
    state = drive(state, actions, 21, 21)
    assert state.phase == "Completed" and [m.at - T0 for m in state.measurements] == [11, 21]
