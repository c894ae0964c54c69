"""Serving benchmark (issue 5): one scikit-learn model, one row per request, the same load from
the same client, against the local runtime and its peers, in one run. Prints a table and the
ratios; asserts nothing.

(a) the runtime's gateway: a one-predictor SeldonDeployment whose MODEL node is
    models:/bench-model@champion, deployed with `mlconsole deploy` into a temporary home;
(b) that deployment's graph server directly (no gateway hop);
(c) MLServer with its scikit-learn runtime on the same model.pkl (V2 protocol), in its own venv;
(d) Seldon's Python wrapper (seldon-core-microservice) with a component that loads the same
    model.pkl, inside a private network namespace (it binds 0.0.0.0), loaded from inside it;
(e) in-process: the pyfunc as the runtime calls it, the graph executor, raw predict_proba.

Then the graph overhead: a 3-node graph (feature transformer selecting columns -> the model ->
output transformer renaming them) against the single-model graph, each in its own graph
server, sequential requests, p50 difference. Goals: the gateway at least matches MLServer's
throughput and p99; the 3-node graph costs under 1 ms more than the single model.

    python bench/serving.py [--quick] [--duration S] [--rounds N] [--concurrency 1,16]
                            [--skip-mlserver] [--skip-seldon]

The peers' venvs are built once under ~/.cache/mlconsole-bench (about a minute each, the first
time). wrk is the load client (installed with apt-get when missing and running as root), else
a threaded Python client. Every process the bench starts is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import serving_peers as peers  # noqa: E402
from bench.serving_load import (  # noqa: E402
    LoadResult,
    ensure_wrk,
    load,
    load_with_cpu,
    post_json,
    wait_http,
    wrk_path,
)

MODEL, ALIAS, DEPLOYMENT = "bench-model", "champion", "bench"
MODEL_URI = f"models:/{MODEL}@{ALIAS}"
FEATURES = [f"f{i}" for i in range(6)]
ROW = [0.52, 0.61, 0.37, 1.71, -0.24, 0.08]
OUTPUT_NAMES = ["p_negative", "p_positive"]

SINGLE = f"""apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {{name: {DEPLOYMENT}}}
spec:
  predictors:
  - name: main
    traffic: 100
    graph: {{name: model, type: MODEL, modelUri: "{MODEL_URI}"}}
"""

# Two predictors, each served by its own standalone graph server: the model alone, and the
# model between a feature transformer (select the model's columns) and an output transformer.
OVERHEAD = f"""apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {{name: overhead}}
spec:
  predictors:
  - name: single
    graph: {{name: model, type: MODEL, modelUri: "{MODEL_URI}"}}
  - name: chain
    graph:
      name: output
      type: OUTPUT_TRANSFORMER
      implementation: MLCONSOLE_FEATURE_TRANSFORMER
      parameters:
      - {{name: rename, type: JSON, value: '{{"t:0": "{OUTPUT_NAMES[0]}", "t:1": "{OUTPUT_NAMES[1]}"}}'}}
      children:
      - name: features
        type: TRANSFORMER
        implementation: MLCONSOLE_FEATURE_TRANSFORMER
        parameters:
        - {{name: columns, type: JSON, value: '{json.dumps(FEATURES)}'}}
        children:
        - {{name: model, type: MODEL, modelUri: "{MODEL_URI}"}}
"""

V1_BODY = json.dumps({"data": {"ndarray": [ROW]}}, separators=(",", ":"))
V1_NAMED = json.dumps({"data": {"names": FEATURES, "ndarray": [ROW]}}, separators=(",", ":"))
V1_WIDE = json.dumps({"data": {"names": ["customer_id", *FEATURES, "channel"], "ndarray": [[4242, *ROW, "web"]]}},
                     separators=(",", ":"))
V2_BODY = json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(ROW)], "datatype": "FP64", "data": ROW}]},
                     separators=(",", ":"))


def say(text: str) -> None:
    print(text, flush=True)


# -- processes, all stopped on the way out -----------------------------------------------------


class Processes:
    """Everything the bench started: killed by process group (and by PID) on exit."""

    def __init__(self) -> None:
        self.groups: list[subprocess.Popen] = []
        self.pid_files: list[Path] = []
        self.homes: list[Path] = []
        self._lock = threading.Lock()

    def add(self, process: subprocess.Popen) -> subprocess.Popen:
        with self._lock:
            self.groups.append(process)
        return process

    def stop(self) -> None:
        for home in self.homes:
            stop_runtime(home)
        for process in reversed(self.groups):
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in self.groups:
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        for pid_file in self.pid_files:
            peers.kill_pids_in(pid_file)


def runtime_pids(home: Path) -> list[int]:
    """The live processes of this home's runtime: supervisor, gateway, graph servers."""
    from backends.local.state import process_cmdline, process_running

    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = process_cmdline(int(entry.name))
            if "--home" in argv and str(home) in argv and any(a.startswith("backends.local.") for a in argv):
                if process_running(int(entry.name)):
                    out.append(int(entry.name))
    return out


def stop_runtime(home: Path) -> None:
    """`mlconsole local down`, then SIGKILL whatever of this home's runtime is left."""
    with contextlib.suppress(Exception):
        mlconsole(home, "", "local", "down", timeout=30)
    for pid in runtime_pids(home):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def child_env(tmp: Path) -> dict[str, str]:
    """The environment of every child: quiet MLflow, and XDG dirs of our own (no user config read)."""
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", PYTHONUNBUFFERED="1",
               XDG_CONFIG_HOME=str(tmp / "xdg" / "config"), XDG_DATA_HOME=str(tmp / "xdg" / "data"),
               XDG_STATE_HOME=str(tmp / "xdg" / "state"))
    for key in ("MLFLOW_TRACKING_URI", "MLCONSOLE_CONFIG", "MLCONSOLE_HOME"):
        env.pop(key, None)
    return env


ENV: dict[str, str] = {}


def mlconsole(home: Path, registry: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The CLI as a script runs it."""
    argv = [sys.executable, "-m", "console.cli", "--home", str(home)]
    if registry:
        argv += ["--registry", registry]
    return subprocess.run([*argv, *args], capture_output=True, text=True, cwd=ROOT, env=ENV or None,
                          timeout=timeout)


# -- the model -------------------------------------------------------------------------------


def train_and_register(tmp: Path, registry: str) -> tuple[Any, Path]:
    """A small StandardScaler + LogisticRegression on synthetic data, logged as an MLflow sklearn
    model (pickle format, so the peers can joblib.load the same file) and aliased @champion.
    Returns the fitted pipeline and the path of the logged model.pkl."""
    import logging
    import warnings

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from backends.mlflow.registry import quiet_mlflow_env

    quiet_mlflow_env()
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, len(FEATURES)))
    logit = X @ np.array([1.5, -2.0, 0.7, 0.0, 0.3, -0.8]) + rng.normal(scale=0.5, size=len(X))
    y = (logit > 0).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(X, y)

    from mlflow.utils.autologging_utils.logging_and_warnings import (
        MlflowEventsAndWarningsBehaviorGlobally as EventsAndWarnings,
    )

    # Table creation, "Successfully registered...", and the pickle-format caution (chosen knowingly).
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    client = mlflow.MlflowClient(tracking_uri=registry, registry_uri=registry)
    exp = client.create_experiment("bench-serving", artifact_location=(tmp / "artifacts").as_uri())
    mlflow.set_tracking_uri(registry)
    mlflow.set_registry_uri(registry)
    with warnings.catch_warnings(), mlflow.start_run(experiment_id=exp, run_name="bench"), \
            EventsAndWarnings(disable_event_logs=True, disable_warnings=True, reroute_warnings=False):
        warnings.simplefilter("ignore")
        info = mlflow.sklearn.log_model(pipeline, name="model", serialization_format="pickle",
                                        signature=infer_signature(X[:100], pipeline.predict_proba(X[:100])),
                                        pyfunc_predict_fn="predict_proba", registered_model_name=MODEL,
                                        pip_requirements=[peers.sklearn_pin()])
    client.set_registered_model_alias(MODEL, ALIAS, str(info.registered_model_version))
    # The very file MLflow stored (a local artifact store here); a download only for a remote one.
    location = client.get_logged_model(info.model_id).artifact_location
    if location.startswith("file://"):
        local = Path(urllib.parse.urlsplit(location).path)
    else:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=MODEL_URI, dst_path=str(tmp / "model")))
    model_file = local / "model.pkl"
    if not model_file.exists():
        raise RuntimeError(f"the logged model has no model.pkl: {sorted(p.name for p in local.iterdir())}")
    return pipeline, model_file


# -- checking answers --------------------------------------------------------------------------


def close(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(abs(a - b) < 1e-9 for a, b in zip(got, expected, strict=True))


def check_v1(url: str, body: str, expected: list[float], names: list[str] | None = None) -> None:
    answer = post_json(url, body)
    data = answer.get("data") or {}
    got = (data.get("ndarray") or data.get("tensor", {}).get("values") or [[]])
    got = got[0] if got and isinstance(got[0], list) else got
    if not close(got, expected) or (names is not None and data.get("names") != names):
        raise RuntimeError(f"{url} answered {json.dumps(answer)[:400]}, expected {expected} {names or ''}")


def check_v2(url: str, body: str, expected: list[float]) -> None:
    answer = post_json(url, body)
    got = (answer.get("outputs") or [{}])[0].get("data")
    if not isinstance(got, list) or not close(got, expected):
        raise RuntimeError(f"{url} answered {json.dumps(answer)[:400]}, expected {expected}")


# -- in-process reference ----------------------------------------------------------------------


def in_process(calls: dict[str, Any], seconds: float) -> dict[str, LoadResult]:
    """Each callable in a loop for `seconds`, interleaved in four slices; per-call percentiles."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    spent: dict[str, float] = dict.fromkeys(calls, 0.0)
    perf = time.perf_counter
    for fn in calls.values():
        for _ in range(200):
            fn()
    for _ in range(4):
        for name, fn in calls.items():
            mine = times[name]
            stop_at = perf() + seconds / 4
            begun = perf()
            while perf() < stop_at:
                start = perf()
                fn()
                mine.append(perf() - start)
            spent[name] += perf() - begun
    out = {}
    for name, values in times.items():
        values.sort()
        n = len(values)
        out[name] = LoadResult(n, spent[name], values[n // 2] * 1000, values[int(n * 0.9)] * 1000,
                               values[min(n - 1, int(n * 0.99))] * 1000, 0, "loop")
    return out


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per target and concurrency")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each measured one")
    parser.add_argument("--rounds", type=int, default=1, help="measured runs per target, interleaved (medians)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated connection counts")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (2 cores here: 1 leaves one to the server)")
    parser.add_argument("--quick", action="store_true", help="3 s per run, 1 s warm-up, short overhead figure")
    parser.add_argument("--skip-mlserver", action="store_true", help="leave MLServer out")
    parser.add_argument("--skip-seldon", action="store_true", help="leave Seldon's Python wrapper out")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, registry)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = min(args.duration, 3.0), min(args.warmup, 1.0)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    return args


class Bench:
    """One run: sets everything up, measures, prints, and (via Processes) stops it all."""

    def __init__(self, args: argparse.Namespace, tmp: Path, procs: Processes) -> None:
        self.args = args
        self.tmp = tmp
        self.procs = procs
        self.results: dict[tuple[str, int], list[LoadResult]] = {}
        self.labels: dict[str, str] = {}
        self.left_out: dict[str, str] = {}
        self.notes: list[str] = []

    # -- setup ---------------------------------------------------------------------------------

    def build_venvs(self) -> dict[str, Any]:
        """Start building the peers' venvs in the background (pip runs while we train and deploy)."""
        wanted = {}
        if not self.args.skip_mlserver:
            wanted["mlserver"] = peers.mlserver_venv()
        if not self.args.skip_seldon:
            why = peers.can_unshare()
            if why:
                self.left_out["seldon"] = why
            else:
                wanted["seldon"] = peers.seldon_venv()
        states: dict[str, Any] = {}
        for name, venv in wanted.items():
            state: dict[str, Any] = {"venv": venv, "error": None}
            if venv.ready():
                state["thread"] = None
            else:
                say(f"building the {name} venv under {venv.path} (first run only, about a minute)")

                def build(v=venv, s=state, n=name) -> None:
                    try:
                        v.build(self.tmp / f"{n}-pip.log", register=self.procs.add)
                    except Exception as exc:  # reported as the reason the peer is left out
                        s["error"] = str(exc)

                state["thread"] = threading.Thread(target=build, daemon=True)
                state["thread"].start()
            states[name] = state
        return states

    @staticmethod
    def venv_ready(state: dict[str, Any]) -> Any:
        if state.get("thread") is not None:
            state["thread"].join()
        if state["error"]:
            raise RuntimeError(state["error"])
        return state["venv"]

    def deploy(self, registry: str) -> tuple[str, str, dict[str, int]]:
        """Deploy SINGLE with the CLI; the gateway's and the replica's base URLs, and their PIDs."""
        home = self.tmp / "home"
        self.procs.homes.append(home)
        manifest = self.tmp / "bench.yaml"
        manifest.write_text(SINGLE)
        started = time.perf_counter()
        out = mlconsole(home, registry, "deploy", str(manifest), "--wait", "--timeout", "150", timeout=200)
        if out.returncode != 0:
            raise RuntimeError(f"mlconsole deploy failed ({out.returncode}):\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
        say(f"deployed {DEPLOYMENT} on the local runtime in {time.perf_counter() - started:.1f} s")
        deps = json.loads(mlconsole(home, registry, "get", "deployments", DEPLOYMENT, "--json").stdout)
        gateway = deps["deployments"][0]["url"].rstrip("/")
        pods = json.loads(mlconsole(home, registry, "get", "pods", DEPLOYMENT, "--json").stdout)["pods"]
        replica = next(p for p in pods if p.get("predictor") == "main" and p.get("port"))
        pids = {"gateway": next(p["pid"] for p in pods if p.get("kind") == "gateway"), "graph server": replica["pid"]}
        return gateway, f"http://127.0.0.1:{replica['port']}", pids

    def graph_servers(self, registry: str) -> dict[str, str]:
        """Two standalone graph servers for the overhead figure: `single` and `chain`."""
        manifest = self.tmp / "overhead.yaml"
        manifest.write_text(OVERHEAD)
        started = {}
        for predictor in ("single", "chain"):
            port_file = self.tmp / f"{predictor}.port"
            with open(self.tmp / f"graph-server-{predictor}.log", "w") as log:
                process = self.procs.add(subprocess.Popen(
                    [sys.executable, "-m", "backends.local.serving.graph_server", "--manifest", str(manifest),
                     "--predictor", predictor, "--deployment", "overhead", "--port", "0", "--port-file",
                     str(port_file), "--registry", registry, "--home", str(self.tmp / "overhead-home")],
                    stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=ENV, start_new_session=True))
            started[predictor] = (process, port_file)
        urls = {}
        for predictor, (process, port_file) in started.items():
            deadline = time.monotonic() + 90
            while not (port_file.exists() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    text = (self.tmp / f"graph-server-{predictor}.log").read_text(errors="replace")
                    raise RuntimeError(f"graph server {predictor} did not start:\n{text[-1500:]}")
                time.sleep(0.05)
            urls[predictor] = f"http://127.0.0.1:{int(port_file.read_text())}"
        return urls

    # -- measuring -------------------------------------------------------------------------------

    def measure(self, targets: dict[str, tuple[str, str, dict[str, int]]]) -> None:
        """Every (target, concurrency) for `rounds` rounds, interleaved so noise hits all alike."""
        a = self.args
        warmed: set[tuple[str, int]] = set()
        for round_ in range(a.rounds):
            for connections in a.concurrency:
                for key, (url, body, processes) in targets.items():
                    if (key, connections) not in warmed:
                        load(url, body, connections, a.warmup, a.threads)
                        warmed.add((key, connections))
                    result = load_with_cpu(url, body, connections, a.duration, a.threads, processes)
                    self.results.setdefault((key, connections), []).append(result)
                    self.progress(key, round_, connections, result)

    def progress(self, key: str, round_: int, connections: int, result: LoadResult) -> None:
        cpu = " + ".join(f"{name} {ms:.2f}" for name, ms in result.cpu.items())
        say(f"  round {round_ + 1} c={connections:<3d} {self.labels[key]:34s} {result.rps:7.0f} req/s  "
            f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  CPU ms/req: {cpu}"
            + (f"  ERRORS {result.errors}" if result.errors else ""))

    def seldon(self, venv: Any, model_file: Path, expected: list[float]) -> None:
        """Seldon's wrapper, loaded from inside its own network namespace."""
        a = self.args
        workdir = self.tmp / "seldon"
        self.procs.pid_files.append(workdir / "pids")
        config = {"port": 9000, "body": V1_BODY, "expected": expected, "concurrency": a.concurrency,
                  "duration": a.duration, "warmup": a.warmup, "rounds": a.rounds, "threads": a.threads,
                  "version": " ".join(venv.requirements[:1])}
        process = self.procs.add(peers.start_seldon_run(venv, model_file, workdir, config))
        error = None
        assert process.stdout is not None
        for line in process.stdout:
            if not line.startswith("BENCH-SELDON "):
                continue
            event = json.loads(line[len("BENCH-SELDON "):])
            if event["kind"] == "check":
                say(f"  seldon wrapper answered {json.dumps(event['answer'])} ({'ok' if event['ok'] else 'WRONG'})")
                if not event["ok"]:
                    error = "its answer did not match the model's probabilities"
            elif event["kind"] == "load":
                result = LoadResult.from_dict(event["result"])
                connections = event["connections"]
                self.results.setdefault(("seldon", connections), []).append(result)
                self.progress("seldon", event["round"], connections, result)
            elif event["kind"] == "error":
                error = event["message"] + ("; log: " + " | ".join(event["log"]) if event.get("log") else "")
        process.wait(60)
        if error or process.returncode:
            self.left_out["seldon"] = error or f"the namespace run exited {process.returncode}"

    def overhead(self, urls: dict[str, str], expected: list[float]) -> dict[str, list[float]]:
        """Sequential p50s (one connection) of the single-model and the 3-node graph, interleaved."""
        a = self.args
        runs = {"single": (urls["single"], V1_BODY), "single-named": (urls["single"], V1_NAMED),
                "chain": (urls["chain"], V1_WIDE)}
        check_v1(urls["single"] + "/api/v1.0/predictions", V1_BODY, expected)
        check_v1(urls["single"] + "/api/v1.0/predictions", V1_NAMED, expected)
        check_v1(urls["chain"] + "/api/v1.0/predictions", V1_WIDE, expected, OUTPUT_NAMES)
        rounds, seconds = (1, 2.0) if a.quick else (3, max(2.0, a.duration / 2))
        p50s: dict[str, list[float]] = {k: [] for k in runs}
        for url, body in runs.values():
            load(url + "/api/v1.0/predictions", body, 1, a.warmup)
        for _ in range(rounds):
            for key, (url, body) in runs.items():
                p50s[key].append(load(url + "/api/v1.0/predictions", body, 1, seconds).p50_ms)
        return p50s

    # -- the whole run ---------------------------------------------------------------------------

    def run(self) -> None:
        a = self.args
        tmp = self.tmp
        self.load_before = os.getloadavg()[0]
        if ensure_wrk(say) is None:
            self.notes.append("wrk is not installed (and could not be): the threaded Python client measured "
                              "everything, so figures are lower and noisier than wrk's")
        venvs = self.build_venvs()
        registry = f"sqlite:///{tmp / 'registry.db'}"
        started = time.perf_counter()
        pipeline, model_file = train_and_register(tmp, registry)
        import numpy as np

        expected = [float(v) for v in pipeline.predict_proba(np.array([ROW]))[0]]
        say(f"trained and registered {MODEL_URI} in {time.perf_counter() - started:.1f} s; "
            f"p(row) = {expected[1]:.6f}; model file {model_file}")

        gateway, replica, pids = self.deploy(registry)
        self.labels = {"gateway": "(a) runtime gateway (Seldon v1)", "graph": "(b) runtime graph server (v1)",
                       "mlserver": f"(c) MLServer {peers.MLSERVER_VERSION} sklearn (V2)", "seldon": "(d) Seldon wrapper (v1)"}
        targets = {"gateway": (gateway + "/api/v1.0/predictions", V1_BODY, pids),
                   "graph": (replica + "/api/v1.0/predictions", V1_BODY, {"graph server": pids["graph server"]})}
        for url, body, _ in targets.values():
            check_v1(url, body, expected)
        say(f"runtime: gateway {gateway}, graph server {replica}: both answer {expected}")

        if "mlserver" in venvs:
            try:
                venv = self.venv_ready(venvs["mlserver"])
                server = peers.start_mlserver(venv, model_file, tmp / "mlserver", MODEL)
                self.procs.add(server.process)
                wait_http(f"http://127.0.0.1:{server.port}/v2/models/{MODEL}/ready", 120, server.alive)
                check_v2(server.infer_url, V2_BODY, expected)
                targets["mlserver"] = (server.infer_url, V2_BODY, {"mlserver": server.process.pid})
                say(f"MLServer on 127.0.0.1:{server.port} answers {expected}")
            except Exception as exc:
                self.left_out["mlserver"] = str(exc)
        else:
            self.left_out["mlserver"] = "--skip-mlserver"
        seldon_venv = None
        if "seldon" in venvs:
            try:
                seldon_venv = self.venv_ready(venvs["seldon"])
                version = seldon_venv.requirements[0].split("==")[-1]
                self.labels["seldon"] = f"(d) Seldon wrapper {version} (v1)"
            except Exception as exc:
                self.left_out["seldon"] = f"its venv could not be built: {exc}"
        elif a.skip_seldon:
            self.left_out["seldon"] = "--skip-seldon"

        say(f"\nload: {a.duration:g} s per run after {a.warmup:g} s of warm-up, {a.rounds} round(s), "
            f"client {f'wrk -t{a.threads}' if wrk_path() else 'python threads'}, keep-alive")
        self.measure(targets)
        if seldon_venv is not None:
            self.seldon(seldon_venv, model_file, expected)

        say("\nin-process reference")
        self.inproc = self.in_process_figures(registry, model_file, pipeline)
        say("graph overhead: starting two standalone graph servers (single model, 3-node chain)")
        self.p50s = self.overhead(self.graph_servers(registry), expected)
        self.report()

    def in_process_figures(self, registry: str, model_file: Path, pipeline: Any) -> dict[str, LoadResult]:
        import joblib
        import numpy as np

        from backends.mlflow.model_loader import MlflowModelSource
        from console.graph.executor import GraphExecutor
        from console.graph.manifest_io import load_file

        source = MlflowModelSource(registry)
        loaded = source.load(MODEL_URI)
        raw = joblib.load(model_file)
        executor = GraphExecutor(load_file(str(self.tmp / "bench.yaml")).predictors[0], source)
        row = np.array([ROW])
        request = json.loads(V1_BODY)
        calls = {"pyfunc": lambda: loaded(row), "executor": lambda: executor.predict(request),
                 "sklearn": lambda: raw.predict_proba(row)}
        self.labels.update({"pyfunc": "(e) pyfunc predict (MlflowModelSource)",
                            "executor": "(e) GraphExecutor.predict, 1 node",
                            "sklearn": "(e) raw predict_proba (joblib.load)"})
        return in_process(calls, min(8.0, max(2.0, self.args.duration / 2)))

    # -- the table -------------------------------------------------------------------------------

    def figure(self, key: str, connections: int) -> LoadResult | None:
        """The medians over rounds (errors and requests summed)."""
        runs = self.results.get((key, connections))
        if not runs:
            return None
        med = statistics.median
        cpu = {name: med(r.cpu.get(name, 0.0) for r in runs) for name in runs[0].cpu}
        return LoadResult(sum(r.requests for r in runs), sum(r.seconds for r in runs),
                          med(r.p50_ms for r in runs), med(r.p90_ms for r in runs), med(r.p99_ms for r in runs),
                          sum(r.errors for r in runs), runs[0].client, cpu)

    def rps(self, key: str, connections: int) -> float:
        return statistics.median(r.rps for r in self.results[(key, connections)])

    def report(self) -> None:
        a = self.args
        line = "-" * 100
        say(f"\n{line}\nserving benchmark: one scikit-learn model ({MODEL_URI}: StandardScaler + LogisticRegression, "
            f"{len(FEATURES)} features), one row per request, {a.duration:g} s x {a.rounds} round(s) per figure")
        say(f"load average (1 min) at start {self.load_before:.2f}, at end {os.getloadavg()[0]:.2f} on "
            f"{os.cpu_count()} CPUs: the client, the servers and anything else running share them")
        say(f"{'target':40s} {'conc':>4s} {'req/s':>8s} {'p50 ms':>7s} {'p90 ms':>7s} {'p99 ms':>7s} "
            f"{'errors':>6s} {'server CPU ms/req':>18s}")
        say(line)
        for key in ("gateway", "graph", "mlserver", "seldon"):
            if key in self.left_out:
                say(f"{self.labels[key]:40s}  left out: {self.left_out[key]}")
                continue
            for c in a.concurrency:
                f = self.figure(key, c)
                if f is None:
                    continue
                cpu = sum(f.cpu.values())
                parts = f" ({' + '.join(f'{v:.2f}' for v in f.cpu.values())})" if len(f.cpu) > 1 else ""
                say(f"{self.labels[key]:40s} {c:4d} {self.rps(key, c):8.0f} {f.p50_ms:7.2f} {f.p90_ms:7.2f} "
                    f"{f.p99_ms:7.2f} {f.errors:6d} {cpu:8.2f}{parts}")
        for key, f in self.inproc.items():
            say(f"{self.labels[key]:40s} {'-':>4s} {f.rps:8.0f} {f.p50_ms:7.3f} {f.p90_ms:7.3f} {f.p99_ms:7.3f}")
        say(line)
        say("gateway CPU ms/req is (gateway + graph server); in-process rows are calls/s and ms per call")
        for c in a.concurrency:
            via, direct = self.figure("gateway", c), self.figure("graph", c)
            if via and direct:
                say(f"gateway hop at c={c}: (a) - (b) p50 {via.p50_ms - direct.p50_ms:+.2f} ms, p99 "
                    f"{via.p99_ms - direct.p99_ms:+.2f} ms, throughput {self.rps('gateway', c) / self.rps('graph', c):.2f}x"
                    f" of direct; the gateway process itself {via.cpu.get('gateway', 0.0):.2f} CPU ms/req")
        for peer in ("mlserver", "seldon"):
            if peer in self.left_out:
                continue
            for ours in ("gateway", "graph"):
                parts = []
                for c in a.concurrency:
                    mine, theirs = self.figure(ours, c), self.figure(peer, c)
                    if mine and theirs:
                        parts.append(f"c={c}: throughput {self.rps(ours, c) / self.rps(peer, c):.2f}x, "
                                     f"p99 {mine.p99_ms / theirs.p99_ms:.2f}x")
                if parts:
                    say(f"ratio {ours + '/' + peer:16s} " + "; ".join(parts))
        if "mlserver" not in self.left_out:
            met = all(self.rps("gateway", c) >= self.rps("mlserver", c)
                      and self.figure("gateway", c).p99_ms <= self.figure("mlserver", c).p99_ms
                      for c in a.concurrency if self.figure("mlserver", c))
            say(f"goal: gateway throughput >= MLServer's and p99 <= MLServer's at every concurrency: "
                f"{'met' if met else 'MISSED'}  (throughput ratio > 1 is better, p99 ratio < 1 is better)")
        med = {k: statistics.median(v) for k, v in self.p50s.items()}
        say(f"{line}\ngraph overhead, sequential requests (one connection), p50, median of "
            f"{len(self.p50s['chain'])} interleaved run(s), each graph in its own graph server:")
        say(f"  single model, ndarray without names                    {med['single']:7.3f} ms")
        say(f"  single model, ndarray with the model's 6 names         {med['single-named']:7.3f} ms")
        say(f"  3 nodes: features(select 6 of 8) -> model -> output(rename) {med['chain']:7.3f} ms")
        extra = med["chain"] - med["single"]
        say(f"  3-node graph minus single model: {extra * 1000:.0f} us "
            f"(minus the named single-model request: {(med['chain'] - med['single-named']) * 1000:.0f} us); "
            f"goal < 1 ms: {'met' if extra < 1.0 else 'MISSED'}")
        for note in self.notes:
            say(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    ENV.update(child_env(tmp))
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    procs = Processes()

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    code = 0
    try:
        Bench(args, tmp, procs).run()
    except KeyboardInterrupt:
        say("\ninterrupted: stopping everything the bench started")
        code = 130
    except Exception as exc:
        say(f"\nbench failed: {type(exc).__name__}: {exc}\n(logs under {tmp})")
        args.keep = True
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        procs.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
