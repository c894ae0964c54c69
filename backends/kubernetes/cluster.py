"""ClusterBackend on Kubernetes with Seldon Core: SeldonDeployments, their pods, events and logs.

One kubeconfig context and one namespace ('all' for every namespace, where names read
'namespace/name'). Reads of the lists come from list+watch mirrors (watch.py) once a view reads
them twice; single objects are read fresh. Changes:
- apply: server-side apply (field manager `mlconsole`); a server without it (HTTP 415) gets a
  JSON merge patch that also removes what the manifest dropped;
- scale, traffic, restart: a merge patch of the predictors, conditional on the resourceVersion
  read (a concurrent change answers 409: read again, retry);
- restart: a timestamp annotation on the predictor's componentSpecs' pod metadata, which Seldon
  copies to its Deployments' pod templates: a rolling restart, as `kubectl rollout restart`.
Rollouts keep their spec and state in annotations (rollouts.py); any console or
`mlconsole rollout controller` ticks them.
"""

from __future__ import annotations

import copy
import difflib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backends.kubernetes import kubeconfig, seldon
from backends.kubernetes.api import APPLY_PATCH, FIELD_MANAGER, MERGE_PATCH, KubeApi
from backends.kubernetes.errors import SELDON_HINT, UnsupportedPatch
from backends.kubernetes.events import event_body, events_path, to_events
from backends.kubernetes.pods import SELDON_ID, SELECTOR, PodRecord, pods_path, ready_counts, record, replicas
from backends.kubernetes.watch import Mirror, list_pages
from console.errors import Conflict, ConsoleError, Forbidden, InvalidSpec, NotFound
from console.types import (
    ClusterEvent,
    DeploymentDetail,
    DeploymentSummary,
    Health,
    HealthState,
    ReplicaInfo,
    RolloutSummary,
)

DISCOVERY = f"/apis/{seldon.GROUP}/{seldon.VERSION}"
HEALTH_TIMEOUT = 5.0
RETRIES = 3  # a conditional patch that met a concurrent change is read and tried again this often


class KubernetesCluster:
    """SeldonDeployments in one kubeconfig context and namespace."""

    kind = "kubernetes"

    def __init__(self, context: str, namespace: str | None = None, home: Path | None = None,
                 registry: str | None = None) -> None:
        self.context = context
        self._namespace_setting = namespace
        self._namespace: str | None = None
        self.home = Path(home) if home is not None else None
        self.registry = registry
        self.api = KubeApi(context, context)
        self._mirrors: dict[str, Mirror] = {}
        self._access: Any = None
        self._controller: Any = None
        self._lock = threading.Lock()

    # -- where ----------------------------------------------------------------------------------

    @property
    def all_namespaces(self) -> bool:
        return kubeconfig.is_all_namespaces(self._namespace_setting)

    @property
    def namespace(self) -> str:
        """The namespace changes go to: the one chosen, else the context's (as kubectl), else 'default'."""
        if self._namespace is None:
            chosen = self._namespace_setting
            if chosen and not self.all_namespaces:
                self._namespace = chosen
            else:
                try:
                    self._namespace = kubeconfig.context_namespace(self.context)
                except Exception:  # noqa: BLE001 - an unreadable kubeconfig: loading the client says why
                    self._namespace = "default"
        return self._namespace

    @property
    def scope(self) -> str | None:
        """The namespace lists read: None across all of them."""
        return None if self.all_namespaces else self.namespace

    @property
    def endpoint(self) -> str:
        return f"{self.context} / {'all namespaces' if self.all_namespaces else self.namespace}"

    def _split(self, name: str) -> tuple[str, str]:
        """(namespace, name) of 'name' or 'namespace/name'."""
        if "/" in name:
            namespace, _, bare = name.partition("/")
            return namespace, bare
        if not self.all_namespaces:
            return self.namespace, name
        found = [obj for obj in self._sdeps() if (obj.get("metadata") or {}).get("name") == name]
        if len(found) > 1:
            spaces = ", ".join(sorted(str(o["metadata"].get("namespace")) for o in found))
            raise InvalidSpec(f"{name!r} exists in several namespaces ({spaces})",
                              hint=f"name it NAMESPACE/{name}", target=name)
        if not found:
            return self.namespace, name
        return str(found[0]["metadata"].get("namespace", self.namespace)), name

    def _label(self, namespace: str, name: str) -> str:
        return f"{namespace}/{name}" if self.all_namespaces else name

    # -- mirrors ----------------------------------------------------------------------------------

    def _mirror(self, key: str, make: Callable[[], Mirror]) -> Mirror:
        with self._lock:
            if key not in self._mirrors:
                self._mirrors[key] = make()
            return self._mirrors[key]

    def _sdep_mirror(self) -> Mirror:
        return self._mirror("sdeps", lambda: Mirror(self.api, seldon.collection_path(self.scope),
                                                   seldon.RESOURCE, lambda obj: obj))

    def _pod_mirror(self) -> Mirror:
        return self._mirror("pods", lambda: Mirror(self.api, pods_path(self.scope), "pods", record,
                                                  params={"labelSelector": SELECTOR}))

    def close(self) -> None:
        """Stop the watches and the rollout controller (the console switched context or quit)."""
        with self._lock:
            mirrors, self._mirrors = list(self._mirrors.values()), {}
        for mirror in mirrors:
            mirror.close()
        if self._controller is not None:
            self._controller.stop()

    def _crd_missing(self) -> bool:
        try:
            self.api.request("GET", DISCOVERY, "the machinelearning.seldon.io API group", timeout=HEALTH_TIMEOUT)
        except NotFound:
            return True
        except ConsoleError:
            return False
        return False

    def _seldon_error(self, exc: ConsoleError) -> ConsoleError:
        """A 404 on the SeldonDeployment collection is most often Seldon missing: say so."""
        if isinstance(exc, NotFound) and self._crd_missing():
            return NotFound(f"Seldon Core is not installed in cluster {self.context}: the SeldonDeployment "
                            "CRD (machinelearning.seldon.io/v1) is missing", hint=SELDON_HINT)
        return exc

    def _sdeps(self) -> list[dict[str, Any]]:
        try:
            return self._sdep_mirror().items()
        except ConsoleError as exc:
            raise self._seldon_error(exc) from exc

    def _all_pods(self) -> list[PodRecord] | None:
        """Every Seldon pod in scope; None when RBAC hides pods (the operator's status then counts)."""
        try:
            return self._pod_mirror().items()
        except Forbidden:
            return None

    # -- health -----------------------------------------------------------------------------------

    def health(self) -> Health:
        now = time.time()
        try:
            doc = self.api.request("GET", DISCOVERY, "the machinelearning.seldon.io API group",
                                   timeout=HEALTH_TIMEOUT) or {}
        except NotFound:
            return Health(HealthState.DEGRADED, f"Seldon Core is not installed: no SeldonDeployment CRD — "
                                                f"{SELDON_HINT}", self.endpoint, now)
        except ConsoleError as exc:
            return Health(HealthState.DOWN, str(exc), self.endpoint, now)
        except Exception as exc:  # noqa: BLE001 - health never raises
            return Health(HealthState.DOWN, f"{type(exc).__name__}: {exc}", self.endpoint, now)
        names = {str(r.get("name")) for r in doc.get("resources") or [] if isinstance(r, dict)}
        if names and seldon.PLURAL not in names:
            return Health(HealthState.DEGRADED, f"the Seldon API group has no {seldon.PLURAL}: {SELDON_HINT}",
                          self.endpoint, now)
        where = "all namespaces" if self.all_namespaces else f"namespace {self.namespace}"
        return Health(HealthState.UP, f"Seldon Core v1 CRD present; {where}", self.endpoint, now)

    # -- reads ------------------------------------------------------------------------------------

    def list_deployments(self) -> list[DeploymentSummary]:
        objs = self._sdeps()
        pods = self._all_pods()
        counts = ready_counts(pods) if pods is not None else None
        out = []
        for obj in sorted(objs, key=lambda o: ((o.get("metadata") or {}).get("namespace", ""),
                                               (o.get("metadata") or {}).get("name", ""))):
            meta = obj.get("metadata") or {}
            ready = None if counts is None else counts.get((meta.get("namespace", ""), meta.get("name", "")), {})
            out.append(seldon.summary(obj, ready, qualified=self.all_namespaces))
        return out

    def list_rollouts(self) -> list[RolloutSummary]:
        from backends.kubernetes.rollouts import rollout_summary

        out = []
        for obj in self._sdeps():
            found = rollout_summary(obj, qualified=self.all_namespaces)
            if found is not None:
                out.append(found)
        return sorted(out, key=lambda r: (r.namespace, r.deployment))

    def read(self, name: str) -> dict[str, Any]:
        """The SeldonDeployment object as the API server holds it now."""
        namespace, bare = self._split(name)
        try:
            return self.api.request("GET", seldon.object_path(namespace, bare), f"SeldonDeployment {bare}") or {}
        except NotFound as exc:
            err = self._seldon_error(exc)
            if err is not exc:
                raise err from exc
            raise NotFound(f"no SeldonDeployment {bare!r} in namespace {namespace}",
                           hint="`mlconsole get deployments` lists them (`-n all` across namespaces)",
                           target=name) from exc

    def _pods_of(self, namespace: str, name: str) -> list[PodRecord] | None:
        """The deployment's pods (by Seldon's label; filtered here too: some servers ignore selectors)."""
        out = []
        try:
            for page, _ in list_pages(self.api, pods_path(namespace), f"pods of {name}",
                                      {"labelSelector": f"{SELDON_ID}={name}"}):
                for pod in page:
                    rec = record(pod)
                    if rec is not None and rec.deployment == name:
                        out.append(rec)
        except Forbidden:
            return None
        return out

    def get_deployment(self, name: str) -> DeploymentDetail:
        obj = self.read(name)
        meta = obj.get("metadata") or {}
        namespace, bare = str(meta.get("namespace", "")), str(meta.get("name", name))
        pods = self._pods_of(namespace, bare)
        counts = ready_counts(pods).get((namespace, bare), {}) if pods is not None else None
        summary = seldon.summary(obj, counts, qualified=self.all_namespaces)
        updated = max((seldon.parse_time(m.get("time")) or 0.0 for m in meta.get("managedFields") or []
                       if isinstance(m, dict)), default=0.0) or None
        return DeploymentDetail(summary=summary, manifest=seldon.manifest_yaml(obj),
                                replicas=replicas(pods or [], self._label(namespace, bare)), gateway=None,
                                updated_at=updated)

    def list_replicas(self, name: str) -> list[ReplicaInfo]:
        namespace, bare = self._split(name)
        pods = self._pods_of(namespace, bare)
        if pods is None:
            raise Forbidden(f"RBAC hides the pods of {bare} in namespace {namespace}",
                            hint="ask for `list pods` in this namespace", target=name)
        if not pods:
            self.read(name)  # NotFound for a deployment that does not exist
        return replicas(pods, self._label(namespace, bare))

    def events(self, name: str | None = None) -> list[ClusterEvent]:
        if name is not None:
            namespace, bare = self._split(name)
            scope: str | None = namespace
            known = {bare}
        else:
            scope, bare = self.scope, None
            known = {str((o.get("metadata") or {}).get("name", "")) for o in self._sdeps()}
        items: list[dict[str, Any]] = []
        for page, _ in list_pages(self.api, events_path(scope), "events"):
            items += page
        return to_events(items, known, only=bare, qualified=self.all_namespaces)

    # -- logs -------------------------------------------------------------------------------------

    def _log_pods(self, name: str) -> Callable[[], list[PodRecord]]:
        namespace, bare = self._split(name)

        def pods() -> list[PodRecord]:
            found = self._pods_of(namespace, bare)
            if found is None:
                raise Forbidden(f"RBAC hides the pods of {bare}", hint="ask for `list pods` in this namespace")
            if not found:
                self.read(name)
            return found

        return pods

    def logs(self, name: str, predictor: str | None = None, replica: int | None = None,
             tail: int = 200, previous: bool = False) -> list[str]:
        from backends.kubernetes import logs as klogs

        pods = self._log_pods(name)()
        if not pods:
            raise NotFound(f"{name} has no pods yet", target=name,
                           hint="Seldon's operator creates them: `mlconsole get deployments` shows its state")
        chosen = klogs.sources(pods, predictor, replica)
        self._check_predictor(name, predictor, chosen)
        out: list[str] = []
        for source in chosen:
            lines = klogs.tail(self.api, source, tail, previous)
            out.extend(f"{source.label} | {line}" if len(chosen) > 1 else line for line in lines)
        return out

    def follow_logs(self, name: str, predictor: str | None = None, replica: int | None = None,
                    tail: int = 20, stop: threading.Event | None = None,
                    previous: bool = False) -> Iterator[str]:
        from backends.kubernetes import logs as klogs

        return klogs.follow(self.api, self._log_pods(name), predictor, replica, tail,
                            stop or threading.Event(), previous)

    def _check_predictor(self, name: str, predictor: str | None, chosen: list) -> None:
        if predictor in (None, "gateway") or chosen:
            return
        known = [p.name for p in seldon.summary(self.read(name)).predictors]
        if predictor not in known:
            raise NotFound(f"deployment {name!r} has no predictor {predictor!r}",
                           hint="predictors: " + ", ".join(known) + " (or 'gateway')", target=predictor)

    # -- changes ----------------------------------------------------------------------------------

    def _body(self, manifest_text: str) -> dict[str, Any]:
        from console.graph.manifest_io import load_manifest
        from console.graph.validate import validate

        dep = load_manifest(manifest_text, "<manifest>")
        # Checks that hold anywhere; imports and the registry are the CLI's and screens' to check.
        errors = [p for p in validate(dep, registry=None, check_imports=False) if p.is_error]
        if errors:
            raise InvalidSpec(f"{dep.name or 'manifest'}: {errors[0].format('<manifest>')}",
                              hint="; ".join(p.format("<manifest>") for p in errors[1:4]))
        return seldon.from_manifest(manifest_text, self.namespace)

    def _applied(self, live: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """What the object becomes once `body` is applied: our labels and annotations merged, our spec."""
        after = copy.deepcopy(live)
        meta, new_meta = after.setdefault("metadata", {}), body.get("metadata") or {}
        for key in ("labels", "annotations"):
            if new_meta.get(key):
                meta[key] = {**(meta.get(key) or {}), **new_meta[key]}
        after["spec"] = copy.deepcopy(body.get("spec") or {})
        return after

    def diff(self, manifest_text: str) -> str:
        body = self._body(manifest_text)
        meta = body["metadata"]
        try:
            live = self.read(f"{meta['namespace']}/{meta['name']}")
        except NotFound as exc:
            if "not installed" in str(exc):
                raise
            return "created"
        old, new = seldon.comparable_yaml(live), seldon.comparable_yaml(self._applied(live, body))
        return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                            fromfile=f"{meta['name']} (deployed)", tofile=f"{meta['name']} (new)"))

    def apply(self, manifest_text: str, search_paths: Sequence[str] = ()) -> DeploymentSummary:
        body = self._body(manifest_text)
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            live = self.read(f"{namespace}/{name}")
        except NotFound as exc:
            if "not installed" in str(exc):
                raise
            live = None
        if live is None:
            try:
                answer = self.api.request("POST", seldon.collection_path(namespace), f"SeldonDeployment {name}",
                                          {"fieldManager": FIELD_MANAGER}, body=body)
                return self._answer(answer, body)
            except Conflict:  # created meanwhile: apply over it
                live = self.read(f"{namespace}/{name}")
            except NotFound as exc:
                raise self._seldon_error(exc) from exc
        path = seldon.object_path(namespace, name)
        try:
            answer = self.api.request("PATCH", path, f"SeldonDeployment {name}",
                                      {"fieldManager": FIELD_MANAGER, "force": True}, body=body,
                                      content_type=APPLY_PATCH)
        except UnsupportedPatch:
            answer = self.api.request("PATCH", path, f"SeldonDeployment {name}", {"fieldManager": FIELD_MANAGER},
                                      body=_merge_patch(live, body), content_type=MERGE_PATCH)
        return self._answer(answer, body)

    def _answer(self, answer: Any, sent: dict[str, Any]) -> DeploymentSummary:
        """The summary of what the server answered (a server that answers nothing: of what we sent)."""
        obj = answer if isinstance(answer, dict) and answer.get("spec") is not None else sent
        return seldon.summary(obj, None, qualified=self.all_namespaces)

    def modify(self, name: str, change: Callable[[dict[str, Any]], None], what: str) -> dict[str, Any]:
        """Read the object, change a copy, patch what changed on condition nobody else changed it first.

        `change` edits the copy in place (spec, metadata.annotations); a 409 reads again and retries.
        """
        for attempt in range(RETRIES):
            live = self.read(name)
            meta = live.get("metadata") or {}
            wanted = copy.deepcopy(live)
            change(wanted)
            patch: dict[str, Any] = {"metadata": {"resourceVersion": meta.get("resourceVersion")}}
            if wanted.get("spec") != live.get("spec"):
                patch["spec"] = {k: v for k, v in (wanted.get("spec") or {}).items()
                                 if (live.get("spec") or {}).get(k) != v}
            old_ann = meta.get("annotations") or {}
            new_ann = (wanted.get("metadata") or {}).get("annotations") or {}
            if new_ann != old_ann:
                patch["metadata"]["annotations"] = {k: new_ann.get(k) for k in set(old_ann) | set(new_ann)
                                                    if old_ann.get(k) != new_ann.get(k)}
            if not meta.get("resourceVersion"):
                patch["metadata"].pop("resourceVersion")
            if len(patch) == 1 and len(patch["metadata"]) <= 1:
                return live
            try:
                answer = self.api.request("PATCH", seldon.object_path(meta["namespace"], meta["name"]),
                                          f"SeldonDeployment {meta['name']} ({what})",
                                          {"fieldManager": FIELD_MANAGER}, body=patch, content_type=MERGE_PATCH)
            except Conflict:
                if attempt == RETRIES - 1:
                    raise
                continue
            return answer if isinstance(answer, dict) and answer.get("spec") is not None else wanted
        raise Conflict(f"{name} kept changing while we changed it", hint="retry")  # pragma: no cover

    def _predictor(self, obj: dict[str, Any], predictor: str) -> dict[str, Any]:
        for p in seldon.predictors(obj):
            if p.get("name") == predictor:
                return p
        known = ", ".join(str(p.get("name")) for p in seldon.predictors(obj))
        raise NotFound(f"{obj['metadata']['name']!r} has no predictor {predictor!r}", hint=f"predictors: {known}",
                       target=predictor)

    def scale(self, name: str, predictor: str, replicas: int) -> DeploymentSummary:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise InvalidSpec(f"replicas must be a whole number >= 0, not {replicas!r}")

        def change(obj: dict[str, Any]) -> None:
            self._predictor(obj, predictor)["replicas"] = replicas

        return seldon.summary(self.modify(name, change, "scale"), None, qualified=self.all_namespaces)

    def restart(self, name: str, predictor: str | None = None) -> DeploymentSummary:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        bare_pods: list[str] = []

        def change(obj: dict[str, Any]) -> None:
            chosen = [self._predictor(obj, predictor)] if predictor else seldon.predictors(obj)
            for p in chosen:
                specs = p.get("componentSpecs")
                if not specs:
                    bare_pods.append(str(p.get("name")))  # a prepackaged server alone: no pod template to mark
                    continue
                for spec in specs:
                    meta = spec.setdefault("metadata", {})
                    meta.setdefault("annotations", {})[seldon.RESTARTED_ANNOTATION] = stamp

        obj = self.modify(name, change, "restart")
        if bare_pods:
            self._delete_pods(obj, bare_pods)
        return seldon.summary(obj, None, qualified=self.all_namespaces)

    def _delete_pods(self, obj: dict[str, Any], predictor_names: list[str]) -> None:
        """Predictors with no componentSpecs: delete their pods; Seldon's Deployments replace them."""
        meta = obj.get("metadata") or {}
        for rec in self._pods_of(meta["namespace"], meta["name"]) or []:
            if rec.predictor in predictor_names:
                try:
                    self.api.request("DELETE", f"{pods_path(rec.namespace)}/{rec.name}", f"pod {rec.name}")
                except NotFound:
                    continue

    def delete(self, name: str) -> None:
        namespace, bare = self._split(name)
        self.read(name)
        self.api.request("DELETE", seldon.object_path(namespace, bare), f"SeldonDeployment {bare}",
                         {"propagationPolicy": "Foreground"})

    def set_traffic(self, name: str, weights: dict[str, int],
                    shadow: dict[str, bool] | None = None) -> DeploymentSummary:
        def change(obj: dict[str, Any]) -> None:
            set_predictor_traffic(obj, weights, shadow or {})

        return seldon.summary(self.modify(name, change, "traffic"), None, qualified=self.all_namespaces)

    def emit_event(self, obj: dict[str, Any], kind: str, reason: str, message: str) -> None:
        """A Kubernetes Event about the deployment; best effort (RBAC may forbid creating events)."""
        namespace = (obj.get("metadata") or {}).get("namespace", self.namespace)
        try:
            self.api.request("POST", events_path(namespace), "events", body=event_body(obj, kind, reason, message),
                             timeout=5.0)
        except ConsoleError:
            pass

    # -- access -----------------------------------------------------------------------------------

    def refusals(self) -> dict[str, str]:
        """Console action (deploy, scale, restart, traffic, rollout, delete, logs) -> why RBAC refuses it."""
        from backends.kubernetes.access import AccessReview

        with self._lock:
            if self._access is None:
                self._access = AccessReview(self.api, "" if self.all_namespaces else self.namespace)
        return self._access.refusals()

    # -- rollouts ---------------------------------------------------------------------------------

    def start_rollout(self, name: str, candidate_manifest: str, spec_text: str | None,
                      search_paths: Sequence[str] = ()) -> RolloutSummary:
        from backends.kubernetes.rollouts import RolloutStore

        return RolloutStore(self).start(name, candidate_manifest, spec_text)

    def rollout_status(self, name: str) -> dict:
        from backends.kubernetes.rollouts import RolloutStore

        return RolloutStore(self).status(name)

    def rollout_command(self, name: str, verb: str) -> RolloutSummary:
        from backends.kubernetes.rollouts import RolloutStore

        return RolloutStore(self).command(name, verb)

    def rollout_controller(self, metrics: Any = None) -> Any:
        """A controller loop for this scope's rollouts (not started): `mlconsole rollout controller`."""
        from backends.kubernetes.rollouts import RolloutController

        return RolloutController(self, metrics)

    def start_rollout_controller(self, metrics: Any = None, interval: float = 1.0) -> Any:
        """Tick this scope's rollouts in a background thread while the console runs (idempotent)."""
        with self._lock:
            if self._controller is None:
                self._controller = self.rollout_controller(metrics)
                self._controller.start(interval)
            return self._controller


def set_predictor_traffic(obj: dict[str, Any], weights: dict[str, int], shadow: dict[str, bool]) -> None:
    """Predictors' traffic and shadow flags, checked as Seldon's webhook would: serving weights sum to 100."""
    preds = {str(p.get("name")): p for p in seldon.predictors(obj)}
    unknown = [p for p in (*weights, *shadow) if p not in preds]
    if unknown:
        raise NotFound(f"no predictor {unknown[0]!r} in {obj['metadata']['name']!r}",
                       hint="predictors: " + ", ".join(preds), target=unknown[0])
    for p, on in shadow.items():
        pred = preds[p]
        if on and not pred.get("shadow"):
            pred["shadow"] = True
            pred["traffic"] = 100  # Seldon mirrors a shadow's traffic share of requests to it: all of them
        elif not on and pred.get("shadow"):
            pred["shadow"] = False
            pred["traffic"] = 0
    for p, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise InvalidSpec(f"traffic of {p!r} must be 0..100, not {weight!r}")
        if not preds[p].get("shadow"):
            preds[p]["traffic"] = weight
    serving = [p for p in preds.values() if not p.get("shadow")]
    total = sum(int(p.get("traffic") or 0) for p in serving)
    if serving and total != 100:
        raise InvalidSpec(f"the serving predictors' traffic adds up to {total}, not 100",
                          hint=" ".join(f"{p.get('name')}={p.get('traffic', 0)}" for p in serving))


def _merge_patch(live: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) turning live's spec into body's: dropped keys become null."""

    def diff(old: Any, new: Any) -> Any:
        if not isinstance(old, dict) or not isinstance(new, dict):
            return copy.deepcopy(new)
        out = {k: None for k in old if k not in new}
        for k, v in new.items():
            if old.get(k) != v:
                out[k] = diff(old.get(k), v)
        return out

    meta = body.get("metadata") or {}
    patch: dict[str, Any] = {"spec": diff(live.get("spec") or {}, body.get("spec") or {})}
    patch["metadata"] = {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}
    return patch

