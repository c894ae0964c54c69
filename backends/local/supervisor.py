"""The local runtime's supervisor: a small controller that keeps deployments served.

    python -m backends.local.supervisor --home HOME [--registry TRACKING_URI]

(`mlconsole` passes the registry in $MLCONSOLE_RUNTIME_REGISTRY instead: command lines are public.)

One per home (an flock on HOME/runtime/supervisor.lock; a second one exits at once).
Every ~0.5 s it reconciles each deployment's desired state (its manifest) with the
processes that serve it: `replicas` graph-server processes per predictor plus one gateway.
A process that exits is restarted with exponential back-off (1, 2, 4 ... 30 s, reset once
it has stayed up a minute); readiness is polled on /v2/health/ready and only ready replicas
are written into the gateway's routes (then the gateway gets SIGHUP).

Serving processes lead their own sessions, so they outlive the supervisor: a restarted
supervisor adopts those still running (pid alive, command line ours, port answering) and
starts the missing ones. SIGTERM stops only the supervisor; POST /v1/shutdown (`mlconsole
local down`) stops everything but keeps the deployments on disk for the next start.

Rollouts run here too (backends/local/rollouts.py): each second the driver ticks every active
rollout's controller against the in-process metrics window and applies its traffic changes,
so a rollout carries on while no console runs, and resumes at its step after a restart.

It is one asyncio loop: the aiohttp API (see supervisor_api.py) and the reconcile loop
share the in-memory model without locks, since nothing awaits in the middle of a change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.local import processes as procs
from backends.local.manifests import MAX_REPLICAS, PredictorSpec, parse, predictor_specs, sha, with_changes
from backends.local.rollouts import RolloutDriver, fault_rate, mirror_percents
from backends.local.serving.routes import RoutePredictor, Routes, write_routes
from backends.local.state import (
    REGISTRY_ENV,
    ensure_runtime_dir,
    ensure_token,
    events_path,
    gateway_log_path,
    manifest_path,
    ports_dir,
    process_running,
    read_state,
    replica_log_path,
    routes_path,
    serving_context_path,
    supervisor_lock_path,
    update_state,
    write_atomic,
)
from console.errors import ConsoleError, InvalidSpec, NotFound

log = logging.getLogger("mlconsole.supervisor")

TICK = 0.5
FAST_TICK = 0.1  # while a process is starting: notice its readiness sooner
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds up after which a process's crash count is forgiven
GRACE = 5.0  # SIGTERM, then SIGKILL after this long
PROBE_TIMEOUT = 1.0
PROBE_FAILURES_UNREADY = 3
MAX_EVENTS = 500
LOG_CHECK_EVERY = 10.0


@dataclass
class Proc:
    """One serving process we manage: a predictor's graph-server replica, or the gateway."""

    kind: str  # "graph-server" | "gateway"
    predictor: str
    index: int
    template: str = ""
    pid: int | None = None
    port: int | None = None
    popen: Any = None  # subprocess.Popen when we started it; None when adopted
    started_at: float | None = None
    ready: bool = False
    ever_ready: bool = False
    phase: str = "Pending"
    restarts: int = 0
    crashes: int = 0  # consecutive crashes, for the back-off
    next_start: float = 0.0
    exited_before: bool = False
    last_exit_code: int | None = None
    last_exit_at: float | None = None
    message: str = ""
    probe_failures: int = 0
    stopping: bool = False
    stop_deadline: float = 0.0
    fixed_port_failures: int = 0

    @property
    def label(self) -> str:
        return "gateway" if self.kind == "gateway" else f"{self.predictor}-{self.index}"

    def record(self, log_path: Path) -> dict[str, Any]:
        return {"kind": self.kind, "predictor": self.predictor, "index": self.index, "pid": self.pid,
                "port": self.port, "phase": self.phase, "ready": self.ready, "restarts": self.restarts,
                "crashes": self.crashes, "started_at": self.started_at, "last_exit_code": self.last_exit_code,
                "last_exit_at": self.last_exit_at, "message": self.message, "template": self.template,
                "ever_ready": self.ever_ready, "log_path": str(log_path)}


@dataclass
class Served:
    """A deployment as the supervisor runs it: desired state plus its processes."""

    name: str
    manifest: str
    registry: str
    search_paths: list[str]
    created_at: float
    updated_at: float
    predictors: list[PredictorSpec] = field(default_factory=list)
    nonces: dict[str, int] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    gateway: Proc = field(default_factory=lambda: Proc("gateway", "", 0))
    replicas: list[Proc] = field(default_factory=list)
    gateway_port: int | None = None
    phase: str = "Progressing"
    message: str = "starting"
    routes_text: str = ""
    ever_available: bool = False
    deleting: bool = False

    def predictor(self, name: str) -> PredictorSpec:
        for p in self.predictors:
            if p.name == name:
                return p
        raise NotFound(f"deployment {self.name!r} has no predictor {name!r}",
                       hint="predictors: " + ", ".join(p.name for p in self.predictors), target=name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}" if self.gateway_port else ""


class Supervisor:
    """The controller: the in-memory model, the reconcile loop, and the operations the API calls."""

    def __init__(self, home: Path, registry: str) -> None:
        self.home = home
        self.registry = registry
        self.deployments: dict[str, Served] = {}
        self.port: int | None = None
        self.started_at = time.time()
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.halted = False  # set while stopping everything: nothing is (re)started
        self._last_persisted = ""
        self._event_lines = 0
        self._last_log_check = 0.0
        self._http: Any = None  # aiohttp.ClientSession for readiness probes
        self.scraper: Any = None  # backends.local.scraper.Scraper, once running
        self.rollouts = RolloutDriver(self)  # the rollout controller's driver (backends/local/rollouts.py)

    # -- events -------------------------------------------------------------------------

    def event(self, deployment: str, kind: str, reason: str, message: str, obj: str = "") -> None:
        """Append one event to events.jsonl (trimmed to the newest MAX_EVENTS now and then)."""
        line = json.dumps({"time": time.time(), "deployment": deployment, "kind": kind, "reason": reason,
                           "message": message, "object": obj}, ensure_ascii=False)
        path = events_path(self.home)
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            self._event_lines += 1
            if self._event_lines > 2 * MAX_EVENTS:
                lines = path.read_text(encoding="utf-8").splitlines()[-MAX_EVENTS:]
                write_atomic(path, "\n".join(lines) + "\n")
                self._event_lines = len(lines)
        except OSError as exc:
            log.warning("cannot write event: %s", exc)
        log.info("event %s %s %s %s: %s", deployment, kind, reason, obj, message)

    # -- paths ----------------------------------------------------------------------------

    def log_path(self, dep: Served, proc: Proc) -> Path:
        if proc.kind == "gateway":
            return gateway_log_path(self.home, dep.name)
        return replica_log_path(self.home, dep.name, proc.predictor, proc.index)

    def port_file(self, dep: Served, proc: Proc) -> Path:
        return ports_dir(self.home, dep.name) / f"{proc.label}.port"

    # -- desired state ----------------------------------------------------------------------

    def _context(self, registry: str, search_paths: list[str]) -> dict[str, Any]:
        return {"registry": registry, "search_paths": search_paths}

    def _load(self, name: str, text: str, registry: str, search_paths: list[str],
              nonces: dict[str, int]) -> tuple[list[PredictorSpec], dict[str, str]]:
        dep, _ = parse(text, f"deployments/{name}.yaml")
        return predictor_specs(dep, self._context(registry, search_paths), nonces), dict(dep.annotations)

    def apply(self, text: str, search_paths: list[str], registry: str | None) -> Served:
        """Create or update a deployment from manifest text (validated, normalised)."""
        dep, normalized = parse(text, "manifest")
        registry = registry or self.registry
        now = time.time()
        existing = self.deployments.get(dep.name)
        nonces = dict(existing.nonces) if existing else {}
        specs = predictor_specs(dep, self._context(registry, search_paths), nonces)
        if existing is None:
            served = Served(dep.name, normalized, registry, list(search_paths), now, now, specs, nonces,
                            dict(dep.annotations))
            self.deployments[dep.name] = served
            self._write_manifest(served)
            self.event(dep.name, "Normal", "Deployed",
                       f"deployed {len(specs)} predictor(s): " + _traffic_label(specs))
        else:
            served = existing
            if normalized == served.manifest and registry == served.registry \
                    and list(search_paths) == served.search_paths:
                return served
            old = {p.name: p for p in served.predictors}
            served.manifest, served.registry, served.search_paths = normalized, registry, list(search_paths)
            served.predictors, served.annotations, served.updated_at = specs, dict(dep.annotations), now
            self._write_manifest(served)
            changed = [p.name for p in specs if p.name not in old or old[p.name].template != p.template]
            removed = [n for n in old if n not in {p.name for p in specs}]
            parts = []
            if changed:
                parts.append("new graph for " + ", ".join(changed))
            if removed:
                parts.append("removed " + ", ".join(removed))
            self.event(dep.name, "Normal", "Updated", "; ".join(parts) or "manifest updated")
            if _traffic_label(specs) != _traffic_label(list(old.values())):
                self.event(dep.name, "Normal", "TrafficChanged", _traffic_label(specs))
            for p in specs:
                if p.name in old and old[p.name].replicas != p.replicas:
                    self.event(dep.name, "Normal", "Scaled",
                               f"{p.name}: {old[p.name].replicas} -> {p.replicas} replicas")
        self.wake.set()
        return served

    def _write_manifest(self, served: Served) -> None:
        write_atomic(manifest_path(self.home, served.name), served.manifest)
        write_atomic(serving_context_path(self.home, served.name),
                     json.dumps({"registry": served.registry, "search_paths": served.search_paths}) + "\n")

    def _change(self, served: Served, **changes: Any) -> None:
        served.manifest = with_changes(served.manifest, **changes)
        served.predictors, served.annotations = self._load(served.name, served.manifest, served.registry,
                                                           served.search_paths, served.nonces)
        served.updated_at = time.time()
        self._write_manifest(served)
        self.wake.set()

    def get(self, name: str) -> Served:
        try:
            return self.deployments[name]
        except KeyError:
            raise NotFound(f"no deployment {name!r} in the local runtime",
                           hint="`mlconsole get deployments` lists them", target=name) from None

    def scale(self, name: str, predictor: str, replicas: int) -> Served:
        served = self.get(name)
        before = served.predictor(predictor).replicas
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= MAX_REPLICAS:
            raise InvalidSpec(f"replicas must be a whole number 0..{MAX_REPLICAS}, not {replicas!r}")
        if before != replicas:
            self._change(served, replicas={predictor: replicas})
            self.event(name, "Normal", "Scaled", f"{predictor}: {before} -> {replicas} replicas")
        return served

    def restart(self, name: str, predictor: str | None) -> Served:
        """Replace processes by fresh ones: new replicas first, old ones stop once those are ready."""
        served = self.get(name)
        targets = [served.predictor(predictor).name] if predictor else [p.name for p in served.predictors]
        for target in targets:
            served.nonces[target] = served.nonces.get(target, 0) + 1
        served.predictors, _ = self._load(name, served.manifest, served.registry, served.search_paths,
                                          served.nonces)
        if predictor is None and served.gateway.pid:
            self._begin_stop(served, served.gateway)
        self.event(name, "Normal", "Restarted", "restarting " + (predictor or "every predictor and the gateway"))
        self.wake.set()
        return served

    def set_traffic(self, name: str, weights: dict[str, int], shadow: dict[str, bool] | None) -> Served:
        served = self.get(name)
        shadow = dict(shadow or {})
        for pname in [*weights, *shadow]:
            served.predictor(pname)
        for pname, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100:
                raise InvalidSpec(f"traffic of {pname!r} must be a whole number 0..100, not {w!r}")
        new_shadow = {p.name: shadow.get(p.name, p.shadow) for p in served.predictors}
        new_traffic = {p.name: (0 if new_shadow[p.name] else weights.get(p.name, p.traffic))
                       for p in served.predictors}
        total = sum(new_traffic.values())
        if total != 100:
            shown = ", ".join(f"{n}={w}" for n, w in new_traffic.items() if not new_shadow[n])
            raise InvalidSpec(f"traffic of the non-shadow predictors must sum to 100, not {total} ({shown})",
                              hint="give every predictor's weight, e.g. main=90 canary=10")
        before = _traffic_label(served.predictors)
        self._change(served, traffic=new_traffic, shadow=new_shadow)
        after = _traffic_label(served.predictors)
        if after != before:
            self.event(name, "Normal", "TrafficChanged", f"{before} -> {after}")
        self.reconcile_routes(served)
        return served

    async def delete(self, name: str) -> None:
        served = self.get(name)
        served.deleting = True
        for proc in [served.gateway, *served.replicas]:
            if proc.pid:
                self._begin_stop(served, proc)
        await self._wait_stopped([served])
        self.deployments.pop(name, None)
        self.rollouts.forget(name)
        if self.scraper is not None:
            self.scraper.forget(name)
        for path in (manifest_path(self.home, name), serving_context_path(self.home, name),
                     routes_path(self.home, name)):
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            for f in ports_dir(self.home, name).iterdir():
                f.unlink()
            ports_dir(self.home, name).rmdir()
        self.event(name, "Normal", "Deleted", "deployment deleted; its processes stopped")
        self.persist()

    async def stop_everything(self) -> int:
        """Stop every serving process (deployments stay on disk); the count stopped."""
        self.halted = True
        count = 0
        for served in self.deployments.values():
            for proc in [served.gateway, *served.replicas]:
                if proc.pid:
                    self._begin_stop(served, proc)
                    count += 1
        await self._wait_stopped(list(self.deployments.values()))
        for served in self.deployments.values():
            served.replicas = []
            served.gateway = Proc("gateway", "", 0)
            served.phase, served.message = "Stopped", "local runtime stopped (`mlconsole local up` serves it again)"
        return count

    async def _wait_stopped(self, deps: list[Served]) -> None:
        deadline = time.monotonic() + GRACE + 2
        while time.monotonic() < deadline:
            busy = False
            for served in deps:
                for proc in [served.gateway, *served.replicas]:
                    if proc.stopping:
                        self._check_stopping(served, proc)
                        busy = busy or proc.stopping
            if not busy:
                return
            await asyncio.sleep(0.05)

    # -- processes ----------------------------------------------------------------------------

    def _adopted_alive(self, proc: Proc) -> bool:
        return process_running(proc.pid)

    def _start(self, served: Served, proc: Proc) -> None:
        now = time.time()
        port_file = self.port_file(served, proc)
        port_file.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            port_file.unlink()
        log_path = self.log_path(served, proc)
        if proc.kind == "gateway":
            self.reconcile_routes(served, force=True)
            wanted = served.gateway_port if proc.fixed_port_failures < 2 else None
            argv = procs.gateway_argv(served.name, routes_path(self.home, served.name), port_file, self.home,
                                      port=wanted or 0)
        else:
            argv = procs.graph_server_argv(manifest_path(self.home, served.name), served.name, proc.predictor,
                                           proc.index, port_file, served.registry, self.home)
            rate = fault_rate(served.manifest, proc.predictor)  # a rollback drill's candidate
            if rate > 0:
                argv += ["--fault-rate", f"{rate:g}"]
        try:
            proc.popen = procs.spawn(argv, log_path, procs.child_env(served.search_paths, served.registry),
                                     cwd=Path(served.search_paths[0]) if served.search_paths else self.home)
        except OSError as exc:
            proc.phase, proc.message = "CrashLoopBackOff", f"cannot start: {exc}"
            proc.crashes += 1
            proc.next_start = now + min(BACKOFF_MAX, 2 ** (proc.crashes - 1))
            self.event(served.name, "Warning", "FailedStart", proc.message, proc.label)
            return
        if proc.exited_before:
            proc.restarts += 1
        proc.pid, proc.port, proc.started_at = proc.popen.pid, None, now
        proc.ready, proc.probe_failures = False, 0
        if proc.phase != "CrashLoopBackOff":
            proc.phase = "Pending"
        proc.message = "starting" if not proc.exited_before else proc.message
        restart = f" (restart {proc.restarts})" if proc.restarts else ""
        self.event(served.name, "Normal", "Started", f"{proc.label} started, pid {proc.pid}{restart}", proc.label)

    def _on_exit(self, served: Served, proc: Proc, code: int | None) -> None:
        now = time.time()
        uptime = now - (proc.started_at or now)
        what = procs.describe_exit(code)
        if proc.kind == "gateway" and served.gateway_port and not proc.ever_ready and uptime < 5:
            proc.fixed_port_failures += 1  # maybe its old port is taken: fall back to a free one
        proc.pid, proc.popen, proc.port, proc.ready = None, None, None, False
        proc.exited_before, proc.last_exit_code, proc.last_exit_at = True, code, now
        proc.crashes = 1 if uptime >= STABLE_AFTER else proc.crashes + 1
        delay = min(BACKOFF_MAX, 2.0 ** (proc.crashes - 1))
        proc.next_start = now + delay
        lines = procs.last_log_lines(self.log_path(served, proc))
        crash_loop = proc.crashes >= 2 or not proc.ever_ready
        proc.phase = "CrashLoopBackOff" if crash_loop else "Pending"
        said = f": {procs.log_text(lines[-1])[:200]}" if lines else ""
        # First line: what happened and the process's last word; then its last log lines.
        proc.message = f"{what}, back-off {delay:.0f}s{said}" + ("\n" + "\n".join(lines) if lines else "")
        self.event(served.name, "Warning", "Crashed", f"{proc.label} {what} after {uptime:.1f}s{said}", proc.label)
        if crash_loop:
            self.event(served.name, "Warning", "BackOff", f"back-off {delay:.0f}s restarting {proc.label}",
                       proc.label)

    def _begin_stop(self, served: Served, proc: Proc) -> None:
        """Take proc out of the routes, then SIGTERM it; _check_stopping finishes the job."""
        proc.stopping, proc.ready, proc.phase = True, False, "Terminating"
        proc.stop_deadline = time.monotonic() + GRACE
        self.reconcile_routes(served)
        if proc.pid:
            procs.signal_group(proc.pid, signal.SIGTERM)

    def _check_stopping(self, served: Served, proc: Proc) -> None:
        exited = proc.pid is None or (proc.popen.poll() is not None if proc.popen is not None
                                      else not self._adopted_alive(proc))
        if not exited and time.monotonic() >= proc.stop_deadline:
            procs.signal_group(proc.pid, signal.SIGKILL)
            return
        if exited:
            proc.pid, proc.popen, proc.port, proc.stopping, proc.phase = None, None, None, False, "Terminated"
            if proc in served.replicas:
                served.replicas.remove(proc)
            elif proc is served.gateway:
                served.gateway = Proc("gateway", "", 0, restarts=proc.restarts)

    # -- the reconcile loop -------------------------------------------------------------------

    async def reconcile(self) -> None:
        for served in list(self.deployments.values()):
            try:
                await self.reconcile_one(served)
            except Exception:  # one broken deployment must not stop the others being served
                log.error("reconciling %s failed:\n%s", served.name, traceback.format_exc())
        if time.monotonic() - self._last_log_check > LOG_CHECK_EVERY:
            self._last_log_check = time.monotonic()
            for served in self.deployments.values():
                for proc in [served.gateway, *served.replicas]:
                    procs.rotate_log(self.log_path(served, proc))
        self.persist()

    async def reconcile_one(self, served: Served) -> None:
        now = time.time()
        everything = [served.gateway, *served.replicas]
        # 1. notice exits and finish stops
        for proc in everything:
            if proc.stopping:
                self._check_stopping(served, proc)
                continue
            if proc.pid is None:
                continue
            if proc.popen is not None:
                code = proc.popen.poll()
                if code is not None:
                    self._on_exit(served, proc, code)
            elif not procs.is_ours(proc.pid, proc.kind, served.name, proc.predictor, proc.index):
                self._on_exit(served, proc, None)
        if self.halted or served.deleting:
            return
        # 2. ports and readiness
        live = [p for p in [served.gateway, *served.replicas] if p.pid and not p.stopping]
        for proc in live:
            if proc.port is None:
                proc.port = procs.read_port_file(self.port_file(served, proc))
                if proc.port and proc.kind == "gateway":
                    served.gateway_port = proc.port
        probes = [p for p in live if p.port]
        results = await asyncio.gather(*(self.probe(p) for p in probes))
        if self.halted or served.deleting:
            return  # shutting down or deleted while we probed: start nothing new
        for proc, ok in zip(probes, results, strict=True):
            if not proc.stopping:  # a stop begun during the probes must not turn it ready again
                self._readiness(served, proc, ok, now)
        # 3. replicas wanted vs present
        self._scale(served, now)
        # 4. (re)start what is due
        if served.gateway.pid is None and not served.gateway.stopping and served.gateway.next_start <= now:
            self._start(served, served.gateway)
        for proc in served.replicas:
            if proc.pid is None and not proc.stopping and proc.next_start <= now:
                self._start(served, proc)
        # 5. routes and phase
        self.reconcile_routes(served)
        self._phase(served)

    def _readiness(self, served: Served, proc: Proc, ok: bool, now: float) -> None:
        if ok:
            proc.probe_failures = 0
            if not proc.ready:
                proc.ready = True
                first = not proc.ever_ready
                proc.ever_ready, proc.phase, proc.message = True, "Running", ""
                after = f" after {now - proc.started_at:.1f}s" if proc.started_at else ""
                self.event(served.name, "Normal", "Ready",
                           f"{proc.label} ready on port {proc.port}{after}" + ("" if first else " (again)"),
                           proc.label)
            if proc.started_at and now - proc.started_at >= STABLE_AFTER:
                proc.crashes = 0
            return
        proc.probe_failures += 1
        if proc.ready and proc.probe_failures >= PROBE_FAILURES_UNREADY:
            proc.ready, proc.message = False, "readiness probe failing"
            self.event(served.name, "Warning", "Unhealthy", f"{proc.label} stopped answering readiness probes",
                       proc.label)

    def _scale(self, served: Served, now: float) -> None:
        specs = {p.name: p for p in served.predictors}
        for proc in list(served.replicas):
            if proc.predictor not in specs and not proc.stopping:
                self._begin_stop(served, proc)  # predictor removed from the manifest
        for spec in served.predictors:
            for proc in [p for p in served.replicas if p.predictor == spec.name and p.template != spec.template
                         and p.pid is None and not p.stopping]:
                served.replicas.remove(proc)  # an old replica that is not running is not worth restarting
            mine = [p for p in served.replicas if p.predictor == spec.name and not p.stopping]
            current = [p for p in mine if p.template == spec.template]
            outdated = [p for p in mine if p.template != spec.template]
            while len(current) < spec.replicas:
                used = {p.index for p in served.replicas if p.predictor == spec.name}
                index = next(i for i in range(len(used) + 1) if i not in used)
                proc = Proc("graph-server", spec.name, index, template=spec.template, next_start=now)
                served.replicas.append(proc)
                current.append(proc)
            if len(current) > spec.replicas:
                # scale down: not-ready ones first, then the highest index
                extra = sorted(current, key=lambda p: (p.ready, -p.index))[: len(current) - spec.replicas]
                for proc in extra:
                    if proc.pid:
                        self._begin_stop(served, proc)
                    else:
                        served.replicas.remove(proc)
            ready_current = sum(1 for p in current if p.ready)
            # rolling replacement: old processes serve until the new ones are ready
            if outdated and (ready_current >= spec.replicas or spec.replicas == 0):
                for proc in outdated:
                    if proc.pid:
                        self._begin_stop(served, proc)
                    else:
                        served.replicas.remove(proc)
        served.replicas.sort(key=lambda p: (p.predictor, p.index))

    async def probe(self, proc: Proc) -> bool:
        """A graph server is ready when /v2/health/ready answers 200 (its models are loaded); the
        gateway when /v2/health/live does (its own readiness says whether any replica is usable,
        which the supervisor already knows)."""
        import aiohttp

        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT))
        path = "/v2/health/live" if proc.kind == "gateway" else "/v2/health/ready"
        try:
            async with self._http.get(f"http://127.0.0.1:{proc.port}{path}") as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False

    def routes(self, served: Served) -> Routes:
        """The gateway's routes: every predictor's weight, with only its ready replicas as endpoints."""
        preds = []
        mirrors = mirror_percents(served.manifest)
        for spec in served.predictors:
            endpoints = [f"http://127.0.0.1:{p.port}" for p in served.replicas
                         if p.predictor == spec.name and p.ready and p.port and not p.stopping]
            preds.append(RoutePredictor(spec.name, spec.traffic, spec.shadow, endpoints,
                                        mirror=mirrors.get(spec.name, 100.0)))
        ann = served.annotations
        try:
            rate = float(ann.get("mlconsole.io/log-sample-rate", "1.0"))
        except ValueError:
            rate = 1.0
        return Routes(served.name, preds, sticky_header=ann.get("mlconsole.io/sticky-header") or None,
                      log_sample_rate=min(1.0, max(0.0, rate)),
                      log=str(ann.get("mlconsole.io/log", "true")).lower() not in ("false", "0", "no", "off"))

    def reconcile_routes(self, served: Served, force: bool = False) -> None:
        """Rewrite the routes file when what is ready changed, and tell the gateway (SIGHUP)."""
        routes = self.routes(served)
        text = json.dumps(routes.to_dict(), sort_keys=True)
        path = routes_path(self.home, served.name)
        if text == served.routes_text and not (force and not path.exists()):
            return
        write_routes(path, routes)
        changed = text != served.routes_text
        served.routes_text = text
        # Only a gateway that wrote its port file has its SIGHUP handler installed: signalling one still
        # starting would kill it (SIGHUP's default). A starting gateway reads the routes file when it is up.
        if changed and served.gateway.pid and served.gateway.port and not served.gateway.stopping:
            with contextlib.suppress(OSError):
                os.kill(served.gateway.pid, signal.SIGHUP)

    def _phase(self, served: Served) -> None:
        """Available, Progressing, Degraded or Failed, with a message saying what is missing."""
        def up(r: Proc) -> bool:
            return r.ready and not r.stopping

        serving = [p for p in served.predictors if not p.shadow and p.traffic > 0 and p.replicas > 0]
        ready = {p.name: sum(1 for r in served.replicas if r.predictor == p.name and up(r))
                 for p in served.predictors}
        # replicas of the current template: an update is done when these are ready, not the old ones
        fresh = {p.name: sum(1 for r in served.replicas if r.predictor == p.name and up(r)
                             and r.template == p.template) for p in served.predictors}
        looping_new = {p.name: next((r for r in served.replicas if r.predictor == p.name
                                     and r.template == p.template and r.phase == "CrashLoopBackOff"), None)
                       for p in served.predictors}
        failed = [p.name for p in served.predictors if p.replicas > 0 and not ready[p.name]
                  and looping_new[p.name] is not None]
        gateway_ok = served.gateway.ready
        serving_ok = gateway_ok and all(ready[p.name] > 0 for p in serving)
        all_ready = all(fresh[p.name] >= p.replicas for p in served.predictors)
        crashed = any(r.exited_before for r in served.replicas if not r.ready) \
            or (not gateway_ok and served.gateway.exited_before)
        if served.gateway.phase == "CrashLoopBackOff":
            phase = "Failed"
            message = f"gateway crash-looping: {_first_line(served.gateway.message)}"
        elif failed:
            looping = looping_new[failed[0]]
            phase = "Failed"
            message = f"{', '.join(failed)} crash-looping: {_first_line(looping.message if looping else '')}"
        elif serving_ok and all_ready:
            phase, message = "Available", f"serving at {served.url}"
        else:
            missing = []
            if not gateway_ok:
                missing.append("gateway not ready")
            for p in served.predictors:
                if fresh[p.name] >= p.replicas:
                    continue
                looping = looping_new[p.name]
                if looping is not None:
                    missing.append(f"{p.name}: new replicas crash-looping, {ready[p.name]} old still serve "
                                   f"({_first_line(looping.message)})")
                else:
                    missing.append(f"{p.name} {fresh[p.name]}/{p.replicas} ready")
            stuck = any(looping_new[p.name] is not None for p in served.predictors)
            if serving_ok:
                phase = "Degraded" if crashed or stuck else "Progressing"
            else:
                phase = "Degraded" if crashed or served.ever_available else "Progressing"
            message = "waiting for: " + "; ".join(missing) if missing else "starting"
        if phase == "Available" and not served.ever_available:
            served.ever_available = True
        if phase != served.phase:
            kind = "Warning" if phase in ("Failed", "Degraded") else "Normal"
            self.event(served.name, kind, phase, message)
        served.phase, served.message = phase, message

    # -- state on disk ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        out = {}
        for name, served in self.deployments.items():
            ready = {p.name: sum(1 for r in served.replicas if r.predictor == p.name and r.ready)
                     for p in served.predictors}
            out[name] = {
                "name": name, "phase": served.phase, "message": served.message, "url": served.url,
                "created_at": served.created_at, "updated_at": served.updated_at,
                "registry": served.registry, "search_paths": served.search_paths,
                "manifest_path": str(manifest_path(self.home, name)), "manifest_sha": sha(served.manifest),
                "gateway_port": served.gateway_port, "ever_available": served.ever_available,
                "predictors": [{"name": p.name, "traffic": p.traffic, "shadow": p.shadow, "replicas": p.replicas,
                                "ready_replicas": ready[p.name], "template": p.template,
                                "restart_nonce": served.nonces.get(p.name, 0)} for p in served.predictors],
                "gateway": served.gateway.record(self.log_path(served, served.gateway)),
                "replicas": [r.record(self.log_path(served, r)) for r in served.replicas],
            }
        return out

    def supervisor_record(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "port": self.port, "started_at": self.started_at, "registry": self.registry,
                "home": str(self.home)}

    def persist(self, force: bool = False) -> None:
        deployments = self.snapshot()
        record = self.supervisor_record() if not self.stopping.is_set() else None
        rollouts = self.rollouts.snapshot()
        text = json.dumps([deployments, record, rollouts], sort_keys=True, default=str)
        if text == self._last_persisted and not force:
            return

        def change(state: dict[str, Any]) -> None:
            state["deployments"] = deployments
            state["rollouts"] = rollouts
            if record is None:
                state.pop("supervisor", None)
            else:
                state["supervisor"] = record

        update_state(self.home, change)
        self._last_persisted = text

    # -- start: adopt what still runs -------------------------------------------------------------

    async def adopt(self) -> None:
        """Rebuild the model from state.json; keep processes that still serve, restart the rest."""
        state = read_state(self.home)
        checks = []
        for name, rec in sorted(state["deployments"].items()):
            path = manifest_path(self.home, name)
            try:
                text = path.read_text(encoding="utf-8")
                nonces = {p["name"]: int(p.get("restart_nonce", 0)) for p in rec.get("predictors", [])}
                registry = rec.get("registry") or self.registry
                search_paths = list(rec.get("search_paths") or [])
                specs, annotations = self._load(name, text, registry, search_paths, nonces)
            except (OSError, ConsoleError, ValueError, KeyError, TypeError) as exc:
                self.event(name, "Warning", "FailedLoad", f"cannot serve {name}: {exc}")
                continue
            served = Served(name, text, registry, search_paths, rec.get("created_at") or time.time(),
                            rec.get("updated_at") or time.time(), specs, nonces, annotations)
            served.gateway_port = rec.get("gateway_port")
            served.ever_available = bool(rec.get("ever_available"))
            served.phase, served.message = rec.get("phase") or "Progressing", rec.get("message", "")
            self.deployments[name] = served
            gw = rec.get("gateway") or {}
            served.gateway = self._restore(gw, "gateway", "", 0)
            checks.append((served, served.gateway, gw))
            for r in rec.get("replicas") or []:
                if r.get("predictor") not in {p.name for p in specs}:
                    continue
                proc = self._restore(r, "graph-server", r.get("predictor", ""), int(r.get("index", 0)))
                served.replicas.append(proc)
                checks.append((served, proc, r))
        results = await asyncio.gather(*(self._adoptable(s, p, r) for s, p, r in checks))
        for (served, proc, rec), ok in zip(checks, results, strict=True):
            pid = rec.get("pid")
            if ok:
                proc.pid, proc.port = int(pid), int(rec["port"])
                proc.started_at = rec.get("started_at")
                proc.ready = bool(rec.get("ready"))
                proc.ever_ready = bool(rec.get("ever_ready", proc.ready))
                proc.phase = rec.get("phase") or "Running"
                if proc.kind == "gateway":
                    served.gateway_port = proc.port
                self.event(served.name, "Normal", "Adopted", f"{proc.label} pid {pid} still serving on port "
                           f"{proc.port}: adopted", proc.label)
            else:
                if pid and procs.is_ours(pid, proc.kind, served.name, proc.predictor, proc.index):
                    procs.signal_group(int(pid), signal.SIGKILL)  # ours but not answering: replace it
                proc.exited_before = proc.exited_before or bool(pid)
                proc.pid, proc.port, proc.ready, proc.phase = None, None, False, "Pending"
                proc.next_start = 0.0
        for served in self.deployments.values():
            served.routes_text = ""  # rewrite once on the first pass
            self._phase(served)

    def _restore(self, rec: dict[str, Any], kind: str, predictor: str, index: int) -> Proc:
        return Proc(kind, predictor, index, template=rec.get("template", ""), restarts=int(rec.get("restarts", 0)),
                    crashes=int(rec.get("crashes", 0)), last_exit_code=rec.get("last_exit_code"),
                    last_exit_at=rec.get("last_exit_at"), exited_before=bool(rec.get("restarts")),
                    message=rec.get("message", ""))

    async def _adoptable(self, served: Served, proc: Proc, rec: dict[str, Any]) -> bool:
        pid, port = rec.get("pid"), rec.get("port")
        if not pid or not port:
            return False
        if not procs.is_ours(int(pid), proc.kind, served.name, proc.predictor, proc.index):
            return False
        return await tcp_answers(int(port))

    # -- main loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        from backends.local.supervisor_api import start_api

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGCHLD, self.wake.set)  # a child exited: reconcile now
        token = ensure_token(self.home)
        with contextlib.suppress(OSError):
            self._event_lines = len(events_path(self.home).read_bytes().splitlines())
        await self.adopt()
        self.rollouts.load(read_state(self.home)["rollouts"])
        await self.rollouts.resume()  # each active rollout's weights back on its deployment
        from backends.local.scraper import Scraper

        self.scraper = Scraper(self.home)
        self.scraper.load(list(self.deployments))
        scraping = asyncio.create_task(self.scraper.run(self.scrape_targets, self.stopping))
        rolling = asyncio.create_task(self.rollouts.run(self.stopping))
        runner, self.port = await start_api(self, token)
        self.persist(force=True)
        log.info("supervisor pid %s serving the API on 127.0.0.1:%s for %s", os.getpid(), self.port, self.home)
        try:
            while not self.stopping.is_set():
                await self.reconcile()
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_wake_or_stop(), FAST_TICK if self._starting() else TICK)
        finally:
            self.stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(scraping, 2.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rolling, 2.0)
            self.scraper.save(force=True)  # the history survives the restart
            self.persist(force=True)
            await runner.cleanup()
            if self._http is not None:
                await self._http.close()
            log.info("supervisor stopped")

    def scrape_targets(self) -> list[Any]:
        """Every serving process with a port, for the metrics scraper."""
        from backends.local.scraper import Target

        out = []
        for served in self.deployments.values():
            for proc in [served.gateway, *served.replicas]:
                if proc.pid and proc.port and not proc.stopping:
                    out.append(Target(served.name, proc.label, proc.port, proc.started_at))
        return out

    def _starting(self) -> bool:
        now = time.time()
        return any(p.pid and not p.ready and not p.stopping and now - (p.started_at or 0) < 60
                   for served in self.deployments.values() for p in [served.gateway, *served.replicas])

    async def _wait_wake_or_stop(self) -> None:
        wake = asyncio.ensure_future(self.wake.wait())
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({wake, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wake.cancel()
            stop.cancel()


async def tcp_answers(port: int | None, timeout: float = 0.5) -> bool:
    """True if something accepts connections on 127.0.0.1:port."""
    if not port:
        return False
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (TimeoutError, OSError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _first_line(message: str) -> str:
    return (message.splitlines() or [""])[0]


def _traffic_label(specs: list[PredictorSpec]) -> str:
    return " / ".join(f"{p.name} (shadow)" if p.shadow else f"{p.name} {p.traffic}" for p in specs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backends.local.supervisor",
                                     description="the mlconsole local runtime's supervisor")
    parser.add_argument("--home", required=True)
    parser.add_argument("--registry", default=None,
                        help=f"MLflow tracking URI (default: ${REGISTRY_ENV}, else the sqlite store under home)")
    args = parser.parse_args(argv)
    home = Path(args.home).expanduser().resolve()
    ensure_runtime_dir(home)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    lock = open(supervisor_lock_path(home), "a")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.info("another supervisor already serves %s: exiting", home)
        return 0
    from console.config import default_registry_uri

    registry = args.registry or os.environ.get(REGISTRY_ENV) or default_registry_uri(home)
    try:
        asyncio.run(Supervisor(home, registry).run())
    except ConsoleError as exc:  # e.g. a damaged state file: one line in the log, no traceback
        log.error("cannot serve %s: %s", home, exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
