"""Manifests as the local runtime keeps them: checked, normalised, and read for desired state."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from console.errors import InvalidSpec
from console.graph.spec import Deployment

# Names end up in file paths and process arguments: Kubernetes' DNS-1123 name rules keep
# them safe there and valid on a real cluster too.
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
MAX_NAME = 63
MAX_REPLICAS = 16  # per predictor: each replica is a whole Python process on this machine
GATEWAY = "gateway"


@dataclass(frozen=True)
class PredictorSpec:
    """What the runtime must run for one predictor."""

    name: str
    traffic: int
    shadow: bool
    replicas: int
    template: str  # hash of what its processes load: a change replaces them


def check_name(name: str, what: str) -> None:
    """InvalidSpec unless name is a DNS-1123 name (as Kubernetes requires too), safe in file paths."""
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > MAX_NAME:
        raise InvalidSpec(f"{what} name {name!r} is not valid here",
                          hint="use lower-case letters, digits, '-' and '.', at most 63 characters, "
                               "starting and ending with a letter or digit")


def parse(text: str, source: str = "<manifest>") -> tuple[Deployment, str]:
    """The deployment and its normalised YAML; InvalidSpec with every located error otherwise.

    Components are not imported and the registry is not asked here (the CLI and the console
    do that before deploying, where the user's paths and registry are known).
    """
    from console.graph.manifest_io import dump_yaml, load_manifest
    from console.graph.validate import validate

    dep = load_manifest(text, source)
    errors = [p for p in validate(dep, registry=None, check_imports=False) if p.is_error]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidSpec(f"{dep.name or 'manifest'}: {first.format(source)}{more}",
                          hint="; ".join(p.format(source) for p in errors[1:4]),
                          location=f"{source}:{first.line}" if first.line else source)
    check_name(dep.name, "deployment")
    seen = set()
    for p in dep.predictors:
        check_name(p.name, "predictor")
        if p.name == GATEWAY:
            raise InvalidSpec(f"predictor name {GATEWAY!r} is reserved by the local runtime",
                              hint="rename the predictor")
        seen.add(p.name)
    return dep, dump_yaml(dep)


def _replicas(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def predictor_specs(dep: Deployment, context: dict[str, Any], nonces: dict[str, int]) -> list[PredictorSpec]:
    """Each predictor's traffic, replicas and template (what a process of it loads)."""
    spec = dep.raw.get("spec") if isinstance(dep.raw.get("spec"), dict) else {}
    default = _replicas(spec.get("replicas"), 1)
    out = []
    serving = [p for p in dep.predictors if not p.shadow]
    for p in dep.predictors:
        # As Seldon does: the only serving predictor takes all traffic, whatever its field says.
        traffic = 0 if p.shadow else (100 if len(serving) == 1 else int(p.traffic or 0))
        replicas = _replicas(p.raw.get("replicas"), default)
        if not 0 <= replicas <= MAX_REPLICAS:
            raise InvalidSpec(f"predictor {p.name!r}: replicas must be 0..{MAX_REPLICAS}, not {replicas}",
                              hint="the local runtime runs each replica as a process on this machine")
        graph_part = {k: v for k, v in p.raw.items() if k not in ("traffic", "shadow", "replicas")}
        template = hashlib.sha256(json.dumps(
            {"predictor": graph_part, "context": context, "nonce": nonces.get(p.name, 0)},
            sort_keys=True, default=str).encode()).hexdigest()[:16]
        out.append(PredictorSpec(p.name, traffic, bool(p.shadow), replicas, template))
    return out


def with_changes(text: str, replicas: dict[str, int] | None = None, traffic: dict[str, int] | None = None,
                 shadow: dict[str, bool] | None = None) -> str:
    """The manifest with some predictors' replicas, traffic or shadow flag changed."""
    from console.graph.manifest_io import dump_yaml, load_manifest

    dep = load_manifest(text, "<deployed manifest>")
    for p in dep.predictors:
        if replicas and p.name in replicas:
            p.replicas = replicas[p.name]
        if shadow and p.name in shadow:
            p.shadow = shadow[p.name]
        if traffic and p.name in traffic:
            p.traffic = traffic[p.name]
    return dump_yaml(dep)


def unified_diff(old: str, new: str, name: str) -> str:
    """A unified diff, deployed to new; '' when they are the same."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{name} (deployed)", tofile=f"{name} (new)"))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
