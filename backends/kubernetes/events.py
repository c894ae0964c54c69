"""Kubernetes events about SeldonDeployments and what Seldon made of them (deployments, pods), and ours."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from backends.kubernetes.seldon import API_VERSION, KIND, parse_time
from console.types import ClusterEvent

KEEP = 500  # the newest events shown; the API server keeps an hour of them anyway
REPORTER = "mlconsole"


def events_path(namespace: str | None) -> str:
    return "/api/v1/events" if namespace is None else f"/api/v1/namespaces/{namespace}/events"


def _owner(involved: Mapping[str, Any], deployments: Iterable[str]) -> str:
    """The SeldonDeployment an event is about: itself, or the one whose name prefixes the object's."""
    name = str(involved.get("name", ""))
    if involved.get("kind") == KIND:
        return name
    best = ""
    for dep in deployments:
        if name.startswith(f"{dep}-") and len(dep) > len(best):
            best = dep
    return best


def to_events(items: Iterable[Mapping[str, Any]], deployments: set[str], only: str | None = None,
              qualified: bool = False) -> list[ClusterEvent]:
    """Events about the given deployments (or only one), oldest first."""
    out = []
    for e in items:
        involved = e.get("involvedObject") or e.get("regarding") or {}
        owner = _owner(involved, deployments)
        if not owner or (only is not None and owner != only):
            continue
        meta = e.get("metadata") or {}
        when = (parse_time(e.get("lastTimestamp")) or parse_time(e.get("eventTime"))
                or parse_time(e.get("firstTimestamp")) or parse_time(meta.get("creationTimestamp")) or 0.0)
        kind = str(involved.get("kind", "")).lower()
        obj = "" if involved.get("kind") == KIND else f"{kind}/{involved.get('name', '')}"
        count = e.get("count")
        message = str(e.get("message") or e.get("note") or "")
        if isinstance(count, int) and count > 1:
            message = f"{message} (x{count})"
        namespace = str(involved.get("namespace") or meta.get("namespace") or "")
        out.append(ClusterEvent(time=when, deployment=f"{namespace}/{owner}" if qualified else owner,
                                kind=str(e.get("type") or "Normal"), reason=str(e.get("reason") or ""),
                                message=message, object=obj))
    out.sort(key=lambda ev: ev.time)
    return out[-KEEP:]


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(obj: Mapping[str, Any], kind: str, reason: str, message: str) -> dict[str, Any]:
    """A core/v1 Event about a SeldonDeployment, as `kubectl describe sdep` lists them."""
    meta = obj.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    stamp = _now_rfc3339()
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{int(time.time() * 1e6):x}{uuid.uuid4().hex[:6]}", "namespace": namespace},
        "involvedObject": {"apiVersion": API_VERSION, "kind": KIND, "name": name, "namespace": namespace,
                           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")},
        "reason": reason[:128], "message": message[:1024], "type": kind,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        "source": {"component": REPORTER}, "reportingComponent": REPORTER, "reportingInstance": REPORTER,
    }
