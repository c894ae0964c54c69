"""The headless cluster commands, run as scripts run them: deploy, get, scale, traffic, logs, local."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from backends.local.state import process_running, read_state
from console.governance.audit import AuditLog
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, deployment_pids, manifest, mlconsole, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("cluster-cli") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("manifests")
    (d / "web.yaml").write_text(manifest("web", [("main", 100), ("canary", 0)]))
    (d / "bad.yaml").write_text(manifest("bad", [("main", 70), ("canary", 20)]).replace(
        "type: MODEL", "type: MODLE", 1))
    (d / "rows.csv").write_text("a,b\n0.1,0.2\n1.5,-0.5\n3,4\n")
    return d


def get_json(home, *args):
    out = mlconsole(home, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_invalid_manifest_is_refused_with_located_problems(home, files):
    out = mlconsole(home, "deploy", str(files / "bad.yaml"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{files / 'bad.yaml'}:" in out.stderr and "error" in out.stderr
    assert "MODLE" in out.stderr and "traffic" in out.stderr  # both problems, each with its line
    assert "not deployed" in out.stderr
    assert not (home / "runtime" / "state.json").exists() and AuditLog(home).entries() == []


def test_readonly_deploy_is_refused_but_dry_run_works(home, files):
    out = mlconsole(home, "--readonly", "deploy", str(files / "web.yaml"))
    assert out.returncode == 1 and "--readonly" in out.stderr and "deploy web" in out.stderr
    dry = mlconsole(home, "--readonly", "deploy", str(files / "web.yaml"), "--dry-run")
    assert dry.returncode == 0 and "would be created" in dry.stdout
    assert read_state(home)["deployments"] == {} and AuditLog(home).entries() == []


def test_deploy_and_get(home, files):
    out = mlconsole(home, "deploy", str(files / "web.yaml"), "--wait", "--timeout", "60")
    assert out.returncode == 0, out.stderr
    assert "deployment web created" in out.stdout and "Available" in out.stdout
    (dep,) = get_json(home, "get", "deployments")["deployments"]
    assert dep["name"] == "web" and dep["phase"] == "Available" and dep["ready"] == "2/2"
    assert dep["url"].startswith("http://127.0.0.1:") and dep["traffic"] == "main 100 / canary 0"
    table = mlconsole(home, "get", "deployments")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["NAME", "PHASE", "READY"]
    pods = get_json(home, "get", "pods", "web")["pods"]
    assert [p["name"] for p in pods] == ["web-gateway", "web-canary-0", "web-main-0"]
    assert all(p["phase"] == "Running" and p["ready"] for p in pods)
    events = get_json(home, "get", "events", "web")["events"]
    assert events[0]["reason"] == "Deployed"
    assert mlconsole(home, "get", "manifest", "web").stdout.startswith("apiVersion:")
    again = mlconsole(home, "deploy", str(files / "web.yaml"))
    assert again.returncode == 0 and "unchanged" in again.stdout
    status = get_json(home, "local", "status")
    assert status["running"] and status["supervisor"]["pid"] and len(status["processes"]["web"]) == 3
    missing = mlconsole(home, "get", "pods", "ghost")
    assert missing.returncode == 1 and "ghost" in missing.stderr and "Traceback" not in missing.stderr


def test_changes_are_audited(home, files):
    out = mlconsole(home, "traffic-split", "web", "main=80", "canary=20")
    assert out.returncode == 0, out.stderr
    assert "main 80 / canary 20" in out.stdout
    assert mlconsole(home, "traffic-split", "web", "main=80", "canary=30").returncode == 1
    assert mlconsole(home, "traffic-split", "web", "main=lots").returncode == 2
    assert mlconsole(home, "scale", "web", "canary", "2").returncode == 0
    wait_for(lambda: get_json(home, "get", "deployments")["deployments"][0]["ready"] == "3/3", what="3/3")
    before = {p["name"]: p["pid"] for p in get_json(home, "get", "pods", "web")["pods"]}
    assert mlconsole(home, "restart", "web", "main").returncode == 0
    # a rolling restart: a new main replica serves before the old one stops
    wait_for(lambda: [p for p in get_json(home, "get", "pods", "web")["pods"]
                      if p["predictor"] == "main" and p["ready"] and p["pid"] != before["web-main-0"]]
             and not process_running(before["web-main-0"]), what="main replaced")
    wait_for(lambda: [p["ready"] for p in get_json(home, "get", "pods", "web")["pods"]] == [True] * 4,
             what="the old main replica gone from the pods")
    assert mlconsole(home, "scale", "web", "canary", "-1").returncode == 2
    actions = [(e.action, e.target) for e in AuditLog(home).entries()]
    assert actions == [("cluster.deploy", "local/web"), ("cluster.traffic", "local/web"),
                       ("cluster.scale", "local/web"), ("cluster.restart", "local/web")]
    ok, message = AuditLog(home).verify()
    assert ok, message


def test_readonly_refuses_scale_and_delete(home):
    pids = deployment_pids(home, "web")
    for args in (("scale", "web", "main", "3"), ("delete", "web"), ("restart", "web"),
                 ("traffic-split", "web", "main=100", "canary=0"), ("local", "down")):
        out = mlconsole(home, "--readonly", *args)
        assert out.returncode == 1 and "refused: mlconsole runs with --readonly" in out.stderr, args
    assert deployment_pids(home, "web") == pids and all(process_running(p) for p in pids)
    assert [e.action for e in AuditLog(home).entries()].count("cluster.delete") == 0


def test_traffic_generator_counts_answers(home, files):
    out = mlconsole(home, "traffic", "web", "--rate", "40", "--duration", "1", "--error-rate", "0.25",
                    "--from-dataset", str(files / "rows.csv"), "--seed", "7", "--json")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["sent"] == 40 and stats["failed"] == 0 and stats["5xx"] == 0
    assert stats["ok"] + stats["4xx"] == 40
    assert stats["4xx"] == stats["malformed_sent"] > 0
    assert stats["p50_ms"] is not None and stats["p99_ms"] >= stats["p50_ms"]
    text = mlconsole(home, "traffic", "web", "--rate", "20", "--duration", "0.5",
                     "--from-dataset", str(files / "rows.csv"))
    assert text.returncode == 0 and "sent 10" in text.stdout and "ok 10" in text.stdout
    assert mlconsole(home, "traffic", "web", "--rate", "0").returncode == 2
    assert mlconsole(home, "traffic", "web", "--from-dataset", str(files / "nope.csv")).returncode == 1


def test_logs_tail_and_follow(home):
    out = mlconsole(home, "logs", "web", "--predictor", "canary", "--tail", "20")
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    every = mlconsole(home, "logs", "web", "--tail", "3")
    assert "canary-0 | " in every.stdout
    follow = subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(home), "logs", "web",
                               "--predictor", "canary", "--replica", "0", "--tail", "1", "--follow"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env=subprocess_env())
    try:
        first = follow.stdout.readline()
        assert first.strip()
        time.sleep(0.3)
        port = next(p["port"] for p in get_json(home, "get", "pods", "web")["pods"] if p["name"] == "web-canary-0")
        import httpx

        httpx.post(f"http://127.0.0.1:{port}/api/v1.0/predictions", content=b"{broken", timeout=5)
        assert follow.stdout.readline().strip()  # the line that request made the replica log
    finally:
        follow.terminate()
        follow.wait(5)


def test_delete_and_local_down_up(home, files):
    pids = deployment_pids(home, "web")
    out = mlconsole(home, "delete", "web")
    assert out.returncode == 0 and "deleted" in out.stdout
    assert not any(process_running(p) for p in pids)
    assert get_json(home, "get", "deployments")["deployments"] == []
    assert mlconsole(home, "delete", "web").returncode == 1
    # down keeps deployments on disk; up serves them again
    assert mlconsole(home, "deploy", str(files / "web.yaml"), "--wait").returncode == 0
    pids = deployment_pids(home, "web")
    down = mlconsole(home, "local", "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not any(process_running(p) for p in pids)
    (dep,) = get_json(home, "get", "deployments")["deployments"]
    assert dep["phase"] == "NotServed" and "supervisor not running" in dep["message"]
    up = mlconsole(home, "local", "up")
    assert up.returncode == 0 and "started" in up.stdout
    wait_for(lambda: get_json(home, "get", "deployments")["deployments"][0]["phase"] == "Available",
             what="Available after local up")
    assert "already running" in mlconsole(home, "local", "up").stdout
    actions = [e.action for e in AuditLog(home).entries()]
    assert actions[-4:] == ["cluster.delete", "cluster.deploy", "cluster.runtime.down", "cluster.runtime.up"]
