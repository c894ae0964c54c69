"""`mlconsole rollout ...` as scripts run it: exit codes, --readonly, every verb audited."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backends.local.cluster import LocalCluster
from backends.local.state import read_state
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.governance.audit import AuditLog
from console.rollout.spec import RolloutSpec, Step, dump_spec
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, manifest, mlconsole, stop_runtime, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollout-cli") / "home"
    path.mkdir()
    yield path
    stop_runtime(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rollout-cli-files")
    (d / "v2.yaml").write_text(manifest("web").replace('value: "1.0"', 'value: "3.0"'))
    (d / "broken.yaml").write_text(manifest("web").replace("type: MODEL", "type: MODLE"))
    (d / "steps.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=20), Step(pause_seconds=600), Step(set_weight=60),
                         Step(pause_indefinite=True), Step(set_weight=100)), analysis_interval=1.0)))
    (d / "bad-spec.yaml").write_text("strategy: canary\nsteps:\n- setWeight: 50\n- setWeight: 20\n")
    return d


@pytest.fixture(scope="module")
def web(home):
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(manifest("web"), [str(ROOT)])
    wait_for(lambda: cluster.get_deployment("web").summary.phase == "Available", what="web Available")
    return "web"


def predictors(home, name="web"):
    return [(p["name"], p["traffic"]) for p in read_state(home)["deployments"][name]["predictors"]]


def status(home, name="web") -> dict:
    out = mlconsole(home, "rollout", "status", name, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_bad_arguments_and_missing_things(home, files):
    assert mlconsole(home, "rollout", "frobnicate", "web").returncode == 2
    out = mlconsole(home, "rollout", "start", "web", "--manifest", str(files / "v2.yaml"), "--fault", "1.5")
    assert out.returncode == 2 and "--fault" in out.stderr
    out = mlconsole(home, "rollout", "status", "nope")
    assert out.returncode == 1 and "no rollout of 'nope'" in out.stderr
    out = mlconsole(home, "rollout", "promote", "nope")
    assert out.returncode == 1 and "no rollout of 'nope'" in out.stderr
    out = mlconsole(home, "rollout", "start", "nope", "--manifest", str(files / "v2.yaml"))
    assert out.returncode == 1 and "no deployment 'nope'" in out.stderr
    out = mlconsole(home, "rollout", "start", "web", "--manifest", str(files / "broken.yaml"))
    assert out.returncode == 1 and "MODLE" in out.stderr and "rollout not started" in out.stderr


def test_readonly_refuses_every_change(home, files, web):
    for args in (("start", "web", "--manifest", str(files / "v2.yaml")), ("promote", "web"), ("abort", "web"),
                 ("promote-full", "web"), ("pause", "web"), ("resume", "web"), ("retry", "web")):
        out = mlconsole(home, "--readonly", "rollout", *args)
        assert out.returncode == 1 and "refused: mlconsole runs with --readonly" in out.stderr, (args, out.stderr)
    assert read_state(home)["rollouts"] == {}
    assert predictors(home) == [("main", 100)]
    assert not [e for e in AuditLog(home).entries() if e.action.startswith("rollout.")]  # nothing asked, nothing done


def test_every_verb_through_a_rollout(home, files, web):
    out = mlconsole(home, "rollout", "start", "web", "--manifest", str(files / "v2.yaml"),
                    "--strategy", str(files / "bad-spec.yaml"))
    assert out.returncode == 1 and "does not increase" in out.stderr
    out = mlconsole(home, "rollout", "start", "web", "--manifest", str(files / "v2.yaml"),
                    "--strategy", str(files / "steps.yaml"), "--reason", "ship v2")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: ("canary", 20) in predictors(home), what="canary at 20")
    again = mlconsole(home, "rollout", "start", "web", "--manifest", str(files / "v2.yaml"))
    assert again.returncode == 1 and "already" in again.stderr
    # the controller owns the predictors until the rollout ends: a deploy or a traffic change is refused
    deploy = mlconsole(home, "deploy", str(files / "v2.yaml"))
    assert deploy.returncode == 1 and "rollout of web is" in deploy.stderr and "abort" in deploy.stderr, deploy
    split = mlconsole(home, "traffic-split", "web", "main=50", "canary=50")
    assert split.returncode == 1 and "rollout of web is" in split.stderr, split
    assert ("canary", 20) in predictors(home)
    state = status(home)
    assert state["deployment"] == "web" and state["strategy"] == "canary" and state["phase"] in ("Progressing",
                                                                                                 "Paused")
    text = mlconsole(home, "rollout", "status", "web")
    assert text.returncode == 0 and "Strategy:" in text.stdout and "canary" in text.stdout
    out = mlconsole(home, "rollout", "pause", "web")
    assert out.returncode == 0 and "Paused" in out.stdout, out.stderr
    twice = mlconsole(home, "rollout", "pause", "web")
    assert twice.returncode == 1 and "already paused" in twice.stderr  # the controller refuses: Conflict
    out = mlconsole(home, "rollout", "resume", "web")
    assert out.returncode == 0, out.stderr
    out = mlconsole(home, "rollout", "promote", "web")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: ("canary", 60) in predictors(home), what="canary at 60")
    # a watcher follows the rollout until it ends; abort ends it (exit 1: it did not complete)
    watch = subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(home), "rollout", "status",
                              "web", "--watch"], cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        out = mlconsole(home, "rollout", "abort", "web")
        assert out.returncode == 0 and "Aborted" in out.stdout, out.stderr
        lines, err = watch.communicate(timeout=20)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 1, err
    assert "Aborted" in lines.splitlines()[-1], lines
    assert predictors(home) == [("main", 100)]
    out = mlconsole(home, "rollout", "retry", "web")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: ("canary", 20) in predictors(home), what="canary back at 20")
    out = mlconsole(home, "rollout", "promote-full", "web")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: predictors(home) == [("main", 100)] and status(home)["phase"] == "Completed",
             timeout=40, what="promoted: main only, serving v2")
    assert "3.0" in LocalCluster(home).get_deployment("web").manifest
    assert mlconsole(home, "rollout", "status", "web", "--watch").returncode == 0  # ended well: exit 0 at once
    entries = AuditLog(home).entries()
    actions = [e.action for e in entries]
    for verb in ("start", "pause", "resume", "promote", "abort", "retry", "promote_full"):
        # who asked (the CLI), and what the controller did about it
        assert f"rollout.{verb}.request" in actions and f"rollout.{verb}" in actions, (verb, actions)
    start = next(e for e in entries if e.action == "rollout.start.request")
    assert start.reason == "ship v2" and start.target == "local/web" and "sha256:" in start.after
    abort = next(e for e in entries if e.action == "rollout.abort")
    assert abort.actor == start.actor and "aborted by" in abort.reason
    ok, message = AuditLog(home).verify()
    assert ok, message
