"""kmock 0.8 taught the answers of a real API server that mlconsole relies on, run in a thread.

kmock is stateful and speaks HTTP like the API server, but it differs where it matters to a
client (see DESIGN.md): no resourceVersion/uid/creationTimestamp, POST answers 200, selectors,
limits and continue tokens are ignored, watches cannot resume, logs are the pod's JSON, apply
patches merge. ClusterEmulator adds those answers — as a real server gives them — on top of
kmock's object store, and keeps kmock's own history of every object for assertions:

- every write gets a resourceVersion from one counter, a uid and a creationTimestamp; POST
  answers 201; a merge patch carrying metadata.resourceVersion is refused with 409 when stale;
- lists honour labelSelector, fieldSelector metadata.name, limit/continue (sorted by
  namespace/name) and answer with kind *List and the resourceVersion;
- watches start from a resourceVersion (replaying the changes after it, as the API server's
  watch cache does), end after timeoutSeconds, answer 410 for compacted versions, and can be
  dropped by the test (`drop_streams`) to test reconnects;
- server-side apply creates missing objects and replaces the spec (one field manager), or
  answers 415 when `ssa` is off (a server before 1.16); strategic merge on custom resources 415;
- pods/NAME/log serves lines the test wrote (tailLines, previous, follow), as text;
- SelfSubjectAccessReview and real requests honour `deny(verb, resource)`; a bearer `token`
  makes every request without it a 401.

The server runs on 127.0.0.1 in its own thread and event loop, so the sync kubernetes client,
the console's worker threads and `mlconsole` subprocesses all reach it as they would a cluster.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
from kmock import (
    KubernetesEmulator,
    KubernetesError,
    KubernetesObjectNotFoundError,
    KubernetesResourceNotFoundError,
    Server,
    action,
    method,
    resource,
)

SDEPS = resource("machinelearning.seldon.io", "v1", "seldondeployments")
PODS = resource("", "v1", "pods")
EVENTS = resource("", "v1", "events")
DEPLOYMENTS = resource("apps", "v1", "deployments")
NAMESPACES = resource("", "v1", "namespaces")

VERBS = {action.LIST: "list", action.WATCH: "watch", action.FETCH: "get",
         action.CREATE: "create", action.UPDATE: "patch", action.DELETE: "delete"}
CORE_RESOURCES = {
    "v1/pods": {"kind": "Pod", "namespaced": True, "singular": "pod", "shortnames": ["po"],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"], "subresources": ["log", "status"]},
    "v1/events": {"kind": "Event", "namespaced": True, "singular": "event", "shortnames": ["ev"],
                  "verbs": ["get", "list", "watch", "create"]},
    "v1/namespaces": {"kind": "Namespace", "namespaced": False, "singular": "namespace", "shortnames": ["ns"],
                      "verbs": ["get", "list", "watch", "create"]},
    "apps/v1/deployments": {"kind": "Deployment", "namespaced": True, "singular": "deployment",
                            "shortnames": ["deploy"], "verbs": ["get", "list", "watch", "patch"]},
}
SELDON_RESOURCE = {"kind": "SeldonDeployment", "namespaced": True, "singular": "seldondeployment",
                   "shortnames": ["sdep"], "verbs": ["get", "list", "watch", "create", "patch", "delete"],
                   "subresources": ["status"]}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "code": code,
            "reason": reason, "message": message}


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Equality- and existence-based label selectors: a=b, a==b, a!=b, a, !a (comma = and)."""
    for term in (t.strip() for t in (selector or "").split(",")):
        if not term:
            continue
        if "!=" in term:
            key, value = (x.strip() for x in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (x.strip() for x in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_matches(selector: str | None, obj: dict[str, Any]) -> bool:
    for term in (t.strip() for t in (selector or "").split(",")):
        if not term or "=" not in term:
            continue
        path, value = term.replace("==", "=").split("=", 1)
        current: Any = obj
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if str(current if current is not None else "") != value:
            return False
    return True


@attrs.define(kw_only=True)
class ClusterEmulator(KubernetesEmulator):
    """kmock's KubernetesEmulator with a real API server's answers (see the module docstring)."""

    ssa: bool = True
    token: str | None = None
    denied: dict[tuple[str, str], str] = attrs.field(factory=dict)
    log_lines: dict[tuple[str, str, str, bool], list[str]] = attrs.field(factory=dict)
    compacted: int = 0
    rv: int = 0
    history: list[tuple[int, Any, dict[str, Any]]] = attrs.field(factory=list)  # (rv, resource, event)
    history_rvs: list[int] = attrs.field(factory=list)
    drops: int = 0
    closing: bool = False  # the server stops: streams end, and new ones end at once
    watch_requests: list[dict[str, str]] = attrs.field(factory=list)
    _changed: asyncio.Condition | None = attrs.field(default=None, init=False)
    _writing: asyncio.Lock | None = attrs.field(default=None, init=False)

    # -- set-up -------------------------------------------------------------------------------

    def declare(self, seldon: bool = True) -> None:
        for key, info in CORE_RESOURCES.items():
            self.resources[key] = info
        if seldon:
            self.resources["machinelearning.seldon.io/v1/seldondeployments"] = SELDON_RESOURCE

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _lock_writes(self) -> asyncio.Lock:
        if self._writing is None:
            self._writing = asyncio.Lock()
        return self._writing

    def _stamp(self, obj: dict[str, Any], namespace: str | None, new: bool) -> dict[str, Any]:
        self.rv += 1
        meta = obj.setdefault("metadata", {})
        if namespace and not meta.get("namespace"):
            meta["namespace"] = namespace
        meta["resourceVersion"] = str(self.rv)
        if new:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            meta.setdefault("generation", 1)
        return obj

    def _record(self, res: Any, kind: str, obj: dict[str, Any]) -> None:
        rv = int((obj.get("metadata") or {}).get("resourceVersion") or self.rv)
        self.history.append((rv, res, {"type": kind, "object": copy.deepcopy(obj)}))
        self.history_rvs.append(rv)

    async def _notify(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    def seed(self, res: Any, objects: Iterable[dict[str, Any]]) -> int:
        """Store objects as if created (run in the loop thread); how many."""
        count = 0
        for obj in objects:
            obj = copy.deepcopy(obj)
            meta = obj.get("metadata") or {}
            self._stamp(obj, meta.get("namespace"), new=True)
            self._objects[res, obj["metadata"].get("namespace"), obj["metadata"]["name"]] = obj
            self._record(res, "ADDED", obj)
            count += 1
        return count

    def current(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = (res, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return self._objects[key].raw

    def _matching(self, request: Any) -> list[dict[str, Any]]:
        params = request.params
        out = []
        for (res, namespace, _name), obj in list(self._objects.items()):
            if res != request.resource or obj.deleted:
                continue
            if request.namespace is not None and namespace != request.namespace:
                continue
            raw = obj.raw
            if not selector_matches(params.get("labelSelector"), (raw.get("metadata") or {}).get("labels") or {}):
                continue
            if not field_matches(params.get("fieldSelector"), raw):
                continue
            out.append(raw)
        out.sort(key=lambda o: ((o.get("metadata") or {}).get("namespace") or "", o["metadata"].get("name", "")))
        return out

    def _kind(self, res: Any) -> tuple[str, str]:
        info = self.resources[res] if res in self.resources else None
        kind = (info.kind if info is not None else None) or str(res.plural).capitalize()
        api_version = res.version if not res.group else f"{res.group}/{res.version}"
        return kind, api_version

    # -- requests -------------------------------------------------------------------------------

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            raise KubernetesError(status=401, reason="Unauthorized", message="Unauthorized", details={})
        res = request.resource
        if res is None or res.plural is None:
            return await super()._handle(request)
        if res.plural == "selfsubjectaccessreviews" and request.method == method.POST:
            return aiohttp.web.json_response(self._review(request.data or {}), status=201)
        verb = VERBS.get(request.action, "get")
        what = res.plural + (f"/{request.subresource}" if request.subresource else "")
        refusal = self.denied.get((verb, what)) or self.denied.get((verb, "*"))
        if refusal is not None:
            raise KubernetesError(status=403, reason="Forbidden",
                                  message=f'{what} is forbidden: User "tester" cannot {verb} resource "{what}" '
                                          f'in namespace "{request.namespace}": {refusal}', details={})
        if request.subresource == "log" and request.method == method.GET:
            return await self._serve_log(request)
        if request.action == action.CREATE:
            return await self._create(request)
        if request.action == action.UPDATE:
            return await self._patch(request)
        if request.action == action.DELETE and request.name is not None:
            async with self._lock_writes():
                before = self.current(res, request.namespace, request.name)
                response = await super()._handle(request)
                if before is not None:
                    gone = copy.deepcopy(before)
                    self._stamp(gone, request.namespace, new=False)
                    self._record(res, "DELETED", gone)
            await self._notify()
            return response
        if request.method == method.PUT:
            raise KubernetesError(status=405, reason="MethodNotAllowed", message="use PATCH", details={})
        return await super()._handle(request)

    async def _create(self, request: Any) -> aiohttp.web.StreamResponse:
        if not isinstance(request.data, dict):
            raise KubernetesError(status=400, reason="BadRequest", message="body must be an object", details={})
        async with self._lock_writes():
            self._stamp(request.data, request.namespace, new=True)
            response = await super()._handle(request)
            meta = request.data["metadata"]
            stored = self.current(request.resource, request.namespace or meta.get("namespace"), meta.get("name"))
            if stored is not None:
                self._record(request.resource, "ADDED", stored)
        await self._notify()
        if response.status == 200 and not response.prepared:
            response.set_status(201)
        return response

    async def _patch(self, request: Any) -> aiohttp.web.StreamResponse:
        res = request.resource
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        async with self._lock_writes():
            live = self.current(res, request.namespace, request.name)
            if content_type == "application/strategic-merge-patch+json" and res.group:
                raise KubernetesError(status=415, reason="UnsupportedMediaType",
                                      message="strategic merge patch is not supported for custom resources",
                                      details={})
            if content_type == "application/apply-patch+yaml":
                if not self.ssa:
                    raise KubernetesError(status=415, reason="UnsupportedMediaType",
                                          message=f"the body of the request was in an unknown format: {content_type}",
                                          details={})
                if live is None and request.subresource is None:
                    body = copy.deepcopy(request.data)
                    self._stamp(body, request.namespace, new=True)
                    self._objects[res, request.namespace, request.name] = body
                    self._record(res, "ADDED", body)
                    response = aiohttp.web.json_response(body, status=201)
                    await self._notify()
                    return response
                object.__setattr__(request, "data", self._apply_ops(live or {}, request.data or {}))
            if live is None:
                raise KubernetesObjectNotFoundError()
            data = request.data
            if isinstance(data, dict):
                wanted = (data.get("metadata") or {}).get("resourceVersion")
                if wanted and wanted != (live.get("metadata") or {}).get("resourceVersion"):
                    raise KubernetesError(status=409, reason="Conflict",
                                          message=f'Operation cannot be fulfilled on {res.plural} "{request.name}": '
                                                  "the object has been modified; please apply your changes to the "
                                                  "latest version and try again", details={})
                self._stamp(data, None, new=False)
            elif isinstance(data, list):
                self.rv += 1
                data.append({"op": "add", "path": "/metadata/resourceVersion", "value": str(self.rv)})
            response = await super()._handle(request)
            stored = self.current(res, request.namespace, request.name)
            if stored is not None:
                self._record(res, "MODIFIED", stored)
        await self._notify()
        return response

    def _apply_ops(self, live: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
        """Server-side apply with one field manager, as JSON patch ops: our spec replaces the spec,
        our labels and annotations join the others."""
        ops: list[dict[str, Any]] = []
        meta, new_meta = live.get("metadata") or {}, body.get("metadata") or {}
        for key in ("labels", "annotations"):
            if new_meta.get(key):
                ops.append({"op": "add", "path": f"/metadata/{key}", "value": {**(meta.get(key) or {}),
                                                                               **new_meta[key]}})
        if "spec" in body:
            ops.append({"op": "add", "path": "/spec", "value": body["spec"]})
        return ops

    def _review(self, body: dict[str, Any]) -> dict[str, Any]:
        attrs_ = ((body.get("spec") or {}).get("resourceAttributes") or {})
        what = attrs_.get("resource", "") + (f"/{attrs_['subresource']}" if attrs_.get("subresource") else "")
        refusal = self.denied.get((attrs_.get("verb", ""), what)) or self.denied.get((attrs_.get("verb", ""), "*"))
        status = {"allowed": refusal is None}
        if refusal is not None:
            status["reason"] = refusal
        return {**body, "status": status}

    # -- discovery, lists and watches -------------------------------------------------------------

    async def _serve_version(self, request: Any) -> Any:
        answer = await super()._serve_version(request)
        if isinstance(answer, dict) and str(answer.get("groupVersion", "")).startswith("/"):
            answer["groupVersion"] = answer["groupVersion"][1:]  # the core group is "v1", not "/v1" (kubectl)
        return answer

    async def _serve_list(self, request: Any) -> Any:
        if not any(r == request.resource for r in self._get_resources()):
            raise KubernetesResourceNotFoundError()
        params = request.params
        objs = self._matching(request)
        limit = int(params.get("limit") or 0)
        start = 0
        token = params.get("continue")
        if token:
            version, _, offset = token.partition(":")
            if int(version) < self.compacted:
                raise KubernetesError(status=410, reason="Expired",
                                      message="The provided continue parameter is too old", details={})
            start = int(offset)
        page = objs[start:start + limit] if limit else objs[start:]
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if limit and start + limit < len(objs):
            meta["continue"] = f"{self.rv}:{start + limit}"
            meta["remainingItemCount"] = len(objs) - start - limit
        kind, api_version = self._kind(request.resource)
        return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": page}

    def _visible(self, request: Any, res: Any, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if res != request.resource:
            return False
        if request.namespace is not None and meta.get("namespace") != request.namespace:
            return False
        if request.name is not None and meta.get("name") != request.name:
            return False
        return selector_matches(request.params.get("labelSelector"), meta.get("labels") or {}) \
            and field_matches(request.params.get("fieldSelector"), obj)

    async def _serve_watch(self, request: Any):
        yield b""
        params = request.params
        self.watch_requests.append(dict(params))
        since = params.get("resourceVersion") or ""
        timeout = float(params.get("timeoutSeconds") or 0)
        generation = -1 if self.closing else self.drops
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        if since and since != "0" and since.isdigit() and int(since) < self.compacted:
            yield {"type": "ERROR", "object": _status(410, "Expired", f"too old resource version: {since} "
                                                                         f"({self.compacted})")}
            return
        if not since or since == "0":
            for obj in self._matching(request):
                yield {"type": "ADDED", "object": obj}
            position = len(self.history_rvs)
        else:
            position = bisect.bisect_right(self.history_rvs, int(since) if since.isdigit() else 0)
        condition = self._condition()
        while True:
            while position < len(self.history):
                _, res, event = self.history[position]
                position += 1
                if self._visible(request, res, event["object"]):
                    yield event
            async with condition:
                if self.drops != generation or position < len(self.history):
                    pass
                else:
                    remaining = None if deadline is None else deadline - loop.time()
                    if remaining is not None and remaining <= 0:
                        return
                    try:
                        await asyncio.wait_for(condition.wait(), remaining)
                    except TimeoutError:
                        return
            if self.drops != generation:
                return

    # -- logs -----------------------------------------------------------------------------------

    async def _serve_log(self, request: Any) -> aiohttp.web.StreamResponse:
        pod = self.current(PODS, request.namespace, request.name)
        if pod is None:
            raise KubernetesError(status=404, reason="NotFound", message=f'pods "{request.name}" not found',
                                  details={})
        params = request.params
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = params.get("container") or (containers[0] if len(containers) == 1 else "")
        if container not in containers:
            raise KubernetesError(status=400, reason="BadRequest",
                                  message=f"a container name must be specified for pod {request.name}, "
                                          f"choose one of: {containers}", details={})
        previous = params.get("previous") == "true"
        key = (request.namespace, request.name, container, previous)
        if previous and key not in self.log_lines:
            raise KubernetesError(status=400, reason="BadRequest",
                                  message=f'previous terminated container "{container}" in pod "{request.name}" '
                                          "not found", details={})
        lines = self.log_lines.setdefault(key, [])
        tail = params.get("tailLines")
        start = max(0, len(lines) - int(tail)) if tail is not None else 0
        if params.get("follow") != "true":
            text = "".join(f"{line}\n" for line in lines[start:])
            return aiohttp.web.Response(text=text, content_type="text/plain")
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request._raw_request)
        generation = -1 if self.closing else self.drops
        condition = self._condition()
        position = start
        try:
            while self.drops == generation:
                while position < len(lines):
                    await response.write(f"{lines[position]}\n".encode())
                    position += 1
                async with condition:
                    if position >= len(lines) and self.drops == generation:
                        await condition.wait()
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return response


class EmulatorThread:
    """A ClusterEmulator on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, seldon: bool = True, **options: Any) -> None:
        self.options = options
        self.seldon = seldon
        self.emulator: ClusterEmulator | None = None
        self.url = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="kmock")
        self._error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            async with ClusterEmulator(**self.options) as emulator, Server(emulator) as server:
                emulator.declare(self.seldon)
                self.emulator = emulator
                self.url = str(server.url).rstrip("/")
                self.loop = asyncio.get_running_loop()
                self._stopping = asyncio.Event()
                self._ready.set()
                await self._stopping.wait()
                emulator.closing = True
                emulator.drops += 1
                await emulator._notify()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()

    def start(self) -> EmulatorThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None or self.emulator is None:
            raise RuntimeError(f"kmock did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self.loop is not None and self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def call(self, fn: Callable[[ClusterEmulator], Any]) -> Any:
        """Run fn(emulator) in the server's loop and return its result (it may be async)."""
        assert self.loop is not None and self.emulator is not None

        async def run() -> Any:
            result = fn(self.emulator)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    # -- what tests do ------------------------------------------------------------------------------

    def requests(self, verb: str | None = None) -> list[Any]:
        """The requests served so far (kmock's records: method, url, params, headers, data)."""
        found = self.call(lambda e: list(e._requests))
        return [r for r in found if verb is None or r.method == verb]

    def seed(self, res: Any, objects: Iterable[dict[str, Any]]) -> int:
        items = list(objects)

        async def go(emulator: ClusterEmulator) -> int:
            count = emulator.seed(res, items)
            await emulator._notify()
            return count

        return self.call(go)

    def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.call(lambda e: copy.deepcopy(e.current(res, namespace, name)))

    def versions(self, res: Any, namespace: str | None, name: str) -> list[dict[str, Any] | None]:
        """Every stored version of an object, oldest first (None marks a deletion)."""
        return self.call(lambda e: [None if v is None else copy.deepcopy(v.raw)
                                    for v in e.objects[res, namespace, name].history])

    def set_status(self, res: Any, namespace: str, name: str, status: dict[str, Any]) -> None:
        """What Seldon's operator would write (the status subresource)."""
        async def go(emulator: ClusterEmulator) -> None:
            obj = emulator._objects[res, namespace, name]
            emulator.rv += 1
            obj.patch({"status": status, "metadata": {"resourceVersion": str(emulator.rv)}})
            emulator._record(res, "MODIFIED", obj.raw)
            await emulator._notify()

        self.call(go)

    def write_log(self, namespace: str, pod: str, container: str, *lines: str, previous: bool = False) -> None:
        async def go(emulator: ClusterEmulator) -> None:
            emulator.log_lines.setdefault((namespace, pod, container, previous), []).extend(lines)
            await emulator._notify()

        self.call(go)

    def deny(self, verb: str, what: str, reason: str = "no RBAC rule allows it") -> None:
        self.call(lambda e: e.denied.__setitem__((verb, what), reason))

    def drop_streams(self) -> None:
        """Close every open watch and followed log, as a load balancer or a restarting server does."""
        async def go(emulator: ClusterEmulator) -> None:
            emulator.drops += 1
            await emulator._notify()

        self.call(go)

    def compact(self, drop: bool = True) -> int:
        """Forget every resourceVersion up to now (the API server's etcd compaction) and, at the same
        moment, drop the open streams: their resumption meets 410 Gone."""
        async def go(emulator: ClusterEmulator) -> int:
            emulator.rv += 1  # etcd moved on (other objects changed): every version seen so far is gone
            emulator.compacted = emulator.rv
            if drop:
                emulator.drops += 1
                await emulator._notify()
            return emulator.compacted

        return self.call(go)

    def write_kubeconfig(self, path: Path, context: str = "kmock-ctx", namespace: str = "models",
                         user: dict[str, Any] | None = None) -> Path:
        return write_kubeconfig(path, self.url, context, namespace, user)


def write_kubeconfig(path: Path, server: str, context: str = "kmock-ctx", namespace: str | None = "models",
                     user: dict[str, Any] | None = None, cluster: str = "kmock") -> Path:
    """A kubeconfig file with one cluster, user and context, as kubectl writes them."""
    import yaml

    ctx: dict[str, Any] = {"cluster": cluster, "user": f"{context}-user"}
    if namespace:
        ctx["namespace"] = namespace
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": cluster, "cluster": {"server": server}}],
           "users": [{"name": f"{context}-user", "user": user or {"token": "kmock-token"}}],
           "contexts": [{"name": context, "context": ctx}], "current-context": context}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
