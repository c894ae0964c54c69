"""Rollouts in the local runtime: console.rollout's controller, driven inside the supervisor.

The supervisor owns one RolloutDriver. Each second, for every active rollout, it reads the
deployment's figures from the supervisor's own metrics window (no HTTP), measures shadow
agreement from the gateway's request log when the strategy is shadow (and, for fairness gates,
each predictor's demographic-parity difference on the logged requests), calls the controller's
`tick`, persists the state into state.json `rollouts[NAME]`, and applies what the controller
asked for to the served deployment:

- set_traffic: the stable and candidate predictors' weights and shadow flags (the routes are
  rewritten and the gateway told at once, as `traffic-split` does);
- finish(promoted=False): the candidate predictor goes, the stable one takes 100%, in one change;
- finish(promoted=True): the candidate takes 100% while the stable predictor gets the candidate's
  graph (a rolling replacement: its new replicas are ready before the old ones stop); once they
  are, the stable one takes 100% and the candidate predictor goes. Nobody is served the old
  version again while that happens;
- move_alias: the deployment's MLflow registry (only when the spec names an alias);
- audit: the audit log, as "mlconsole-supervisor (rollout controller)" for automatic
  transitions, as the person who asked for user verbs.

Controller calls run in a worker thread (a registry call may take a second); the cluster
changes they ask for are recorded there and applied on the event loop afterwards, so the
supervisor's model is only ever changed from the loop. A supervisor restart reloads every
rollout from state.json and carries on at the same step, re-applying the step's weights.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

from console.errors import Conflict, ConsoleError, InvalidSpec, NotFound

if TYPE_CHECKING:
    from backends.local.supervisor import Served, Supervisor

log = logging.getLogger("mlconsole.supervisor")

ACTOR = "mlconsole-supervisor (rollout controller)"
FAULT_ANNOTATION = "mlconsole.io/fault-rate"  # on the candidate predictor: its replicas get --fault-rate
MIRROR_ANNOTATION = "mlconsole.io/mirror-percent"  # on a shadow predictor: the share of requests it sees
TICK = 1.0
READY_WAIT = 60.0  # a new candidate not ready after this long is analysed anyway (its figures are missing)
DEFAULT_WINDOW = 30.0
VERBS = {"promote": "promote", "promote-full": "promote_full", "promote_full": "promote_full",
         "pause": "pause", "resume": "resume", "abort": "abort", "retry": "retry"}
LOCAL_KEY = "local"  # the driver's own notes inside a persisted rollout record


def verb_of(text: str) -> str:
    """The controller's verb for a command word ('promote-full' -> 'promote_full'); InvalidSpec if unknown."""
    verb = VERBS.get(str(text).strip().lower())
    if verb is None:
        raise InvalidSpec(f"unknown rollout command {text!r}",
                          hint="one of: promote, promote-full, pause, resume, abort, retry")
    return verb


# -- manifests ------------------------------------------------------------------------------------


def manifest_dict(text: str, source: str = "<deployed manifest>") -> dict[str, Any]:
    """A manifest as a plain mapping (a copy: changing it changes nothing else)."""
    from console.graph.manifest_io import load_manifest
    from console.graph.spec import deployment_to_dict

    return copy.deepcopy(deployment_to_dict(load_manifest(text, source)))


def manifest_text(data: dict[str, Any]) -> str:
    from console.graph.manifest_io import dump_yaml
    from console.graph.spec import deployment_from_dict

    return dump_yaml(deployment_from_dict(data))


def _predictors(data: dict[str, Any]) -> list[dict[str, Any]]:
    spec = data.setdefault("spec", {})
    return spec.setdefault("predictors", [])


def _find(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((p for p in _predictors(data) if p.get("name") == name), None)


def _without_fault(predictor: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(predictor)
    annotations = out.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(FAULT_ANNOTATION, None)
        if not annotations:
            out.pop("annotations")
    return out


@functools.lru_cache(maxsize=128)
def _annotated_numbers(text: str, key: str) -> dict[str, float]:
    """Predictor -> the number its `key` annotation holds, for those that have a readable one.

    Cached: the supervisor asks on every reconcile, and the manifest text rarely changes.
    """
    try:
        data = manifest_dict(text)
    except ConsoleError:
        return {}
    out = {}
    for p in _predictors(data):
        annotations = p.get("annotations") if isinstance(p.get("annotations"), dict) else {}
        if key in annotations:
            with contextlib.suppress(TypeError, ValueError):
                out[str(p.get("name"))] = float(annotations[key] or 0)
    return out


def mirror_percents(text: str) -> dict[str, float]:
    """Predictor -> the percentage of requests mirrored to it (its MIRROR_ANNOTATION), when set."""
    return {name: min(100.0, max(0.0, pct)) for name, pct in _annotated_numbers(text, MIRROR_ANNOTATION).items()}


def fault_rate(manifest: str, predictor: str) -> float:
    """The fault rate a predictor's replicas inject (its FAULT_ANNOTATION), 0 when none."""
    rate = _annotated_numbers(manifest, FAULT_ANNOTATION).get(predictor, 0.0)
    return min(1.0, rate) if rate > 0 else 0.0


# -- shadow agreement -------------------------------------------------------------------------------


def _same(a: tuple, b: tuple) -> bool:
    """Two answers agree: equal, or numbers within 1e-6, or (several columns) the same argmax."""
    if len(a) != len(b):
        return False
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (*a, *b))
    if numbers:
        if all(abs(x - y) <= 1e-6 for x, y in zip(a, b, strict=True)):
            return True
        return len(a) > 1 and max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__)
    return a == b


def shadow_agreement(home: Any, deployment: str, stable: str, candidate: str, seconds: float) -> float | None:
    """Share of logged requests (last `seconds`) where the shadow candidate answered as the stable one did;
    None when no request has both answers logged yet."""
    from console.data.request_log import read_requests

    sample = read_requests(home, deployment, since=max(1.0, seconds), shadow=None, limit=20_000)
    if not sample.predictions or sample.rows == 0:
        return None
    columns = ["id", "predictor", "shadow", *sample.predictions]
    rows = sample.table.select(columns).to_pylist()
    served: dict[str, list[tuple]] = {}
    mirrored: dict[str, list[tuple]] = {}
    for row in rows:
        answer = tuple(row[c] for c in sample.predictions)
        if row["predictor"] == stable and not row["shadow"]:
            served.setdefault(row["id"], []).append(answer)
        elif row["predictor"] == candidate and row["shadow"]:
            mirrored.setdefault(row["id"], []).append(answer)
    common = served.keys() & mirrored.keys()
    if not common:
        return None
    agree = sum(1 for i in common if len(served[i]) == len(mirrored[i])
                and all(_same(a, b) for a, b in zip(served[i], mirrored[i], strict=True)))
    return agree / len(common)


def ab_samples(home: Any, deployment: str, predictors: tuple[str, ...], metric: str,
               seconds: float) -> dict[str, list[float]] | None:
    """Per-request values of an A/B metric, by predictor, from the request log of the last `seconds`:
    latency_* -> the request's latency in seconds; error_rate -> 1 for a 5xx answer, else 0."""
    from console.data.request_log import read_requests

    if not (metric.startswith("latency") or metric == "error_rate"):
        return None
    sample = read_requests(home, deployment, since=seconds, shadow=False, limit=20_000)
    if sample.rows == 0:
        return {p: [] for p in predictors}
    out: dict[str, list[float]] = {p: [] for p in predictors}
    seen: set[str] = set()
    for row in sample.table.select(["id", "predictor", "code", "latency_ms"]).to_pylist():
        if row["predictor"] not in out or row["id"] in seen:
            continue  # one value per request, whatever rows its payload had
        seen.add(row["id"])
        if metric == "error_rate":
            out[row["predictor"]].append(1.0 if (row["code"] or 0) >= 500 else 0.0)
        elif row["latency_ms"] is not None:
            out[row["predictor"]].append(float(row["latency_ms"]) / 1000.0)
    return out


def request_disparities(home: Any, deployment: str, gate: Any, stable: str, candidate: str) -> dict[str, Any]:
    """{candidate, stable, "": Disparity} for one fairness gate, from the request log of its window.

    The prediction column is the gate's (`prediction` or `prediction_<name>`), else the last one;
    requests without the sensitive attribute are left out (the fairness module says how many groups
    it saw, so a log without the attribute reads as inconclusive, never as fair).
    """
    from console.data.request_log import read_requests
    from console.governance.fairness import Disparity, disparity_by_predictor

    sample = read_requests(home, deployment, since=max(1.0, float(gate.window_seconds)), shadow=None,
                           limit=20_000)
    names = (candidate, stable, "")
    if sample.rows == 0 or not sample.predictions:
        return {n: Disparity(None, 0, note="no logged requests with predictions") for n in names}
    if gate.sensitive not in sample.features:
        carried = ", ".join(sample.features[:12]) or "none"
        note = f"the requests carry no {gate.sensitive!r} (they carry: {carried})"
        return {n: Disparity(None, 0, note=note) for n in names}
    wanted = [c for c in (gate.prediction, f"prediction_{gate.prediction}") if gate.prediction]
    column = next((c for c in wanted if c in sample.predictions), None if wanted else sample.predictions[-1])
    if column is None:
        note = f"no prediction column {gate.prediction!r} (the answers have: {', '.join(sample.predictions)})"
        return {n: Disparity(None, 0, note=note) for n in names}
    rows = sample.table.select(["predictor", "shadow", gate.sensitive, column]).to_pylist()
    return disparity_by_predictor(rows, sensitive=gate.sensitive, prediction=column,
                                  threshold=float(gate.decision_threshold), candidate=candidate,
                                  stable=stable)


# -- the actions, as the controller calls them ----------------------------------------------------------


def open_registry(uri: str) -> Any:
    """The deployment's MLflow registry (a function, so tests can stand a fake in for it)."""
    from backends.mlflow.registry import MlflowRegistry

    return MlflowRegistry(uri)


class RecordedActions:
    """RolloutActions for one controller call, run in a worker thread: registry and audit calls
    happen at once; cluster changes are recorded, to be applied on the supervisor's loop."""

    def __init__(self, home: Any, deployment: str, registry: str, actor: str) -> None:
        self.home = home
        self.deployment = deployment
        self.registry = registry
        self.actor = actor
        self.changes: list[tuple[Any, ...]] = []

    def set_traffic(self, weights: dict[str, int], shadow: dict[str, bool]) -> None:
        self.changes.append(("traffic", {k: int(v) for k, v in weights.items()},
                             {k: bool(v) for k, v in (shadow or {}).items()}))

    def finish(self, promoted: bool) -> None:
        self.changes.append(("finish", bool(promoted)))

    def move_alias(self, model: str, alias: str, version: str | None) -> str | None:
        """Point model@alias at version (None: remove the alias); the version it pointed at before."""
        from console.governance.audit import AuditLog
        from console.rollout.alias_move import point_alias

        before, changed = point_alias(open_registry(self.registry), model, alias, version)
        after = "" if version is None else f"v{version}"
        if changed:
            AuditLog(self.home).append("registry.alias.set" if version is not None else "registry.alias.delete",
                                       f"{model}@{alias}", before=f"v{before}" if before else "", after=after,
                                       reason=f"rollout of {self.deployment}", actor=self.actor)
        return before

    def audit(self, action: str, before: str, after: str, reason: str) -> None:
        from console.governance.audit import AuditLog

        AuditLog(self.home).append(action, f"local/{self.deployment}", before=str(before or ""),
                                   after=str(after or ""), reason=str(reason or ""), actor=self.actor)


# -- the driver --------------------------------------------------------------------------------------------


class RolloutDriver:
    """Every rollout of the supervisor's deployments: state, the tick loop, and the changes it makes."""

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup
        self.states: dict[str, Any] = {}  # name -> console.rollout.state.RolloutState
        self.notes: dict[str, dict[str, Any]] = {}  # name -> the driver's own notes (persisted with it)
        self.foreign: dict[str, Any] = {}  # records we cannot read: written back untouched
        self.locks: dict[str, asyncio.Lock] = {}
        self._agreement: dict[str, tuple[float, float | None]] = {}  # name -> (measured at, agreement)
        self._samples: dict[str, tuple[float, dict[str, list[float]] | None]] = {}  # the same for A/B
        self._fairness: dict[str, tuple[float, dict[str, Any] | None]] = {}  # the same for fairness gates

    # -- state ---------------------------------------------------------------------------------

    def load(self, records: dict[str, Any]) -> None:
        """Rebuild from state.json's rollouts (at start); active ones carry on at their step."""
        from console.rollout.state import RolloutState

        for name, rec in sorted((records or {}).items()):
            if not isinstance(rec, dict):
                self.foreign[name] = rec
                continue
            rec = dict(rec)
            notes = rec.pop(LOCAL_KEY, None)
            try:
                state = RolloutState.from_dict(rec)
            except Exception as exc:  # noqa: BLE001 - a record from another version: keep it as it is
                log.warning("rollout %s: cannot read its state (%s): kept as it is", name, exc)
                self.foreign[name] = {**rec, **({LOCAL_KEY: notes} if notes is not None else {})}
                continue
            self.states[name] = state
            self.notes[name] = dict(notes) if isinstance(notes, dict) else {}

    def snapshot(self) -> dict[str, Any]:
        """What goes into state.json `rollouts`."""
        out = dict(self.foreign)
        for name, state in self.states.items():
            out[name] = {**state.to_dict(), LOCAL_KEY: self.notes.get(name, {})}
        return out

    def status(self, name: str) -> dict[str, Any]:
        """The rollout's state as a dict (RolloutState.to_dict()) plus the driver's notes."""
        state = self.states.get(name)
        if state is None:
            if name in self.foreign and isinstance(self.foreign[name], dict):
                return dict(self.foreign[name])
            raise NotFound(f"no rollout of {name!r} in the local runtime",
                           hint=f"`mlconsole rollout start {name} --manifest FILE` starts one", target=name)
        return {**state.to_dict(), LOCAL_KEY: self.notes.get(name, {})}

    def forget(self, name: str) -> None:
        """The deployment was deleted: its rollout goes with it."""
        for store in (self.states, self.notes, self.foreign, self._agreement, self._samples, self._fairness):
            store.pop(name, None)

    def _lock(self, name: str) -> asyncio.Lock:
        return self.locks.setdefault(name, asyncio.Lock())

    def _persist(self) -> None:
        try:
            self.sup.persist()
        except Exception:  # noqa: BLE001 - next tick tries again
            log.error("cannot persist rollout state:\n%s", traceback.format_exc())

    # -- commands from the API --------------------------------------------------------------------

    async def start(self, name: str, candidate_manifest: str, spec_text: str | None,
                    search_paths: list[str], actor: str) -> dict[str, Any]:
        """Add the candidate predictor beside the stable one and start the controller."""
        from console.rollout import controller
        from console.rollout.spec import ANNOTATION, default_canary, dump_spec, load_spec

        served = self.sup.get(name)
        async with self._lock(name):
            current = self.states.get(name)
            if current is not None and current.is_active:
                raise Conflict(f"a rollout of {name!r} is already {current.phase}",
                               hint=f"`mlconsole rollout status {name}`; abort it before starting another",
                               target=name)
            if self.notes.get(name, {}).get("finishing"):
                raise Conflict(f"the last rollout of {name!r} is still finishing",
                               hint="try again in a few seconds", target=name)
            deployed = manifest_dict(served.manifest)
            serving = [p for p in served.predictors if not p.shadow and p.traffic > 0]
            if spec_text is None or not spec_text.strip():
                if len(serving) != 1:
                    raise InvalidSpec(f"{name!r} has no single serving predictor to roll out from "
                                      f"({_traffic(served)})", hint="give a strategy file naming `stable`")
                spec = default_canary(stable=serving[0].name, candidate="canary")
            else:
                spec = load_spec(spec_text)
            names = [p.name for p in served.predictors]
            if spec.stable not in names:
                raise InvalidSpec(f"the rollout's stable predictor {spec.stable!r} is not a predictor of {name!r}",
                                  hint=f"predictors: {', '.join(names)}; set `stable:` in the strategy file",
                                  target=spec.stable)
            if spec.candidate in names:
                raise Conflict(f"{name!r} already has a predictor {spec.candidate!r}",
                               hint="remove it, or name the candidate otherwise (`candidate:` in the strategy)",
                               target=spec.candidate)
            others = [p.name for p in serving if p.name != spec.stable]
            if others:
                raise InvalidSpec(f"{', '.join(others)} also take traffic of {name!r}: the stable predictor "
                                  f"{spec.stable!r} must take all of it before a rollout",
                                  hint=f"`mlconsole traffic-split {name} {spec.stable}=100 ...` first")
            candidate = _candidate_predictor(candidate_manifest, spec, _find(deployed, spec.stable) or {})
            _predictors(deployed).append(candidate)
            meta = deployed.setdefault("metadata", {})
            meta.setdefault("annotations", {})[ANNOTATION] = dump_spec(spec)
            paths = list(dict.fromkeys([*served.search_paths, *search_paths]))
            was = (served.manifest, list(served.search_paths), current, self.notes.get(name))
            self.sup.apply(manifest_text(deployed), paths, served.registry)
            self.notes[name] = {"candidate": candidate, "candidate_since": time.time()}
            self._agreement.pop(name, None)
            try:
                await self._controller(name, actor, lambda _, actions: controller.start(
                    name, spec, time.time(), actor, actions))
            except Exception:
                # The controller refused: the deployment goes back to what it was.
                self.sup.apply(was[0], was[1], served.registry)
                self.sup.reconcile_routes(served)
                if was[2] is None:
                    self.states.pop(name, None)
                else:
                    self.states[name] = was[2]
                self.notes[name] = was[3] or {}
                raise
            self.foreign.pop(name, None)  # an unreadable old record of this name is replaced
            self.sup.event(name, "Normal", "RolloutStarted",
                           f"{spec.strategy} rollout: {spec.candidate} beside {spec.stable}"
                           + (f"; injecting {spec.fault_rate:.0%} faults in {spec.candidate}" if spec.fault_rate
                              else ""))
        return self.status(name)

    async def command(self, name: str, verb: str, actor: str) -> dict[str, Any]:
        """promote, promote_full, pause, resume, abort or retry (Conflict when the state refuses it)."""
        from console.rollout import controller

        verb = verb_of(verb)
        self.sup.get(name)
        async with self._lock(name):
            state = self.states.get(name)
            if state is None:
                raise NotFound(f"no rollout of {name!r} in the local runtime", target=name,
                               hint=f"`mlconsole rollout start {name} --manifest FILE` starts one")
            if verb == "retry":
                self.notes.setdefault(name, {})["candidate_since"] = time.time()
                self.notes[name].pop("ready_seen", None)
            await self._controller(name, actor, lambda current, actions: controller.command(
                current, verb, time.time(), actor, actions))
        return self.status(name)

    # -- the loop -----------------------------------------------------------------------------------------

    async def resume(self) -> None:
        """After a (re)start: put each active rollout's weights back on its deployment, as recorded."""
        for name, state in self.states.items():
            if not state.is_active or name not in self.sup.deployments:
                continue
            notes = self.notes.setdefault(name, {})
            notes.pop("ready_seen", None)  # after `local down` the candidate starts again: judge it once ready
            notes["candidate_since"] = time.time()
            try:
                self._set_traffic(name, dict(state.weights or {}), dict(state.shadow or {}))
                self.sup.event(name, "Normal", "RolloutResumed",
                               f"{state.spec.strategy} rollout resumed at step {state.step_index} "
                               f"({_weights(state)})")
            except ConsoleError as exc:
                self.sup.event(name, "Warning", "RolloutResumeFailed", str(exc))

    async def run(self, stopping: asyncio.Event) -> None:
        """Tick every active rollout about once a second until the supervisor stops."""
        while not stopping.is_set():
            began = time.monotonic()
            for name in list(self.states):
                if stopping.is_set() or self.sup.halted:
                    break
                try:
                    await self.step(name)
                except Exception:  # noqa: BLE001 - one rollout's trouble must not stop the others
                    log.error("rollout %s: tick failed:\n%s", name, traceback.format_exc())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), max(0.05, TICK - (time.monotonic() - began)))

    async def step(self, name: str) -> None:
        """One tick of one rollout: finish what a finished one left, else measure and call the controller."""
        from console.rollout import controller

        served = self.sup.deployments.get(name)
        state = self.states.get(name)
        if served is None or state is None or served.deleting:
            return
        notes = self.notes.setdefault(name, {})
        if notes.get("finishing"):
            self._continue_finish(name, served)
        if not state.is_active:
            return
        now = time.time()
        waiting = self._waiting_for_candidate(name, state, served, now)
        if waiting:
            if notes.get("waiting") != waiting:
                notes["waiting"] = waiting
                self._persist()
            return
        notes.pop("waiting", None)
        metrics = self._metrics(name, state.spec, now)
        spec = state.spec
        agreement = await self._shadow_agreement(name, state, now) if spec.strategy == "shadow" else None
        samples = await self._ab_samples(name, state, now) \
            if spec.strategy == "ab" and spec.ab_test == "mann-whitney" else None
        fairness = await self._disparities(name, state, now) \
            if any(g.metric == "fairness" for g in spec.gates) else None
        async with self._lock(name):
            state = self.states.get(name)
            if state is None or not state.is_active:
                return
            await self._controller(name, ACTOR, lambda current, actions: controller.tick(
                current, now, metrics, actions, agreement, samples, fairness))

    async def _controller(self, name: str, actor: str, call: Any) -> None:
        """Run one controller call in a thread, then apply its cluster changes here and persist.

        The call gets a copy of the state (the loop keeps reading the original meanwhile) and the
        actions; it returns the new state.
        """
        served = self.sup.get(name)
        actions = RecordedActions(self.sup.home, name, served.registry, actor)
        before = self.states.get(name)
        new_state = await asyncio.to_thread(call, copy.deepcopy(before), actions)
        self.states[name] = new_state
        for change in actions.changes:
            try:
                if change[0] == "traffic":
                    self._set_traffic(name, change[1], change[2])
                elif change[0] == "finish":
                    self._finish(name, change[1])
            except ConsoleError as exc:
                self.sup.event(name, "Warning", "RolloutActionFailed", f"{change[0]}: {exc}")
        if before is None or (before.phase, before.step_index) != (new_state.phase, new_state.step_index):
            kind = "Warning" if new_state.phase in ("Aborted", "Failed", "Inconclusive") else "Normal"
            self.sup.event(name, kind, f"Rollout{new_state.phase}",
                           f"step {new_state.step_index}: {_weights(new_state)}"
                           + (f" — {new_state.message}" if getattr(new_state, "message", "") else ""))
        self._persist()

    def _waiting_for_candidate(self, name: str, state: Any, served: Served, now: float) -> str:
        """Why the controller should not judge yet ('' when it should): a new candidate still starting."""
        notes = self.notes[name]
        candidate = state.spec.candidate
        if notes.get("ready_seen") or candidate not in {p.name for p in served.predictors}:
            return ""
        if any(r.predictor == candidate and r.ready and not r.stopping for r in served.replicas):
            notes["ready_seen"] = True
            return ""
        since = float(notes.get("candidate_since") or now)
        if now - since > READY_WAIT:
            return ""
        crashing = any(r.predictor == candidate and r.phase == "CrashLoopBackOff" for r in served.replicas)
        return "" if crashing else f"waiting for {candidate} to be ready"

    def _metrics(self, name: str, spec: Any, now: float) -> Any:
        """{window seconds: DeploymentMetrics} for each window the gates read, from the supervisor's
        in-process window (no HTTP); None when it holds no data for the deployment."""
        from console.rollout.controller import analysis_windows

        scraper = self.sup.scraper
        window = scraper.window.deployments.get(name) if scraper is not None else None
        if window is None or window.last_at is None:
            return None
        windows = analysis_windows(spec)
        if not windows:
            return window.metrics(DEFAULT_WINDOW, now=now)
        return {seconds: window.metrics(seconds, now=now) for seconds in windows}

    async def _shadow_agreement(self, name: str, state: Any, now: float) -> float | None:
        """Agreement of the shadow with stable, recomputed once per analysis interval (it reads Parquet)."""
        spec = state.spec
        cached = self._agreement.get(name)
        if cached is not None and now - cached[0] < max(1.0, float(spec.analysis_interval)):
            return cached[1]
        seconds = max((float(g.window_seconds) for g in spec.gates), default=DEFAULT_WINDOW)
        started = float(getattr(state, "started_at", 0) or 0)
        if started:
            seconds = min(seconds, max(1.0, now - started))
        try:
            value = await asyncio.to_thread(shadow_agreement, self.sup.home, name, spec.stable, spec.candidate,
                                            seconds)
        except Exception as exc:  # noqa: BLE001 - no agreement figure is missing data, not a crash
            log.warning("rollout %s: cannot measure shadow agreement: %s", name, exc)
            value = None
        self._agreement[name] = (now, value)
        return value

    async def _ab_samples(self, name: str, state: Any, now: float) -> dict[str, list[float]] | None:
        """Per-request values of the A/B metric by predictor since the split began (Mann-Whitney's input),
        read from the gateway's request log once per analysis interval."""
        spec = state.spec
        cached = self._samples.get(name)
        if cached is not None and now - cached[0] < max(1.0, float(spec.analysis_interval)):
            return cached[1]
        since = max(1.0, now - float(getattr(state, "step_started_at", 0) or state.started_at or now))
        try:
            value = await asyncio.to_thread(ab_samples, self.sup.home, name, (spec.stable, spec.candidate),
                                            spec.ab_metric, since)
        except Exception as exc:  # noqa: BLE001 - no samples: the decision waits (inconclusive), never guesses
            log.warning("rollout %s: cannot read A/B samples: %s", name, exc)
            value = None
        self._samples[name] = (now, value)
        return value

    async def _disparities(self, name: str, state: Any, now: float) -> dict[str, Any] | None:
        """{gate key: {predictor: Disparity}} for the fairness gates, read from the request log once per
        analysis interval (it reads Parquet)."""
        spec = state.spec
        cached = self._fairness.get(name)
        if cached is not None and now - cached[0] < max(1.0, float(spec.analysis_interval)):
            return cached[1]

        def measure() -> dict[str, Any]:
            return {g.key: request_disparities(self.sup.home, name, g, spec.stable, spec.candidate)
                    for g in spec.gates if g.metric == "fairness"}

        try:
            value = await asyncio.to_thread(measure)
        except Exception as exc:  # noqa: BLE001 - no figure is missing data (inconclusive), not a crash
            log.warning("rollout %s: cannot measure fairness: %s", name, exc)
            value = None
        self._fairness[name] = (now, value)
        return value

    # -- applying the controller's changes ------------------------------------------------------------------

    def _set_traffic(self, name: str, weights: dict[str, int], shadow: dict[str, bool]) -> None:
        served = self.sup.get(name)
        spec = self.states[name].spec
        if spec.candidate not in {p.name for p in served.predictors}:
            self._add_candidate(name, served)  # a retry after an abort: the candidate comes back
        pair = (spec.stable, spec.candidate)
        flags = {p: bool(shadow.get(p, False)) for p in pair}
        wanted = {p: int(weights.get(p, 0)) for p in pair}
        current = {p.name: (p.traffic, p.shadow) for p in served.predictors if p.name in pair}
        if all(current.get(p) == (0 if flags[p] else wanted[p], flags[p]) for p in pair):
            return
        self.sup.set_traffic(name, wanted, flags)

    def _add_candidate(self, name: str, served: Served) -> None:
        candidate = self.notes.get(name, {}).get("candidate")
        if not isinstance(candidate, dict):
            raise NotFound(f"the candidate of {name!r}'s rollout is gone and was not recorded",
                           hint="start a new rollout with the candidate's manifest")
        data = manifest_dict(served.manifest)
        added = copy.deepcopy(candidate)
        added["traffic"], added["shadow"] = 0, False
        _predictors(data).append(added)
        self.sup.apply(manifest_text(data), served.search_paths, served.registry)
        notes = self.notes.setdefault(name, {})
        notes["candidate_since"] = time.time()
        notes.pop("ready_seen", None)

    def _finish(self, name: str, promoted: bool) -> None:
        served = self.sup.get(name)
        spec = self.states[name].spec
        data = manifest_dict(served.manifest)
        stable, candidate = _find(data, spec.stable), _find(data, spec.candidate)
        notes = self.notes.setdefault(name, {})
        if stable is None:
            raise NotFound(f"{name!r} has no stable predictor {spec.stable!r} any more")
        if not promoted or candidate is None:
            # Rollback: one change, so the gateway's next routes send everything to stable.
            data["spec"]["predictors"] = [p for p in _predictors(data) if p.get("name") != spec.candidate]
            stable["traffic"], stable["shadow"] = 100, False
            self._apply(served, data)
            notes.pop("finishing", None)
            if promoted:
                self.sup.event(name, "Warning", "RolloutPromoted",
                               f"{spec.candidate} was gone: {spec.stable} keeps its graph at 100%")
            else:
                self.sup.event(name, "Warning", "RolloutRolledBack",
                               f"{spec.candidate} removed; {spec.stable} takes 100%")
            return
        # Promotion, first half: the candidate serves everything while stable's replicas take its graph.
        new_stable = _without_fault(candidate)
        new_stable["name"] = spec.stable
        if "replicas" in stable:
            new_stable["replicas"] = stable["replicas"]
        else:
            new_stable.pop("replicas", None)
        new_stable["traffic"], new_stable["shadow"] = 0, False
        candidate["traffic"], candidate["shadow"] = 100, False
        data["spec"]["predictors"] = [new_stable if p is stable else p for p in _predictors(data)]
        self._apply(served, data)
        notes["finishing"] = {"promoted": True, "since": time.time()}
        self.sup.event(name, "Normal", "RolloutPromoting",
                       f"{spec.candidate} serves 100% while {spec.stable} takes its graph")
        self._continue_finish(name, served)

    def _continue_finish(self, name: str, served: Served) -> None:
        """Promotion, second half: once stable's new replicas are ready, it takes 100% and the candidate goes."""
        spec = self.states[name].spec
        notes = self.notes[name]
        stable = next((p for p in served.predictors if p.name == spec.stable), None)
        if stable is None:
            notes.pop("finishing", None)
            return
        fresh = sum(1 for r in served.replicas if r.predictor == stable.name and r.template == stable.template
                    and r.ready and not r.stopping)
        if fresh < stable.replicas:
            waiting = f"waiting for {fresh}/{stable.replicas} new {stable.name} replicas"
            if notes["finishing"].get("waiting") != waiting:
                notes["finishing"]["waiting"] = waiting
                self._persist()
            return
        data = manifest_dict(served.manifest)
        data["spec"]["predictors"] = [p for p in _predictors(data) if p.get("name") != spec.candidate]
        kept = _find(data, spec.stable)
        if kept is not None:
            kept["traffic"], kept["shadow"] = 100, False
        self._apply(served, data)
        notes.pop("finishing", None)
        self.sup.event(name, "Normal", "RolloutPromoted",
                       f"{spec.stable} serves the new graph at 100%; {spec.candidate} removed")
        self._persist()

    def _apply(self, served: Served, data: dict[str, Any]) -> None:
        self.sup.apply(manifest_text(data), served.search_paths, served.registry)
        self.sup.reconcile_routes(served)  # the routes change now, not at the next reconcile


def _candidate_predictor(text: str, spec: Any, stable: dict[str, Any]) -> dict[str, Any]:
    """The candidate manifest's first predictor, renamed to the spec's candidate, at 0%."""
    from backends.local.manifests import parse
    from console.graph.spec import deployment_to_dict

    dep, _ = parse(text, "candidate manifest")
    if not dep.predictors:
        raise InvalidSpec("the candidate manifest has no predictor", hint="give a SeldonDeployment with a graph")
    first = copy.deepcopy(deployment_to_dict(dep)["spec"]["predictors"][0])
    first["name"], first["traffic"], first["shadow"] = spec.candidate, 0, False
    if "replicas" not in first and "replicas" in stable:
        first["replicas"] = stable["replicas"]
    annotations = dict(first.get("annotations") or {})
    annotations.pop(FAULT_ANNOTATION, None)
    annotations.pop(MIRROR_ANNOTATION, None)
    if spec.fault_rate and float(spec.fault_rate) > 0:
        annotations[FAULT_ANNOTATION] = f"{min(1.0, float(spec.fault_rate)):g}"
    if spec.strategy in ("shadow", "bluegreen") and 0 <= spec.mirror_percent < 100:
        annotations[MIRROR_ANNOTATION] = f"{int(spec.mirror_percent)}"
    if annotations:
        first["annotations"] = annotations
    else:
        first.pop("annotations", None)
    return first


def _traffic(served: Served) -> str:
    return " / ".join(f"{p.name} (shadow)" if p.shadow else f"{p.name} {p.traffic}" for p in served.predictors)


def _weights(state: Any) -> str:
    weights = dict(getattr(state, "weights", None) or {})
    shadow = dict(getattr(state, "shadow", None) or {})
    parts = [f"{p} (shadow)" if shadow.get(p) else f"{p} {w}" for p, w in weights.items()]
    parts += [f"{p} (shadow)" for p, on in shadow.items() if on and p not in weights]
    return " / ".join(parts) or "no weights"
