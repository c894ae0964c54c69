"""Rollouts on the local runtime for real: supervisor, graph servers, gateway, `mlconsole traffic`,
metrics scraped from the processes. Python components (tests/components), so no MLflow.

Specs are fast (2 s analysis interval, short pauses) so the module runs in well under a minute
or two. Timings are printed (-s shows them); the rollback is checked against the issue's bound.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from backends.local.cluster import LocalCluster
from backends.local.rollouts import ACTOR, FAULT_ANNOTATION, _candidate_predictor, _same, fault_rate
from backends.local.state import process_running, read_events, read_state, routes_path, supervisor_running
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.governance.audit import AuditLog
from console.rollout.spec import Gate, RolloutSpec, Step, dump_spec
from tests.conftest import subprocess_env
from tests.local_runtime import REQUEST, ROOT, manifest, mlconsole, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(120)

INTERVAL = 2.0
SCRAPE = 1.0
SLACK = 3.0  # a busy 2-core machine: process start-up, the loop's own tick


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollout-local") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rollout-files")
    (d / "rows.csv").write_text("a,b\n0.5,1.5\n0.1,0.2\n1.5,-0.5\n")
    return d


def candidate_manifest(name: str, weight: str = "3.0") -> str:
    """The new version: the same component with another weight (so its answers tell it apart)."""
    return manifest(name).replace('value: "1.0"', f'value: "{weight}"')


def deploy(home, name):
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(manifest(name), [str(ROOT)])
    wait_for(lambda: cluster.get_deployment(name).summary.phase == "Available", what=f"{name} Available")
    return cluster


def write(directory, filename, text):
    path = directory / filename
    path.write_text(text)
    return str(path)


def rollout(home, name) -> dict:
    return read_state(home)["rollouts"].get(name) or {}


def predictors(home, name) -> list[tuple[str, int, bool]]:
    dep = read_state(home)["deployments"].get(name) or {}
    return [(p["name"], p["traffic"], p["shadow"]) for p in dep.get("predictors", [])]


def routed(home, name) -> dict[str, int]:
    """Predictor -> weight of those the gateway can send to (ready endpoints), from its routes file."""
    try:
        routes = json.loads(routes_path(home, name).read_text())
    except (OSError, ValueError):
        return {}
    return {p["name"]: p["traffic"] for p in routes["predictors"] if p["endpoints"] and not p.get("shadow")}


def traffic(home, name, files, rate, duration) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(home), "traffic", name,
                             "--rate", str(rate), "--duration", str(duration),
                             "--from-dataset", str(files / "rows.csv"), "--json"],
                            cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop(load: subprocess.Popen) -> dict:
    if load.poll() is None:
        load.send_signal(signal.SIGINT)
    try:
        out, _ = load.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        load.kill()
        out, _ = load.communicate()
    try:
        return json.loads(out)
    except ValueError:
        return {}


def canary_spec(*steps: Step, gates: tuple[Gate, ...] = (), **kw) -> str:
    return dump_spec(RolloutSpec("canary", steps=steps, gates=gates, analysis_interval=INTERVAL, **kw))


ERRORS = Gate("error_rate", "<", 0.05, window_seconds=10.0, min_requests=5, failure_limit=1, inconclusive_limit=3)


# -- without processes --------------------------------------------------------------------------


def test_candidate_predictor_carries_the_fault_annotation():
    spec = RolloutSpec("canary", fault_rate=0.3)
    cand = _candidate_predictor(candidate_manifest("x"), spec, {"replicas": 2})
    assert cand["name"] == "canary" and cand["traffic"] == 0 and cand["replicas"] == 1
    assert cand["annotations"][FAULT_ANNOTATION] == "0.3"
    text = manifest("x").replace("spec:\n  predictors:\n", "spec:\n  predictors:\n  - name: canary\n"
                                 "    annotations: {mlconsole.io/fault-rate: '0.5'}\n    graph: {name: m, "
                                 "type: MODEL, implementation: a.B}\n", 1)
    assert fault_rate(text, "canary") == 0.5 and fault_rate(text, "main") == 0.0
    healthy = _candidate_predictor(candidate_manifest("x"), RolloutSpec("canary"), {})
    assert "annotations" not in healthy


def test_a_shadow_candidate_carries_its_mirror_percentage_into_the_routes():
    from backends.local.rollouts import MIRROR_ANNOTATION, mirror_percents

    cand = _candidate_predictor(candidate_manifest("x"), RolloutSpec("shadow", mirror_percent=20), {})
    assert cand["annotations"][MIRROR_ANNOTATION] == "20"
    assert "annotations" not in _candidate_predictor(candidate_manifest("x"), RolloutSpec("shadow"), {})
    text = manifest("x").replace("spec:\n  predictors:\n", "spec:\n  predictors:\n  - name: canary\n"
                                 "    annotations: {mlconsole.io/mirror-percent: '20'}\n    graph: {name: m, "
                                 "type: MODEL, implementation: a.B}\n", 1)
    assert mirror_percents(text) == {"canary": 20.0}


def test_answers_agree_when_equal_close_or_same_argmax():
    assert _same((0.1, 0.9), (0.1, 0.9)) and _same((0.5,), (0.5 + 1e-9,))
    assert _same((0.2, 0.8), (0.4, 0.6))  # same class
    assert not _same((0.6, 0.4), (0.4, 0.6)) and not _same((1.0,), (2.0,)) and not _same(("a",), ("b",))


# -- with the runtime -----------------------------------------------------------------------------


def test_healthy_canary_goes_10_50_100_and_replaces_stable(home, files):
    cluster = deploy(home, "ro-ok")
    spec = write(files, "ok.yaml", canary_spec(Step(set_weight=10), Step(pause_seconds=3), Step(set_weight=50),
                                               Step(pause_seconds=3), Step(set_weight=100), gates=(ERRORS,)))
    cand = write(files, "ok-v2.yaml", candidate_manifest("ro-ok"))
    load = traffic(home, "ro-ok", files, 60, 60)
    try:
        started = time.monotonic()
        out = mlconsole(home, "rollout", "start", "ro-ok", "--manifest", cand, "--strategy", spec)
        assert out.returncode == 0, out.stderr
        assert "rollout of ro-ok started: canary" in out.stdout
        seen: list[int] = []

        def finished():
            r = rollout(home, "ro-ok")
            weight = (r.get("weights") or {}).get("canary", r.get("canary_weight"))
            if weight is not None and (not seen or seen[-1] != weight):
                seen.append(weight)
            assert r.get("phase") not in ("Aborted", "Failed", "Inconclusive"), r.get("message")
            return r.get("phase") == "Completed" and not (r.get("local") or {}).get("finishing")

        wait_for(finished, timeout=70, every=0.1, what="the canary Completed and finished")
        print(f"\nhealthy canary 10 -> 50 -> 100 and replaced: {time.monotonic() - started:.1f}s; weights {seen}")
        steps = [w for w in seen if w in (10, 50, 100)]
        assert steps[:3] == [10, 50, 100], seen
        # One predictor left: the stable one, now serving the candidate's graph; the canary's processes gone.
        wait_for(lambda: predictors(home, "ro-ok") == [("main", 100, False)], what="only main at 100")
        detail = cluster.get_deployment("ro-ok")
        assert 'value: "3.0"' in detail.manifest or "value: '3.0'" in detail.manifest, detail.manifest
        assert "canary" not in [r.predictor for r in cluster.list_replicas("ro-ok")] or \
            wait_for(lambda: "canary" not in [r.predictor for r in cluster.list_replicas("ro-ok")],
                     what="canary replicas gone")
        answer = httpx.post(f"{detail.summary.url}/api/v1.0/predictions", json=REQUEST, timeout=5).json()
        assert answer["data"]["ndarray"][0][1] == pytest.approx(1 / (1 + 2.718281828459045 ** -6), rel=1e-6)
    finally:
        stats = stop(load)
    assert stats.get("5xx", 0) == 0 and stats.get("failed", 0) == 0, stats
    reasons = [e["reason"] for e in read_events(home, "ro-ok")]
    assert "RolloutStarted" in reasons and "RolloutPromoted" in reasons
    entries = [e for e in AuditLog(home).entries() if e.target == "local/ro-ok"]
    assert any(e.action == "rollout.start" for e in entries)
    assert any(e.actor == ACTOR for e in entries), [(e.actor, e.action) for e in entries]


def test_faulty_canary_is_rolled_back_within_two_intervals(home, files):
    from console.data.request_log import read_requests

    deploy(home, "ro-bad")
    spec = write(files, "bad.yaml", canary_spec(Step(set_weight=20), Step(pause_indefinite=True),
                                                Step(set_weight=100), gates=(ERRORS,)))
    cand = write(files, "bad-v2.yaml", candidate_manifest("ro-bad"))
    load = traffic(home, "ro-bad", files, 60, 60)
    try:
        out = mlconsole(home, "rollout", "start", "ro-bad", "--manifest", cand, "--strategy", spec, "--fault", "0.3")
        assert out.returncode == 0, out.stderr
        assert "rollback drill" in out.stdout
        wait_for(lambda: "canary" in routed(home, "ro-bad"), timeout=30, every=0.02, what="canary serving")
        back = wait_for(lambda: "canary" not in routed(home, "ro-bad") and time.time(), timeout=40, every=0.02,
                        what="back on stable")
        wait_for(lambda: rollout(home, "ro-bad").get("phase") == "Aborted", timeout=10, what="Aborted")
    finally:
        stop(load)
    assert routed(home, "ro-bad") == {"main": 100}
    assert predictors(home, "ro-bad") == [("main", 100, False)]

    def first_failure():
        rows = read_requests(home, "ro-bad", predictor="canary", since=300).table.to_pylist()
        failed = [r["ts"].timestamp() for r in rows if r["code"] == 500]
        return min(failed) if failed else None

    first = wait_for(first_failure, timeout=15, what="the canary's 500s in the request log")
    took = back - first
    print(f"\nfirst injected failure -> 100% stable: {took:.2f}s (goal {2 * INTERVAL + SCRAPE:.0f}s)")
    assert took <= 2 * INTERVAL + SCRAPE + SLACK
    # The decision is audited by the controller with the gate's measured value.
    entries = [e for e in AuditLog(home).entries() if e.target == "local/ro-bad" and e.actor == ACTOR]
    text = " ".join(f"{e.action} {e.before} {e.after} {e.reason}" for e in entries)
    assert "error_rate" in text and any(ch.isdigit() for ch in text), text
    assert any("Aborted" in f"{e.after} {e.action}" or "abort" in e.action for e in entries), text
    assert any(e["reason"] == "RolloutRolledBack" for e in read_events(home, "ro-bad"))


def test_no_traffic_is_inconclusive_and_never_promoted(home, files):
    deploy(home, "ro-quiet")
    gate = Gate("error_rate", "<", 0.05, window_seconds=10.0, min_requests=5, failure_limit=1)
    # (a pause longer than the analysis interval: the controller lets weights rise until a first analysis)
    spec = write(files, "quiet.yaml", canary_spec(Step(set_weight=10), Step(pause_seconds=2 * INTERVAL),
                                                  Step(set_weight=100), gates=(gate,)))
    cand = write(files, "quiet-v2.yaml", candidate_manifest("ro-quiet"))
    out = mlconsole(home, "rollout", "start", "ro-quiet", "--manifest", cand, "--strategy", spec)
    assert out.returncode == 0, out.stderr
    wait_for(lambda: rollout(home, "ro-quiet").get("phase") == "Inconclusive", timeout=30, what="Inconclusive")
    time.sleep(2 * INTERVAL + SCRAPE)
    r = rollout(home, "ro-quiet")
    assert r["phase"] == "Inconclusive" and (r.get("weights") or {}).get("canary", 0) <= 10, r
    assert ("canary", 10, False) in predictors(home, "ro-quiet")
    out = mlconsole(home, "rollout", "abort", "ro-quiet")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: predictors(home, "ro-quiet") == [("main", 100, False)], what="back to main only")


def test_supervisor_restart_resumes_at_the_same_step(tmp_path, files):
    home = tmp_path / "home"
    home.mkdir()
    try:
        deploy(home, "ro-again")
        spec = write(files, "again.yaml", canary_spec(Step(set_weight=30), Step(pause_indefinite=True),
                                                      Step(set_weight=70), Step(pause_indefinite=True)))
        cand = write(files, "again-v2.yaml", candidate_manifest("ro-again"))
        out = mlconsole(home, "rollout", "start", "ro-again", "--manifest", cand, "--strategy", spec)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: routed(home, "ro-again").get("canary") == 30
                 and rollout(home, "ro-again").get("phase") == "Paused", what="canary at 30, paused")
        # Adoption keeps processes that serve; on a loaded machine the candidate's replica may still
        # be starting when the weights are already set, and one not yet serving is rightly replaced.
        wait_for(lambda: all(r.get("ready") and r.get("port")
                             for r in read_state(home)["deployments"]["ro-again"]["replicas"]),
                 what="every replica serving")
        before = rollout(home, "ro-again")
        pids = {r["pid"] for r in read_state(home)["deployments"]["ro-again"]["replicas"]}
        supervisor = supervisor_running(home)
        os.kill(supervisor["pid"], signal.SIGKILL)
        wait_for(lambda: not process_running(supervisor["pid"]), what="the supervisor gone")
        up = mlconsole(home, "local", "up")
        assert up.returncode == 0, up.stderr
        wait_for(lambda: supervisor_running(home) and supervisor_running(home)["pid"] != supervisor["pid"],
                 what="a new supervisor")
        wait_for(lambda: any(e["reason"] == "RolloutResumed" for e in read_events(home, "ro-again")),
                 what="RolloutResumed")
        after = rollout(home, "ro-again")
        for key in ("phase", "step", "canary_weight", "weights", "strategy"):
            assert after.get(key) == before.get(key), key
        assert {r["pid"] for r in read_state(home)["deployments"]["ro-again"]["replicas"]} == pids  # adopted
        assert routed(home, "ro-again") == {"main": 70, "canary": 30}
        out = mlconsole(home, "rollout", "promote", "ro-again")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: routed(home, "ro-again").get("canary") == 70, what="the next step after the restart")
    finally:
        stop_runtime(home)


@pytest.mark.parametrize(("name", "weight", "ends"), [("ro-twin", "1.0", "Completed"),
                                                      ("ro-odd", "-1.0", "Aborted")])
def test_shadow_is_promoted_only_when_it_agrees(home, files, name, weight, ends):
    deploy(home, name)
    spec = write(files, f"{name}.yaml", dump_spec(RolloutSpec("shadow", duration_seconds=6.0,
                                                              analysis_interval=INTERVAL,
                                                              agreement_threshold=0.95)))
    cand = write(files, f"{name}-v2.yaml", candidate_manifest(name, weight))
    load = traffic(home, name, files, 40, 40)
    try:
        out = mlconsole(home, "rollout", "start", name, "--manifest", cand, "--strategy", spec)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: ("canary", 0, True) in predictors(home, name), what="canary mirrored")
        wait_for(lambda: rollout(home, name).get("phase") not in ("Progressing", "Paused"), timeout=40,
                 what="the shadow decision")
    finally:
        stop(load)
    r = rollout(home, name)
    assert r["phase"] == ends, r["message"]
    decision = [m for m in r["measurements"] if m["metric"] == "agreement"][-1]
    assert (decision["value"] >= 0.95) if ends == "Completed" else (decision["value"] < 0.5), decision
    wait_for(lambda: predictors(home, name) == [("main", 100, False)], what="the candidate predictor gone")


def test_alias_moves_and_restores_through_the_registry(tmp_path, monkeypatch):
    """RecordedActions.move_alias against a stand-in registry (the real one is MLflow's, tested elsewhere)."""
    from backends.local import rollouts
    from console.errors import NotFound
    from console.types import RegisteredModel

    class Registry:
        aliases = {"champion": "3"}

        def get_model(self, name):
            if name != "credit-risk":
                raise NotFound(name)
            return RegisteredModel(name, aliases=dict(self.aliases))

        def set_alias(self, name, alias, version):
            self.aliases[alias] = version

        def delete_alias(self, name, alias):
            self.aliases.pop(alias)

    registry = Registry()
    monkeypatch.setattr(rollouts, "open_registry", lambda uri: registry)
    actions = rollouts.RecordedActions(tmp_path, "credit-risk", "sqlite:///x.db", ACTOR)
    assert actions.move_alias("credit-risk", "champion", "4") == "3" and registry.aliases["champion"] == "4"
    assert actions.move_alias("credit-risk", "champion", "3") == "4" and registry.aliases["champion"] == "3"
    assert actions.move_alias("credit-risk", "challenger", "4") is None
    entries = AuditLog(tmp_path).entries()
    assert [(e.action, e.target, e.before, e.after, e.actor) for e in entries] == [
        ("registry.alias.set", "credit-risk@champion", "v3", "v4", ACTOR),
        ("registry.alias.set", "credit-risk@champion", "v4", "v3", ACTOR),
        ("registry.alias.set", "credit-risk@challenger", "", "v4", ACTOR)]
    actions.set_traffic({"main": 90, "canary": 10}, {"canary": False})
    actions.finish(True)
    assert actions.changes == [("traffic", {"main": 90, "canary": 10}, {"canary": False}), ("finish", True)]


def slow_manifest(name: str, weight: str, delay_ms: int) -> str:
    return manifest(name, implementation="tests.components.slow_model.SlowRiskModel").replace(
        'value: "1.0", type: FLOAT}', f'value: "{weight}", type: FLOAT}}\n'
        f'      - {{name: delay_ms, value: "{delay_ms}", type: FLOAT}}')


def test_ab_mann_whitney_on_logged_latencies_promotes_the_faster_version(home, files):
    """A/B for real: stable answers 15 ms slower than the candidate; Mann-Whitney on the request log's
    per-request latencies finds the candidate better, and it is promoted."""
    name = "ro-ab"
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(slow_manifest(name, "1.0", 15),
                                                                             [str(ROOT)])
    wait_for(lambda: cluster.get_deployment(name).summary.phase == "Available", what=f"{name} Available")
    spec = write(files, "ab.yaml", dump_spec(RolloutSpec("ab", duration_seconds=6.0, analysis_interval=INTERVAL,
                                                         ab_test="mann-whitney", ab_metric="latency_p50",
                                                         ab_split=50, gates=(ERRORS,))))
    cand = write(files, "ab-v2.yaml", slow_manifest(name, "3.0", 0))
    load = traffic(home, name, files, 40, 60)
    try:
        out = mlconsole(home, "rollout", "start", name, "--manifest", cand, "--strategy", spec)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: routed(home, name) == {"main": 50, "canary": 50}, timeout=30, what="the 50/50 split")
        wait_for(lambda: rollout(home, name).get("phase") not in ("Progressing", "Paused"), timeout=60,
                 what="the A/B decision")
    finally:
        stats = stop(load)
    r = rollout(home, name)
    assert r["phase"] == "Completed", r["message"]
    [decision] = [m for m in r["measurements"] if m["metric"] == "ab:latency_p50"]
    assert decision["value"] < 0.05 and "Mann-Whitney" in r["message"] + decision.get("detail", ""), decision
    wait_for(lambda: predictors(home, name) == [("main", 100, False)], timeout=40, what="one predictor left")
    detail = cluster.get_deployment(name).summary
    assert detail.phase == "Available"
    assert 'delay_ms, value: "0"' in cluster.get_deployment(name).manifest.replace("'", '"') or \
        "value: '0'" in cluster.get_deployment(name).manifest, "main now serves the faster version"
    assert stats.get("5xx", 0) == 0, stats
