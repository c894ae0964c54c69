"""One predictor replica: its whole graph in-process behind Seldon v1 and Open Inference (V2) HTTP.

    python -m backends.local.serving.graph_server --manifest PATH --predictor NAME \\
        --deployment NAME --replica I --port N --port-file PATH [--registry TRACKING_URI] \\
        --home HOME [--host 127.0.0.1] [--fault-rate R]

The supervisor leaves --registry out (a URI may hold a password; command lines are public): the
server then reads MLFLOW_TRACKING_URI from its environment.

Models load before the socket opens, so once the port file exists the replica is ready.
Endpoints: POST /api/v1.0/predictions, /api/v1.0/feedback (and /api/v0.1/...); GET
/v2/health/live, /v2/health/ready, /v2/models/{name}, /v2/models/{name}/ready; POST
/v2/models/{name}/infer; GET /health/ping, /live, /ready, /metrics. A bad request gets 400 and
a failing node 500, in Seldon's error shape on v1 and {"error": ...} on V2; either way one
line goes to stderr and the process keeps serving.

The graph runs on the event loop while it answers fast (that is quicker than handing each
call to a thread), and moves to a worker thread once its calls grow slow, so that health
checks and /metrics scrapes keep answering while a heavy model works.

`--fault-rate R` (rollback drills, like Istio's HTTP fault injection) answers that fraction of
prediction requests (v1 predictions, V2 infer) with a 500 before the graph runs, counted in the
metrics as any 500 is, so gates and dashboards see a failing version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from backends.local.serving.endpoints import ServingEndpoints
from backends.local.serving.metrics import GraphMetrics, NodeLabels
from backends.local.serving.process import run, serve, setup_logging
from backends.local.serving.protocols import dumps, seldon_failure, seldon_to_v2, v2_error, v2_to_seldon
from console.errors import ConsoleError, InvalidSpec

log = logging.getLogger("mlconsole.serving")
_perf = time.perf_counter
JSON = "application/json"
PUID_HEADER = "Seldon-Puid"
FAULT_MESSAGE = "injected fault (rollback drill)"
# Above this average time per call (seconds) the graph runs in a worker thread, not on the loop.
# Measured here: a 2 ms sklearn pyfunc serves 15-20% fewer requests from the thread, while a
# 20 ms stall of the loop is harmless to health checks and scrapes.
OFFLOAD_AFTER = 0.020
SERVICES = {"MODEL": "/predict", "TRANSFORMER": "/transform-input", "OUTPUT_TRANSFORMER": "/transform-output",
            "ROUTER": "/route", "COMBINER": "/aggregate"}
MLFLOW_TYPES = {"boolean": "BOOL", "integer": "INT32", "long": "INT64", "float": "FP32", "double": "FP64",
                "string": "BYTES", "binary": "BYTES", "datetime": "BYTES"}


def image_and_version(runs: str, container_image: str | None = None) -> tuple[str, str]:
    """Seldon's model_image / model_version labels: the container image split at its tag, or the
    model URI split at its alias or version (models:/credit-risk@champion -> models:/credit-risk, champion)."""
    if container_image:
        name, _, tag = container_image.rpartition(":")
        return (name, tag) if name and "/" not in tag else (container_image, "")
    if runs.startswith("models:/"):
        rest = runs[len("models:/"):]
        if "@" in rest:
            name, _, version = rest.rpartition("@")
            return "models:/" + name, version
        name, _, version = rest.rpartition("/")
        if name and version.isdigit():
            return "models:/" + name, version
    return runs, ""


class GraphServer(ServingEndpoints):
    """The HTTP face of one GraphExecutor, with its metrics."""

    def __init__(self, executor: Any, deployment: str, predictor: Any, replica: int,
                 fault_rate: float = 0.0) -> None:
        from console.graph.executor import node_type
        from console.graph.spec import containers_by_name

        self.executor = executor
        self.deployment = deployment
        self.predictor_name = predictor.name
        self.replica = replica
        self.fault_rate = min(1.0, max(0.0, float(fault_rate)))
        version = ((predictor.raw.get("annotations") or {}).get("version")
                   or (predictor.raw.get("labels") or {}).get("version") or "")
        self.containers = containers_by_name(predictor)
        self.outlier_nodes = tuple(n.name for n in predictor.graph.walk()
                                   if n.implementation == "MLCONSOLE_OUTLIER_DETECTOR")
        self.metrics = GraphMetrics(deployment, predictor.name, str(version), {})
        self.feedback_nodes: list[str] = []  # nodes Seldon sends feedback to: models and routers
        for node in predictor.graph.walk():
            component = executor.component(node.name)
            kind = node_type(node, component)
            self._node_labels(node.name, kind, component.label or node.implementation or node.model_uri or node.name)
            if kind in ("MODEL", "ROUTER"):
                self.feedback_nodes.append(node.name)
        self.model_names = {deployment, predictor.name}
        self.node_set = frozenset(executor.node_names)
        self.metadata = self._metadata()
        # One graph call at a time: the GIL would serialise them anyway, and a component
        # written for Seldon's single-threaded wrapper need not be thread-safe.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="graph")
        self._call_time = 0.0  # moving average of one graph call, seconds
        self._in_thread = 0  # calls queued or running in the worker thread

    # -- running the graph -------------------------------------------------------------------

    def _timed(self, method: Any, message: Any) -> Any:
        start = _perf()
        try:
            return method(message)
        finally:
            # The call's own time, queueing excluded (a float written from the worker thread is fine).
            self._call_time += (_perf() - start - self._call_time) * 0.1

    async def _run(self, method: Any, message: Any) -> Any:
        # Inline only while no call is in the worker thread: calls never overlap either way.
        if self._call_time < OFFLOAD_AFTER and not self._in_thread:
            return self._timed(method, message)
        self._in_thread += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._timed, method, message)
        finally:
            self._in_thread -= 1

    def _node_labels(self, name: str, node_type: str, runs: str) -> NodeLabels:
        container = self.containers.get(name) or {}
        image, version = image_and_version(runs, container.get("image"))
        labels = NodeLabels(SERVICES.get(node_type, "/predict"), image, version)
        self.metrics.nodes[name] = labels
        return labels

    def _observe_run(self, run: Any) -> None:
        metrics = self.metrics
        for node in run.nodes:
            metrics.observe_node(node.name, 200, node.seconds)
        metrics.observe_meta(run.response.get("meta") or {}, self.outlier_nodes)

    def _failure(self, exc: Exception, service: str, start: float, v2: bool, path: str) -> web.Response:
        """The error answer (400 for bad input, 500 for a failing node), logged on one line."""
        if isinstance(exc, ConnectionError):
            raise exc  # the client went away mid-request: nobody to answer
        if isinstance(exc, InvalidSpec):
            code = 400
        elif isinstance(exc, ConsoleError):
            code = 500
            if exc.target in self.node_set:  # the node that failed (a model URI target is not a node)
                self.metrics.observe_node(exc.target, 500, _perf() - start)
        else:  # a bug of ours or a component's exception that escaped: still one line, still up
            code = 500
            exc = ConsoleError(f"internal error: {type(exc).__name__}: {exc}")
        message = str(exc)
        log.warning("%d %s: %s", code, path, message)
        self.metrics.observe_request(service, code, _perf() - start)
        body = v2_error(message) if v2 else seldon_failure(code, message)
        return web.Response(status=code, body=dumps(body), content_type=JSON)

    def _fault(self, service: str, start: float, v2: bool) -> web.Response | None:
        """The injected failure for this request, or None to serve it (only with --fault-rate)."""
        if not self.fault_rate or random.random() >= self.fault_rate:
            return None
        self.metrics.observe_request(service, 500, _perf() - start)
        body = v2_error(FAULT_MESSAGE) if v2 else seldon_failure(500, FAULT_MESSAGE)
        return web.Response(status=500, body=dumps(body), content_type=JSON)

    @staticmethod
    def _parse(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            what = "empty" if not body.strip() else f"not valid JSON: {exc}"
            raise InvalidSpec(f"the request body is {what}") from None

    @staticmethod
    def _with_puid(message: Any, puid: str | None) -> Any:
        """Seldon's executor passes the request id in the Seldon-Puid header; the body's own wins."""
        if puid and isinstance(message, dict):
            meta = message.get("meta")
            if meta is None:
                message["meta"] = {"puid": puid}
            elif isinstance(meta, dict) and not meta.get("puid"):
                meta["puid"] = puid
        return message

    # -- Seldon v1 ---------------------------------------------------------------------------

    async def predictions(self, request: web.Request) -> web.Response:
        """POST /api/v1.0/predictions: a Seldon v1 message through the graph."""
        start = _perf()
        if self.fault_rate and (fault := self._fault("predictions", start, False)) is not None:
            return fault
        try:
            message = self._with_puid(self._parse(await request.read()), request.headers.get(PUID_HEADER))
            run = await self._run(self.executor.run, message)
            body = dumps(run.response)
        except Exception as exc:
            return self._failure(exc, "predictions", start, False, request.path)
        self._observe_run(run)
        self.metrics.observe_request("predictions", 200, _perf() - start)
        return web.Response(body=body, content_type=JSON)

    async def feedback(self, request: web.Request) -> web.Response:
        """POST /api/v1.0/feedback: a Seldon v1 Feedback down the path it rewards."""
        start = _perf()
        try:
            message = self._parse(await request.read())
            response = await self._run(self.executor.feedback, message)
            body = dumps(response)
        except Exception as exc:
            return self._failure(exc, "feedback", start, False, request.path)
        reward = message.get("reward") or 0.0
        # The nodes the rewarded request went through (all of them when the response is not given).
        path = ((message.get("response") or {}).get("meta") or {}).get("requestPath")
        nodes = [n for n in path if n in self.feedback_nodes] if isinstance(path, dict) and path \
            else self.feedback_nodes
        self.metrics.observe_feedback(float(reward), nodes)
        self.metrics.observe_meta(response.get("meta") or {}, ())
        self.metrics.observe_request("feedback", 200, _perf() - start)
        return web.Response(body=body, content_type=JSON)

    # -- Open Inference Protocol (V2) ---------------------------------------------------------

    def _model_missing(self, name: str) -> web.Response | None:
        if name in self.model_names:
            return None
        known = ", ".join(sorted(self.model_names))
        return web.Response(status=404, body=dumps(v2_error(f"model {name!r} is not served here (serving: {known})")),
                            content_type=JSON)

    async def infer(self, request: web.Request) -> web.Response:
        """POST /v2/models/{name}/infer: a V2 inference request through the graph."""
        start = _perf()
        name = request.match_info["name"]
        missing = self._model_missing(name)
        if missing is not None:
            return missing
        if self.fault_rate and (fault := self._fault("infer", start, True)) is not None:
            return fault
        try:
            decoded = v2_to_seldon(self._parse(await request.read()))
            self._with_puid(decoded.message, request.headers.get(PUID_HEADER))
            run = await self._run(self.executor.run, decoded.message)
            body = dumps(seldon_to_v2(run.response, decoded, name))
        except Exception as exc:
            return self._failure(exc, "infer", start, True, request.path)
        self._observe_run(run)
        self.metrics.observe_request("infer", 200, _perf() - start)
        return web.Response(body=body, content_type=JSON)

    async def model_metadata(self, request: web.Request) -> web.Response:
        """GET /v2/models/{name}: the V2 model metadata."""
        missing = self._model_missing(request.match_info["name"])
        if missing is not None:
            return missing
        return web.Response(body=dumps(self.metadata), content_type=JSON)

    async def model_ready(self, request: web.Request) -> web.Response:
        """GET /v2/models/{name}/ready."""
        missing = self._model_missing(request.match_info["name"])
        return missing if missing is not None else web.Response(body=b'{"ready":true}', content_type=JSON)

    async def server_metadata(self, request: web.Request) -> web.Response:
        """GET /v2: the V2 server metadata."""
        from console import __version__

        return web.Response(body=dumps({"name": "mlconsole", "version": __version__, "extensions": []}),
                            content_type=JSON)

    def _metadata(self) -> dict[str, Any]:
        """V2 model metadata: the first registry model's signature, when the graph has one."""
        inputs: list[dict[str, Any]] = []
        outputs: list[dict[str, Any]] = []
        for name in self.executor.node_names:
            component = self.executor.component(name)
            loaded = getattr(component, "model", None)
            pyfunc = getattr(loaded, "model", None)
            meta = getattr(pyfunc, "metadata", None)
            if meta is None:
                continue
            inputs = _schema_tensors(meta, "get_input_schema")
            outputs = _schema_tensors(meta, "get_output_schema")
            break
        return {"name": self.deployment, "versions": [self.predictor_name], "platform": "mlconsole",
                "inputs": inputs, "outputs": outputs,
                "parameters": {"predictor": self.predictor_name, "nodes": self.executor.node_names}}

    # -- health and metrics ---------------------------------------------------------------

    async def live(self, request: web.Request) -> web.Response:
        """GET /v2/health/live (and /live)."""
        return web.Response(body=b'{"live":true}', content_type=JSON)

    async def ready(self, request: web.Request) -> web.Response:
        """GET /v2/health/ready (and /ready)."""
        # Models load before the socket opens: answering at all means ready.
        return web.Response(body=b'{"ready":true}', content_type=JSON)

    async def ping(self, request: web.Request) -> web.Response:
        """GET /health/ping, as Seldon's Python wrapper answers it."""
        return web.Response(text="pong")


    def close(self) -> None:
        """Let go of the worker threads (a call still running finishes on its own)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _schema_tensors(meta: Any, getter: str) -> list[dict[str, Any]]:
    """V2 tensor metadata from an MLflow signature schema ([] when there is none)."""
    try:
        schema = getattr(meta, getter)()
        if schema is None:
            return []
        if schema.is_tensor_spec():
            out = []
            for i, spec in enumerate(schema.inputs):
                shape = list(spec.shape or [-1])
                dtype = str(getattr(spec.type, "name", spec.type))
                datatype = {"float64": "FP64", "float32": "FP32", "int64": "INT64", "int32": "INT32",
                            "bool": "BOOL"}.get(dtype, "BYTES")
                out.append({"name": spec.name or f"input-{i}", "datatype": datatype, "shape": shape})
            return out
        out = []
        for i, spec in enumerate(schema.inputs):
            kind = str(getattr(spec.type, "name", spec.type)).lower()
            out.append({"name": spec.name or f"input-{i}", "datatype": MLFLOW_TYPES.get(kind, "BYTES"),
                        "shape": [-1]})
        return out
    except Exception:  # a signature we cannot read: the metadata just leaves it out
        return []


# -- the process ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m backends.local.serving.graph_server",
                                     description="Serve one predictor replica of a deployment")
    parser.add_argument("--manifest", required=True, type=Path, help="the SeldonDeployment (YAML or JSON)")
    parser.add_argument("--predictor", required=True, help="which predictor of the manifest to serve")
    parser.add_argument("--deployment", required=True, help="the deployment's name (metric labels)")
    parser.add_argument("--replica", type=int, default=0, help="this replica's index")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--port-file", type=Path, default=None, help="where to write the bound port")
    parser.add_argument("--registry", default=os.environ.get("MLFLOW_TRACKING_URI", ""),
                        help="MLflow tracking URI the models load from (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--home", type=Path, default=None, help="the mlconsole home")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--fault-rate", type=_fraction, default=0.0, metavar="R",
                        help="answer this fraction (0..1) of prediction requests with an injected 500 "
                             "(rollback drills)")
    return parser.parse_args(argv)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def build_server(args: argparse.Namespace) -> GraphServer:
    """Load the manifest and the predictor's graph with its models; ConsoleError when it cannot."""
    from backends.mlflow.model_loader import MlflowModelSource
    from console.errors import NotFound
    from console.graph.executor import GraphExecutor
    from console.graph.manifest_io import load_file

    deployment = load_file(str(args.manifest))
    predictor = next((p for p in deployment.predictors if p.name == args.predictor), None)
    if predictor is None:
        raise NotFound(f"manifest {args.manifest} has no predictor {args.predictor!r}",
                       hint="predictors: " + ", ".join(p.name for p in deployment.predictors))
    executor = GraphExecutor(predictor, MlflowModelSource(args.registry),
                             search_paths=(str(args.manifest.resolve().parent),))
    return GraphServer(executor, args.deployment, predictor, args.replica, getattr(args, "fault_rate", 0.0))


async def _main(args: argparse.Namespace, server: GraphServer, started: float) -> int:
    def started_on(port: int) -> None:
        log.info("serving %s/%s replica %d on http://%s:%d (%d nodes, ready in %.2f s)", args.deployment,
                 args.predictor, args.replica, args.host, port, len(server.executor.node_names), _perf() - started)
        if server.fault_rate:
            log.warning("fault injection on: %.0f%% of prediction requests answer 500 (%s)",
                        server.fault_rate * 100, FAULT_MESSAGE)

    try:
        return await serve(server.app(), args.host, args.port, args.port_file, on_started=started_on)
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: serve until SIGTERM or SIGINT."""
    args = parse_args(argv)
    setup_logging(f"graph-server[{args.deployment}/{args.predictor}/{args.replica}]")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # One graph call at a time, mostly single rows: a thread team per call only adds its start-up,
    # and on busy cores (a gateway, other replicas) OpenMP's waiting threads made a gradient-boosted
    # model answer 10-30x slower (about 12 ms -> 130-420 ms here). Set before numpy or sklearn load;
    # an operator's own setting wins.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    started = _perf()
    try:
        server = build_server(args)
    except ConsoleError as exc:
        log.error("cannot serve %s/%s: %s", args.deployment, args.predictor, exc)
        return 2
    except Exception as exc:  # a component's constructor or import blowing up: one line, exit 2
        log.error("cannot serve %s/%s: %s: %s", args.deployment, args.predictor, type(exc).__name__, exc)
        return 2
    return run(lambda: _main(args, server, started))


if __name__ == "__main__":
    sys.exit(main())
