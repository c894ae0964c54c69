"""End to end, as a newcomer types it: `mlconsole --context kmock-ctx ...` against a kmock cluster."""

from __future__ import annotations

import subprocess
import sys

import yaml

from console.graph.demo_graph import demo_manifest
from tests.conftest import subprocess_env
from tests.kubernetes import objects as o
from tests.kubernetes.emulator import PODS, SDEPS

CANARY = """strategy: canary
stable: main
candidate: canary
steps:
  - setWeight: 30
  - pause: {duration: 1s}
  - setWeight: 60
  - pause: {duration: 1s}
  - setWeight: 100
"""


def mlconsole(home, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", "--context", "kmock-ctx", "--home", str(home),
                           *args], capture_output=True, text=True, timeout=timeout, env=subprocess_env())


def weights(kube) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for version in kube.versions(SDEPS, "models", "credit-risk"):
        if version is not None:
            now = {p["name"]: p.get("traffic", 0) for p in version["spec"]["predictors"]}
            if not out or out[-1] != now:
                out.append(now)
    return out


def test_deploy_get_logs_and_a_canary_that_moves_the_weights(kube, home, tmp_path):
    graph = tmp_path / "credit-risk.yaml"
    graph.write_text(yaml.safe_dump(demo_manifest(home), sort_keys=False))
    done = mlconsole(home, "deploy", str(graph), "--offline")
    assert done.returncode == 0, done.stderr
    assert "deployment credit-risk created" in done.stdout
    stored = kube.get(SDEPS, "models", "credit-risk")
    assert stored["spec"]["predictors"][0]["graph"]["name"] == "decision"

    # Seldon's operator would now run the pods; the kubelet would write their logs.
    pod = o.pod("credit-risk", "main", 0)
    kube.seed(PODS, [pod])
    kube.write_log("models", pod["metadata"]["name"], "classifier", "loaded models:/credit-risk@champion",
                   "POST /api/v1.0/predictions 200 4ms")
    listed = mlconsole(home, "get", "deployments")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("credit-risk"))
    assert "1/1" in row and "main 100" in row
    logs = mlconsole(home, "logs", "credit-risk", "--tail", "1")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == "POST /api/v1.0/predictions 200 4ms"
    kube.write_log("models", pod["metadata"]["name"], "classifier", "OOMKilled while loading", previous=True)
    previous = mlconsole(home, "logs", "credit-risk", "--previous", "--tail", "5")
    assert previous.returncode == 0, previous.stderr
    assert "OOMKilled while loading" in previous.stdout and "POST" not in previous.stdout

    strategy = tmp_path / "canary.yaml"
    strategy.write_text(CANARY)
    candidate = demo_manifest(home)
    candidate["spec"]["predictors"][0]["graph"]["parameters"][0]["value"] = '{"t:0": "repay", "t:1": "default"}'
    new_version = tmp_path / "credit-risk-v2.yaml"
    new_version.write_text(yaml.safe_dump(candidate, sort_keys=False))
    started = mlconsole(home, "rollout", "start", "credit-risk", "--manifest", str(new_version),
                        "--strategy", str(strategy), "--offline")
    assert started.returncode == 0, started.stderr
    assert "rollout of credit-risk started: canary, Progressing" in started.stdout

    # The headless controller ticks it to the end (as it would in a pod with --context in-cluster).
    run = mlconsole(home, "rollout", "controller", "--until-idle", "--interval", "0.2")
    assert run.returncode == 0, run.stderr
    assert "Completed" in run.stdout
    assert weights(kube) == [{"main": 100}, {"main": 100, "canary": 0}, {"main": 70, "canary": 30},
                             {"main": 40, "canary": 60}, {"main": 0, "canary": 100}, {"main": 100}]
    status = mlconsole(home, "rollout", "status", "credit-risk")
    assert status.returncode == 0 and "Completed" in status.stdout
    final = kube.get(SDEPS, "models", "credit-risk")
    assert "repay" in yaml.safe_dump(final["spec"])  # the stable predictor now runs the new graph


def test_refusals_read_as_sentences(kube, home):
    kube.seed(SDEPS, [o.sdep("iris")])
    kube.deny("delete", "seldondeployments", "role model-viewer")
    refused = mlconsole(home, "delete", "iris")
    assert refused.returncode == 1
    assert "forbidden (403)" in refused.stderr and "ask your cluster admin" in refused.stderr
    assert "Traceback" not in refused.stderr
    readonly = mlconsole(home, "--readonly", "scale", "iris", "main", "2")
    assert readonly.returncode == 1 and "--readonly" in readonly.stderr
    missing = mlconsole(home, "get", "deployments", "nope")
    assert missing.returncode == 1 and "no SeldonDeployment 'nope' in namespace models" in missing.stderr
