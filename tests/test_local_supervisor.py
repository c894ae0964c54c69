"""The local runtime for real: supervisor, graph servers and gateway as processes on 127.0.0.1.

One supervisor serves the whole module (each test deploys its own names); teardown stops it
and kills anything left. Timings are printed (-s shows them), never asserted.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest

from backends.local.cluster import LocalCluster
from backends.local.state import TOKEN_HEADER, process_running, read_state, routes_path
from backends.local.supervisor_client import ensure_supervisor
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.errors import InvalidSpec, NotFound, ReadOnly
from console.governance.audit import AuditLog
from tests.local_runtime import CRASHING, REQUEST, ROOT, manifest, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("local-runtime") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


@pytest.fixture
def cluster(home):
    return LocalCluster(home)


@pytest.fixture
def changes(home, cluster):
    return ClusterChanges(load_settings({"home": str(home)}, env={}), cluster)


def phase(cluster, name):
    return cluster.get_deployment(name).summary.phase


def predict(url, timeout=5.0):
    return httpx.post(f"{url}/api/v1.0/predictions", json=REQUEST, timeout=timeout)


def replicas(cluster, name, predictor):
    return [r for r in cluster.list_replicas(name) if r.predictor == predictor]


def test_deploy_two_predictors_becomes_available_and_answers(cluster, changes, home):
    started = time.monotonic()
    result = changes.deploy(manifest("duo", [("main", 50), ("canary", 50)]), [str(ROOT)])
    assert result.diff == "created" and result.summary.name == "duo"
    wait_for(lambda: phase(cluster, "duo") == "Available", what="duo Available")
    print(f"\ndeploy to Available, 2 predictors: {time.monotonic() - started:.2f}s")
    detail = cluster.get_deployment("duo")
    assert detail.summary.url.startswith("http://127.0.0.1:")
    assert [(p.name, p.traffic, p.ready_replicas) for p in detail.summary.predictors] == \
        [("main", 50, 1), ("canary", 50, 1)]
    assert "name: duo" in detail.manifest and detail.gateway and detail.gateway.ready
    answers = [predict(detail.summary.url) for _ in range(10)]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert answers[0].json()["data"]["names"] == ["p_good", "p_bad"]
    # the routes file holds only ready endpoints, one per predictor
    routes = json.loads(routes_path(home, "duo").read_text())
    assert [(p["name"], len(p["endpoints"])) for p in routes["predictors"]] == [("main", 1), ("canary", 1)]
    reasons = {e.reason for e in cluster.events("duo")}
    assert {"Deployed", "Started", "Ready", "Available"} <= reasons
    # applying the same manifest again changes nothing and is not audited again
    audited = len(AuditLog(home).entries())
    assert changes.deploy(manifest("duo", [("main", 50), ("canary", 50)]), [str(ROOT)]).verb == "unchanged"
    assert len(AuditLog(home).entries()) == audited
    entry = AuditLog(home).entries()[-1]
    assert entry.action == "cluster.deploy" and entry.target == "local/duo" and "main 50 / canary 50" in entry.after


def test_scale_runs_that_many_processes(cluster, changes, home):
    changes.scale("duo", "main", 2)
    wait_for(lambda: len([r for r in replicas(cluster, "duo", "main") if r.ready]) == 2, what="2 ready")
    two = replicas(cluster, "duo", "main")
    assert len({r.pid for r in two}) == 2 and all(process_running(r.pid) for r in two)
    wait_for(lambda: [len(p["endpoints"]) for p in json.loads(routes_path(home, "duo").read_text())["predictors"]]
             == [2, 1], what="routes with 2 main endpoints")
    assert "replicas: 2" in cluster.get_deployment("duo").manifest
    changes.scale("duo", "main", 1)
    wait_for(lambda: len(replicas(cluster, "duo", "main")) == 1, what="scaled down to 1")
    gone = {r.pid for r in two} - {r.pid for r in replicas(cluster, "duo", "main")}
    wait_for(lambda: not any(process_running(p) for p in gone), what="the extra replica's exit")
    assert {"Scaled"} <= {e.reason for e in cluster.events("duo")}
    actions = [e.action for e in AuditLog(home).entries()]
    assert actions.count("cluster.scale") == 2
    wait_for(lambda: phase(cluster, "duo") == "Available", what="Available again")


def test_killed_replica_restarts_while_the_gateway_answers_from_the_other(cluster, home):
    url = cluster.get_deployment("duo").summary.url
    (victim,) = replicas(cluster, "duo", "main")
    killed = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    # the gateway keeps answering: the dead endpoint's share goes to canary
    codes = []
    while time.monotonic() - killed < 1.5:
        codes.append(predict(url).status_code)
        time.sleep(0.02)
    assert codes.count(200) >= len(codes) - 2, codes
    back = wait_for(lambda: next((r for r in replicas(cluster, "duo", "main")
                                  if r.ready and r.pid != victim.pid), None), what="main-0 back")
    print(f"\nkill -9 to ready again: {time.monotonic() - killed:.2f}s")
    assert back.restarts == 1 and back.index == 0 and back.last_exit_code == -9
    events = [(e.reason, e.object) for e in cluster.events("duo")]
    assert ("Crashed", "main-0") in events and ("Started", "main-0") in events
    crashed = next(e for e in cluster.events("duo") if e.reason == "Crashed")
    assert "SIGKILL" in crashed.message and crashed.kind == "Warning"
    wait_for(lambda: phase(cluster, "duo") == "Available", what="Available again")
    assert predict(url).status_code == 200


def test_component_that_crashes_at_start_is_crash_looping_with_its_log(cluster, changes):
    changes.deploy(CRASHING.format(name="broken"), [str(ROOT)])
    pod = wait_for(lambda: next((r for r in replicas(cluster, "broken", "main")
                                 if r.phase == "CrashLoopBackOff"), None), what="CrashLoopBackOff")
    assert "cannot load model weights from /models/missing-weights.bin" in pod.message
    assert pod.last_exit_code not in (None, 0) and not pod.ready
    summary = wait_for(lambda: (s := cluster.get_deployment("broken").summary).phase == "Failed" and s,
                       what="Failed")
    assert "crash-looping" in summary.message
    assert "missing-weights" in summary.message and "missing-weights" in pod.message.splitlines()[0]
    events = cluster.events("broken")
    assert any(e.reason == "BackOff" for e in events)
    assert "missing-weights" in next(e for e in events if e.reason == "Crashed").message
    changes.delete("broken")


def test_supervisor_restart_adopts_running_processes(cluster, home):
    before = {r.name: r.pid for r in cluster.list_replicas("duo")}
    supervisor = read_state(home)["supervisor"]
    os.kill(supervisor["pid"], signal.SIGKILL)
    wait_for(lambda: cluster.supervisor() is None, what="supervisor gone")
    # while it is down the console still reads the runtime, and says what it knows
    summary = cluster.get_deployment("duo").summary
    assert summary.phase == "Unknown" and "supervisor not running" in summary.message
    assert cluster.health().state.value == "degraded"
    assert predict(summary.url).status_code == 200  # serving goes on without the supervisor
    started = time.monotonic()
    ensure_supervisor(home)
    wait_for(lambda: phase(cluster, "duo") == "Available", what="Available under the new supervisor")
    print(f"\nsupervisor restart to Available (adopted): {time.monotonic() - started:.2f}s")
    after = {r.name: r.pid for r in cluster.list_replicas("duo")}
    assert after == before
    adopted = [e.object for e in cluster.events("duo") if e.reason == "Adopted"]
    assert set(adopted) >= {"gateway", "main-0", "canary-0"}


def test_logs_tail_and_follow(cluster):
    lines = cluster.logs("duo", "main", 0, tail=50)
    assert lines and any("main" in line for line in lines)
    both = cluster.logs("duo", tail=5)
    assert any(line.startswith("canary-0 | ") for line in both) and any(line.startswith("main-0 | ") for line in both)
    stop = threading.Event()
    seen: list[str] = []

    def follow():
        for line in cluster.follow_logs("duo", "main", 0, tail=0, stop=stop):
            seen.append(line)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.3)
    url = cluster.get_deployment("duo").summary.url
    main = replicas(cluster, "duo", "main")[0]
    # a malformed request makes the replica log one line
    httpx.post(f"http://127.0.0.1:{main.port}/api/v1.0/predictions", content=b"{not json", timeout=5)
    wait_for(lambda: seen, timeout=10, what="a followed line")
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    assert predict(url).status_code == 200


def test_api_refuses_calls_without_the_token(home):
    port = read_state(home)["supervisor"]["port"]
    assert httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5).status_code == 401
    ok = httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5,
                   headers={TOKEN_HEADER: (home / "runtime" / "supervisor.token").read_text().strip()})
    assert ok.status_code == 200 and "duo" in ok.json()["deployments"]
    assert oct((home / "runtime" / "supervisor.token").stat().st_mode & 0o777) == "0o600"


def test_traffic_split_and_bad_changes(cluster, changes, home):
    summary = changes.set_traffic("duo", {"main": 90, "canary": 10})
    assert summary.traffic_label == "main 90 / canary 10"
    routes = json.loads(routes_path(home, "duo").read_text())
    assert [(p["name"], p["traffic"]) for p in routes["predictors"]] == [("main", 90), ("canary", 10)]
    assert "TrafficChanged" in {e.reason for e in cluster.events("duo")}
    with pytest.raises(InvalidSpec, match="sum to 100"):
        changes.set_traffic("duo", {"main": 80})
    with pytest.raises(NotFound, match="ghost"):
        changes.scale("duo", "ghost", 2)
    with pytest.raises(NotFound):
        changes.delete("nothing-here")
    entry = AuditLog(home).entries()[-1]
    assert (entry.action, entry.before, entry.after) == ("cluster.traffic", "main 50 / canary 50",
                                                         "main 90 / canary 10")


def test_readonly_refuses_every_change(home, cluster):
    ro = ClusterChanges(load_settings({"home": str(home), "readonly": True}, env={}), cluster)
    count = len(AuditLog(home).entries())
    for call in (lambda: ro.deploy(manifest("nope")), lambda: ro.scale("duo", "main", 3),
                 lambda: ro.delete("duo"), lambda: ro.restart("duo"),
                 lambda: ro.set_traffic("duo", {"main": 100, "canary": 0})):
        with pytest.raises(ReadOnly):
            call()
    assert len(AuditLog(home).entries()) == count
    assert [d.name for d in cluster.list_deployments()] == ["duo"]


def test_delete_stops_the_processes(cluster, changes, home):
    pids = [r.pid for r in cluster.list_replicas("duo") if r.pid]
    assert len(pids) == 3
    changes.delete("duo")
    assert not any(process_running(p) for p in pids)
    assert cluster.list_deployments() == []
    assert not (home / "runtime" / "deployments" / "duo.yaml").exists()
    assert "Deleted" in {e.reason for e in cluster.events("duo")}
    assert AuditLog(home).entries()[-1].action == "cluster.delete"
