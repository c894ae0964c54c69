"""A deployment's gateway: splits traffic over its predictors, mirrors shadows, logs requests.

    python -m backends.local.serving.gateway --deployment NAME --routes PATH --port N \\
        --port-file PATH --home HOME [--host 127.0.0.1]

It serves what a graph server serves (Seldon v1, V2, /metrics, health). Each request goes to
a non-shadow predictor picked by traffic weight (by a hash of the sticky header's value when
the routes name one and the request carries it) and to one of its replicas in turn; the
answer comes back unchanged, with X-Mlconsole-Predictor naming who answered. Predictions
are mirrored to every shadow predictor in the background; shadow answers only reach the
request log. Feedback goes to the predictor that made the prediction it rewards (its puid is
remembered), so a bandit learns from its own choices.

A replica that refuses connections or times out is left alone for a short, growing backoff
(1 s, 2 s, 4 s, at most 5 s); a predictor without a usable replica gives its share to the
others, and a request that could not connect is retried on another replica or predictor. A
prediction whose connection was reset before any answer came back (its replica was killed under
it) is retried once on another replica or predictor; feedback is not (it may have been counted).
The routes file is re-read on SIGHUP and whenever its mtime changes (checked every second).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import json
import logging
import os
import random
import sys
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import aiohttp
from aiohttp import web

from backends.local.serving.endpoints import ServingEndpoints
from backends.local.serving.metrics import GatewayMetrics
from backends.local.serving.process import run, serve, setup_logging
from backends.local.serving.protocols import dumps, seldon_failure, v2_error
from backends.local.serving.request_log import RequestLog, requests_dir
from backends.local.serving.routes import Routes, read_routes
from backends.local.serving.traffic_summary import TrafficSummary
from console.errors import InvalidSpec

log = logging.getLogger("mlconsole.serving")
_perf = time.perf_counter
_now = time.monotonic
JSON = "application/json"
PUID_HEADER = "Seldon-Puid"
PREDICTOR_HEADER = "X-Mlconsole-Predictor"
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 5.0
ATTEMPTS = 4  # one request tries at most this many times (replicas, predictors) before giving up
SHADOW_IN_FLIGHT = 64  # mirrored requests waiting on shadows; beyond this they are dropped, not queued
REMEMBERED_PUIDS = 100_000  # prediction id -> predictor, for routing feedback
RELOAD_EVERY = 1.0
CONNECT_TIMEOUT, READ_TIMEOUT = 1.0, 60.0
WARN_EVERY = 5.0


class Endpoint:
    """One replica's URL and what the gateway has learnt about its health."""

    __slots__ = ("url", "failures", "down_until")

    def __init__(self, url: str) -> None:
        self.url = url
        self.failures = 0
        self.down_until = 0.0

    def usable(self, now: float) -> bool:
        """True unless it is in its backoff after a failure (after it: one request tries it)."""
        return self.down_until <= now

    def failed(self, now: float) -> None:
        """Back off: 1 s after the first failure, doubling to at most 5 s."""
        self.failures += 1
        self.down_until = now + min(BACKOFF_FIRST * 2 ** (self.failures - 1), BACKOFF_MAX)

    def succeeded(self) -> None:
        """Healthy again: the next failure starts the backoff from the beginning."""
        self.failures = 0
        self.down_until = 0.0


class Predictor:
    """A predictor's traffic weight, shadow flag and replicas, served round-robin."""

    __slots__ = ("name", "traffic", "shadow", "endpoints", "mirror", "_next")

    def __init__(self, name: str, traffic: float, shadow: bool, endpoints: list[Endpoint],
                 mirror: float = 100.0) -> None:
        self.name = name
        self.traffic = traffic
        self.shadow = shadow
        self.endpoints = endpoints
        self.mirror = mirror  # percent of requests a shadow gets a copy of
        self._next = 0

    def usable(self, now: float) -> bool:
        """True when at least one replica is out of backoff."""
        return any(e.down_until <= now for e in self.endpoints)

    def endpoint(self, now: float, last_resort: bool = False) -> Endpoint | None:
        """The next usable replica in turn; with last_resort, when every one is in backoff, the one whose
        backoff ends first; else None."""
        endpoints = self.endpoints
        count = len(endpoints)
        for _ in range(count):
            e = endpoints[self._next % count]
            self._next += 1
            if e.down_until <= now:
                return e
        if last_resort and endpoints:
            return min(endpoints, key=lambda e: e.down_until)
        return None


def sticky_fraction(value: str) -> float:
    """A session value's fixed place in [0, 1): the same session lands on the same predictor."""
    digest = hashlib.blake2b(value.encode("utf-8", "replace"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def pick(predictors: list[Predictor], fraction: float) -> Predictor | None:
    """The predictor whose slice of the traffic weights holds fraction (equal slices when all are 0)."""
    if not predictors:
        return None
    weights = [max(p.traffic, 0.0) for p in predictors]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(predictors), float(len(predictors))
    bounds = []
    running = 0.0
    for w in weights:
        running += w
        bounds.append(running)
    index = bisect.bisect_right(bounds, fraction * total)
    # A zero-weight predictor owns no slice; guard the top edge where fraction*total == total.
    while index < len(predictors) and weights[index] <= 0:
        index += 1
    return predictors[min(index, len(predictors) - 1)]


def _puid_in(body: bytes) -> str | None:
    """The request's own id (meta.puid, or V2's id), read only when the body mentions one."""
    if b'"puid"' not in body and b'"id"' not in body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    meta = data.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("puid"), str) and meta["puid"]:
        return meta["puid"]
    return data["id"] if isinstance(data.get("id"), str) and data["id"] else None


def _feedback_puid(body: bytes) -> str | None:
    """The puid a feedback rewards: its response's, else its request's."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for part in ("response", "request"):
        meta = (data.get(part) or {}).get("meta") if isinstance(data.get(part), dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("puid"), str) and meta["puid"]:
            return meta["puid"]
    return None


class Gateway(ServingEndpoints):
    """Routes one deployment's requests to its predictors' graph servers."""

    def __init__(self, deployment: str, routes_path: Path, home: Path | None) -> None:
        self.deployment = deployment
        self.routes_path = Path(routes_path)
        self.metrics = GatewayMetrics(deployment)
        self.summary = TrafficSummary()
        self.routes = Routes(deployment=deployment)
        self.serving: list[Predictor] = []
        self.shadows: list[Predictor] = []
        self.by_name: dict[str, Predictor] = {}
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._routes_stamp: tuple[int, int, int] | None = None
        self._puids: OrderedDict[str, str] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._shadow_slots = SHADOW_IN_FLIGHT
        self._warned: dict[str, tuple[float, int]] = {}
        self.session: aiohttp.ClientSession | None = None
        self.request_log = RequestLog(requests_dir(home, deployment), deployment,
                                      on_drop=self.metrics.log_dropped) if home is not None else None
        self.reload(initial=True)

    # -- routes ------------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.routes_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self, initial: bool = False) -> bool:
        """Re-read the routes file; on any problem keep the routes in force and say why on one line."""
        stamp = self._stamp()
        try:
            routes = read_routes(self.routes_path)
        except InvalidSpec as exc:
            self._routes_stamp = stamp  # do not re-read a broken file every second; wait for a change
            log.error("routes not %s: %s", "loaded" if initial else "reloaded (keeping the previous ones)", exc)
            return False
        self._routes_stamp = stamp
        if routes.deployment != self.deployment:
            log.warning("routes file names deployment %r, serving it as %r", routes.deployment, self.deployment)
        endpoints: dict[tuple[str, str], Endpoint] = {}
        predictors = []
        for p in routes.predictors:
            mine = []
            for url in p.endpoints:
                key = (p.name, url)
                # A replica that stays in the routes keeps its health record.
                endpoint = endpoints.get(key) or self._endpoints.get(key) or Endpoint(url)
                endpoints[key] = endpoint
                mine.append(endpoint)
            predictors.append(Predictor(p.name, float(p.traffic), p.shadow, mine, float(p.mirror)))
        for key in self._endpoints.keys() - endpoints.keys():
            self.metrics.forget_endpoint(*key)
        for (name, url), endpoint in endpoints.items():
            self.metrics.endpoint_up(name, url, endpoint.usable(_now()))
        self._endpoints = endpoints
        self.routes = routes
        serving = [p for p in predictors if not p.shadow]
        # A 0% predictor gets nothing while any has a share, even when those are down (a
        # canary held at 0 stays at 0); with no shares at all, the predictors split evenly.
        self.serving = [p for p in serving if p.traffic > 0] or serving
        self.shadows = [p for p in predictors if p.shadow]
        self.by_name = {p.name: p for p in predictors}
        summary = ", ".join(f"{p.name}{' (shadow)' if p.shadow else f' {p.traffic:g}'} x{len(p.endpoints)}"
                            for p in predictors) or "no predictors"
        log.info("routes %s: %s", "loaded" if initial else "reloaded", summary)
        return True

    def reload_if_changed(self) -> None:
        """Re-read the routes when the file changed since the last read."""
        if self._stamp() != self._routes_stamp:
            self.reload()

    async def watch_routes(self) -> None:
        """Poll the routes file's mtime every second (SIGHUP reloads at once)."""
        while True:
            await asyncio.sleep(RELOAD_EVERY)
            self.reload_if_changed()

    # -- choosing ------------------------------------------------------------------------------

    def choose(self, request: web.Request, exclude: tuple[str, ...] = ()) -> Predictor | None:
        """A serving predictor with a usable replica, by weight (or by the sticky header's hash)."""
        now = _now()
        candidates = [p for p in self.serving if p.name not in exclude and p.usable(now)]
        if not candidates and not any(p.usable(now) for p in self.serving):
            # Every replica is in backoff (Envoy's "panic" case): a stalled machine can time out the only
            # replica's connect once, and answering 503 for the whole backoff would turn one slow connect
            # into a second of outage. Try those not yet tried instead; a dead one refuses at once.
            candidates = [p for p in self.serving if p.name not in exclude and p.endpoints]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        header = self.routes.sticky_header
        session = request.headers.get(header) if header else None
        return pick(candidates, sticky_fraction(session) if session else random.random())

    def _feedback_target(self, request: web.Request, body: bytes) -> Predictor | None:
        """Feedback goes where its prediction went: named by header, else remembered by puid."""
        now = _now()
        named = self.by_name.get(request.headers.get(PREDICTOR_HEADER, ""))
        if named is not None and named.usable(now):
            return named
        puid = _feedback_puid(body)
        remembered = self.by_name.get(self._puids.get(puid, "")) if puid else None
        if remembered is not None and remembered.usable(now):
            return remembered
        return self.choose(request)

    def _remember(self, puid: str, predictor: str) -> None:
        self._puids[puid] = predictor
        if len(self._puids) > REMEMBERED_PUIDS:
            self._puids.popitem(last=False)

    # -- forwarding ----------------------------------------------------------------------------

    def _failed(self, predictor: Predictor, endpoint: Endpoint, reason: str, exc: BaseException) -> None:
        if reason != "disconnected":  # a keep-alive connection closed under us says nothing of health
            endpoint.failed(_now())
            self.metrics.endpoint_up(predictor.name, endpoint.url, False)
        self.metrics.error(predictor.name, reason)
        self._warn(f"{endpoint.url}:{reason}", f"{predictor.name} {endpoint.url}: {reason} ({type(exc).__name__})")

    def _warn(self, key: str, message: str) -> None:
        """Log a warning, at most once per WARN_EVERY seconds for the same key (outages repeat)."""
        now = _now()
        last, suppressed = self._warned.get(key, (0.0, 0))
        if now - last < WARN_EVERY:
            self._warned[key] = (last, suppressed + 1)
            return
        if len(self._warned) > 1000:
            self._warned.clear()
        self._warned[key] = (now, 0)
        log.warning("%s%s", message, f" (and {suppressed} more like it)" if suppressed else "")

    async def _send(self, method: str, url: str, body: bytes | None,
                    headers: dict[str, str]) -> tuple[int, bytes, str]:
        assert self.session is not None
        async with self.session.request(method, url, data=body, headers=headers) as resp:
            try:
                content = await resp.read()
            except (aiohttp.ClientOSError, aiohttp.ClientConnectionResetError) as exc:
                # The status line had arrived: the graph ran, so this is no "reset before an
                # answer" and must not be retried (forward retries only those).
                raise aiohttp.ClientPayloadError(f"answer cut short: {exc}") from exc
            return resp.status, content, resp.headers.get("Content-Type", JSON)

    async def forward(self, request: web.Request, service: str, *, mirror: bool = False,
                      logged: bool = False, feedback: bool = False) -> web.Response:
        """Send the request to a predictor and answer with its response (503 when none can)."""
        start = _perf()
        ts = time.time()
        body = await request.read() if request.can_read_body else None
        headers = {"Content-Type": request.headers.get("Content-Type", JSON)}
        puid = None
        if request.method == "POST":
            puid = request.headers.get(PUID_HEADER) or uuid.uuid4().hex
            headers[PUID_HEADER] = puid
        path = request.path_qs
        v2 = path.startswith("/v2")
        method_label = request.method.lower()
        predictor = self._feedback_target(request, body or b"") if feedback else self.choose(request)
        tried: list[str] = []
        answer = None
        failure = ""  # why the previous attempt failed: the next one is a retry
        reset = False
        for _ in range(ATTEMPTS):
            if predictor is None:
                break
            now = _now()
            endpoint = predictor.endpoint(now, last_resort=not any(p.usable(now) for p in self.serving))
            if endpoint is None:
                tried.append(predictor.name)
                predictor = self.choose(request, tuple(tried))
                continue
            if failure:
                self.metrics.retried(predictor.name, failure)
            try:
                answer = await self._send(request.method, endpoint.url + path, body, headers)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                failure = "timeout" if isinstance(exc, TimeoutError) else "connect"
                self._failed(predictor, endpoint, failure, exc)
            except aiohttp.ServerDisconnectedError as exc:
                failure = "disconnected"
                self._failed(predictor, endpoint, failure, exc)
            except (aiohttp.ClientOSError, aiohttp.ClientConnectionResetError) as exc:
                # Reset before any byte of an answer came back: the replica died under the request
                # (a SIGKILLed or OOM-killed graph server resets the connections it was serving).
                # Nothing reached the caller, and a prediction changes nothing a caller can see, so
                # it is sent again on another replica or predictor (this one is now in backoff) —
                # once: a request that itself kills graph servers must not take every replica
                # down in turn. Feedback is not retried: the reward may have been counted.
                failure = "reset"
                self._failed(predictor, endpoint, failure, exc)
                if feedback or reset:
                    return self._unavailable(502, f"predictor {predictor.name} reset the connection before "
                                             f"answering", service, start, v2, method_label, predictor.name)
                reset = True
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The request reached the replica, which did not answer in time: not retried,
                # since the graph may have run (feedback counted, a bandit updated).
                self._failed(predictor, endpoint, "timeout" if isinstance(exc, TimeoutError) else "error", exc)
                return self._unavailable(504, f"predictor {predictor.name} did not answer: {type(exc).__name__}",
                                         service, start, v2, method_label, predictor.name)
            else:
                if endpoint.failures:
                    endpoint.succeeded()
                    self.metrics.endpoint_up(predictor.name, endpoint.url, True)
                break
            if not predictor.usable(_now()):
                tried.append(predictor.name)
                predictor = self.choose(request, tuple(tried))
        # Sampled once per request, so a primary row and its shadows' rows are kept together.
        sampled = logged and self.request_log is not None and self._sampled()
        if mirror and self.shadows and body is not None:
            self._mirror(path, body, headers, ts, sampled)
        if answer is None or predictor is None:
            names = ", ".join(p.name for p in self.serving) or "none in the routes"
            return self._unavailable(503, f"no predictor of {self.deployment} is available (predictors: {names})",
                                     service, start, v2, method_label, "")
        status, content, content_type = answer
        seconds = _perf() - start
        self.metrics.answered(predictor.name, service, status, seconds, method_label)
        self.summary.record(predictor.name, status, seconds)
        if puid is not None and status == 200 and not feedback:
            self._remember(_puid_in(body or b"") or puid, predictor.name)
        if sampled:
            self.request_log.record(puid or "", predictor.name, False, status, seconds * 1000.0, body or b"",
                                    content, request.path, ts)
        return web.Response(status=status, body=content,
                            headers={"Content-Type": content_type, PREDICTOR_HEADER: predictor.name})

    def _sampled(self) -> bool:
        routes = self.routes
        return routes.log and (routes.log_sample_rate >= 1.0 or random.random() < routes.log_sample_rate)

    def _unavailable(self, code: int, message: str, service: str, start: float, v2: bool, method: str,
                     predictor: str) -> web.Response:
        if not predictor:
            self.metrics.error("", "no_predictor")
        self._warn(f"{code}:{predictor}", f"{code}: {message}")
        seconds = _perf() - start
        self.metrics.answered(predictor, service, code, seconds, method)
        self.summary.record(predictor, code, seconds)
        body = v2_error(message) if v2 else seldon_failure(code, message)
        return web.Response(status=code, body=dumps(body), content_type=JSON)

    # -- shadows -------------------------------------------------------------------------------

    def _mirror(self, path: str, body: bytes, headers: dict[str, str], ts: float, log_it: bool) -> None:
        for shadow in self.shadows:
            if shadow.mirror < 100.0 and random.random() * 100.0 >= shadow.mirror:
                continue  # not this one: the shadow sees a sample
            if self._shadow_slots <= 0:
                self.metrics.shadow(shadow.name, "dropped")
                continue
            self._shadow_slots -= 1
            task = asyncio.create_task(self._shadow(shadow, path, body, headers, ts, log_it))
            self._tasks.add(task)
            task.add_done_callback(self._shadow_done)

    def _shadow_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._shadow_slots += 1

    async def _shadow(self, shadow: Predictor, path: str, body: bytes, headers: dict[str, str], ts: float,
                      log_it: bool) -> None:
        start = _perf()
        endpoint = shadow.endpoint(_now())
        if endpoint is None:
            self.metrics.shadow(shadow.name, "unavailable")
            return
        try:
            status, content, _ = await self._send("POST", endpoint.url + path, body, headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = "disconnected" if isinstance(exc, aiohttp.ServerDisconnectedError) else \
                "timeout" if isinstance(exc, TimeoutError) else "connect"
            self._failed(shadow, endpoint, reason, exc)
            self.metrics.shadow(shadow.name, "error")
            return
        if endpoint.failures:
            endpoint.succeeded()
            self.metrics.endpoint_up(shadow.name, endpoint.url, True)
        self.metrics.shadow(shadow.name, str(status))
        if log_it and self.request_log is not None:
            self.request_log.record(headers.get(PUID_HEADER, ""), shadow.name, True, status,
                                    (_perf() - start) * 1000.0, body, content, path.split("?", 1)[0], ts)

    # -- endpoints -----------------------------------------------------------------------------

    async def predictions(self, request: web.Request) -> web.Response:
        """POST /api/v1.0/predictions: routed, mirrored to shadows, logged."""
        return await self.forward(request, "predictions", mirror=True, logged=True)

    async def feedback(self, request: web.Request) -> web.Response:
        """POST /api/v1.0/feedback: to the predictor that made the prediction, logged."""
        return await self.forward(request, "feedback", logged=True, feedback=True)

    async def infer(self, request: web.Request) -> web.Response:
        """POST /v2/models/{name}/infer: routed, mirrored to shadows, logged."""
        return await self.forward(request, "infer", mirror=True, logged=True)

    async def model_ready(self, request: web.Request) -> web.Response:
        """GET /v2/models/{name}/ready: the same answer as the metadata (ready when it answers)."""
        return await self.model_metadata(request)

    async def model_metadata(self, request: web.Request) -> web.Response:
        """GET /v2/models/{name}[/ready]: answered by a serving predictor."""
        return await self.forward(request, "metadata")

    async def live(self, request: web.Request) -> web.Response:
        """GET /v2/health/live (and /live): the gateway itself is up."""
        return web.Response(body=b'{"live":true}', content_type=JSON)

    async def ready(self, request: web.Request) -> web.Response:
        """GET /v2/health/ready (and /ready): 200 while some serving predictor has a usable replica."""
        now = _now()
        if any(p.usable(now) for p in self.serving):
            return web.Response(body=b'{"ready":true}', content_type=JSON)
        return web.Response(status=503, body=b'{"ready":false}', content_type=JSON)

    async def ping(self, request: web.Request) -> web.Response:
        """GET /health/ping."""
        return web.Response(text="pong")

    async def server_metadata(self, request: web.Request) -> web.Response:
        """GET /v2: the V2 server metadata."""
        from console import __version__

        return web.Response(body=dumps({"name": "mlconsole-gateway", "version": __version__, "extensions": []}),
                            content_type=JSON)


    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the upstream connection pool and start the background tasks."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, use_dns_cache=True, ttl_dns_cache=None),
            timeout=timeout, skip_auto_headers=("User-Agent",), auto_decompress=False)
        self._background = [asyncio.create_task(self.watch_routes()), asyncio.create_task(self.summary.run())]
        if self.request_log is not None:
            self._background.append(asyncio.create_task(self.request_log.run()))
            self._background.append(asyncio.create_task(asyncio.to_thread(self.request_log.prepare)))

    async def stop(self) -> None:
        """After the last request: finish mirrors briefly, flush the request log, close the pool."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.request_log is not None:
            written = await asyncio.to_thread(self.request_log.flush)
            if written:
                log.info("request log: wrote the last %d row(s)", written)
        if self.session is not None:
            await self.session.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m backends.local.serving.gateway",
                                     description="Route a deployment's traffic over its predictors")
    parser.add_argument("--deployment", required=True, help="the deployment's name")
    parser.add_argument("--routes", required=True, type=Path, help="the routes file (JSON) the supervisor writes")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--port-file", type=Path, default=None, help="where to write the bound port")
    parser.add_argument("--home", type=Path, default=None, help="the mlconsole home (request log under runtime/)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    gateway = Gateway(args.deployment, args.routes, args.home)
    await gateway.start()

    def hangup() -> None:
        log.info("SIGHUP: re-reading the routes")
        gateway.reload()

    def started_on(port: int) -> None:
        log.info("gateway for %s on http://%s:%d", args.deployment, args.host, port)

    try:
        return await serve(gateway.app(), args.host, args.port, args.port_file, on_started=started_on,
                           on_hangup=hangup, on_stopped=gateway.stop)
    finally:
        if gateway.session is not None and not gateway.session.closed:
            await gateway.session.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: route until SIGTERM or SIGINT."""
    args = parse_args(argv)
    setup_logging(f"gateway[{args.deployment}]")
    return run(lambda: _main(args))


if __name__ == "__main__":
    sys.exit(main())
