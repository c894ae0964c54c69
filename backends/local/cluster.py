"""ClusterBackend for the embedded local runtime (state on disk under --home).

Reads come straight from HOME/runtime (state.json, events.jsonl, the logs), so the console
shows the runtime even while its supervisor is down; changes go through the supervisor's
API, which is started on demand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from backends.local.state import (
    gateway_log_path,
    manifest_path,
    pid_alive,
    read_events,
    read_state,
    replica_log_path,
    runtime_dir,
    supervisor_running,
    tail_lines,
)
from console.errors import ConsoleError, InvalidSpec, NotFound
from console.types import (
    ClusterEvent,
    DeploymentDetail,
    DeploymentSummary,
    Health,
    HealthState,
    PredictorSummary,
    ReplicaInfo,
    RolloutSummary,
)

__all__ = ["LocalCluster", "pid_alive"]

NOT_RUNNING = "supervisor not running"


class LocalCluster:
    """The embedded cluster: deployments served by local processes on 127.0.0.1."""

    kind = "local"

    def __init__(self, home: Path, registry: str | None = None) -> None:
        self.home = Path(home)
        self.registry = registry

    @property
    def endpoint(self) -> str:
        return f"local runtime ({runtime_dir(self.home)})"

    # -- health and reads -------------------------------------------------------------------

    def health(self) -> Health:
        now = time.time()
        try:
            state = read_state(self.home)
        except ConsoleError as exc:
            return Health(HealthState.DOWN, str(exc), self.endpoint, now)
        supervisor = supervisor_running(self.home, state)
        if supervisor:
            return Health(HealthState.UP, f"supervisor pid {supervisor['pid']}", self.endpoint, now)
        if state["deployments"]:
            return Health(HealthState.DEGRADED,
                          "supervisor not running: deployments are not being served",
                          self.endpoint, now)
        return Health(HealthState.UP, "no deployments yet; the supervisor starts on first deploy",
                      self.endpoint, now)

    def _state(self) -> tuple[dict[str, Any], bool]:
        state = read_state(self.home)
        return state, supervisor_running(self.home, state) is not None

    def list_deployments(self) -> list[DeploymentSummary]:
        state, supervised = self._state()
        return [_summary(name, dep, supervised) for name, dep in sorted(state["deployments"].items())]

    def list_rollouts(self) -> list[RolloutSummary]:
        state = read_state(self.home)
        return [_rollout_summary(name, r) for name, r in sorted(state["rollouts"].items())]

    def _record(self, name: str) -> tuple[dict[str, Any], bool]:
        state, supervised = self._state()
        try:
            return state["deployments"][name], supervised
        except KeyError:
            known = ", ".join(sorted(state["deployments"])) or "none"
            raise NotFound(f"no deployment {name!r} in the local runtime", hint=f"deployments: {known}",
                           target=name) from None

    def get_deployment(self, name: str) -> DeploymentDetail:
        dep, supervised = self._record(name)
        try:
            manifest = manifest_path(self.home, name).read_text(encoding="utf-8")
        except OSError:
            manifest = ""
        replicas = [_replica(name, r, supervised) for r in dep.get("replicas") or []]
        gateway = _replica(name, dep["gateway"], supervised) if dep.get("gateway") else None
        return DeploymentDetail(summary=_summary(name, dep, supervised), manifest=manifest,
                                replicas=replicas, gateway=gateway, updated_at=dep.get("updated_at"),
                                registry=dep.get("registry", ""))

    def list_replicas(self, name: str) -> list[ReplicaInfo]:
        detail = self.get_deployment(name)
        return ([detail.gateway] if detail.gateway else []) + sorted(
            detail.replicas, key=lambda r: (r.predictor, r.index))

    def events(self, name: str | None = None) -> list[ClusterEvent]:
        return [ClusterEvent(time=float(e.get("time", 0)), deployment=str(e.get("deployment", "")),
                             kind=str(e.get("kind", "Normal")), reason=str(e.get("reason", "")),
                             message=str(e.get("message", "")), object=str(e.get("object", "")))
                for e in read_events(self.home, name)]

    # -- logs ---------------------------------------------------------------------------------

    def _log_sources(self, name: str, predictor: str | None, replica: int | None) -> list[tuple[str, Path]]:
        """(label, path) of the chosen processes' logs."""
        dep, _ = self._record(name)
        if predictor == "gateway":
            return [("gateway", gateway_log_path(self.home, name))]
        known = [p.get("name") for p in dep.get("predictors") or []]
        if predictor is not None and predictor not in known:
            raise NotFound(f"deployment {name!r} has no predictor {predictor!r}",
                           hint="predictors: " + ", ".join(known) + " (or 'gateway')", target=predictor)
        chosen = sorted({(r.get("predictor", ""), int(r.get("index", 0))) for r in dep.get("replicas") or []
                         if (predictor is None or r.get("predictor") == predictor)
                         and (replica is None or int(r.get("index", 0)) == replica)})
        if not chosen and predictor is not None and replica is not None:
            chosen = [(predictor, replica)]  # not running now: its log may still be there
        if not chosen and replica is not None:
            raise NotFound(f"no replica {replica} in {name!r}" + (f" predictor {predictor!r}" if predictor else ""),
                           target=str(replica))
        if not chosen:  # nothing running (stopped runtime): whatever logs exist
            wanted = [predictor] if predictor else known
            chosen = [(p, 0) for p in wanted]
        return [(f"{p}-{i}", replica_log_path(self.home, name, p, i)) for p, i in chosen]

    def logs(self, name: str, predictor: str | None = None, replica: int | None = None,
             tail: int = 200, previous: bool = False) -> list[str]:
        # previous: a replica's log file outlives its restarts (each start appends), so the lines of
        # the process that ran before are already in it, just above the current one's.
        sources = self._log_sources(name, predictor, replica)
        tail = max(0, min(int(tail), 100_000))
        out: list[str] = []
        for label, path in sources:
            lines = tail_lines(path, tail)
            out.extend(f"{label} | {line}" if len(sources) > 1 else line for line in lines)
        return out

    def follow_logs(self, name: str, predictor: str | None = None, replica: int | None = None,
                    tail: int = 20, stop: threading.Event | None = None,
                    poll: float = 0.2) -> Iterator[str]:
        stop = stop or threading.Event()
        followers: dict[Path, _FileFollower] = {}
        labels: dict[Path, str] = {}
        first, last_scan = True, 0.0
        while not stop.is_set():
            if first or time.monotonic() - last_scan > 1.0:  # replicas come and go: look again
                last_scan = time.monotonic()
                try:
                    sources = self._log_sources(name, predictor, replica)
                except NotFound:
                    if first:
                        raise
                    return  # the deployment was deleted
                several = len(sources) > 1
                for label, path in sources:
                    labels[path] = label if several else ""
                    if path not in followers:
                        followers[path] = _FileFollower(path)
                        for line in tail_lines(path, tail):
                            yield f"{labels[path]} | {line}" if labels[path] else line
                first = False
            produced = False
            for path, follower in followers.items():
                for line in follower.read_lines():
                    produced = True
                    yield f"{labels[path]} | {line}" if labels.get(path) else line
            if not produced:
                stop.wait(poll)

    # -- changes (through the supervisor) -------------------------------------------------------

    def _client(self) -> Any:
        from backends.local.supervisor_client import SupervisorClient, ensure_supervisor

        return SupervisorClient(self.home, ensure_supervisor(self.home, self.registry))

    def diff(self, manifest_text: str) -> str:
        from backends.local.manifests import parse, unified_diff

        dep, normalized = parse(manifest_text)
        try:
            deployed = manifest_path(self.home, dep.name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return "created"
        except OSError as exc:
            raise InvalidSpec(f"cannot read the deployed manifest of {dep.name}: {exc.strerror}") from None
        if dep.name not in read_state(self.home)["deployments"]:
            return "created"
        return unified_diff(deployed, normalized, dep.name)

    def apply(self, manifest_text: str, search_paths: Sequence[str] = ()) -> DeploymentSummary:
        from backends.local.manifests import parse

        parse(manifest_text)  # refuse a bad manifest before starting anything
        data = self._client().call("POST", "/v1/deployments", {
            "manifest": manifest_text, "search_paths": [str(Path(p).resolve()) for p in search_paths],
            "registry": self.registry})
        return self._answer(data)

    def _answer(self, data: dict[str, Any]) -> DeploymentSummary:
        dep = data.get("deployment") or {}
        return _summary(dep.get("name", ""), dep, True)

    def scale(self, name: str, predictor: str, replicas: int) -> DeploymentSummary:
        self._record(name)  # NotFound without starting a supervisor
        return self._answer(self._client().call("POST", f"/v1/deployments/{name}/scale",
                                                {"predictor": predictor, "replicas": replicas}))

    def restart(self, name: str, predictor: str | None = None) -> DeploymentSummary:
        self._record(name)
        return self._answer(self._client().call("POST", f"/v1/deployments/{name}/restart",
                                                {"predictor": predictor}))

    def delete(self, name: str) -> None:
        self._record(name)  # NotFound without starting a supervisor
        self._client().call("DELETE", f"/v1/deployments/{name}")

    def set_traffic(self, name: str, weights: dict[str, int],
                    shadow: dict[str, bool] | None = None) -> DeploymentSummary:
        self._record(name)
        return self._answer(self._client().call("POST", f"/v1/deployments/{name}/traffic",
                                                {"weights": weights, "shadow": shadow or {}}))

    # -- rollouts (the controller runs in the supervisor) ---------------------------------------------

    def start_rollout(self, name: str, candidate_manifest: str, spec_text: str | None,
                      search_paths: Sequence[str] = ()) -> RolloutSummary:
        from backends.local.manifests import parse
        from console.governance.audit import default_actor

        self._record(name)  # NotFound without starting a supervisor
        parse(candidate_manifest, "candidate manifest")  # refuse a bad manifest here, with its location
        if spec_text is not None:
            from console.rollout.spec import load_spec

            load_spec(spec_text)  # InvalidSpec before anything changes
        data = self._client().call("POST", f"/v1/rollouts/{name}", {
            "manifest": candidate_manifest, "spec": spec_text,
            "search_paths": [str(Path(p).resolve()) for p in search_paths], "actor": default_actor()})
        return _rollout_summary(name, data.get("rollout") or {})

    def rollout_status(self, name: str) -> dict:
        """Read from state.json (the supervisor persists it every tick), so it answers while it is down."""
        rollouts = read_state(self.home)["rollouts"]
        if not isinstance(rollouts.get(name), dict):
            raise NotFound(f"no rollout of {name!r} in the local runtime",
                           hint=f"`mlconsole rollout start {name} --manifest FILE` starts one", target=name)
        return rollouts[name]

    def rollout_command(self, name: str, verb: str) -> RolloutSummary:
        from backends.local.rollouts import verb_of
        from console.governance.audit import default_actor

        verb = verb_of(verb)
        self.rollout_status(name)  # NotFound without starting a supervisor
        data = self._client().call("POST", f"/v1/rollouts/{name}/{verb}", {"actor": default_actor()})
        return _rollout_summary(name, data.get("rollout") or {})

    # -- the runtime itself (local only) -----------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Start the supervisor if it is not running; its record {pid, port, ...}."""
        from backends.local.supervisor_client import ensure_supervisor

        return ensure_supervisor(self.home, self.registry)

    def stop(self) -> dict[str, Any]:
        """Stop the supervisor and every serving process; deployments stay for the next start."""
        from backends.local.supervisor_client import stop_supervisor

        return stop_supervisor(self.home)

    def supervisor(self) -> dict[str, Any] | None:
        """The running supervisor's record, or None."""
        return supervisor_running(self.home)


class _FileFollower:
    """Reads lines appended to a file from its current end; copes with rotation and late creation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = b""
        try:
            stat = path.stat()
            self.offset, self.inode = stat.st_size, stat.st_ino
        except OSError:
            self.offset, self.inode = 0, None

    def read_lines(self) -> list[str]:
        try:
            stat = self.path.stat()
        except OSError:
            return []
        if (self.inode is not None and stat.st_ino != self.inode) or stat.st_size < self.offset:
            self.offset, self.partial = 0, b""  # rotated, truncated or replaced
        self.inode = stat.st_ino
        if stat.st_size == self.offset:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(1 << 20)
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        return [line.decode("utf-8", "replace").rstrip("\r") for line in lines]


def _rollout_summary(name: str, r: dict[str, Any]) -> RolloutSummary:
    """A rollout record's top-level keys (RolloutState.to_dict() puts them there) as a summary."""
    try:
        weight = int(r.get("canary_weight", 0) or 0)
    except (TypeError, ValueError):
        weight = 0
    return RolloutSummary(deployment=r.get("deployment", name), strategy=r.get("strategy", "?"),
                          phase=r.get("phase", "Unknown"), step=str(r.get("step", "")), canary_weight=weight,
                          namespace="local", message=r.get("message", ""))


def _summary(name: str, dep: dict[str, Any], supervised: bool) -> DeploymentSummary:
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
    phase, message = dep.get("phase", "Unknown"), dep.get("message", "")
    # Records written by the supervisor carry their processes; while it is down, say what still runs.
    if not supervised and ("gateway" in dep or "replicas" in dep):
        records = [dep.get("gateway") or {}, *(dep.get("replicas") or [])]
        alive = sum(1 for r in records if _alive(name, r))
        if alive:
            phase = "Unknown"
            message = (f"{NOT_RUNNING}: {alive} of {len(records)} processes still serve, but nothing "
                       "restarts them (`mlconsole local up`)")
        else:
            phase = "NotServed"
            message = f"{NOT_RUNNING}: not served (`mlconsole local up` serves it again)"
        preds = [PredictorSummary(p.name, p.traffic, p.shadow, p.replicas,
                                  sum(1 for r in dep.get("replicas") or []
                                      if r.get("predictor") == p.name and r.get("ready") and _alive(name, r)))
                 for p in preds]
    return DeploymentSummary(name=name, namespace="local", phase=phase, predictors=preds,
                             url=dep.get("url", ""), created_at=dep.get("created_at"), message=message)


def _alive(name: str, rec: dict[str, Any]) -> bool:
    from backends.local.processes import is_ours

    pid = rec.get("pid")
    return bool(pid) and is_ours(pid, rec.get("kind", "graph-server"), name, rec.get("predictor", ""),
                                 int(rec.get("index", 0)))


def _replica(name: str, rec: dict[str, Any], supervised: bool) -> ReplicaInfo:
    phase, message, ready = rec.get("phase", "Unknown"), rec.get("message", ""), bool(rec.get("ready"))
    pid = rec.get("pid")
    if not supervised:
        if _alive(name, rec):
            message = f"{NOT_RUNNING}: still running, unsupervised"
        else:
            phase, ready, pid, message = "Terminated", False, None, NOT_RUNNING
    return ReplicaInfo(deployment=name, predictor=rec.get("predictor", ""), index=int(rec.get("index", 0)),
                       pid=pid, port=rec.get("port") if pid else None, phase=phase, ready=ready,
                       restarts=int(rec.get("restarts", 0)), started_at=rec.get("started_at"),
                       last_exit_code=rec.get("last_exit_code"), message=message,
                       kind=rec.get("kind", "graph-server"), log_path=rec.get("log_path", ""))
