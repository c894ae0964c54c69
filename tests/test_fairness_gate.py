"""The fairness rollout gate: spec, the controller's judgement, and the disparity of logged requests."""

from __future__ import annotations

import pytest

from console.errors import InvalidSpec
from console.governance.fairness import Disparity, disparity_by_predictor
from console.rollout.controller import analysis_windows, start, tick
from console.rollout.spec import Gate, RolloutSpec, Step, dump_spec, load_spec, validate_spec
from tests.test_rollout_controller import HEALTHY, T0, FakeActions

FAIR = Gate("fairness", "<", 0.1, window_seconds=30.0, min_requests=20, sensitive="sex")
SPEC = RolloutSpec("canary", steps=(Step(set_weight=10), Step(pause_seconds=30.0), Step(set_weight=100)),
                   gates=(Gate("error_rate", "<", 0.05), FAIR), analysis_interval=10.0)


def readings(canary: float | None, main: float | None = 0.03, rows: int = 200, gate: Gate = FAIR):
    return {gate.key: {"canary": Disparity(canary, rows), "main": Disparity(main, rows),
                       "": Disparity(main, rows * 2)}}


def drive(state, actions, t_from, t_to, fairness):
    for t in range(t_from, t_to + 1):
        state = tick(state, T0 + t, HEALTHY, actions, fairness=fairness)
    return state


def test_spec_loads_dumps_and_validates_fairness_gates():
    spec = load_spec("strategy: canary\ngates:\n- {metric: fairness, op: '<', threshold: 0.08, sensitive: sex,\n"
                     "   prediction: prediction_p_default, decisionThreshold: 0.4, tolerance: 0.02, minRequests: 50}\n")
    (gate,) = spec.gates
    assert (gate.sensitive, gate.prediction, gate.decision_threshold, gate.tolerance) == \
        ("sex", "prediction_p_default", 0.4, 0.02)
    assert gate.key == "candidate/fairness[sex] < 0.08 over 30s" and gate.describe() == "fairness[sex] < 0.08"
    assert load_spec(dump_spec(spec)) == spec
    assert "sensitive" not in dump_spec(RolloutSpec("canary", gates=(Gate("error_rate", "<", 0.05),)))
    with pytest.raises(InvalidSpec, match="names the sensitive attribute"):
        validate_spec(RolloutSpec("canary", gates=(Gate("fairness", "<", 0.1),)))
    with pytest.raises(InvalidSpec, match="use '<'"):
        validate_spec(RolloutSpec("canary", gates=(Gate("fairness", ">", 0.1, sensitive="sex"),)))
    with pytest.raises(InvalidSpec, match="applies to fairness gates only"):
        validate_spec(RolloutSpec("canary", gates=(Gate("error_rate", "<", 0.1, sensitive="sex"),)))
    with pytest.raises(InvalidSpec, match="decisionThreshold"):
        validate_spec(RolloutSpec("canary", gates=(Gate("fairness", "<", 0.1, sensitive="sex",
                                                        decision_threshold=1.5),)))
    assert analysis_windows(SPEC) == (30.0,)  # the fairness gate reads the request log, not metrics


def test_a_fairness_gate_blocks_a_canary_whose_disparity_is_over_the_threshold():
    actions = FakeActions()
    state = start("web", SPEC, T0, "alice", actions)
    state = drive(state, actions, 1, 11, readings(canary=0.25))
    assert state.phase == "Aborted"
    assert actions.of("finish") == [(False,)]  # rolled back: the candidate goes, stable keeps 100%
    failed = [m for m in state.transitions[-1].measurements if m.passed is False]
    assert [(m.metric, m.value) for m in failed] == [("fairness", 0.25)]
    assert "canary fairness 0.25 (needs < 0.1): failed, 200 requests (demographic parity on sex)" in \
        state.transitions[-1].reason


def test_a_fair_canary_completes_and_records_the_comparison_with_stable():
    actions = FakeActions()
    state = start("web", SPEC, T0, "alice", actions)
    state = drive(state, actions, 1, 45, readings(canary=0.05, main=0.04))
    assert state.phase == "Completed" and state.promoted
    fairness = [m for m in state.measurements if m.metric == "fairness"]
    assert fairness and all(m.passed for m in fairness)
    assert fairness[-1].note == "demographic parity on sex; main 0.04 (+0.05 allowed)"


def test_under_the_threshold_but_worse_than_stable_beyond_the_tolerance_fails():
    actions = FakeActions()
    gate = Gate("fairness", "<", 0.3, min_requests=20, sensitive="sex", tolerance=0.02)
    spec = RolloutSpec("canary", steps=(Step(set_weight=10), Step(set_weight=100)), gates=(gate,))
    state = start("web", spec, T0, "alice", actions)
    state = drive(state, actions, 1, 11, readings(canary=0.2, main=0.05, gate=gate))
    assert state.phase == "Aborted"
    (m,) = state.transitions[-1].measurements
    assert m.passed is False and m.note == "demographic parity on sex; main 0.05, worse by more than 0.02"


@pytest.mark.parametrize("fairness,note", [
    (None, "demographic parity on sex: not measured"),
    ({FAIR.key: {}}, "demographic parity on sex: no logged requests"),
    ({FAIR.key: {"canary": Disparity(None, 40, {"F": 0.2}, "fewer than two groups of sex seen (F)")}},
     "demographic parity on sex: fewer than two groups of sex seen (F)"),
    (readings(canary=0.01, rows=5), "demographic parity on sex: too few requests with sex: 5 < 20"),
])
def test_missing_or_thin_data_is_inconclusive_never_a_pass(fairness, note):
    actions = FakeActions()
    state = start("web", SPEC, T0, "alice", actions)
    state = drive(state, actions, 1, 11, fairness)
    assert state.phase == "Inconclusive"
    m = next(m for m in state.measurements if m.metric == "fairness")
    assert m.passed is None and m.note == note
    assert actions.weights == {"main": 90, "canary": 10}  # never raised while unsure


def test_without_a_stable_figure_the_threshold_alone_decides():
    actions = FakeActions()
    state = start("web", SPEC, T0, "alice", actions)
    state = drive(state, actions, 1, 11, readings(canary=0.05, main=None))
    m = next(m for m in state.measurements if m.metric == "fairness")
    assert m.passed is True and m.note == "demographic parity on sex; main's not measured"


def test_disparity_of_logged_rows_by_predictor():
    rows = []
    # canary: F approved 20% of the time positive, M 60%; main: both 30%; a shadow row counts for the candidate only.
    for predictor, group, positives, total in (("canary", "F", 6, 10), ("canary", "M", 2, 10),
                                               ("main", "F", 3, 10), ("main", "M", 3, 10)):
        rows += [{"predictor": predictor, "shadow": False, "sex": group, "p": 0.9 if i < positives else 0.1}
                 for i in range(total)]
    rows += [{"predictor": "canary", "shadow": True, "sex": "F", "p": 0.9},
             {"predictor": "main", "shadow": False, "sex": None, "p": 0.9},  # no attribute: left out
             {"predictor": "main", "shadow": False, "sex": "F", "p": None}]  # no prediction: left out
    out = disparity_by_predictor(rows, sensitive="sex", prediction="p", threshold=0.5, candidate="canary",
                                 stable="main")
    assert out["canary"].rows == 21 and out["canary"].selection_rates == {"F": 7 / 11, "M": 0.2}
    assert out["canary"].value == pytest.approx(7 / 11 - 0.2)
    assert out["main"].value == 0.0 and out["main"].rows == 20
    assert out[""].rows == 40 and out[""].selection_rates == {"F": 9 / 20, "M": 5 / 20}
    lonely = disparity_by_predictor([{"predictor": "canary", "shadow": False, "sex": "F", "p": 1.0}],
                                    sensitive="sex", prediction="p", threshold=0.5, candidate="canary",
                                    stable="main")
    assert lonely["canary"].value is None and "fewer than two groups" in lonely["canary"].note
