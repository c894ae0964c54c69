"""Seldon's pods, found by its labels, kept as small records (thousands of them must stay cheap)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backends.kubernetes.seldon import parse_time
from console.types import ReplicaInfo

SELDON_ID = "seldon-deployment-id"  # every pod Seldon's operator creates: the SeldonDeployment's name
SELDON_APP = "seldon-app"  # <deployment>-<predictor>
VERSION_LABEL = "version"  # Seldon's default predictor label: the predictor's name
ENGINE = "seldon-container-engine"  # the executor sidecar: the request path's "gateway"
SELECTOR = SELDON_ID  # list only Seldon's pods: "has this label"


def pods_path(namespace: str | None) -> str:
    return "/api/v1/pods" if namespace is None else f"/api/v1/namespaces/{namespace}/pods"


@dataclass(slots=True)
class PodRecord:
    """What the console shows of one pod; everything else of its JSON is dropped on arrival."""

    namespace: str
    name: str
    deployment: str
    predictor: str
    phase: str
    ready: bool
    restarts: int
    started_at: float | None
    last_exit_code: int | None
    message: str
    containers: tuple[str, ...]
    crashed: tuple[str, ...]  # containers not running after a restart: their previous log says why
    resource_version: str = ""


def _predictor(labels: Mapping[str, str], deployment: str) -> str:
    app = labels.get(SELDON_APP, "")
    if app.startswith(f"{deployment}-"):
        return app[len(deployment) + 1:]
    return labels.get(VERSION_LABEL, "") or app


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def record(pod: Mapping[str, Any]) -> PodRecord | None:
    """A pod's record, or None when it is not one of Seldon's (no seldon-deployment-id label)."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    deployment = labels.get(SELDON_ID)
    if not deployment:
        return None
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    statuses = [s for s in status.get("containerStatuses") or [] if isinstance(s, dict)]
    phase = str(status.get("phase") or "Pending")
    message = str(status.get("message") or status.get("reason") or "")
    last_exit: int | None = None
    crashed = []
    for s in statuses:
        state = s.get("state") or {}
        last = (s.get("lastState") or {}).get("terminated") or {}
        if last:
            last_exit = _int(last.get("exitCode"))
        if "running" not in state and (_int(s.get("restartCount")) or 0) > 0:
            crashed.append(str(s.get("name")))
        if "waiting" in state:
            reason = (state["waiting"] or {}).get("reason") or "Waiting"
            phase = reason if reason != "ContainerCreating" or phase == "Pending" else phase
            detail = (state["waiting"] or {}).get("message") or ""
            if last:
                detail = f"{detail} last exit {last.get('exitCode')} ({last.get('reason', '')})".strip()
            message = f"{s.get('name')}: {detail}".strip(": ") if detail else message
        elif "terminated" in state:
            term = state["terminated"] or {}
            last_exit = _int(term.get("exitCode"))
            if phase == "Running":
                phase = str(term.get("reason") or "Terminated")
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    ready = bool(statuses) and all(bool(s.get("ready")) for s in statuses)
    containers = tuple(str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict))
    return PodRecord(
        namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")), deployment=deployment,
        predictor=_predictor(labels, deployment), phase=phase, ready=ready,
        restarts=sum(_int(s.get("restartCount")) or 0 for s in statuses),
        started_at=parse_time(status.get("startTime")) or parse_time(meta.get("creationTimestamp")),
        last_exit_code=last_exit, message=message, containers=containers, crashed=tuple(crashed),
        resource_version=str(meta.get("resourceVersion", "")))


def replicas(records: Iterable[PodRecord], deployment_label: str) -> list[ReplicaInfo]:
    """ReplicaInfo per pod, by predictor then name; index = the pod's place within its predictor."""
    out: list[ReplicaInfo] = []
    index: dict[str, int] = {}
    for r in sorted(records, key=lambda r: (r.predictor, r.name)):
        i = index.get(r.predictor, 0)
        index[r.predictor] = i + 1
        out.append(ReplicaInfo(deployment=deployment_label, predictor=r.predictor, index=i, phase=r.phase,
                               ready=r.ready, restarts=r.restarts, started_at=r.started_at,
                               last_exit_code=r.last_exit_code, message=r.message, kind="pod", pod=r.name))
    return out


def ready_counts(records: Iterable[PodRecord]) -> dict[tuple[str, str], dict[str, int]]:
    """(namespace, deployment) -> predictor -> ready pods."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for r in records:
        per = out.setdefault((r.namespace, r.deployment), {})
        per[r.predictor] = per.get(r.predictor, 0) + (1 if r.ready else 0)
    return out
