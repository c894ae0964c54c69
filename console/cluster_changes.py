"""Every change to a cluster goes through here: refused under --readonly, audited.

Screens and the headless CLI call these, never a backend's changing methods directly, so
that both honour --readonly and leave the same audit trail (action names `cluster.*`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from console.config import Settings
from console.errors import Conflict, ConsoleError, NotFound, ReadOnly
from console.governance.audit import AuditLog
from console.ports import ClusterBackend
from console.types import DeploymentSummary


@dataclass(frozen=True)
class DeployResult:
    """What a deploy did: the diff it applied ('created' for a new deployment, '' for none)."""

    summary: DeploymentSummary
    diff: str

    @property
    def verb(self) -> str:
        """kubectl's word for it: created, configured or unchanged."""
        return "created" if self.diff == "created" else ("configured" if self.diff else "unchanged")


class AuditedClusterChanges:
    """What every kind of cluster change shares: the readonly guard, the capability check, the audit."""

    capability = "do this"  # completes "the <kind> cluster backend cannot ..."

    def __init__(self, settings: Settings, cluster: ClusterBackend, audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.cluster = cluster
        self.audit = audit or AuditLog(settings.home)

    def _registry(self):
        """The registry, made on demand (only deploys whose graph pins training data need it)."""
        from console.wiring import make_registry

        return make_registry(self.settings)

    def _guard(self, action: str) -> None:
        if self.settings.readonly:
            raise ReadOnly(action)

    def _supports(self, method: str) -> None:
        if not callable(getattr(self.cluster, method, None)):
            raise ConsoleError(f"the {self.cluster.kind} cluster backend cannot {self.capability} yet ({method})",
                               hint="use the embedded local runtime (no --context) for this")

    def _target(self, name: str, summary: object | None = None) -> str:
        namespace = getattr(summary, "namespace", "") or getattr(self.cluster, "namespace", "") or "local"
        return f"{namespace}/{name}"

    def _record(self, action: str, target: str, before: str, after: str, reason: str) -> None:
        from console.governance.identity import cluster_identity

        where = "" if self.cluster.kind == "local" else f"cluster {self.cluster.endpoint}"
        self.audit.append(action, target, before=before, after=after,
                          reason="; ".join(x for x in (reason, where) if x), identity=cluster_identity(self.cluster))


class ClusterChanges(AuditedClusterChanges):
    """Deploy, scale, restart, delete and traffic changes with the readonly guard and an audit entry each."""

    capability = "make this change"

    def _current(self, name: str) -> DeploymentSummary | None:
        try:
            return self.cluster.get_deployment(name).summary
        except NotFound:
            return None

    def _no_rollout_running(self, name: str, action: str) -> None:
        """A rollout's controller owns the deployment's predictors and weights until it ends:
        a deploy or a traffic change now would drop its candidate or fight its next step."""
        try:
            rollouts = self.cluster.list_rollouts()
        except (ConsoleError, NotImplementedError, AttributeError):
            return  # the change itself will report a backend that is down
        running = next((r for r in rollouts if r.deployment == name and r.is_running), None)
        if running is not None:
            raise Conflict(f"cannot {action}: a {running.strategy} rollout of {name} is {running.phase} "
                           f"(step {running.step}, candidate at {running.canary_weight}%)",
                           hint=f"promote it to the end or abort it first (mlconsole rollout promote-full|abort "
                                f"{name}, or the Rollouts view)")

    # -- changes ------------------------------------------------------------------------------

    def deploy(self, manifest_text: str, search_paths: Sequence[str] = (), reason: str = "") -> DeployResult:
        """Create or update the deployment the manifest describes; audited unless nothing changed."""
        from console.governance.data_pins import enforce_pins
        from console.graph.manifest_io import load_manifest

        dep = load_manifest(manifest_text, "<manifest>")
        name = dep.name
        self._guard(f"deploy {name}")
        self._supports("apply")
        self._no_rollout_running(name, f"deploy {name}")
        enforce_pins(dep, self._registry)  # a graph pinning training data the registry contradicts
        diff = self.cluster.diff(manifest_text)
        before = self._current(name)
        summary = self.cluster.apply(manifest_text, search_paths)
        if diff:
            digest = hashlib.sha256(manifest_text.encode()).hexdigest()[:12]
            self._record("cluster.deploy", self._target(name, summary), _describe(before),
                         f"{_describe(summary)}; manifest sha256:{digest}",
                         "; ".join(x for x in (reason, "created" if diff == "created" else "updated") if x))
        return DeployResult(summary, diff)

    def scale(self, name: str, predictor: str, replicas: int, reason: str = "") -> DeploymentSummary:
        self._guard(f"scale {name}/{predictor}")
        self._supports("scale")
        before = self.cluster.get_deployment(name).summary
        old = next((p.replicas for p in before.predictors if p.name == predictor), None)
        summary = self.cluster.scale(name, predictor, replicas)
        self._record("cluster.scale", self._target(name, summary), f"{predictor} replicas {old}",
                     f"{predictor} replicas {replicas}", reason)
        return summary

    def restart(self, name: str, predictor: str | None = None, reason: str = "") -> DeploymentSummary:
        what = f"{name}/{predictor}" if predictor else name
        self._guard(f"restart {what}")
        self._supports("restart")
        summary = self.cluster.restart(name, predictor)
        self._record("cluster.restart", self._target(name, summary), "",
                     f"restarted {predictor or 'every predictor and the gateway'}", reason)
        return summary

    def delete(self, name: str, reason: str = "") -> None:
        self._guard(f"delete {name}")
        self._supports("delete")
        before = self.cluster.get_deployment(name).summary
        self.cluster.delete(name)
        self._record("cluster.delete", self._target(name, before), _describe(before), "deleted", reason)

    def set_traffic(self, name: str, weights: dict[str, int], shadow: dict[str, bool] | None = None,
                    reason: str = "") -> DeploymentSummary:
        self._guard(f"change traffic of {name}")
        self._supports("set_traffic")
        self._no_rollout_running(name, f"change the traffic of {name}")
        before = self.cluster.get_deployment(name).summary
        summary = self.cluster.set_traffic(name, weights, shadow)
        self._record("cluster.traffic", self._target(name, summary), before.traffic_label,
                     summary.traffic_label, reason)
        return summary

    # -- the local runtime itself -----------------------------------------------------------------

    def runtime_up(self, reason: str = "") -> dict:
        """Start the local runtime's supervisor (it serves every deployment on disk)."""
        self._guard("start the local runtime")
        self._supports("start")
        was = self.cluster.supervisor()  # type: ignore[attr-defined]
        record = self.cluster.start()  # type: ignore[attr-defined]
        if not was:
            self._record("cluster.runtime.up", "local runtime", "stopped",
                         f"supervisor pid {record.get('pid')}", reason)
        return {**record, "already_running": bool(was)}

    def runtime_down(self, reason: str = "") -> dict:
        """Stop the local runtime: its supervisor and every serving process (deployments are kept)."""
        self._guard("stop the local runtime")
        self._supports("stop")
        result = self.cluster.stop()  # type: ignore[attr-defined]
        if result.get("was_running") or result.get("stopped"):
            self._record("cluster.runtime.down", "local runtime", "running",
                         f"stopped ({result.get('stopped', 0)} processes)", reason)
        return result


def _describe(summary: DeploymentSummary | None) -> str:
    """'main 90 / canary 10; replicas main 1, canary 1' — or '' for a deployment that did not exist."""
    if summary is None:
        return ""
    replicas = ", ".join(f"{p.name} {p.replicas}" for p in summary.predictors)
    return f"{summary.traffic_label}; replicas {replicas}"
