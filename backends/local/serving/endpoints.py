"""The HTTP surface both serving processes share: Seldon v1, Open Inference V2, health, /metrics.

The gateway and the graph server answer the same paths (so a client cannot tell one from the
other); each implements the handlers, this mixin maps the paths to them once.
"""

from __future__ import annotations

from aiohttp import web

from backends.local.serving.metrics import exposition
from backends.local.serving.process import MAX_BODY
from backends.local.serving.protocols import dumps, v2_error

JSON = "application/json"


class ServingEndpoints:
    """Mixin: `app()` routes every endpoint to the subclass's handlers; /metrics and 404 are shared."""

    metrics: object  # has a prometheus-client `registry`

    async def metrics_text(self, request: web.Request) -> web.Response:
        """GET /metrics in Prometheus text format."""
        body, content_type = exposition(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def not_found(self, request: web.Request) -> web.Response:
        """Any other path: 404 with a JSON error."""
        return web.Response(status=404, body=dumps(v2_error(f"no endpoint {request.method} {request.path}")),
                            content_type=JSON)

    def app(self) -> web.Application:
        """The aiohttp application serving every endpoint."""
        app = web.Application(client_max_size=MAX_BODY)
        add = app.router.add_route
        for prefix in ("/api/v1.0", "/api/v0.1"):
            add("POST", f"{prefix}/predictions", self.predictions)
            add("POST", f"{prefix}/feedback", self.feedback)
        add("GET", "/v2", self.server_metadata)
        add("GET", "/v2/health/live", self.live)
        add("GET", "/v2/health/ready", self.ready)
        add("GET", "/v2/models/{name}", self.model_metadata)
        add("GET", "/v2/models/{name}/ready", self.model_ready)
        add("POST", "/v2/models/{name}/infer", self.infer)
        add("GET", "/health/ping", self.ping)
        add("GET", "/live", self.live)
        add("GET", "/ready", self.ready)
        add("GET", "/metrics", self.metrics_text)
        add("*", "/{tail:.*}", self.not_found)
        return app
