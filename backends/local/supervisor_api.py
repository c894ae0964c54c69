"""The supervisor's HTTP API on 127.0.0.1 (aiohttp, in the supervisor's own event loop).

Every request must carry the token of HOME/runtime/supervisor.token (0600) in the
X-MLConsole-Token header, so other users of the machine cannot drive the runtime.

    GET    /v1/status                          supervisor record and every deployment
    POST   /v1/deployments                     {"manifest", "search_paths", "registry"}: create or update
    GET    /v1/deployments/{name}              one deployment (with its manifest)
    DELETE /v1/deployments/{name}              stop its processes and forget it
    POST   /v1/deployments/{name}/scale        {"predictor", "replicas"}
    POST   /v1/deployments/{name}/restart      {"predictor": optional}
    POST   /v1/deployments/{name}/traffic      {"weights": {predictor: int}, "shadow": {predictor: bool}}
    POST   /v1/rollouts/{name}                 {"manifest": candidate, "spec": YAML or null, "search_paths",
                                               "actor"}: start a rollout; {"rollout": state}
    GET    /v1/rollouts/{name}                 {"rollout": RolloutState.to_dict() + the driver's notes}
    POST   /v1/rollouts/{name}/{verb}          {"actor"}: promote, promote-full, pause, resume, abort, retry
    POST   /v1/shutdown                        {"stop_processes": true}: `mlconsole local down`
    GET    /v1/metrics                         the scraper's own figures (rounds, failures, cost, memory)
    GET    /v1/metrics/{name}?window=300       {"metrics": DeploymentMetrics as JSON}
    GET    /v1/metrics/{name}/series?metric=request_rate&window=300&step=5&by=predictor|node|
                                               {"series": [{"metric", "label", "points": [[t, v], ...]}]}

Errors answer {"error": kind, "message", "hint", "location"} with 401, 404, 409, 422 or 500.
Logs are not served here: they are files under HOME/runtime/logs that the client reads (and
follows) itself, which keeps working while the supervisor is down.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from backends.local.state import TOKEN_HEADER
from console.errors import Conflict, ConsoleError, Forbidden, InvalidSpec, NotFound

if TYPE_CHECKING:
    from backends.local.supervisor import Supervisor

STATUS = {NotFound: 404, Conflict: 409, InvalidSpec: 422, Forbidden: 403}
MAX_BODY = 4 * 1024 * 1024


def _error(exc: ConsoleError) -> web.Response:
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    return web.json_response({"error": type(exc).__name__, "message": exc.message, "hint": exc.hint,
                              "location": getattr(exc, "location", ""), "target": exc.target}, status=status)


def make_app(sup: Supervisor, token: str) -> web.Application:
    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.json_response({"error": "Forbidden", "message": "missing or wrong API token",
                                      "hint": f"send the token of {sup.home}/runtime/supervisor.token"},
                                     status=401)
        try:
            return await handler(request)
        except ConsoleError as exc:
            return _error(exc)
        except web.HTTPException:
            raise
        except Exception as exc:  # the supervisor keeps serving; the caller learns why
            import logging
            import traceback

            logging.getLogger("mlconsole.supervisor").error("API error:\n%s", traceback.format_exc())
            return web.json_response({"error": "InternalError", "message": f"{type(exc).__name__}: {exc}",
                                      "hint": "see HOME/runtime/logs/supervisor.log"}, status=500)

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise InvalidSpec("request body is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidSpec("request body must be a JSON object")
        return data

    def record(name: str, with_manifest: bool = False) -> dict[str, Any]:
        sup.persist()
        out = sup.snapshot().get(name, {})
        if with_manifest and name in sup.deployments:
            out = {**out, "manifest": sup.deployments[name].manifest}
        return out

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"supervisor": sup.supervisor_record(), "deployments": sup.snapshot()})

    async def apply(request: web.Request) -> web.Response:
        data = await body(request)
        text = data.get("manifest")
        if not isinstance(text, str):
            raise InvalidSpec("'manifest' must be the manifest text")
        paths = data.get("search_paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise InvalidSpec("'search_paths' must be a list of directories")
        registry = data.get("registry")
        served = sup.apply(text, paths, registry if isinstance(registry, str) and registry else None)
        return web.json_response({"deployment": record(served.name, True)})

    async def get_one(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        sup.get(name)
        return web.json_response({"deployment": record(name, True)})

    async def delete(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await sup.delete(name)
        return web.json_response({"deleted": name})

    async def scale(request: web.Request) -> web.Response:
        name, data = request.match_info["name"], await body(request)
        sup.scale(name, str(data.get("predictor", "")), data.get("replicas"))
        return web.json_response({"deployment": record(name)})

    async def restart(request: web.Request) -> web.Response:
        name, data = request.match_info["name"], await body(request)
        predictor = data.get("predictor")
        sup.restart(name, str(predictor) if predictor else None)
        return web.json_response({"deployment": record(name)})

    async def traffic(request: web.Request) -> web.Response:
        name, data = request.match_info["name"], await body(request)
        weights, shadow = data.get("weights") or {}, data.get("shadow") or {}
        if not isinstance(weights, dict) or not isinstance(shadow, dict):
            raise InvalidSpec("'weights' and 'shadow' must be objects keyed by predictor")
        sup.set_traffic(name, weights, {k: bool(v) for k, v in shadow.items()})
        return web.json_response({"deployment": record(name)})

    def number(request: web.Request, key: str, default: float) -> float:
        text = request.query.get(key)
        if text is None or text == "":
            return default
        try:
            return float(text)
        except ValueError:
            raise InvalidSpec(f"{key} must be a number of seconds, not {text!r}", location=key) from None

    def window_of(name: str) -> Any:
        if name not in sup.scraper.window.deployments and name not in sup.deployments:
            raise NotFound(f"no deployment {name!r} in the local runtime, and no metrics recorded for it",
                           hint="`mlconsole get deployments` lists them", target=name)
        return sup.scraper.window.deployments.get(name)

    async def scrape_stats(request: web.Request) -> web.Response:
        return web.json_response(sup.scraper.stats.to_dict(sup.scraper.window))

    async def deployment_metrics(request: web.Request) -> web.Response:
        from backends.local.metrics_window import DeploymentWindow, metrics_to_dict

        name = request.match_info["name"]
        window = window_of(name) or DeploymentWindow(name)  # deployed, not scraped yet: figures are None
        figures = window.metrics(number(request, "window", 300.0), now=time.time())
        return web.json_response({"metrics": metrics_to_dict(figures)})

    async def metric_series(request: web.Request) -> web.Response:
        from backends.local.metrics_window import check_series_args, series_to_dict

        name, query = request.match_info["name"], request.query
        args = check_series_args(query.get("metric", ""), number(request, "window", 300.0),
                                 number(request, "step", 5.0), query.get("by", "predictor") or None)
        window = window_of(name)
        series = window.series(query["metric"], *args, now=time.time()) if window is not None else []
        return web.json_response({"series": series_to_dict(series)})

    def actor_of(data: dict[str, Any]) -> str:
        actor = data.get("actor")
        if actor is not None and not isinstance(actor, str):
            raise InvalidSpec("'actor' must be text")
        return (actor or "").strip()[:200] or "unknown (supervisor API)"

    async def rollout_start(request: web.Request) -> web.Response:
        name, data = request.match_info["name"], await body(request)
        text, spec = data.get("manifest"), data.get("spec")
        if not isinstance(text, str):
            raise InvalidSpec("'manifest' must be the candidate's manifest text")
        if spec is not None and not isinstance(spec, str):
            raise InvalidSpec("'spec' must be the rollout spec as YAML text, or null for the default canary")
        paths = data.get("search_paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise InvalidSpec("'search_paths' must be a list of directories")
        state = await sup.rollouts.start(name, text, spec, paths, actor_of(data))
        return web.json_response({"rollout": state})

    async def rollout_get(request: web.Request) -> web.Response:
        return web.json_response({"rollout": sup.rollouts.status(request.match_info["name"])})

    async def rollout_command(request: web.Request) -> web.Response:
        name, verb = request.match_info["name"], request.match_info["verb"]
        data = await body(request) if request.can_read_body else {}
        state = await sup.rollouts.command(name, verb, actor_of(data))
        return web.json_response({"rollout": state})

    async def shutdown(request: web.Request) -> web.Response:
        data = await body(request)
        stopped = await sup.stop_everything() if data.get("stop_processes", True) else 0
        sup.persist(force=True)
        asyncio.get_running_loop().call_later(0.05, sup.stopping.set)
        return web.json_response({"stopped": stopped})

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app.router.add_get("/v1/status", status)
    app.router.add_post("/v1/deployments", apply)
    app.router.add_get("/v1/deployments/{name}", get_one)
    app.router.add_delete("/v1/deployments/{name}", delete)
    app.router.add_post("/v1/deployments/{name}/scale", scale)
    app.router.add_post("/v1/deployments/{name}/restart", restart)
    app.router.add_post("/v1/deployments/{name}/traffic", traffic)
    app.router.add_post("/v1/rollouts/{name}", rollout_start)
    app.router.add_get("/v1/rollouts/{name}", rollout_get)
    app.router.add_post("/v1/rollouts/{name}/{verb}", rollout_command)
    app.router.add_post("/v1/shutdown", shutdown)
    app.router.add_get("/v1/metrics", scrape_stats)
    app.router.add_get("/v1/metrics/{name}", deployment_metrics)
    app.router.add_get("/v1/metrics/{name}/series", metric_series)
    return app


async def start_api(sup: Supervisor, token: str) -> tuple[web.AppRunner, int]:
    """Serve the API on a free loopback port; (runner, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(make_app(sup, token), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]
