"""The local runtime's pieces that need no processes: manifests, state, events, logs on disk."""

from __future__ import annotations

import json
import threading
import time

import pytest

from backends.local.cluster import LocalCluster
from backends.local.manifests import parse, predictor_specs, unified_diff, with_changes
from backends.local.state import (
    manifest_path,
    read_state,
    replica_log_path,
    tail_lines,
    update_state,
)
from console.errors import InvalidSpec, NotFound
from tests.local_runtime import manifest


def test_parse_normalises_and_refuses_what_cannot_run():
    dep, text = parse(manifest("web", [("main", 90), ("canary", 10)]))
    assert dep.name == "web" and text.startswith("apiVersion: machinelearning.seldon.io/v1")
    assert parse(text)[1] == text  # normalising is stable
    with pytest.raises(InvalidSpec, match="sums to 80") as err:
        parse(manifest("web", [("main", 70), ("canary", 10)]), "web.yaml")
    assert err.value.location.startswith("web.yaml:")
    with pytest.raises(InvalidSpec, match="not a valid"):
        parse(manifest("Web_App"))
    with pytest.raises(InvalidSpec, match="reserved"):
        parse(manifest("web", [("gateway", 100)]))


def test_templates_change_with_the_graph_not_with_traffic_or_replicas():
    ctx = {"registry": "sqlite:///x", "search_paths": []}
    dep, text = parse(manifest("web", [("main", 90), ("canary", 10)]))
    base = {p.name: p for p in predictor_specs(dep, ctx, {})}
    moved, _ = parse(with_changes(text, replicas={"main": 3}, traffic={"main": 50, "canary": 50}))
    after = {p.name: p for p in predictor_specs(moved, ctx, {})}
    assert after["main"].replicas == 3 and after["main"].traffic == 50
    assert after["main"].template == base["main"].template
    assert predictor_specs(dep, ctx, {"main": 1})[0].template != base["main"].template  # a restart
    regraphed, _ = parse(text.replace("value: '2.0'", "value: '3.0'"))
    assert {p.name: p.template for p in predictor_specs(regraphed, ctx, {})}["canary"] != base["canary"].template
    single, _ = parse(manifest("one").replace("    traffic: 100\n", ""))
    assert predictor_specs(single, ctx, {})[0].traffic == 100  # as Seldon: the only predictor takes all


def test_with_changes_keeps_everything_else_and_diffs_say_what_changed():
    _, text = parse(manifest("web", [("main", 90), ("canary", 10)]))
    shadowed = with_changes(text, traffic={"main": 100, "canary": 0}, shadow={"canary": True})
    dep, _ = parse(shadowed)
    assert [(p.name, p.traffic, p.shadow) for p in dep.predictors] == [("main", 100, False), ("canary", 0, True)]
    assert "tests.components.risk_model.RiskModel" in shadowed and "value: '2.0'" in shadowed
    assert unified_diff(text, text, "web") == ""
    diff = unified_diff(text, shadowed, "web")
    assert diff.startswith("--- web (deployed)\n+++ web (new)") and "+    shadow: true" in diff


def test_update_state_keeps_other_writers_keys(home):
    update_state(home, lambda s: s["rollouts"].update({"web": {"strategy": "canary", "phase": "Paused"}}))
    update_state(home, lambda s: s.update(deployments={"web": {"phase": "Available"}}))
    state = read_state(home)
    assert state["rollouts"]["web"]["phase"] == "Paused" and state["deployments"]["web"]["phase"] == "Available"
    assert not list((home / "runtime").glob(".state.json.*"))  # no temp files left behind


def _record(home, name="web", pid=999_999_999):
    """What a supervisor records, with a pid that no process has."""
    text = parse(manifest(name))[1]
    manifest_path(home, name).parent.mkdir(parents=True, exist_ok=True)
    manifest_path(home, name).write_text(text)
    rec = {"phase": "Available", "url": "http://127.0.0.1:1", "predictors": [
        {"name": "main", "traffic": 100, "replicas": 1, "ready_replicas": 1}],
        "gateway": {"kind": "gateway", "pid": pid, "port": 1, "phase": "Running", "ready": True},
        "replicas": [{"kind": "graph-server", "predictor": "main", "index": 0, "pid": pid, "port": 2,
                      "phase": "Running", "ready": True, "restarts": 2}]}
    update_state(home, lambda s: s["deployments"].update({name: rec}))
    return text


def test_without_a_supervisor_the_console_says_nothing_is_served(home):
    _record(home)
    cluster = LocalCluster(home)
    (summary,) = cluster.list_deployments()
    assert summary.phase == "NotServed" and "supervisor not running" in summary.message
    assert summary.predictors[0].ready_replicas == 0
    pods = cluster.list_replicas("web")
    assert [(p.kind, p.phase, p.pid) for p in pods] == [("gateway", "Terminated", None),
                                                        ("graph-server", "Terminated", None)]
    assert pods[1].restarts == 2 and pods[1].name == "web-main-0"
    assert "kind: SeldonDeployment" in cluster.get_deployment("web").manifest
    with pytest.raises(NotFound, match="ghost"):
        cluster.get_deployment("ghost")


def test_diff_against_what_is_deployed(home):
    text = _record(home)
    cluster = LocalCluster(home)
    assert cluster.diff(manifest("other")) == "created"
    assert cluster.diff(text) == ""
    assert "+    replicas: 2" in cluster.diff(text.replace("replicas: 1", "replicas: 2"))
    with pytest.raises(InvalidSpec):
        cluster.diff("kind: Nope")


def test_events_read_and_filtered(home):
    path = home / "runtime" / "events.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps({"time": t, "deployment": d, "kind": "Normal", "reason": r, "message": ""})
                              for t, d, r in [(1, "a", "Deployed"), (2, "b", "Deployed"), (3, "a", "Scaled")])
                    + "\n{damaged\n")
    cluster = LocalCluster(home)
    assert [e.reason for e in cluster.events("a")] == ["Deployed", "Scaled"]
    assert len(cluster.events()) == 3


def test_logs_tail_and_follow_from_files(home):
    _record(home)
    log = replica_log_path(home, "web", "main", 0)
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    cluster = LocalCluster(home)
    assert cluster.logs("web", tail=3) == ["line 497", "line 498", "line 499"]
    assert tail_lines(log, 1000)[0] == "line 0"
    with pytest.raises(NotFound):
        cluster.logs("web", predictor="nope")
    stop = threading.Event()
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.extend(cluster.follow_logs("web", tail=1, stop=stop, poll=0.02)))
    thread.start()
    time.sleep(0.1)
    with open(log, "a") as fh:
        fh.write("appended\npart")
    time.sleep(0.2)
    log.write_text("after rotation\n")  # truncated and rewritten, as rotation does
    deadline = time.monotonic() + 5
    while "after rotation" not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    assert seen[:2] == ["line 499", "appended"] and "after rotation" in seen
