"""Every command README.md shows is run by this module, against a real demo home.

The README is parsed on every run (tests/readme_commands.py): each command becomes a key — its
subcommand words, e.g. `rollout start`, `--context ... get deployments` — and the flags it shows.
COMMANDS below maps each key to the invocations run here; a README command without an entry fails
with the key to add, and so does a flag the README shows for a command that no invocation uses.

The invocations run once per module (the `ran` fixture) against a fresh home at the default
location (HOME points into a temp dir, so `~/.local/share/mlconsole/...` in the README is the real
path): `mlconsole demo` seeded its sqlite registry, the demo graph deployed on the real local
runtime, some traffic sent. `--context prod ...` runs against a kmock cluster (tests/kubernetes/)
named `prod` in `~/.kube/config`, `--metrics` against a real Prometheus, `--registry URL` against a
real MLflow server. Independent invocations run in parallel tracks; a track (a rollout's verbs, the
Kubernetes walk) runs in order; the `final` track (what stops or deletes things) runs last.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from console import __version__
from tests.conftest import ISOLATED_VARS
from tests.readme_commands import ROOT, ReadmeCommand, flags_of, readme_commands, tokens

pytestmark = pytest.mark.timeout(600)

README_COMMANDS: list[ReadmeCommand] = readme_commands()
KEYS = list(dict.fromkeys(c.key for c in README_COMMANDS))


# -- the table ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    argv: list[str]
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    started: float = 0.0  # since the module's setup began
    problems: list[str] = field(default_factory=list)

    def json(self):
        return json.loads(self.stdout)


@dataclass(frozen=True, eq=False)
class Run:
    """One invocation: `mlconsole ARGS` with {placeholders} filled in, and what it must answer."""

    args: tuple[str, ...]
    out: tuple[str, ...] = ()  # each in stdout
    err: tuple[str, ...] = ()  # each in stderr
    code: int | tuple[int, ...] = 0
    check: Callable[[Outcome, Ctx], object] | None = None  # further assertions
    step: tuple[str, int] | None = None  # (track, position): runs of a track go in order
    cwd: str = ""  # default: the repository root (so tests.components import)
    follow: Callable[[str], bool] | None = None  # keeps running: stop it once its output satisfies this
    during: Callable[[Ctx], object] | None = None  # for `follow`: called once its first line is out
    before: Callable[[Ctx], object] | None = None
    after: Callable[[Ctx], object] | None = None
    timeout: float = 180.0
    waits: str = "demo"  # starts once this signal is given: "demo" (seeded), "serving" (deployed, traffic sent)
    signals: str = ""  # given once this run is over, however it went


@dataclass(frozen=True)
class Static:
    """A README command this module checks without running it (`make run`, `make test`)."""

    check: Callable[[], object]


def _json(check: Callable[[object, Ctx], object]) -> Callable[[Outcome, Ctx], object]:
    return lambda outcome, ctx: check(outcome.json(), ctx)


# --- checks that read more than a substring -----------------------------------------------------------

def _config_json(data, ctx):
    home = data["settings"]["home"]
    assert home["value"] == str(ctx.home) and home["source"].startswith("default"), home


def _models_json(data, ctx):
    models = {m["name"]: m for m in data["models"]}
    assert sorted(models) == ["credit-risk", "fraud-detector"], data["models"]
    assert models["credit-risk"]["aliases"] == {"champion": "1", "challenger": "2"}, models["credit-risk"]


def _deployments_json(data, ctx):
    dep = next(d for d in data["deployments"] if d["name"] == "credit-risk")
    assert dep["url"].startswith("http://127.0.0.1:") and dep["traffic"].startswith("main "), dep


def _metrics_json(data, ctx):
    assert data["deployment"] == "credit-risk" and data["window_seconds"] == 300, data
    assert "main" in [p["name"] for p in data["predictors"]] and "latency_p99" in data["overall"], data


def _drift_json(outcome, ctx):
    data = outcome.json()
    assert {"age", "income"} <= {f["feature"] for f in data["features"]}, data["features"]
    drifted = any(f["drifted"] for f in data["features"])
    assert outcome.code == (1 if drifted else 0), f"exit {outcome.code} but drifted={drifted}"


def _profile_json(data, ctx):
    columns = {c["column"]: c for c in data["columns"]}
    assert set(columns) == {"age", "income"}, list(columns)
    assert columns["age"]["min"] > 30, columns["age"]


def _query_json(data, ctx):
    rows = data["rows"]
    assert len(rows) == 5 and all(set(r) == {"region", "avg(income)"} for r in rows), data


def _query_output(outcome, ctx):
    import pyarrow.parquet as pq

    assert pq.read_table(ctx.files / "by-region.parquet").num_rows == 5


def _lineage_json(data, ctx):
    assert data["deployment"] == "credit-risk" and not data["problems"], {k: data[k] for k in ("deployment", "problems")}
    assert {m["model"] for m in data["models"]} == {"credit-risk"} and all(m["run"] for m in data["models"]), data


def _fairness_json(data, ctx):
    (report,) = data["reports"]
    assert report["sensitive"] == "sex" and {g["group"] for g in report["groups"]} == {"F", "M"}, report
    assert 0 <= report["demographic_parity_difference"] < 1, report


def _explain_json(data, ctx):
    total = sum(c["contribution"] for c in data["contributions"])
    assert abs(total - (data["prediction"] - data["baseline"])) < 1e-6, (total, data["prediction"], data["baseline"])


def _card_file(outcome, ctx):
    text = (ctx.files / "card.md").read_text()
    assert text.startswith("# Model card: credit-risk v1 (@champion)"), text[:200]


def _audit_verify_json(data, ctx):
    assert data["ok"] and data["entries"] >= 3, data
    ctx.vars["expect"] = f"{data['entries']}:{data['last_hash']}"


def _audit_log_json(data, ctx):
    assert 1 <= len(data) <= 3, data
    assert all(e["action"].startswith("cluster") and "credit-risk" in e["target"] for e in data), data


def _rollout_json_aborted(data, ctx):
    assert data["deployment"] == "credit-risk" and data["phase"] == "Aborted", {k: data.get(k) for k in
                                                                              ("deployment", "phase", "message")}


def _rollout_json_completed(data, ctx):
    assert data["deployment"] == "web" and data["phase"] == "Completed", data.get("phase")


def _last_line_aborted(outcome, ctx):
    lines = outcome.stdout.strip().splitlines()
    assert lines and "Aborted" in lines[-1], outcome.stdout[-600:]


# --- waits between the steps of a track ----------------------------------------------------------------

def _predictors(ctx, name):
    from backends.local.state import read_state

    dep = read_state(ctx.home)["deployments"].get(name) or {}
    return [(p["name"], p["traffic"]) for p in dep.get("predictors", [])]


def _rollout_phase(ctx, name):
    from backends.local.state import read_state

    return (read_state(ctx.home).get("rollouts", {}).get(name) or {}).get("phase")


def _wait(check, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _canary_at(weight):
    return lambda ctx: _wait(lambda: ("canary", weight) in _predictors(ctx, "web"), f"web's canary at {weight}%")


def _web_completed(ctx):
    _wait(lambda: _predictors(ctx, "web") == [("main", 100)] and _rollout_phase(ctx, "web") == "Completed",
          "web's rollout Completed")


def _web_available(ctx):
    from backends.local.cluster import LocalCluster

    _wait(lambda: LocalCluster(ctx.home).get_deployment("web").summary.phase == "Available", "web Available")


def _start_drill_traffic(ctx):
    """The walkthrough's traffic (`mlconsole traffic credit-risk --rate 30 --duration 600 --from-dataset
    <home>/data/credit-risk/eval.parquet`), in the background until the drill has ended."""
    ctx.background["drill-traffic"] = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "traffic", "credit-risk", "--rate", "30", "--duration", "600",
         "--from-dataset", str(ctx.vars["eval"])], cwd=ROOT, env=ctx.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stop_drill_traffic(ctx):
    proc = ctx.background.pop("drill-traffic", None)
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def _damage_state(ctx):
    from backends.local.state import state_path

    state_path(ctx.home).write_text('{"version": 1, "deployments": {"web": ')


def _kube_pods(ctx):
    """What Seldon's operator and the kubelet would do once the SeldonDeployment exists."""
    from tests.kubernetes import objects as o
    from tests.kubernetes.emulator import PODS

    pod = o.pod("credit-risk", "main", 0)
    ctx.kube.seed(PODS, [pod])
    ctx.kube_pod = pod["metadata"]["name"]
    ctx.kube.write_log("models", ctx.kube_pod, "classifier", "loaded models:/credit-risk@champion",
                       "POST /api/v1.0/predictions 200 4ms")


def _kube_log_line(ctx):
    ctx.kube.write_log("models", ctx.kube_pod, "classifier", "POST /api/v1.0/predictions 200 3ms (followed)")


def _replica_log_line(ctx):
    """A malformed request straight to the replica: it logs a line the follower must print."""
    import httpx

    from backends.local.state import read_state

    # A rollout of credit-risk runs in another track: a replica it is starting has no port yet.
    deadline = time.monotonic() + 60
    while True:
        replicas = read_state(ctx.home)["deployments"]["credit-risk"]["replicas"]
        port = next((r["port"] for r in replicas if r.get("kind") == "graph-server" and r.get("predictor") == "main"
                     and r.get("port") and r.get("ready")), None)
        if port or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    httpx.post(f"http://127.0.0.1:{port}/api/v1.0/predictions", content=b"{broken", timeout=10)


def _await_mlflow(ctx):
    ctx.vars["mlflow"] = ctx.mlflow.result(300).url


def _await_prometheus(ctx):
    ctx.vars["prometheus"] = ctx.prometheus.result(120).url


def _after_demo(ctx):
    """With the demo written: an MLflow server on a copy of its registry (starting while the graph deploys),
    and the files the other invocations need."""
    from tests.servers import start_mlflow_server

    remote = ctx.files / "mlflow-server"
    remote.mkdir()
    shutil.copy(ctx.home / "registry" / "mlflow.db", remote / "mlflow.db")
    ctx.mlflow = ctx.pool.submit(start_mlflow_server, remote)
    _demo_rows(ctx)


def _credit_risk_available(ctx):
    from backends.local.cluster import LocalCluster

    _wait(lambda: LocalCluster(ctx.home).get_deployment("credit-risk").summary.phase == "Available",
          "credit-risk Available", timeout=300)


# --- checks of what is not run ---------------------------------------------------------------------------

def _make_targets() -> dict[str, str]:
    """Makefile target -> its recipe."""
    targets: dict[str, str] = {}
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z][\w.-]*)\s*:(?!=)", line)
        if match:
            current = match.group(1)
            targets[current] = ""
        elif current and line.startswith("\t"):
            targets[current] += line.strip() + "\n"
        elif line.strip() and not line.startswith("#"):
            current = None
    return targets


def _check_make_run():
    recipe = _make_targets().get("run")
    assert recipe is not None, "the Makefile has no `run` target"
    assert re.search(r"\$\(BIN\)/mlconsole\s*$", recipe.strip()), f"`make run` does not start the console: {recipe}"


def _check_make_test():
    recipe = _make_targets().get("test")
    assert recipe is not None, "the Makefile has no `test` target"
    assert "pytest" in recipe, f"`make test` does not run pytest: {recipe}"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    commands = [line for line in ci if not line.startswith(("set ", "cd "))]
    assert commands == ["make test"], f".ci/run must call exactly the README's `make test`, it runs {commands}"


def _check_make_bench():
    recipe = _make_targets().get("bench")
    assert recipe is not None and "bench/" in recipe, "the Makefile has no `bench` target running bench/"


HOME_GRAPH = "~/.local/share/mlconsole/graphs/credit-risk.yaml"

COMMANDS: dict[str, list[Run] | Static] = {
    "make run": Static(_check_make_run),
    "make test": Static(_check_make_test),
    "make bench": Static(_check_make_bench),
    "--version": [Run(("--version",), out=(f"mlconsole {__version__}",), waits="")],
    "config show": [
        Run(("config", "show"), out=("{home}", "default (sqlite under home)", "config file:"), waits=""),
        Run(("config", "show", "--json"), check=_json(_config_json), waits=""),
    ],
    "demo": [
        # The home is fresh: --force seeds as plain `demo` would (seeding twice costs half a minute).
        Run(("demo", "--force"), out=("credit-risk v1-v3 (champion=v1, challenger=v2)", "demo workspace ready"),
            step=("local", 1), after=_after_demo, timeout=400, waits="", signals="demo"),
        Run(("demo",), out=("already holds the demo model 'credit-risk': nothing to do",)),
    ],
    "--registry ... models list": [  # a real MLflow server on a copy of the demo registry
        Run(("--registry", "{mlflow}", "models", "list"),
            out=("credit-risk", "@challenger=2 @champion=1", "fraud-detector"), before=_await_mlflow),
    ],
    "models list": [  # a page of one model at a time: --all follows the pages
        Run(("models", "list", "--filter", "e", "--max", "1", "--all", "--json"), check=_json(_models_json)),
    ],
    "models show": [
        Run(("models", "show", "credit-risk"), out=("@champion", "@challenger", "VERSION")),
        Run(("models", "show", "credit-risk@champion"),
            out=("credit-risk version 1 @champion", "run ", "PARAM", "signature inputs:")),
    ],
    "models alias": [
        Run(("--readonly", "models", "alias", "credit-risk", "2", "champion"), code=1,
            err=("refused: mlconsole runs with --readonly",), step=("final", 1)),
        Run(("models", "alias", "credit-risk", "2", "champion", "--reason", "ship the challenger"),
            out=("credit-risk@champion → v2",), step=("final", 2)),
    ],
    "graph validate": [Run(("graph", "validate", HOME_GRAPH), err=("credit-risk.yaml: valid",))],
    "graph show": [Run(("graph", "show", "{graph}"),
                       out=("predictor main", "decision [OUTPUT_TRANSFORMER]", "ab-test"))],
    "graph export": [
        Run(("graph", "export", "{graph}", "--target", "seldon"), out=("kind: SeldonDeployment", "name: credit-risk")),
        Run(("graph", "export", "{graph}", "--target", "kserve"), out=("kind: InferenceService",),
            err=("has no KServe equivalent",)),
    ],
    "graph run": [Run(("graph", "run", "{graph}", "--input", "{input}", "--trace"),
                      out=('"p_default"', '"routing"'), err=("decision", "ab-test", "ROUTER", " ms"))],
    "deploy": [
        Run(("deploy", HOME_GRAPH), out=("deployment credit-risk created",), step=("local", 2),
            after=_credit_risk_available),
        Run(("deploy", "{files}/web.yaml", "--wait"), out=("deployment web created", "Available"), step=("web", 0),
            waits="serving"),
        Run(("deploy", "{files}/web-split.yaml"), out=("web",), step=("web", 20), after=_web_available),
    ],
    "get deployments": [
        Run(("get", "deployments"), out=("NAME", "credit-risk", "http://127.0.0.1:"), waits="serving"),
        Run(("get", "deployments", "--json"), check=_json(_deployments_json), waits="serving"),
    ],
    "get pods": [Run(("get", "pods", "credit-risk"), out=("credit-risk-gateway", "credit-risk-main-0", "Running"),
                     waits="serving")],
    "get events": [
        Run(("get", "events"), out=("Deployed", "credit-risk"), waits="serving"),
        Run(("get", "events", "credit-risk"), out=("Available", "serving at http://127.0.0.1:"), waits="serving"),
    ],
    "traffic": [  # some traffic for the metrics, the request log and drift
        Run(("traffic", "credit-risk", "--rate", "20", "--duration", "3", "--error-rate", "0.05",
             "--from-dataset", "{eval}"), out=("credit-risk: sent 60", "5xx 0", "failed 0"), step=("local", 3),
            signals="serving"),
    ],
    "logs": [
        Run(("logs", "credit-risk", "--predictor", "main", "--replica", "0", "--tail", "50"),
            out=("graph-server[credit-risk/main/0]", "serving credit-risk/main replica 0"), waits="serving"),
        Run(("logs", "credit-risk", "--predictor", "main", "--tail", "1", "--follow"),
            follow=lambda out: len(out.strip().splitlines()) >= 2, during=_replica_log_line, timeout=60,
            waits="serving"),
    ],
    "scale": [Run(("scale", "web", "main", "2"), out=("main scaled to 2 replica",), step=("final", 10))],
    "restart": [Run(("restart", "web", "main"), out=("deployment web: restarting main",), step=("web", 22))],
    "traffic-split": [Run(("traffic-split", "web", "main=90", "canary=10"),
                          out=("deployment web: traffic main 90 / canary 10",), step=("web", 21))],
    "delete": [Run(("delete", "credit-risk"), out=("deployment credit-risk deleted",), step=("final", 25))],
    "local status": [Run(("local", "status"), out=("supervisor: running", "credit-risk", "web"), step=("final", 11))],
    "local down": [Run(("local", "down"), out=("local runtime stopped",), step=("final", 30))],
    "local up": [Run(("local", "up"), out=("local runtime started",), step=("final", 31))],
    "local recover": [
        Run(("local", "recover"), out=("state is readable: nothing to recover",), step=("final", 32)),
        Run(("local", "recover", "--reason", "damaged state"), before=_damage_state, step=("final", 33),
            out=("damaged state kept as", "recovered 1 deployments from their saved manifests: web")),
    ],
    "metrics": [Run(("metrics", "credit-risk", "--window", "5m", "--json"), check=_json(_metrics_json),
                    waits="serving")],
    "data drift": [Run(("data", "drift", "training:credit-risk", "requests:credit-risk@1h", "--json"),
                       code=(0, 1), check=_drift_json, waits="serving")],
    "data profile": [Run(("data", "profile", "{eval}", "--columns", "age,income", "--where", "age > 30",
                          "--sample", "1000", "--json"), check=_json(_profile_json))],
    "data query": [
        Run(("data", "query", "SELECT region, avg(income) FROM t GROUP BY ALL", "--table", "t={eval}", "--json"),
            check=_json(_query_json)),
        Run(("data", "query", "SELECT region, avg(income) FROM t GROUP BY ALL", "--table", "t={eval}",
             "--output", "{files}/by-region.parquet"), err=("wrote 5 rows",), check=_query_output),
    ],
    "rollout start": [
        Run(("rollout", "start", "credit-risk", "--manifest", "{challenger}", "--strategy", "{drill}",
             "--fault", "0.2", "--reason", "rollback drill"),
            out=("rollout of credit-risk started", "rollback drill: the candidate fails 20%"),
            step=("local", 4), before=_start_drill_traffic),
        Run(("rollout", "start", "web", "--manifest", "{files}/web-v2.yaml", "--strategy", "{files}/steps.yaml",
             "--reason", "ship v2"), out=("rollout of web started",), step=("web", 1), after=_canary_at(20)),
    ],
    "rollout status": [
        Run(("rollout", "status", "credit-risk", "--watch"), code=1, check=_last_line_aborted, step=("local", 5),
            after=_stop_drill_traffic, timeout=240),
        Run(("rollout", "status", "credit-risk", "--json"), check=_json(_rollout_json_aborted), step=("local", 6)),
        Run(("rollout", "status", "web"), out=("Strategy:", "Completed"), step=("web", 9)),
        Run(("rollout", "status", "web", "--json"), check=_json(_rollout_json_completed), step=("web", 10)),
    ],
    "rollout list": [Run(("rollout", "list"), out=("credit-risk", "Aborted"), step=("local", 7))],
    "rollout pause": [Run(("rollout", "pause", "web", "--reason", "hold"), out=("Paused",), step=("web", 2))],
    "rollout resume": [Run(("rollout", "resume", "web", "--reason", "go on"), step=("web", 3))],
    "rollout promote": [Run(("rollout", "promote", "web", "--reason", "looks good"), step=("web", 4),
                            after=_canary_at(60))],
    "rollout abort": [Run(("rollout", "abort", "web", "--reason", "drill"), out=("Aborted",), step=("web", 5))],
    "rollout retry": [Run(("rollout", "retry", "web", "--reason", "again"), step=("web", 6), after=_canary_at(20))],
    "rollout promote-full": [Run(("rollout", "promote-full", "web", "--reason", "ship it"), step=("web", 7),
                                 after=_web_completed)],
    "audit verify": [
        Run(("audit", "verify", "--json"), check=_json(_audit_verify_json), step=("final", 20)),
        Run(("audit", "verify", "--expect", "{expect}"), out=("audit log OK",), step=("final", 21)),
    ],
    "audit log": [
        Run(("audit", "log", "--since", "1h", "--target", "credit-risk", "--action", "cluster", "--limit", "3",
             "--json"), check=_json(_audit_log_json), step=("final", 22)),
        Run(("audit", "log", "--since", "2000-01-01T09:00Z", "--action", "rollout"),
            out=("rollout.start", "rollout.abort"), step=("final", 23)),
    ],
    "lineage": [Run(("lineage", "credit-risk", "--json", "--no-verify-data"), check=_json(_lineage_json),
                    waits="serving")],
    "fairness": [Run(("fairness", "models:/credit-risk@champion", "--data", "{eval}", "--label", "default",
                      "--sensitive", "sex", "--json"), check=_json(_fairness_json))],
    "explain": [Run(("explain", "models:/credit-risk@challenger", "--row", "{row}", "--background", "{train}",
                     "--json"), check=_json(_explain_json))],
    "card": [Run(("card", "credit-risk@champion", "-o", "{files}/card.md", "--no-fairness"),
                 err=("wrote",), check=_card_file)],
    # Kubernetes (a kmock cluster as context `prod`, namespace `models`), in order.
    "--context ... deploy": [
        Run(("--context", "prod", "deploy", "credit-risk.yaml", "--offline"), cwd="{files}/kube",
            out=("deployment credit-risk created",), waits="", step=("kube", 1), after=_kube_pods),
    ],
    "--context ... get deployments": [
        Run(("--context", "prod", "get", "deployments"), out=("credit-risk", "main 100"), waits="", step=("kube", 2)),
        Run(("--context", "prod", "get", "deployments", "-n", "all"), out=("models/credit-risk",), waits="", step=("kube", 3)),
    ],
    "--context ... logs": [
        Run(("--context", "prod", "logs", "credit-risk", "--predictor", "main", "--tail", "50"),
            out=("loaded models:/credit-risk@champion", "POST /api/v1.0/predictions 200 4ms"), waits="", step=("kube", 4)),
        Run(("--context", "prod", "logs", "credit-risk", "--predictor", "main", "--tail", "1", "--follow"),
            follow=lambda out: "(followed)" in out, during=_kube_log_line, waits="", step=("kube", 5), timeout=60),
    ],
    "rollout controller": [
        Run(("--context", "prod", "rollout", "start", "credit-risk", "--manifest", "{files}/kube-v2.yaml",
             "--strategy", "{files}/kube-canary.yaml", "--offline"),
            out=("rollout of credit-risk started: canary",), waits="", step=("kube", 6)),
        Run(("--context", "prod", "rollout", "controller", "--once"), out=("credit-risk",), waits="", step=("kube", 7)),
        Run(("--context", "prod", "rollout", "controller", "--until-idle", "--interval", "0.2"),
            out=("Completed",), waits="", step=("kube", 8), timeout=120),
    ],
    "--context ... --metrics ... rollout controller": [
        Run(("--context", "prod", "rollout", "start", "credit-risk", "--manifest", "{files}/kube-v3.yaml",
             "--strategy", "{files}/kube-gated.yaml", "--offline"), out=("started",), waits="", step=("kube", 9)),
        # Prometheus is real and answers, but has no series for this cluster: the gate cannot pass.
        Run(("--context", "prod", "--metrics", "{prometheus}", "rollout", "controller"),
            follow=lambda out: "Inconclusive" in out, waits="", step=("kube", 10), timeout=120, before=_await_prometheus),
    ],
}


# -- running it -------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    user_home: Path
    home: Path
    files: Path
    env: dict[str, str]
    vars: dict[str, str] = field(default_factory=dict)
    kube: object = None
    kube_pod: str = ""
    pool: ThreadPoolExecutor | None = None
    mlflow: Future | None = None  # of the MLflow server
    prometheus: Future | None = None  # of the Prometheus server
    background: dict[str, subprocess.Popen] = field(default_factory=dict)
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)
    signals: dict[str, threading.Event] = field(default_factory=dict)

    def signal(self, name: str) -> threading.Event:
        return self.signals.setdefault(name, threading.Event())


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(text: str, ctx: Ctx) -> str:
    text = PLACEHOLDER.sub(lambda m: str(ctx.vars[m.group(1)]) if m.group(1) in ctx.vars else m.group(0), text)
    return str(ctx.user_home) + text[1:] if text.startswith("~/") else text


def execute(run: Run, ctx: Ctx) -> Outcome:
    """Run one invocation (hooks included); every failure becomes a problem of its outcome."""
    outcome = Outcome(argv=[])
    if run.waits and not ctx.signal(run.waits).wait(900):
        outcome.problems.append(f"never started: no {run.waits!r} signal")
        return outcome
    started = time.monotonic()
    outcome.started = started - ctx.t0
    try:
        if run.before:
            run.before(ctx)
        outcome.argv = ["mlconsole", *(fill(a, ctx) for a in run.args)]
        argv = [sys.executable, "-m", "console.cli", *outcome.argv[1:]]
        cwd = fill(run.cwd, ctx) if run.cwd else str(ROOT)
        if run.follow is None:
            done = subprocess.run(argv, capture_output=True, text=True, env=ctx.env, cwd=cwd, timeout=run.timeout)
            outcome.code, outcome.stdout, outcome.stderr = done.returncode, done.stdout, done.stderr
        else:
            _follow(run, ctx, argv, cwd, outcome)
        _verify(run, ctx, outcome)
        if run.after:
            run.after(ctx)
    except subprocess.TimeoutExpired as exc:
        outcome.problems.append(f"did not finish within {exc.timeout:.0f}s; stdout: {(exc.stdout or '')[-800:]!r}")
    except Exception as exc:  # noqa: BLE001 - reported by the README command's test
        outcome.problems.append(f"{type(exc).__name__}: {exc}")
    outcome.seconds = time.monotonic() - started
    if run.signals:
        ctx.signal(run.signals).set()
    return outcome


def _follow(run: Run, ctx: Ctx, argv: list[str], cwd: str, outcome: Outcome) -> None:
    """A command that keeps running (--follow, the controller): read until `follow` holds, then ctrl+c."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ctx.env, cwd=cwd,
                            start_new_session=True)
    lines: list[str] = []
    errors: list[str] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(iter(s.readline, "")), daemon=True)
               for s, into in ((proc.stdout, lines), (proc.stderr, errors))]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + run.timeout
    try:
        if run.during is not None:
            while not lines and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if lines and proc.poll() is None:
                run.during(ctx)
        while not run.follow("".join(lines)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None:
            outcome.problems.append(f"exited by itself (code {proc.returncode}) instead of following")
        elif not run.follow("".join(lines)):
            outcome.problems.append(f"its output did not show what was awaited within {run.timeout:.0f}s")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # ctrl+c, as a person stops it
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for reader in readers:
            reader.join(5)
    outcome.code, outcome.stdout, outcome.stderr = proc.returncode, "".join(lines), "".join(errors)


def _verify(run: Run, ctx: Ctx, outcome: Outcome) -> None:
    codes = run.code if isinstance(run.code, tuple) else (run.code,)
    if run.follow is None and outcome.code not in codes:
        outcome.problems.append(f"exit code {outcome.code}, expected {' or '.join(map(str, codes))}")
    if "Traceback" in outcome.stderr:
        outcome.problems.append("printed a traceback")
    for text in run.out:
        if fill(text, ctx) not in outcome.stdout:
            outcome.problems.append(f"stdout lacks {fill(text, ctx)!r}")
    for text in run.err:
        if fill(text, ctx) not in outcome.stderr:
            outcome.problems.append(f"stderr lacks {fill(text, ctx)!r}")
    if run.check is not None and not outcome.problems:
        try:
            run.check(outcome, ctx)
        except (AssertionError, KeyError, ValueError, TypeError, StopIteration, pytest.fail.Exception) as exc:
            outcome.problems.append(f"{type(exc).__name__}: {str(exc)[:1500]}")


def _runs() -> list[Run]:
    return [r for runs in COMMANDS.values() if isinstance(runs, list) for r in runs]


def _tracks() -> tuple[list[list[Run]], list[Run]]:
    """(the tracks that run side by side, the final track)."""
    named: dict[str, list[Run]] = {}
    singles: list[list[Run]] = []
    for run in _runs():
        if run.step is None:
            singles.append([run])
        else:
            named.setdefault(run.step[0], []).append(run)
    ordered = {name: sorted(runs, key=lambda r: r.step[1]) for name, runs in named.items()}
    final = ordered.pop("final", [])
    # the long tracks first, so they are not left for last; then what can start soonest (a single waiting
    # for a signal holds a worker of the pool)
    order = {"": 0, "demo": 1, "serving": 2}
    singles.sort(key=lambda track: order.get(track[0].waits, 3))
    return [*ordered.values(), *singles], final


def _environment(user_home: Path) -> dict[str, str]:
    """The environment of a newcomer: HOME in a temp dir, no XDG overrides, no mlconsole variables."""
    env = {k: v for k, v in os.environ.items()
           if k not in ISOLATED_VARS and not k.startswith(("XDG_", "MLCONSOLE_", "PYTEST_")) and k != "KUBECONFIG"}
    env.update(HOME=str(user_home), MLFLOW_DISABLE_TELEMETRY="true")
    return env


def _write_files(ctx: Ctx) -> None:
    """Manifests and strategies: the `web` deployment's versions (a Python component that loads at once),
    the demo graph and its next versions for the Kubernetes cluster."""
    import yaml

    from console.graph.demo_graph import demo_manifest
    from console.rollout.spec import Gate, RolloutSpec, Step, dump_spec
    from tests.local_runtime import manifest

    files = ctx.files
    (files / "kube").mkdir()
    (files / "kube" / "credit-risk.yaml").write_text(yaml.safe_dump(demo_manifest(ctx.home), sort_keys=False))
    (files / "web.yaml").write_text(manifest("web"))
    v2 = manifest("web").replace('value: "1.0"', 'value: "3.0"')
    (files / "web-v2.yaml").write_text(v2)
    (files / "web-split.yaml").write_text(manifest("web", [("main", 100), ("canary", 0)])
                                          .replace('value: "1.0"', 'value: "3.0"'))
    (files / "steps.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=20), Step(pause_seconds=600), Step(set_weight=60),
                         Step(pause_indefinite=True), Step(set_weight=100)), analysis_interval=1.0)))
    (files / "kube-canary.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=30), Step(pause_seconds=1.0), Step(set_weight=100)), analysis_interval=0.5)))
    (files / "kube-gated.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=30), Step(pause_indefinite=True), Step(set_weight=100)),
        gates=(Gate("error_rate", "<", 0.05, window_seconds=10.0, inconclusive_limit=1),), analysis_interval=1.0)))
    for version, rename in (("v2", {"t:0": "repay", "t:1": "default"}), ("v3", {"t:0": "ok", "t:1": "ko"})):
        candidate = demo_manifest(ctx.home)
        candidate["spec"]["predictors"][0]["graph"]["parameters"][0]["value"] = json.dumps(rename)
        (files / f"kube-{version}.yaml").write_text(yaml.safe_dump(candidate, sort_keys=False))


def _demo_rows(ctx: Ctx) -> None:
    """README placeholders with `...` in them: filled from the demo's own evaluation rows."""
    import pandas as pd

    from console.graph.demo_graph import APPLICATION

    frame = pd.read_parquet(ctx.vars["eval"]).head(1)
    row = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[0].items()}
    ctx.vars["input"] = json.dumps({"data": {"names": APPLICATION, "ndarray": [[row[c] for c in APPLICATION]]}})
    ctx.vars["row"] = json.dumps({**row, "age": 41, "income": 52000})


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A fresh demo home, the kmock cluster and Prometheus; every invocation of COMMANDS run once."""
    from tests.kubernetes.emulator import EmulatorThread
    from tests.local_runtime import stop_runtime
    from tests.prometheus_server import start_prometheus

    base = tmp_path_factory.mktemp("readme")
    user_home = base / "u"
    (user_home / ".kube").mkdir(parents=True)
    home = user_home / ".local" / "share" / "mlconsole"
    files = base / "files"
    files.mkdir()
    ctx = Ctx(user_home=user_home, home=home, files=files, env=_environment(user_home),
              pool=ThreadPoolExecutor(max_workers=8))
    ctx.vars.update(home=str(home), files=str(files), graph=str(home / "graphs" / "credit-risk.yaml"),
                    challenger=str(home / "graphs" / "credit-risk-challenger.yaml"),
                    drill=str(home / "rollouts" / "challenger-drill.yaml"),
                    eval=str(home / "data" / "credit-risk" / "eval.parquet"),
                    train=str(home / "data" / "credit-risk" / "train.parquet"))
    try:
        ctx.kube = EmulatorThread().start()
        ctx.kube.write_kubeconfig(user_home / ".kube" / "config", context="prod", namespace="models")
        ctx.prometheus = ctx.pool.submit(start_prometheus, base / "prometheus")
        _write_files(ctx)
        tracks, final = _tracks()

        def run_track(runs: list[Run]) -> None:
            for run in runs:
                ctx.outcomes[id(run)] = execute(run, ctx)

        for future in [ctx.pool.submit(run_track, t) for t in tracks]:
            future.result()
        run_track(final)
        yield ctx
    finally:
        for proc in ctx.background.values():
            if proc.poll() is None:
                proc.kill()
        stop_runtime(home)
        for future in (ctx.mlflow, ctx.prometheus):
            if future is not None:
                with contextlib.suppress(Exception):
                    future.result(300).stop()
        if ctx.kube is not None:
            ctx.kube.stop()
        ctx.pool.shutdown(wait=False, cancel_futures=True)


# -- the tests --------------------------------------------------------------------------------------------

PLACEHOLDERS = {
    "PATH": "~/.local/share/mlconsole/data/credit-risk/eval.parquet", "FILE": HOME_GRAPH,
    "NEW.yaml": "~/.local/share/mlconsole/graphs/credit-risk-challenger.yaml",
    "SPEC.yaml": "~/.local/share/mlconsole/rollouts/challenger-drill.yaml",
    "NAME": "credit-risk", "PREDICTOR": "main", "TEXT": "why", "N": "5", "A,B": "age,income", "SQL": "age > 30",
    "T": "credit-risk", "N:HASH": "3:" + "0" * 64,
}


def _as_written(command: ReadmeCommand) -> list[str]:
    """The README command's arguments, optional parts included, placeholders filled with demo values."""
    words = [PLACEHOLDERS.get(w, w).replace("<home>", "~/.local/share/mlconsole") for w in tokens(command.text)]
    return words[1:]


def test_the_readme_shows_commands():
    """A parser that finds nothing would make every other test here vacuous."""
    assert len(README_COMMANDS) >= 40 and {"make test", "demo", "rollout start"} <= set(KEYS), KEYS


@pytest.mark.parametrize("key", KEYS)
def test_readme_command(key, request):
    shown = [c for c in README_COMMANDS if c.key == key]
    entry = COMMANDS.get(key)
    if entry is None:
        where = "; ".join(c.where() for c in shown)
        pytest.fail(f"README command `{key}` has no test ({where}): add an entry for {key!r} to COMMANDS "
                    f"in tests/test_readme_commands.py with an invocation that runs it", pytrace=False)
    problems = [f"{c.where()}: {p}" for c in shown for p in c.problems]
    if not isinstance(entry, Static):
        from console.cli import build_parser

        for command in shown:  # the command as written parses (placeholders filled in)
            if not _as_written(command)[len(key.split()):]:
                continue  # a bare `mlconsole traffic` in the prose names the command, it does not run it
            with contextlib.redirect_stderr(io.StringIO()) as errors:
                try:
                    build_parser().parse_args(_as_written(command))
                except SystemExit as exc:
                    if exc.code:
                        problems.append(f"{command.where()} does not parse: {errors.getvalue().strip()[-300:]}")
        shown_flags = set().union(*(c.flags for c in shown))
        used = set().union(*(flags_of(run.args)[1] for run in entry))
        if shown_flags - used:
            problems.append(f"README shows {', '.join(sorted(shown_flags - used))} for `mlconsole {key}` but no "
                            f"invocation in COMMANDS[{key!r}] uses it: add one")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    if isinstance(entry, Static):
        entry.check()
        return
    ctx = request.getfixturevalue("ran")
    failures = []
    for run in entry:
        outcome = ctx.outcomes.get(id(run))
        if outcome is None:
            failures.append(f"{run.args}: not run")
        elif outcome.problems:
            failures.append(f"$ {' '.join(outcome.argv)}\n  " + "\n  ".join(outcome.problems)
                            + f"\n  --- stdout ---\n{outcome.stdout[-1500:]}\n  --- stderr ---\n{outcome.stderr[-1500:]}")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def test_no_entry_for_a_command_the_readme_dropped():
    """The other way round: an entry whose command the README no longer shows is removed (or renamed)."""
    stale = sorted(set(COMMANDS) - set(KEYS))
    assert not stale, (f"COMMANDS has entries for commands README.md no longer shows: {stale}; remove them, "
                       f"or rename them to the README's new commands")


def test_timings_for_the_record(ran):
    """Not an assertion on time: the setup and each invocation's start and wall time (shown with pytest -s)."""
    for outcome in sorted(ran.outcomes.values(), key=lambda o: o.started):
        print(f"{outcome.started:6.1f}s +{outcome.seconds:5.1f}s  {' '.join(outcome.argv)[:110]}")
