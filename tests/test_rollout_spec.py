"""The rollout spec: YAML in Argo's camelCase, errors that name the field, round trips."""

import pytest

from console.errors import InvalidSpec
from console.rollout.spec import (
    ANNOTATION,
    DEFAULT_CANARY_STEPS,
    AliasMove,
    Gate,
    RolloutSpec,
    Step,
    default_canary,
    dump_spec,
    format_duration,
    load_spec,
    parse_duration,
    spec_from_dict,
    spec_to_dict,
    validate_spec,
)


def test_annotation_name():
    assert ANNOTATION == "mlconsole.io/rollout"


def test_default_canary():
    spec = default_canary("blue", "green")
    assert (spec.strategy, spec.stable, spec.candidate) == ("canary", "blue", "green")
    assert spec.steps == (Step(set_weight=10), Step(pause_seconds=30.0), Step(set_weight=50),
                          Step(pause_seconds=30.0), Step(set_weight=100))
    assert [(g.metric, g.op, g.threshold, g.window_seconds, g.failure_limit) for g in spec.gates] == [
        ("error_rate", "<", 0.05, 30.0, 2), ("latency_p99", "<", 0.5, 30.0, 2)]
    assert spec.analysis_interval == 10.0
    assert validate_spec(spec) == spec


ARGO_STYLE = """
strategy: canary
stable: main
candidate: canary
analysisInterval: 15s
steps:
  - setWeight: 20
  - pause: {duration: 1m}
  - setWeight: 60
  - pause: {}
  - setWeight: 100
gates:
  - {metric: error_rate, op: "<", threshold: 0.02, failureLimit: 3, window: 2m, minRequests: 50}
  - metric: latency_p95
    op: "<"
    threshold: 0.25
    scope: deployment
  - "request_rate > 0.5"
alias: {model: credit-risk, alias: champion, toVersion: 4}
"""


def test_load_argo_style_camel_case():
    spec = load_spec(ARGO_STYLE)
    assert spec.analysis_interval == 15.0
    assert spec.steps == (Step(set_weight=20), Step(pause_seconds=60.0), Step(set_weight=60),
                          Step(pause_indefinite=True), Step(set_weight=100))
    assert spec.gates[0] == Gate("error_rate", "<", 0.02, window_seconds=120.0, failure_limit=3, min_requests=50)
    assert spec.gates[1] == Gate("latency_p95", "<", 0.25, scope="deployment")
    assert spec.gates[2] == Gate("request_rate", ">", 0.5)
    assert spec.alias == AliasMove("credit-risk", "champion", "4")


def test_snake_case_and_argo_nested_strategy_are_accepted():
    spec = load_spec("""
strategy:
  canary:
    steps: [{set_weight: 50}, {pause: {duration: 10}}, {setWeight: 100}]
gates: [{metric: error_rate, op: "<", threshold: 0.1, failure_limit: 2, window_seconds: 20}]
""")
    assert spec.strategy == "canary"
    assert spec.steps == (Step(set_weight=50), Step(pause_seconds=10.0), Step(set_weight=100))
    assert spec.gates == (Gate("error_rate", "<", 0.1, window_seconds=20.0, failure_limit=2),)


def test_a_canary_without_steps_gets_the_default_steps():
    assert load_spec("strategy: canary").steps == DEFAULT_CANARY_STEPS
    assert validate_spec(RolloutSpec("canary")).steps == DEFAULT_CANARY_STEPS


def test_other_strategies_load_with_their_fields():
    bg = load_spec("strategy: bluegreen\nduration: 2m\nrollbackWindow: 90s\nmirrorPercent: 0\n")
    assert (bg.duration_seconds, bg.rollback_window_seconds, bg.mirror_percent, bg.steps) == (120.0, 90.0, 0, ())
    shadow = load_spec("strategy: shadow\nagreementThreshold: 0.9\ngates: ['agreement > 0.8']\n")
    assert shadow.agreement_threshold == 0.9 and shadow.gates[0].metric == "agreement"
    ab = load_spec("strategy: ab\nabTest: two-proportion\nabSplit: 30\ndurationSeconds: 600\n")
    assert (ab.ab_test, ab.ab_metric, ab.ab_split, ab.duration_seconds) == ("two-proportion", "error_rate", 30, 600.0)


@pytest.mark.parametrize("text, location, words", [
    ("strategy: rainbow", "strategy", "unknown strategy"),
    ("stable: main", "strategy", "missing"),
    ("", "strategy", "empty"),
    ("strategy: canary\nsteps: [{setWeight: 50}, {pause: {}}, {setWeight: 40}]", "steps[2].setWeight",
     "does not increase"),
    ("strategy: canary\nsteps: [{setWeight: 120}]", "steps[0].setWeight", "0..100"),
    ("strategy: canary\nsteps: [{setWeight: -5}]", "steps[0].setWeight", "0..100"),
    ("strategy: canary\nsteps: [{setWeight: 10, pause: {}}]", "steps[0]", "exactly one"),
    ("strategy: canary\nsteps: [{setweight: 10}]", "steps[0].setweight", "unknown field"),
    ("strategy: canary\nsteps: [{pause: {duration: 30x}}]", "steps[0].pause.duration", "not a duration"),
    ("strategy: canary\nsteps: [{setWeight: ten}]", "steps[0].setWeight", "whole number"),
    ("strategy: canary\ngates: [{metric: accuracy, op: '<', threshold: 1}]", "gates[0].metric", "unknown metric"),
    ("strategy: canary\ngates: [{metric: error_rate, op: '<=', threshold: 1}]", "gates[0].op", "unknown op"),
    ("strategy: canary\ngates: [{metric: error_rate, op: '<'}]", "gates[0].threshold", "missing"),
    ("strategy: canary\ngates: [{metric: error_rate, op: '<', threshold: 0.1, failurLimit: 2}]",
     "gates[0].failurLimit", "unknown field"),
    ("strategy: canary\ngates: [{metric: error_rate, op: '<', threshold: 0.1, failureLimit: 0}]",
     "gates[0].failureLimit", ">= 1"),
    ("strategy: canary\ngates: [{metric: error_rate, op: '<', threshold: 0.1, scope: everywhere}]",
     "gates[0].scope", "unknown scope"),
    ("strategy: canary\ngates: ['agreement > 0.9']", "gates[0].metric", "shadow"),
    ("strategy: canary\ngates: ['error rate below 5%']", "gates[0]", "not a gate"),
    ("strategy: bluegreen\nsteps: [{setWeight: 10}]", "steps", "canary"),
    ("strategy: ab\nabTest: two-proportion\nabMetric: latency_p50", "abMetric", "error rates"),
    ("strategy: ab\nabTest: t-test", "abTest", "unknown test"),
    ("strategy: ab\nabSplit: 0", "abSplit", "1..99"),
    ("strategy: shadow\nagreementThreshold: 1.5", "agreementThreshold", "0..1"),
    ("strategy: canary\nanalysisInterval: 0", "analysisInterval", "positive"),
    ("strategy: canary\ncandidate: main", "candidate", "differ"),
    ("strategy: canary\nalias: {model: m, alias: champion}", "alias.toVersion", "missing"),
    ("strategy: canary\ncolour: blue", "colour", "unknown field"),
    ("strategy: canary\nduration: forever", "duration", "not a duration"),
])
def test_mistakes_name_the_field(text, location, words):
    with pytest.raises(InvalidSpec) as caught:
        load_spec(text)
    assert caught.value.location == location
    assert location in caught.value.message and words in str(caught.value)


def test_yaml_that_is_not_a_mapping_or_not_yaml():
    with pytest.raises(InvalidSpec, match="expected a mapping"):
        load_spec("- strategy: canary")
    with pytest.raises(InvalidSpec, match="not valid YAML"):
        load_spec("strategy: [canary")


def test_validate_spec_checks_specs_built_in_code():
    with pytest.raises(InvalidSpec, match="exactly one") as caught:
        validate_spec(RolloutSpec("canary", steps=(Step(set_weight=10, pause_seconds=3.0),)))
    assert caught.value.location == "steps[0]"
    with pytest.raises(InvalidSpec, match="unknown metric"):
        validate_spec(RolloutSpec("canary", gates=(Gate("accuracy", ">", 0.9),)))


ROUND_TRIPS = [
    default_canary(),
    load_spec(ARGO_STYLE),
    RolloutSpec("bluegreen", stable="blue", candidate="green", gates=(Gate("error_rate", "<", 0.01, 45.0, 2, 5),),
                duration_seconds=90.0, rollback_window_seconds=30.0, mirror_percent=25,
                alias=AliasMove("m", "champion", "7")),
    RolloutSpec("shadow", gates=(Gate("agreement", ">", 0.8), Gate("outlier_rate", "<", 0.1, scope="deployment")),
                agreement_threshold=0.97, duration_seconds=1.5, fault_rate=0.1),
    RolloutSpec("ab", ab_test="two-proportion", ab_metric="error_rate", ab_split=20, ab_alpha=0.01,
                ab_better="lower", analysis_interval=2.5),
    RolloutSpec("ab", ab_metric="reward", ab_better="higher",
                gates=(Gate("latency_p99", "<", 1.0, scope="stable", inconclusive_limit=3),)),
]


@pytest.mark.parametrize("spec", ROUND_TRIPS, ids=lambda s: s.strategy)
def test_dump_spec_round_trips(spec):
    spec = validate_spec(spec)
    text = dump_spec(spec)
    assert load_spec(text) == spec
    assert spec_from_dict(spec_to_dict(spec, full=True)) == spec


def test_dump_spec_writes_only_what_differs_from_defaults():
    text = dump_spec(RolloutSpec("shadow", agreement_threshold=0.9))
    assert "agreementThreshold: 0.9" in text and "abSplit" not in text and "mirrorPercent" not in text


@pytest.mark.parametrize("value, seconds", [
    (30, 30.0), (2.5, 2.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1m30s", 90.0), ("500ms", 0.5),
    ("45", 45.0), (" 2m ", 120.0),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["30x", "", "s", "-5s", -1, True, [30], "5m x"])
def test_parse_duration_refuses(value):
    with pytest.raises(InvalidSpec) as caught:
        parse_duration(value, "pause.duration")
    assert caught.value.location == "pause.duration"


def test_format_duration():
    assert [format_duration(s) for s in (30.0, 60.0, 90.0, 0.5, 300.0)] == ["30s", "1m", "1m30s", "0.5s", "5m"]


def test_gate_semantics():
    gate = Gate("error_rate", "<", 0.05)
    assert gate.passes(0.01) and not gate.passes(0.05) and not gate.passes(0.2)
    assert Gate("request_rate", ">", 1.0).passes(2.0)
    assert gate.key != Gate("error_rate", "<", 0.05, scope="deployment").key
