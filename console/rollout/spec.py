"""The rollout spec: how a candidate predictor replaces the stable one, and what gates it.

It travels with the SeldonDeployment manifest as the `mlconsole.io/rollout` annotation (YAML
text), so export stays valid for Seldon. Keys follow Argo Rollouts where they overlap
(`setWeight`, `pause: {duration: 30s}`, `failureLimit`); snake_case is accepted too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from console.errors import InvalidSpec

ANNOTATION = "mlconsole.io/rollout"

STRATEGIES = ("canary", "bluegreen", "shadow", "ab")
GATE_METRICS = ("error_rate", "latency_p50", "latency_p95", "latency_p99", "request_rate", "outlier_rate",
                "agreement", "fairness")
GATE_OPS = ("<", ">")
# "stable" is an addition to the contract: the stable predictor's own figures.
GATE_SCOPES = ("candidate", "deployment", "stable")
FAIRNESS_FIELDS = ("sensitive", "prediction", "decision_threshold", "tolerance")
AB_TESTS = ("mann-whitney", "two-proportion")
AB_BETTER = ("lower", "higher")


@dataclass(frozen=True)
class Gate:
    """An analysis gate: passes when `metric op threshold` holds over the window.

    failure_limit: the rollout aborts when this many measurements in a row fail (1 = the first).
    inconclusive_limit: it pauses as Inconclusive when this many in a row have no data or fewer
    than min_requests requests (1 = the first). request_rate and agreement gates skip min_requests.

    A fairness gate measures the demographic-parity difference (the largest gap in the share of
    positive predictions between the groups of `sensitive`) over the logged requests of its scope
    that carry that attribute: a prediction is positive when its `prediction` column (default: the
    last one, a classifier's positive class) is at least `decision_threshold`. For the candidate it
    also fails when it exceeds the stable predictor's own figure by more than `tolerance`.
    """

    metric: str
    op: str
    threshold: float
    window_seconds: float = 30.0
    failure_limit: int = 1
    min_requests: int = 10
    scope: str = "candidate"
    inconclusive_limit: int = 1
    # Fairness gates only (see above).
    sensitive: str = ""
    prediction: str = ""
    decision_threshold: float = 0.5
    tolerance: float = 0.05  # sampling noise: two equally fair predictors rarely measure the same

    @property
    def key(self) -> str:
        """Names the gate in the counters of a RolloutState."""
        metric = f"{self.metric}[{self.sensitive}]" if self.sensitive else self.metric
        return f"{self.scope}/{metric} {self.op} {self.threshold:g} over {self.window_seconds:g}s"

    def passes(self, value: float) -> bool:
        return value < self.threshold if self.op == "<" else value > self.threshold

    def describe(self) -> str:
        if self.metric == "fairness":
            return f"fairness[{self.sensitive}] {self.op} {self.threshold:g}"
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Step:
    """One canary step: exactly one of set_weight, pause_seconds, pause_indefinite."""

    set_weight: int | None = None
    pause_seconds: float | None = None
    pause_indefinite: bool = False

    @property
    def is_pause(self) -> bool:
        return self.set_weight is None

    def describe(self) -> str:
        if self.set_weight is not None:
            return f"setWeight {self.set_weight}"
        if self.pause_indefinite:
            return "pause (until promoted)"
        return f"pause {format_duration(self.pause_seconds or 0.0)}"


@dataclass(frozen=True)
class AliasMove:
    """On promotion, point registry alias `model@alias` at `to_version`."""

    model: str
    alias: str
    to_version: str


@dataclass(frozen=True)
class RolloutSpec:
    """A progressive delivery plan for one deployment (see the module docstring)."""

    strategy: str
    stable: str = "main"
    candidate: str = "canary"
    steps: tuple[Step, ...] = ()
    gates: tuple[Gate, ...] = ()
    analysis_interval: float = 10.0
    alias: AliasMove | None = None
    mirror_percent: int = 100
    duration_seconds: float = 300.0
    ab_test: str = "mann-whitney"
    ab_metric: str = "latency_p50"
    ab_split: int = 50
    agreement_threshold: float = 0.95
    rollback_window_seconds: float = 60.0
    fault_rate: float = 0.0
    # Additions to the contract: the A/B significance level and which direction of ab_metric wins.
    ab_alpha: float = 0.05
    ab_better: str = "lower"


DEFAULT_CANARY_STEPS = (
    Step(set_weight=10), Step(pause_seconds=30.0), Step(set_weight=50), Step(pause_seconds=30.0),
    Step(set_weight=100),
)


def default_canary(stable: str = "main", candidate: str = "canary") -> RolloutSpec:
    """10% -> 50% -> 100% with 30 s pauses, gated on error rate < 5% and p99 latency < 0.5 s."""
    gates = (
        Gate("error_rate", "<", 0.05, window_seconds=30.0, failure_limit=2),
        Gate("latency_p99", "<", 0.5, window_seconds=30.0, failure_limit=2),
    )
    return RolloutSpec("canary", stable=stable, candidate=candidate, steps=DEFAULT_CANARY_STEPS, gates=gates,
                       analysis_interval=10.0)


# --- durations -------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, location: str) -> float:
    """Seconds from a number or text like '30s', '5m', '1m30s', '500ms'."""
    if isinstance(value, bool):
        raise _bad(location, f"{value!r} is not a duration", "use seconds or text like 30s, 5m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise _bad(location, f"{value!r} is not a duration", "use seconds or text like 30s, 5m, 1h") from None
    else:
        raise _bad(location, f"{value!r} is not a duration", "use seconds or text like 30s, 5m")
    if not math.isfinite(seconds) or seconds < 0:
        raise _bad(location, f"{value!r} must be a finite, non-negative duration")
    return seconds


def format_duration(seconds: float) -> str:
    """'30s', '5m', '1m30s', '0.5s'."""
    if seconds >= 60 and float(seconds).is_integer():
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    return f"{seconds:g}s"


# --- loading -------------------------------------------------------------------------

_SPEC_ALIASES = {"interval": "analysis_interval", "duration": "duration_seconds",
                 "rollback_window": "rollback_window_seconds", "mirror": "mirror_percent"}
_GATE_ALIASES = {"window": "window_seconds", "interval": "window_seconds", "name": "metric"}
_SPEC_FIELDS = {f.name for f in fields(RolloutSpec)}
_GATE_FIELDS = {f.name for f in fields(Gate)}
_GATE_SHORTHAND = re.compile(r"^\s*([a-z_0-9]+)\s*([<>])\s*(\S+)\s*$")


def _bad(location: str, problem: str, hint: str = "") -> InvalidSpec:
    return InvalidSpec(f"rollout spec: {location}: {problem}", hint=hint, location=location)


def _snake(key: Any, location: str) -> str:
    if not isinstance(key, str):
        raise _bad(location, f"key {key!r} is not text")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower().replace("-", "_")


def _mapping(value: Any, location: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(location, f"expected a mapping, got {type(value).__name__}")
    return value


def _keys(raw: dict, known: set[str], aliases: dict[str, str], location: str) -> dict[str, tuple[str, Any]]:
    """snake_case field -> (the key as written, value); unknown keys are mistakes."""
    out: dict[str, tuple[str, Any]] = {}
    for key, value in raw.items():
        name = _snake(key, location)
        name = aliases.get(name, name)
        where = f"{location}.{key}" if location else str(key)
        if name not in known:
            raise _bad(where, "unknown field", f"known fields: {', '.join(sorted(known))}")
        if name in out:
            raise _bad(where, f"given twice (also as {out[name][0]})")
        out[name] = (where, value)
    return out


def _number(value: Any, location: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _bad(location, f"{value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(location, f"{value!r} is not a finite number")
    return float(value)


def _integer(value: Any, location: str) -> int:
    if isinstance(value, bool):
        raise _bad(location, f"{value!r} is not a whole number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if not isinstance(value, int):
        raise _bad(location, f"{value!r} is not a whole number")
    return value


def _text(value: Any, location: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise _bad(location, f"{value!r} is not text")
    text = str(value).strip()
    if not text:
        raise _bad(location, "must not be empty")
    return text


def _step(raw: Any, location: str) -> Step:
    raw = _mapping(raw, location)
    found = _keys(raw, {"set_weight", "pause"}, {}, location)
    if len(found) != 1:
        raise _bad(location, "a step is exactly one of setWeight or pause",
                   "e.g. {setWeight: 10}, {pause: {duration: 30s}} or {pause: {}}")
    if "set_weight" in found:
        where, value = found["set_weight"]
        return Step(set_weight=_integer(value, where))
    where, value = found["pause"]
    if value is None or value == {}:
        return Step(pause_indefinite=True)
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return Step(pause_seconds=parse_duration(value, where))
    pause = _keys(_mapping(value, where), {"duration"}, {}, where)
    if "duration" not in pause or pause["duration"][1] is None:
        return Step(pause_indefinite=True)
    return Step(pause_seconds=parse_duration(pause["duration"][1], pause["duration"][0]))


def _gate(raw: Any, location: str) -> Gate:
    if isinstance(raw, str):
        match = _GATE_SHORTHAND.match(raw)
        if not match:
            raise _bad(location, f"{raw!r} is not a gate", "e.g. 'error_rate < 0.05' or {metric: ..., op: ..., threshold: ...}")
        metric, op, threshold = match.groups()
        return Gate(metric, op, _number(threshold, location))
    found = _keys(_mapping(raw, location), _GATE_FIELDS, _GATE_ALIASES, location)
    for required in ("metric", "op", "threshold"):
        if required not in found:
            raise _bad(f"{location}.{required}", "missing")
    args: dict[str, Any] = {}
    for name, (where, value) in found.items():
        if name in ("sensitive", "prediction") and value in (None, ""):
            args[name] = ""  # what a full dump writes for "not set"
        elif name in ("metric", "op", "scope", "sensitive", "prediction"):
            args[name] = _text(value, where)
        elif name in ("threshold", "decision_threshold", "tolerance"):
            args[name] = _number(value, where)
        elif name == "window_seconds":
            args[name] = parse_duration(value, where)
        else:
            args[name] = _integer(value, where)
    return Gate(**args)


def spec_from_dict(raw: Any) -> RolloutSpec:
    """A validated RolloutSpec from a parsed mapping (camelCase or snake_case keys)."""
    raw = dict(_mapping(raw, "spec"))
    strategy = raw.get("strategy")
    # Argo's shape: strategy: {canary: {steps: [...]}}.
    if isinstance(strategy, dict):
        if len(strategy) != 1 or next(iter(strategy)) not in STRATEGIES:
            raise _bad("strategy", f"expected one of {', '.join(STRATEGIES)}")
        (name, inner), = strategy.items()
        inner = _mapping(inner or {}, f"strategy.{name}")
        raw["strategy"] = name
        for key, value in inner.items():
            if key in raw:
                raise _bad(f"strategy.{name}.{key}", "given twice")
            raw[key] = value
    found = _keys(raw, _SPEC_FIELDS, _SPEC_ALIASES, "")
    if "strategy" not in found:
        raise _bad("strategy", "missing", f"one of {', '.join(STRATEGIES)}")
    args: dict[str, Any] = {}
    for name, (where, value) in found.items():
        if name in ("strategy", "stable", "candidate", "ab_test", "ab_metric", "ab_better"):
            args[name] = _text(value, where)
        elif name == "steps":
            if value is None:
                value = []
            if not isinstance(value, list):
                raise _bad(where, "expected a list of steps")
            args[name] = tuple(_step(s, f"{where}[{i}]") for i, s in enumerate(value))
        elif name == "gates":
            if value is None:
                value = []
            if not isinstance(value, list):
                raise _bad(where, "expected a list of gates")
            args[name] = tuple(_gate(g, f"{where}[{i}]") for i, g in enumerate(value))
        elif name == "alias":
            if value is None:
                args[name] = None
                continue
            alias = _keys(_mapping(value, where), {"model", "alias", "to_version"}, {"version": "to_version"}, where)
            for required in ("model", "alias", "to_version"):
                if required not in alias:
                    raise _bad(f"{where}.{_camel(required)}", "missing")
            args[name] = AliasMove(*(_text(alias[k][1], alias[k][0]) for k in ("model", "alias", "to_version")))
        elif name in ("analysis_interval", "duration_seconds", "rollback_window_seconds"):
            args[name] = parse_duration(value, where)
        elif name in ("mirror_percent", "ab_split"):
            args[name] = _integer(value, where)
        else:
            args[name] = _number(value, where)
    if args.get("ab_test") == "two-proportion" and "ab_metric" not in args:
        args["ab_metric"] = "error_rate"
    return validate_spec(RolloutSpec(**args), _locations(found))


def _locations(found: dict[str, tuple[str, Any]]) -> dict[str, str]:
    return {name: where for name, (where, _) in found.items()}


def validate_spec(spec: RolloutSpec, locations: dict[str, str] | None = None) -> RolloutSpec:
    """Check a spec built in code or loaded; returns it with a canary's default steps filled in."""
    loc = {f.name: _camel(f.name) for f in fields(RolloutSpec)} | (locations or {})
    if spec.strategy not in STRATEGIES:
        raise _bad(loc["strategy"], f"unknown strategy {spec.strategy!r}", f"one of {', '.join(STRATEGIES)}")
    for name in ("stable", "candidate"):
        value = getattr(spec, name)
        if not isinstance(value, str) or not value.strip():
            raise _bad(loc[name], "must name a predictor")
    if spec.stable == spec.candidate:
        raise _bad(loc["candidate"], f"the candidate must differ from the stable predictor ({spec.stable!r})")
    if spec.strategy == "canary" and not spec.steps:
        spec = replace(spec, steps=DEFAULT_CANARY_STEPS)
    if spec.strategy != "canary" and spec.steps:
        raise _bad(loc["steps"], f"steps apply to the canary strategy, not {spec.strategy}",
                   "bluegreen, shadow and ab run for durationSeconds")
    previous = -1
    for i, step in enumerate(spec.steps):
        where = f"{loc['steps']}[{i}]"
        chosen = sum((step.set_weight is not None, step.pause_seconds is not None, bool(step.pause_indefinite)))
        if chosen != 1:
            raise _bad(where, "a step is exactly one of setWeight, a timed pause or an indefinite pause")
        if step.set_weight is not None:
            weight = step.set_weight
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                raise _bad(f"{where}.setWeight", f"{weight!r} is not a percentage 0..100")
            if weight <= previous:
                raise _bad(f"{where}.setWeight", f"{weight} does not increase on the previous weight {previous}",
                           "canary weights only go up; abort rolls back")
            previous = weight
        elif step.pause_seconds is not None and (not math.isfinite(step.pause_seconds) or step.pause_seconds < 0):
            raise _bad(f"{where}.pause.duration", f"{step.pause_seconds!r} is not a non-negative duration")
    for i, gate in enumerate(spec.gates):
        _check_gate(gate, f"{loc['gates']}[{i}]", spec.strategy)
    _positive(spec.analysis_interval, loc["analysis_interval"], allow_zero=False)
    _positive(spec.duration_seconds, loc["duration_seconds"])
    _positive(spec.rollback_window_seconds, loc["rollback_window_seconds"])
    _within(spec.mirror_percent, 0, 100, loc["mirror_percent"], integer=True)
    _within(spec.ab_split, 1, 99, loc["ab_split"], integer=True)
    _within(spec.agreement_threshold, 0, 1, loc["agreement_threshold"])
    _within(spec.fault_rate, 0, 1, loc["fault_rate"])
    if not 0 < spec.ab_alpha < 1:
        raise _bad(loc["ab_alpha"], f"{spec.ab_alpha!r} must be between 0 and 1")
    if spec.ab_test not in AB_TESTS:
        raise _bad(loc["ab_test"], f"unknown test {spec.ab_test!r}", f"one of {', '.join(AB_TESTS)}")
    if spec.ab_better not in AB_BETTER:
        raise _bad(loc["ab_better"], f"{spec.ab_better!r} is not one of {', '.join(AB_BETTER)}")
    if spec.ab_test == "two-proportion" and spec.ab_metric != "error_rate":
        raise _bad(loc["ab_metric"], f"two-proportion compares error rates, not {spec.ab_metric}",
                   "use abMetric: error_rate, or abTest: mann-whitney with samples")
    if not isinstance(spec.ab_metric, str) or not spec.ab_metric:
        raise _bad(loc["ab_metric"], "must name a metric")
    if spec.alias is not None:
        for name in ("model", "alias", "to_version"):
            value = getattr(spec.alias, name)
            if not isinstance(value, str) or not value.strip():
                raise _bad(f"{loc['alias']}.{_camel(name)}", "must not be empty")
    return spec


def _check_gate(gate: Gate, where: str, strategy: str) -> None:
    if gate.metric not in GATE_METRICS:
        raise _bad(f"{where}.metric", f"unknown metric {gate.metric!r}", f"one of {', '.join(GATE_METRICS)}")
    if gate.metric == "agreement" and strategy != "shadow":
        raise _bad(f"{where}.metric", "agreement gates apply to the shadow strategy only")
    if gate.op not in GATE_OPS:
        raise _bad(f"{where}.op", f"unknown op {gate.op!r}", "'<' or '>': the gate passes when value op threshold")
    if gate.scope not in GATE_SCOPES:
        raise _bad(f"{where}.scope", f"unknown scope {gate.scope!r}", f"one of {', '.join(GATE_SCOPES)}")
    if isinstance(gate.threshold, bool) or not isinstance(gate.threshold, int | float) \
            or not math.isfinite(gate.threshold):
        raise _bad(f"{where}.threshold", f"{gate.threshold!r} is not a number")
    _positive(gate.window_seconds, f"{where}.windowSeconds", allow_zero=False)
    _check_fairness(gate, where)
    for name, low in (("failure_limit", 1), ("inconclusive_limit", 1), ("min_requests", 0)):
        value = getattr(gate, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _bad(f"{where}.{_camel(name)}", f"{value!r} must be a whole number >= {low}")


def _check_fairness(gate: Gate, where: str) -> None:
    if gate.metric != "fairness":
        for name in ("sensitive", "prediction"):
            if getattr(gate, name):
                raise _bad(f"{where}.{name}", f"applies to fairness gates only, not {gate.metric}")
        return
    if not isinstance(gate.sensitive, str) or not gate.sensitive.strip():
        raise _bad(f"{where}.sensitive", "a fairness gate names the sensitive attribute of its requests",
                   "e.g. {metric: fairness, op: '<', threshold: 0.1, sensitive: sex}")
    if gate.op != "<":
        raise _bad(f"{where}.op", "a fairness gate bounds a disparity from above: use '<'")
    _within(gate.decision_threshold, 0, 1, f"{where}.decisionThreshold")
    _within(gate.tolerance, 0, 1, f"{where}.tolerance")


def _positive(value: Any, where: str, allow_zero: bool = True) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) \
        and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise _bad(where, f"{value!r} must be a {'non-negative' if allow_zero else 'positive'} number of seconds")


def _within(value: Any, low: float, high: float, where: str, integer: bool = False) -> None:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        raise _bad(where, f"{value!r} must be {'a whole number' if integer else 'a number'} in {low}..{high}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def load_spec(text: str) -> RolloutSpec:
    """A RolloutSpec from YAML text (the annotation's value); InvalidSpec names the bad field."""
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidSpec(f"rollout spec is not valid YAML: {exc}", location="") from None
    if raw is None:
        raise _bad("strategy", "the spec is empty", f"e.g. strategy: canary (one of {', '.join(STRATEGIES)})")
    return spec_from_dict(raw)


# --- dumping -------------------------------------------------------------------------

def _step_to_dict(step: Step) -> dict[str, Any]:
    if step.set_weight is not None:
        return {"setWeight": step.set_weight}
    if step.pause_indefinite:
        return {"pause": {}}
    return {"pause": {"duration": step.pause_seconds}}


def _gate_to_dict(gate: Gate, full: bool) -> dict[str, Any]:
    default = Gate(gate.metric, gate.op, gate.threshold)
    out: dict[str, Any] = {}
    for f in fields(Gate):
        if f.name in FAIRNESS_FIELDS and gate.metric != "fairness":
            continue  # meaningless there: a full dump of another gate stays as it was
        value = getattr(gate, f.name)
        if full or f.name in ("metric", "op", "threshold") or value != getattr(default, f.name):
            out[_camel(f.name)] = value
    return out


def spec_to_dict(spec: RolloutSpec, full: bool = False) -> dict[str, Any]:
    """The spec as a camelCase mapping; `full` writes every field, else only non-defaults."""
    default = RolloutSpec(spec.strategy)
    out: dict[str, Any] = {}
    for f in fields(RolloutSpec):
        value = getattr(spec, f.name)
        always = f.name in ("strategy", "stable", "candidate") or (f.name == "steps" and spec.strategy == "canary")
        if not (full or always or value != getattr(default, f.name)):
            continue
        if f.name == "steps":
            value = [_step_to_dict(s) for s in value]
        elif f.name == "gates":
            value = [_gate_to_dict(g, full) for g in value]
        elif f.name == "alias" and value is not None:
            value = {"model": value.model, "alias": value.alias, "toVersion": value.to_version}
        out[_camel(f.name)] = value
    return out


def dump_spec(spec: RolloutSpec) -> str:
    """YAML text that load_spec reads back to an equal spec."""
    import yaml

    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, default_flow_style=None)
