"""Declarative data versions: a graph pins the training-data digest each of its models must have.

The pin rides in a SeldonDeployment annotation, which Seldon carries without interpreting
(node `parameters` would reach Seldon's model servers as constructor arguments):

    metadata:
      annotations:
        mlconsole.io/training-data: '{"champion": {"credit-risk-train": "8a1ca594"}, "challenger": "8a1ca594"}'

Keys name graph nodes (or PREDICTOR/NODE when two predictors share a node name). A value is
either the digest every training dataset of the model's run must have, or a mapping from
dataset name to digest. Digests are MLflow's dataset digests, as `mlconsole lineage` and the
registry's run view show them. Deploy refuses, naming both digests, when the registry says
the model was trained on other data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.errors import ConsoleError, InvalidSpec, NotFound

PIN_ANNOTATION = "mlconsole.io/training-data"


class PinnedDataMismatch(ConsoleError):
    """A graph pins training data the registry says a model was not trained on."""

    def __init__(self, message: str, *, hint: str = "", target: str = "", pinned: str = "",
                 actual: str = "") -> None:
        super().__init__(message, hint=hint, target=target)
        self.pinned = pinned
        self.actual = actual


@dataclass(frozen=True)
class DataPin:
    """One model's pinned training data: the node it applies to, a dataset name ('' for every
    training dataset), and the digest required."""

    node: str  # "champion" or "main/champion"
    dataset: str
    digest: str

    def applies_to(self, predictor: str, node: str) -> bool:
        return self.node in (node, f"{predictor}/{node}")

    def describe(self) -> str:
        return f"{self.dataset or 'training data'} {self.digest}"


@dataclass(frozen=True)
class PinCheck:
    """A pin held against the registry: which model version and run, what it was trained on."""

    pin: DataPin
    model: str  # 'models:/credit-risk@champion = credit-risk v1'
    run_id: str
    actual: tuple[tuple[str, str], ...]  # (dataset name, digest) that were compared
    ok: bool
    message: str


def parse_pins(annotations: dict[str, Any] | None) -> list[DataPin]:
    """The pins a deployment's annotations declare; InvalidSpec for a malformed annotation."""
    text = (annotations or {}).get(PIN_ANNOTATION)
    if text in (None, ""):
        return []
    example = '{"champion": "8a1ca594"} or {"champion": {"credit-risk-train": "8a1ca594"}}'
    try:
        data = json.loads(text) if isinstance(text, str) else text
    except ValueError as exc:
        raise InvalidSpec(f"annotation {PIN_ANNOTATION} is not JSON: {exc}", hint=f"write e.g. {example}",
                          location=f"metadata.annotations.{PIN_ANNOTATION}") from None
    if not isinstance(data, dict):
        raise InvalidSpec(f"annotation {PIN_ANNOTATION} must map node names to digests",
                          hint=f"write e.g. {example}", location=f"metadata.annotations.{PIN_ANNOTATION}")
    pins = []
    for node, value in data.items():
        items = value.items() if isinstance(value, dict) else [("", value)]
        for dataset, digest in items:
            if not isinstance(digest, str) or not digest.strip():
                raise InvalidSpec(f"annotation {PIN_ANNOTATION}: node {node!r} pins {digest!r}, not a digest",
                                  hint=f"write e.g. {example}", location=f"metadata.annotations.{PIN_ANNOTATION}")
            pins.append(DataPin(str(node), str(dataset), digest.strip().lower()))
    return pins


def trained_on(run: Any, dataset: str = "") -> list[tuple[str, str]]:
    """(name, digest) of the run's training data: the named dataset, else those logged with context
    'training' (every dataset when none says its context)."""
    datasets = list(getattr(run, "datasets", []) or [])
    if dataset:
        return [(d.name, d.digest) for d in datasets if d.name == dataset]
    training = [d for d in datasets if d.context == "training"]
    if not training and not any(d.context for d in datasets):
        training = datasets
    return [(d.name, d.digest) for d in training]


def check_pin(pin: DataPin, model: str, run: Any) -> PinCheck:
    """Does the run behind `model` have the pinned digest? Every compared dataset must."""
    actual = tuple(trained_on(run, pin.dataset))
    run_id = getattr(run, "run_id", "")
    if not actual:
        what = f"no dataset named {pin.dataset!r}" if pin.dataset else "no training dataset"
        return PinCheck(pin, model, run_id, actual, False,
                        f"{pin.node} ({model}, run {run_id[:8]}) logged {what}; the graph pins {pin.describe()}")
    wrong = [(name, digest) for name, digest in actual if digest.lower() != pin.digest]
    if wrong:
        name, digest = wrong[0]
        return PinCheck(pin, model, run_id, actual, False,
                        f"{pin.node} ({model}, run {run_id[:8]}) was trained on {name} with digest {digest}; "
                        f"the graph pins {pin.digest}")
    return PinCheck(pin, model, run_id, actual, True,
                    f"{pin.node} ({model}) was trained on {', '.join(n for n, _ in actual)} {pin.digest} as pinned")


def resolve_version(registry: Any, uri: str) -> Any:
    """The ModelVersion a models:/ URI names now (alias, number or 'latest')."""
    from console.graph.validate import parse_model_uri

    ref = parse_model_uri(uri)
    if ref is None:
        raise InvalidSpec(f"{uri!r} is not a models:/NAME/VERSION or models:/NAME@ALIAS URI")
    name, version = ref
    if version.lower() == "latest":
        latest = registry.get_model(name).latest_version
        if not latest:
            raise NotFound(f"model {name!r} has no versions", target=uri)
        version = str(latest)
    return registry.get_version(name, version)


def check_pins(dep: Any, registry: Any) -> list[PinCheck]:
    """Every pin of the deployment against the registry. InvalidSpec for a pin naming no model node;
    the registry's own errors (NotFound, BackendUnavailable) pass through."""
    pins = parse_pins(dep.annotations)
    if not pins:
        return []
    results = []
    for pin in pins:
        nodes = [(p, n) for p, n in dep.nodes() if pin.applies_to(p.name, n.name)]
        if not nodes:
            raise InvalidSpec(f"annotation {PIN_ANNOTATION} pins data for node {pin.node!r}, which the graph "
                              "does not have", location=f"metadata.annotations.{PIN_ANNOTATION}")
        for predictor, node in nodes:
            uri = node.model_uri or ""
            if not uri.startswith("models:/"):
                raise InvalidSpec(f"annotation {PIN_ANNOTATION} pins data for {predictor.name}/{node.name}, "
                                  f"whose model is not a registry model (modelUri {uri or 'missing'})",
                                  hint="pins are checked against MLflow runs: use models:/NAME@ALIAS",
                                  location=f"metadata.annotations.{PIN_ANNOTATION}")
            version = resolve_version(registry, uri)
            run = registry.get_run(version.run_id)
            results.append(check_pin(pin, f"{uri} = {version.name} v{version.version}", run))
    return results


def enforce_pins(dep: Any, registry: Callable[[], Any]) -> list[PinCheck]:
    """Refuse (PinnedDataMismatch) a deployment whose pinned training data the registry contradicts,
    or whose pins cannot be checked. registry: called only when the deployment has pins."""
    if not parse_pins(dep.annotations):
        return []
    try:
        results = check_pins(dep, registry())
    except InvalidSpec:
        raise
    except ConsoleError as exc:
        raise PinnedDataMismatch(f"deploy {dep.name} refused: cannot check its pinned training data: {exc.message}",
                                 hint=exc.hint or "the registry must answer to check pins (annotation "
                                                  f"{PIN_ANNOTATION})", target=dep.name) from exc
    bad = [r for r in results if not r.ok]
    if bad:
        first = bad[0]
        actual = ", ".join(f"{n} {d}" for n, d in first.actual) or "nothing"
        raise PinnedDataMismatch(
            f"deploy {dep.name} refused: {first.message}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""),
            hint="point the alias at a version trained on the pinned data, or change the pin "
                 f"(annotation {PIN_ANNOTATION})", target=dep.name, pinned=first.pin.digest, actual=actual)
    return results


def pin_problems(dep: Any, registry: Any) -> list:
    """validate()'s findings about the pins: a malformed annotation, or data the registry contradicts.

    Without a registry (offline validation) only the annotation's form is checked; a registry
    that cannot answer is a warning here, while deploy itself refuses (it must not deploy unchecked).
    """
    from console.graph.validate import ERROR, WARNING, Problem

    path = f"metadata.annotations.{PIN_ANNOTATION}"
    lines = dep.lines if isinstance(getattr(dep, "lines", None), dict) else {}
    line = lines.get(path) or lines.get("metadata.annotations")
    try:
        if not parse_pins(dep.annotations if isinstance(dep.annotations, dict) else {}) or registry is None:
            return []
        results = check_pins(dep, registry)
    except InvalidSpec as exc:
        return [Problem(ERROR, exc.message, path, line, exc.hint, "data-pin")]
    except ConsoleError as exc:
        return [Problem(WARNING, f"could not check the pinned training data: {exc.message}", path, line,
                        "deploy refuses pins it cannot check", "data-pin")]
    return [Problem(ERROR, r.message, path, line,
                    "point the alias at a version trained on the pinned data, or change the pin", "data-pin")
            for r in results if not r.ok]
