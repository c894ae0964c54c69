"""SeldonDeployment objects (machinelearning.seldon.io/v1) as the console's summaries and manifests."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from console.errors import InvalidSpec
from console.types import DeploymentSummary, PredictorSummary

GROUP, VERSION, PLURAL, KIND = "machinelearning.seldon.io", "v1", "seldondeployments", "SeldonDeployment"
API_VERSION = f"{GROUP}/{VERSION}"
RESOURCE = f"{PLURAL}.{GROUP}"
SPEC_ANNOTATION = "mlconsole.io/rollout"  # the rollout spec, YAML (as the local runtime keeps it)
STATE_ANNOTATION = "mlconsole.io/rollout-state"  # the rollout's state, JSON (RolloutState.to_dict())
RESTARTED_ANNOTATION = "mlconsole.io/restartedAt"  # on a predictor's pod template: a rolling restart
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                   "deletionGracePeriodSeconds", "managedFields", "selfLink")
PREDICTIONS = "/api/v1.0/predictions"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def collection_path(namespace: str | None) -> str:
    """/apis/.../seldondeployments, in one namespace or (None) across all."""
    if namespace is None:
        return f"/apis/{GROUP}/{VERSION}/{PLURAL}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


def object_path(namespace: str, name: str) -> str:
    return f"{collection_path(namespace)}/{name}"


def parse_time(text: Any) -> float | None:
    """An RFC 3339 timestamp as the API server writes it, as unix time."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def predictors(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    return [p for p in spec.get("predictors") or [] if isinstance(p, dict)]


def desired_replicas(obj: Mapping[str, Any], predictor: Mapping[str, Any]) -> int:
    """A predictor's replicas as Seldon counts them: its own, else the deployment's, else 1."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    for value in (predictor.get("replicas"), spec.get("replicas")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 1


def status_ready(obj: Mapping[str, Any], predictor: str) -> int:
    """Available replicas Seldon's operator reports for a predictor's Deployments (named sdep-predictor-...)."""
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    name = (obj.get("metadata") or {}).get("name", "")
    total = 0
    for key, value in (status.get("deploymentStatus") or {}).items():
        if isinstance(value, dict) and str(key).startswith(f"{name}-{predictor}-"):
            try:
                total += int(value.get("availableReplicas") or 0)
            except (TypeError, ValueError):
                continue
    return total


def summary(obj: Mapping[str, Any], ready_pods: Mapping[str, int] | None = None,
            qualified: bool = False) -> DeploymentSummary:
    """A SeldonDeployment as a DeploymentSummary.

    ready_pods: predictor -> ready pods (counted from pods by Seldon's labels) when they are known;
    otherwise the operator's status says. qualified: names as 'namespace/name' (all-namespaces view).
    """
    meta = obj.get("metadata") or {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    preds = []
    for p in predictors(obj):
        name = str(p.get("name", "?"))
        ready = ready_pods.get(name, 0) if ready_pods is not None else status_ready(obj, name)
        try:
            traffic = int(p.get("traffic") or 0)
        except (TypeError, ValueError):
            traffic = 0
        preds.append(PredictorSummary(name=name, traffic=traffic, shadow=bool(p.get("shadow")),
                                      replicas=desired_replicas(obj, p), ready_replicas=ready))
    serving = [p for p in preds if not p.shadow]
    if len(serving) == 1 and serving[0].traffic == 0:  # as Seldon does: the only one takes everything
        preds = [PredictorSummary(p.name, 100, p.shadow, p.replicas, p.ready_replicas) if p is serving[0] else p
                 for p in preds]
    if status:
        phase = str(status.get("state") or "Unknown")
        message = str(status.get("description") or "")
    else:
        phase, message = "Unknown", "no status from Seldon's operator yet (is it running in this cluster?)"
    if meta.get("deletionTimestamp"):
        phase, message = "Terminating", "being deleted"
    name = str(meta.get("name", "?"))
    namespace = str(meta.get("namespace", ""))
    address = status.get("address") if isinstance(status.get("address"), dict) else {}
    # Seldon's address ends with the v1 prediction path; the console's URLs are the deployment's base.
    url = str(address.get("url") or "").removesuffix("/").removesuffix(PREDICTIONS)
    return DeploymentSummary(
        name=f"{namespace}/{name}" if qualified else name, namespace=namespace, phase=phase, predictors=preds,
        url=url, created_at=parse_time(meta.get("creationTimestamp")), message=message)


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as a manifest: no status, no server-set metadata, no rollout bookkeeping."""
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    out.setdefault("apiVersion", API_VERSION)
    out.setdefault("kind", KIND)
    meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        annotations.pop(STATE_ANNOTATION, None)
        if not annotations:
            meta.pop("annotations")
    return {k: out[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in out} | \
        {k: v for k, v in out.items() if k not in ("apiVersion", "kind", "metadata", "spec")}


def manifest_yaml(obj: Mapping[str, Any]) -> str:
    """What `get manifest`, describe and the graph builder show: the cleaned object as YAML."""
    import yaml

    return yaml.safe_dump(clean(obj), sort_keys=False, allow_unicode=True, width=100)


def comparable_yaml(obj: Mapping[str, Any]) -> str:
    """For diffs: keys sorted (the API server returns custom objects with sorted keys)."""
    import yaml

    data = clean(obj)
    meta = data.get("metadata") or {}
    data["metadata"] = {k: v for k, v in meta.items() if k in ("name", "namespace", "labels", "annotations")}
    return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=100)


def check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 63:
        raise InvalidSpec(f"{what} name {name!r} is not a valid Kubernetes name",
                          hint="lower-case letters, digits and '-', at most 63 characters, "
                               "starting and ending with a letter or digit")


def from_manifest(text: str, namespace: str) -> dict[str, Any]:
    """The SeldonDeployment to send for a manifest the console holds (graph export rules), in `namespace`.

    A namespace the manifest names wins over the console's (as with `kubectl apply`).
    """
    from console.graph.export import to_seldon
    from console.graph.manifest_io import load_manifest

    body = to_seldon(load_manifest(text, "<manifest>"))
    meta = body.setdefault("metadata", {})
    check_name(meta.get("name"), "deployment")
    for p in predictors(body):
        check_name(p.get("name"), "predictor")
    meta["namespace"] = meta.get("namespace") or namespace
    return body
