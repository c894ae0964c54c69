"""What the cluster commands share: the backend, the audited changes, kubectl-style cells.

Not a command module itself (it is not in MODULES).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from console.config import Settings
from console.types import DeploymentSummary, ReplicaInfo

EXIT_USAGE = 2


def cluster(settings: Settings, *needs: str) -> Any:
    """The configured cluster backend; a clear error when it lacks a method the command needs."""
    from console.errors import ConsoleError
    from console.wiring import UnloadableBackend, make_cluster

    backend = make_cluster(settings)
    if isinstance(backend, UnloadableBackend):
        return backend  # every call says why it is unavailable
    missing = [n for n in needs if not callable(getattr(backend, n, None))]
    if missing:
        raise ConsoleError(f"the {backend.kind} cluster backend cannot do this yet ({', '.join(missing)})",
                           hint="use the embedded local runtime (no --context) for it")
    return backend


def changes(settings: Settings) -> Any:
    from console.cluster_changes import ClusterChanges

    return ClusterChanges(settings, cluster(settings))


def usage_error(message: str) -> int:
    """One line on stderr, exit code 2 (the command was given something it cannot use)."""
    print(f"mlconsole: {message}", file=sys.stderr)
    return EXIT_USAGE


def age(since: float | None, now: float | None = None) -> str:
    """kubectl's ages: 45s, 12m, 3h, 5d."""
    if since is None:
        return ""
    seconds = max(0, int((now or time.time()) - since))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ready(summary: DeploymentSummary) -> str:
    """Ready replicas over desired, across predictors: '3/3'."""
    return f"{sum(p.ready_replicas for p in summary.predictors)}/{sum(p.replicas for p in summary.predictors)}"


def summary_dict(summary: DeploymentSummary) -> dict[str, Any]:
    from dataclasses import asdict

    return {**asdict(summary), "ready": ready(summary), "traffic": summary.traffic_label}


def replica_dict(replica: ReplicaInfo) -> dict[str, Any]:
    from dataclasses import asdict

    return {"name": replica.name, **asdict(replica)}


def first_line(text: str) -> str:
    return (text.splitlines() or [""])[0]
