"""Rollouts on Kubernetes: console.rollout's controller, its spec and state kept on the SeldonDeployment.

The spec rides in the `mlconsole.io/rollout` annotation (YAML, as in the local runtime's manifests)
and the state in `mlconsole.io/rollout-state` (RolloutState.to_dict() as JSON, plus the driver's
notes under "driver"), so any console, or `mlconsole rollout controller` running in a pod, picks
a rollout up where another left it. Every change is one merge patch of the predictors and the
state together, conditional on the resourceVersion read: two drivers ticking at once cannot both
win (the loser reads again next tick).

Each tick reads the deployment's figures from the metrics port (Prometheus with Seldon's metric
names on a cluster); no metrics backend, or one without data, makes the gates inconclusive: a
rollout is never promoted on missing data. Promotion happens in two steps, as in the local
runtime: the candidate takes 100% while the stable predictor takes its graph; once Seldon has
rolled the stable predictor's Deployments out, stable takes 100% and the candidate goes.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from backends.kubernetes import seldon
from backends.kubernetes.cluster import set_predictor_traffic
from console.errors import Conflict, ConsoleError, InvalidSpec, NotFound

if TYPE_CHECKING:
    from backends.kubernetes.cluster import KubernetesCluster

log = logging.getLogger("mlconsole.kubernetes.rollouts")

ACTOR = "mlconsole rollout controller (kubernetes)"
DRIVER_KEY = "driver"  # the driver's notes inside the state annotation
NOTES_KEY = "local"  # where rollout_status() shows them: the key the CLI and screens read
KEEP_MEASUREMENTS = 60  # annotations share 256 KiB per object: the newest history only
KEEP_TRANSITIONS = 60
DEFAULT_WINDOW = 30.0
SETTLE_SECONDS = 60.0  # a promotion that never changes the Deployments' generation is judged after this
FINISH_WAIT = 600.0  # then promote anyway, with a warning event
NO_OPERATOR = "no operator reports on this object: nothing will roll out"
METRICS_TTL = 5.0
TICK = 1.0
APPS = "/apis/apps/v1/namespaces/{namespace}/deployments"


# -- reading the annotations ----------------------------------------------------------------------


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def state_record(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The state annotation as a dict, or None (no rollout, or unreadable)."""
    raw = _annotations(obj).get(seldon.STATE_ANNOTATION)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def rollout_summary(obj: dict[str, Any], qualified: bool = False) -> Any:
    """A RolloutSummary from the annotation's top-level keys (no rollout package needed)."""
    from console.types import RolloutSummary

    data = state_record(obj)
    if data is None:
        return None
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", data.get("deployment", "?")))
    try:
        weight = int(data.get("canary_weight", 0) or 0)
    except (TypeError, ValueError):
        weight = 0
    phase = str(data.get("phase", "Unknown"))
    if (data.get(DRIVER_KEY) or {}).get("finishing") and phase == "Completed":
        phase = "Progressing"  # still swapping the stable predictor's graph: not over yet
    return RolloutSummary(deployment=f"{meta.get('namespace', '')}/{name}" if qualified else name,
                          strategy=str(data.get("strategy", "?")), phase=phase, step=str(data.get("step", "")),
                          canary_weight=weight, namespace=str(meta.get("namespace", "")),
                          message=str(data.get("message", "")))


def load_state(obj: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(RolloutState, the driver's notes); NotFound when the deployment has no rollout."""
    from console.rollout.state import RolloutState

    data = state_record(obj)
    name = (obj.get("metadata") or {}).get("name", "?")
    if data is None:
        raise NotFound(f"no rollout of {name!r}", target=name,
                       hint=f"`mlconsole rollout start {name} --manifest FILE` starts one")
    notes = data.pop(DRIVER_KEY, None)
    return RolloutState.from_dict(data), dict(notes) if isinstance(notes, dict) else {}


def dump_state(state: Any, notes: dict[str, Any]) -> str:
    data = state.to_dict()
    data["measurements"] = data["measurements"][-KEEP_MEASUREMENTS:]
    data["transitions"] = data["transitions"][-KEEP_TRANSITIONS:]
    data[DRIVER_KEY] = notes
    return json.dumps(data, separators=(",", ":"), default=str)


# -- the actions, applied to a copy of the object ---------------------------------------------------


def _find(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((p for p in seldon.predictors(obj) if p.get("name") == name), None)


class ObjectActions:
    """RolloutActions that change a copy of the SeldonDeployment (patched afterwards, in one request);
    registry aliases and the audit log are changed at once."""

    def __init__(self, cluster: KubernetesCluster, obj: dict[str, Any], notes: dict[str, Any], actor: str,
                 now: float | None = None) -> None:
        self.cluster = cluster
        self.obj = obj
        self.notes = notes
        self.actor = actor
        self.now = time.time() if now is None else now
        meta = obj.get("metadata") or {}
        self.target = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        self.spec: Any = None  # set by the caller once the state is known

    def set_traffic(self, weights: dict[str, int], shadow: dict[str, bool]) -> None:
        spec = self.spec
        if spec is not None and _find(self.obj, spec.candidate) is None:
            self._add_candidate()  # a retry after an abort: the candidate comes back
        names = {str(p.get("name")) for p in seldon.predictors(self.obj)}
        set_predictor_traffic(self.obj, {k: int(v) for k, v in weights.items() if k in names},
                              {k: bool(v) for k, v in (shadow or {}).items() if k in names})
        if spec is not None and spec.strategy in ("shadow", "bluegreen") and shadow.get(spec.candidate):
            candidate = _find(self.obj, spec.candidate)
            if candidate is not None:  # Seldon mirrors a shadow's `traffic` percent of the requests
                candidate["traffic"] = int(spec.mirror_percent)

    def _add_candidate(self) -> None:
        candidate = self.notes.get("candidate")
        if not isinstance(candidate, dict):
            raise NotFound(f"the candidate of {self.target}'s rollout is gone and was not recorded",
                           hint="start a new rollout with the candidate's manifest")
        added = copy.deepcopy(candidate)
        added["traffic"], added["shadow"] = 0, False
        self.obj["spec"]["predictors"].append(added)

    def finish(self, promoted: bool) -> None:
        spec = self.spec
        stable, candidate = _find(self.obj, spec.stable), _find(self.obj, spec.candidate)
        if stable is None:
            raise NotFound(f"{self.target} has no stable predictor {spec.stable!r} any more")
        if not promoted or candidate is None:
            self.obj["spec"]["predictors"] = [p for p in seldon.predictors(self.obj)
                                              if p.get("name") != spec.candidate]
            stable["traffic"], stable["shadow"] = 100, False
            self.notes.pop("finishing", None)
            return
        # First half: the candidate serves everything while stable's pods take its graph (Seldon rolls
        # them out as a Deployment update); the second half waits for that rollout.
        new_stable = copy.deepcopy(candidate)
        new_stable["name"] = spec.stable
        if "replicas" in stable:
            new_stable["replicas"] = stable["replicas"]
        else:
            new_stable.pop("replicas", None)
        new_stable["traffic"], new_stable["shadow"] = 0, False
        candidate["traffic"], candidate["shadow"] = 100, False
        self.obj["spec"]["predictors"] = [new_stable if p is stable else p for p in seldon.predictors(self.obj)]
        self.notes["finishing"] = {"promoted": True, "since": self.now,
                                   "generations": generations(stable_deployments(self.cluster, self.obj,
                                                                                 spec.stable))}

    def move_alias(self, model: str, alias: str, version: str | None) -> str | None:
        from backends.mlflow.registry import MlflowRegistry
        from console.rollout.alias_move import point_alias

        if not self.cluster.registry:
            raise ConsoleError("no model registry configured for this rollout's alias",
                               hint="give --registry (or MLFLOW_TRACKING_URI) to the console or controller")
        before, changed = point_alias(MlflowRegistry(self.cluster.registry), model, alias, version)
        if changed:  # a controller retrying a tick records the move once
            self._audit("registry.alias.set" if version is not None else "registry.alias.delete",
                        f"{model}@{alias}", f"v{before}" if before else "", "" if version is None else f"v{version}",
                        f"rollout of {self.target}")
        return before

    def audit(self, action: str, before: str, after: str, reason: str) -> None:
        self._audit(action, self.target, before, after, reason)

    def _audit(self, action: str, target: str, before: str, after: str, reason: str) -> None:
        if self.cluster.home is None:
            return
        from console.governance.audit import AuditLog

        AuditLog(self.cluster.home).append(action, target, before=str(before or ""), after=str(after or ""),
                                           reason=f"{reason}; cluster {self.cluster.endpoint}".strip("; "),
                                           actor=self.actor)


# -- Seldon's Deployments of a predictor ----------------------------------------------------------------


def stable_deployments(cluster: KubernetesCluster, obj: dict[str, Any], predictor: str) -> list[dict[str, Any]] | None:
    """The apps/v1 Deployments Seldon runs for one predictor (named <deployment>-<predictor>-...);
    None when they cannot be read."""
    meta = obj.get("metadata") or {}
    name, namespace = str(meta.get("name")), str(meta.get("namespace"))
    try:
        body = cluster.api.request("GET", APPS.format(namespace=namespace), "deployments",
                                   {"labelSelector": f"seldon-deployment-id={name}"}) or {}
    except NotFound:  # no apps API (an emulator), or no Deployments at all
        body = {}
    except ConsoleError:
        return None
    return [d for d in body.get("items") or []
            if str((d.get("metadata") or {}).get("name", "")).startswith(f"{name}-{predictor}-")]


def generations(found: list[dict[str, Any]] | None) -> dict[str, int]:
    return {str(d["metadata"].get("name")): int(d["metadata"].get("generation") or 0) for d in found or []}


def stable_rolled_out(cluster: KubernetesCluster, obj: dict[str, Any], predictor: str, before: dict[str, int],
                      waited: float) -> tuple[bool, str]:
    """Whether Seldon has rolled the stable predictor's new graph out, as `kubectl rollout status` judges
    its Deployments: each one present at the promotion changed generation since (or SETTLE_SECONDS
    passed: a change that left the pod template alone), and runs its current template everywhere.
    (True, NO_OPERATOR) when no operator manages this object."""
    found = stable_deployments(cluster, obj, predictor)
    if found is None:
        return False, f"cannot read {predictor}'s Deployments"
    if not found:
        if not obj.get("status"):
            return True, NO_OPERATOR
        return False, f"waiting for Seldon to create {predictor}'s Deployments"
    for d in found:
        dmeta, dspec, dstatus = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
        name, generation = str(dmeta.get("name")), int(dmeta.get("generation") or 0)
        if name in before and generation <= before[name] and waited < SETTLE_SECONDS:
            return False, f"waiting for Seldon to update {name}"
        want = int(dspec.get("replicas", 1) or 0)
        updated = int(dstatus.get("updatedReplicas") or 0)
        if int(dstatus.get("observedGeneration") or 0) < generation or updated < want \
                or int(dstatus.get("availableReplicas") or 0) < want or int(dstatus.get("replicas") or 0) > updated:
            return False, f"waiting for {name} to roll out ({updated}/{want} updated)"
    return True, ""


# -- persisting ---------------------------------------------------------------------------------------


def _persist(cluster: KubernetesCluster, live: dict[str, Any], changed: dict[str, Any], state: Any,
             notes: dict[str, Any], extra_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """One conditional merge patch: the predictors (when they changed) and the state annotation."""
    meta = live.get("metadata") or {}
    annotations = {seldon.STATE_ANNOTATION: dump_state(state, notes), **(extra_annotations or {})}
    patch: dict[str, Any] = {"metadata": {"annotations": annotations}}
    if meta.get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta["resourceVersion"]
    if seldon.predictors(changed) != seldon.predictors(live):
        patch["spec"] = {"predictors": seldon.predictors(changed)}
    from backends.kubernetes.api import FIELD_MANAGER, MERGE_PATCH

    answer = cluster.api.request("PATCH", seldon.object_path(meta["namespace"], meta["name"]),
                                 f"SeldonDeployment {meta['name']} (rollout)", {"fieldManager": FIELD_MANAGER},
                                 body=patch, content_type=MERGE_PATCH)
    return answer if isinstance(answer, dict) and answer.get("spec") is not None else changed


def _event_for(cluster: KubernetesCluster, obj: dict[str, Any], before: Any, after: Any) -> None:
    from console.rollout.controller import traffic_text

    if before is not None and (before.phase, before.step_index) == (after.phase, after.step_index):
        return
    kind = "Warning" if after.phase in ("Aborted", "Failed", "Inconclusive") else "Normal"
    message = f"step {after.step_index}: {traffic_text(after.weights, after.shadow)}"
    if after.message:
        message += f" — {after.message}"
    cluster.emit_event(obj, kind, f"Rollout{after.phase}", message)


# -- requests: start, status, commands ------------------------------------------------------------------


def _candidate_predictor(text: str, spec: Any, stable: dict[str, Any]) -> dict[str, Any]:
    """The candidate manifest's first predictor (CRD-valid, as exported), renamed, at 0%."""
    from console.graph.export import to_seldon
    from console.graph.manifest_io import load_manifest

    data = to_seldon(load_manifest(text, "candidate manifest"))
    preds = seldon.predictors(data)
    if not preds:
        raise InvalidSpec("the candidate manifest has no predictor", hint="give a SeldonDeployment with a graph")
    first = copy.deepcopy(preds[0])
    first["name"], first["traffic"], first["shadow"] = spec.candidate, 0, False
    if "replicas" not in first and "replicas" in stable:
        first["replicas"] = stable["replicas"]
    return first


class RolloutStore:
    """The request side: start a rollout, read it, command it — each one conditional patch."""

    def __init__(self, cluster: KubernetesCluster) -> None:
        self.cluster = cluster

    def status(self, name: str) -> dict[str, Any]:
        obj = self.cluster.read(name)
        data = state_record(obj)
        if data is None:
            raise NotFound(f"no rollout of {name!r} in {self.cluster.endpoint}", target=name,
                           hint=f"`mlconsole rollout start {name} --manifest FILE` starts one")
        notes = data.pop(DRIVER_KEY, None) or {}
        data[NOTES_KEY] = {k: v for k, v in notes.items() if k != "candidate"}
        return data

    def start(self, name: str, candidate_manifest: str, spec_text: str | None) -> Any:
        from console.governance.audit import default_actor
        from console.rollout import controller
        from console.rollout.spec import default_canary, dump_spec, load_spec

        actor = default_actor()
        spec = load_spec(spec_text) if spec_text and spec_text.strip() else None  # InvalidSpec before changes
        if spec is not None and spec.fault_rate:
            raise InvalidSpec("fault injection (--fault) is a drill of the local runtime's serving processes",
                              hint="on Kubernetes, drill a rollback with a candidate that really fails")
        for attempt in range(3):
            live = self.cluster.read(name)
            record = state_record(live)
            if record is not None:
                from console.rollout.state import ACTIVE_PHASES

                if record.get("phase") in ACTIVE_PHASES:
                    raise Conflict(f"a rollout of {name!r} is already {record.get('phase')}",
                                   hint=f"`mlconsole rollout status {name}`; abort it before starting another",
                                   target=name)
                if (record.get(DRIVER_KEY) or {}).get("finishing"):
                    raise Conflict(f"the last rollout of {name!r} is still finishing",
                                   hint="try again once Seldon has rolled the stable predictor out", target=name)
            obj = copy.deepcopy(live)
            preds = seldon.predictors(obj)
            serving = [p for p in preds if not p.get("shadow") and int(p.get("traffic") or 0) > 0]
            if len(serving) == 0 and len([p for p in preds if not p.get("shadow")]) == 1:
                serving = [p for p in preds if not p.get("shadow")]  # Seldon: the only one serves all
            if spec is None:
                if len(serving) != 1:
                    raise InvalidSpec(f"{name!r} has no single serving predictor to roll out from",
                                      hint="give a strategy file naming `stable`")
                spec = default_canary(stable=str(serving[0].get("name")), candidate="canary")
            names = [str(p.get("name")) for p in preds]
            if spec.stable not in names:
                raise InvalidSpec(f"the rollout's stable predictor {spec.stable!r} is not a predictor of {name!r}",
                                  hint=f"predictors: {', '.join(names)}; set `stable:` in the strategy file",
                                  target=spec.stable)
            if spec.candidate in names:
                raise Conflict(f"{name!r} already has a predictor {spec.candidate!r}",
                               hint="remove it, or name the candidate otherwise (`candidate:` in the strategy)",
                               target=spec.candidate)
            others = [str(p.get("name")) for p in serving if p.get("name") != spec.stable]
            if others:
                raise InvalidSpec(f"{', '.join(others)} also take traffic of {name!r}: the stable predictor "
                                  f"{spec.stable!r} must take all of it before a rollout",
                                  hint=f"`mlconsole traffic-split {name} {spec.stable}=100 ...` first")
            candidate = _candidate_predictor(candidate_manifest, spec, _find(obj, spec.stable) or {})
            obj["spec"]["predictors"].append(candidate)
            notes: dict[str, Any] = {"candidate": candidate}
            actions = ObjectActions(self.cluster, obj, notes, actor)
            actions.spec = spec
            state = controller.start(str(live["metadata"]["name"]), spec, time.time(), actor, actions)
            try:
                saved = _persist(self.cluster, live, actions.obj, state, notes,
                                 {seldon.SPEC_ANNOTATION: dump_spec(spec)})
            except Conflict:
                if attempt == 2:
                    raise
                continue
            self.cluster.emit_event(saved, "Normal", "RolloutStarted",
                                    f"{spec.strategy} rollout: {spec.candidate} beside {spec.stable}")
            return state.summary(str(live["metadata"].get("namespace", "")))
        raise Conflict(f"{name} kept changing", hint="retry")  # pragma: no cover

    def command(self, name: str, verb: str) -> Any:
        from console.governance.audit import default_actor
        from console.rollout import controller

        actor = default_actor()
        for attempt in range(3):
            live = self.cluster.read(name)
            state, notes = load_state(live)
            obj = copy.deepcopy(live)
            actions = ObjectActions(self.cluster, obj, notes, actor)
            actions.spec = state.spec
            new_state = controller.command(state, verb, time.time(), actor, actions)  # Conflict: refused
            try:
                saved = _persist(self.cluster, live, actions.obj, new_state, notes)
            except Conflict:
                if attempt == 2:
                    raise
                continue
            _event_for(self.cluster, saved, state, new_state)
            return new_state.summary(str(live["metadata"].get("namespace", "")))
        raise Conflict(f"{name} kept changing", hint="retry")  # pragma: no cover


# -- the controller loop ------------------------------------------------------------------------------------


class RolloutController:
    """Ticks every active rollout in the cluster backend's scope: in a console, or `rollout controller`."""

    def __init__(self, cluster: KubernetesCluster, metrics: Any = None, actor: str = ACTOR) -> None:
        self.cluster = cluster
        self.metrics = metrics
        self.actor = actor
        self._metrics_cache: dict[tuple[str, float], tuple[float, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    # -- the loop ------------------------------------------------------------------------------

    def start(self, interval: float = TICK) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, args=(interval,), daemon=True,
                                            name="rollout controller")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run(self, interval: float = TICK, until: Any = None) -> None:
        """Tick every `interval` seconds until stop() (or until(results) says so)."""
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                results = self.run_once()
            except ConsoleError as exc:
                log.info("rollout controller: %s", exc)
                results = None
            if until is not None and until(results):
                return
            self._stop.wait(max(0.05, interval - (time.monotonic() - began)))

    def run_once(self, now: float | None = None) -> list[tuple[str, Any]]:
        """One tick of every rollout that is active (or finishing): [(deployment, summary after)]."""
        from console.rollout.state import ACTIVE_PHASES

        out = []
        for obj in self.cluster._sdeps():
            record = state_record(obj)
            if record is None:
                continue
            if record.get("phase") not in ACTIVE_PHASES and not (record.get(DRIVER_KEY) or {}).get("finishing"):
                continue
            meta = obj.get("metadata") or {}
            label = f"{meta.get('namespace')}/{meta.get('name')}"
            try:
                out.append((label, self.tick(label, now)))
            except Conflict:
                continue  # another driver changed it first: read it again next tick
            except ConsoleError as exc:
                log.warning("rollout of %s: %s", label, exc)
        self.ticks += 1
        return out

    def tick(self, name: str, now: float | None = None) -> Any:
        """One tick of one rollout (name 'namespace/name'): finish what a promotion left, else analyse and step."""
        from console.rollout import controller

        now = time.time() if now is None else now
        live = self.cluster.read(name)
        state, notes = load_state(live)
        obj = copy.deepcopy(live)
        actions = ObjectActions(self.cluster, obj, notes, self.actor, now)
        actions.spec = state.spec
        if notes.get("finishing"):
            return rollout_summary(self._continue_finish(live, actions, state, now) or live)
        if not state.is_active:
            return rollout_summary(live)
        metrics = self._metrics(str(live["metadata"]["name"]), state.spec, now)
        new_state = controller.tick(state, now, metrics, actions)
        if json.dumps(new_state.to_dict(), sort_keys=True, default=str) == \
                json.dumps(state.to_dict(), sort_keys=True, default=str) and actions.obj == live:
            return rollout_summary(live)
        saved = _persist(self.cluster, live, actions.obj, new_state, notes)
        _event_for(self.cluster, saved, state, new_state)
        if notes.get("finishing"):
            self.cluster.emit_event(saved, "Normal", "RolloutPromoting",
                                    f"{state.spec.candidate} serves 100% while {state.spec.stable} takes its graph")
        return rollout_summary(saved)

    # -- promotion, second half -------------------------------------------------------------------

    def _continue_finish(self, live: dict[str, Any], actions: ObjectActions, state: Any,
                         now: float) -> dict[str, Any] | None:
        """The object once the promotion is over; None while it waits."""
        spec, notes = state.spec, actions.notes
        finishing = notes["finishing"]
        waited = now - float(finishing.get("since") or now)
        ready, why = stable_rolled_out(self.cluster, live, spec.stable, finishing.get("generations") or {},
                                       waited)
        if not ready and waited < FINISH_WAIT:
            if finishing.get("waiting") != why:
                finishing["waiting"] = why
                _persist(self.cluster, live, live, state, notes)
            return None
        obj = actions.obj
        obj["spec"]["predictors"] = [p for p in seldon.predictors(obj) if p.get("name") != spec.candidate]
        kept = _find(obj, spec.stable)
        if kept is not None:
            kept["traffic"], kept["shadow"] = 100, False
        notes.pop("finishing", None)
        saved = _persist(self.cluster, live, obj, state, notes)
        if ready:
            self.cluster.emit_event(saved, "Normal", "RolloutPromoted",
                                    f"{spec.stable} serves the new graph at 100%; {spec.candidate} removed")
        else:
            self.cluster.emit_event(saved, "Warning", "RolloutPromoted",
                                    f"{spec.stable} not rolled out after {FINISH_WAIT:.0f}s ({why}); "
                                    f"{spec.candidate} removed anyway")
        return saved

    # -- metrics ------------------------------------------------------------------------------------

    def _metrics(self, name: str, spec: Any, now: float) -> Any:
        """{window: DeploymentMetrics} for the gates, None when the metrics port has nothing to say."""
        from console.rollout.controller import analysis_windows

        if self.metrics is None:
            return None
        windows = analysis_windows(spec) or (DEFAULT_WINDOW,)
        out = {}
        for window in windows:
            key = (name, float(window))
            hit = self._metrics_cache.get(key)
            if hit is not None and now - hit[0] < METRICS_TTL:
                figures = hit[1]
            else:
                try:
                    figures = self.metrics.deployment_metrics(name, float(window))
                except ConsoleError:
                    figures = None  # down, or the deployment never seen: the gates are inconclusive
                except Exception:  # noqa: BLE001 - a metrics bug must not stop the rollout loop
                    log.exception("metrics of %s", name)
                    figures = None
                self._metrics_cache[key] = (now, figures)
            if figures is None:
                return None
            out[float(window)] = figures
        return out
