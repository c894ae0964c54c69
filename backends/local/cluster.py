"""ClusterBackend for the embedded local runtime (state on disk under --home)."""

from __future__ import annotations

import time
from pathlib import Path

from backends.local.state import pid_alive, read_state, runtime_dir
from console.errors import ConsoleError
from console.types import (
    DeploymentSummary,
    Health,
    HealthState,
    PredictorSummary,
    RolloutSummary,
)


class LocalCluster:
    """The embedded cluster: deployments served by local processes on 127.0.0.1."""

    kind = "local"

    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def endpoint(self) -> str:
        return f"local runtime ({runtime_dir(self.home)})"

    def health(self) -> Health:
        now = time.time()
        try:
            state = read_state(self.home)
        except ConsoleError as exc:
            return Health(HealthState.DOWN, str(exc), self.endpoint, now)
        supervisor = state.get("supervisor") or {}
        pid = supervisor.get("pid")
        if pid and pid_alive(int(pid)):
            return Health(HealthState.UP, f"supervisor pid {pid}", self.endpoint, now)
        if state["deployments"]:
            return Health(HealthState.DEGRADED,
                          "supervisor not running: deployments are not being served",
                          self.endpoint, now)
        return Health(HealthState.UP, "no deployments yet; the supervisor starts on first deploy",
                      self.endpoint, now)

    def list_deployments(self) -> list[DeploymentSummary]:
        state = read_state(self.home)
        out = []
        for name, dep in sorted(state["deployments"].items()):
            preds = [
                PredictorSummary(
                    name=p.get("name", "?"),
                    traffic=int(p.get("traffic", 0)),
                    shadow=bool(p.get("shadow", False)),
                    replicas=int(p.get("replicas", 1)),
                    ready_replicas=int(p.get("ready_replicas", 0)),
                )
                for p in dep.get("predictors", [])
            ]
            out.append(DeploymentSummary(
                name=name,
                namespace="local",
                phase=dep.get("phase", "Unknown"),
                predictors=preds,
                url=dep.get("url", ""),
                created_at=dep.get("created_at"),
                message=dep.get("message", ""),
            ))
        return out

    def list_rollouts(self) -> list[RolloutSummary]:
        state = read_state(self.home)
        return [
            RolloutSummary(
                deployment=r.get("deployment", name),
                strategy=r.get("strategy", "?"),
                phase=r.get("phase", "Unknown"),
                step=str(r.get("step", "")),
                canary_weight=int(r.get("canary_weight", 0)),
                namespace="local",
                message=r.get("message", ""),
            )
            for name, r in sorted(state["rollouts"].items())
        ]
