"""The Rollouts view: a real canary on the local runtime, watched and promoted by keys; snapshots of
a rollout record written by hand (pinned times, so the same picture every run)."""

import json
import subprocess
import sys

import pytest

from console.rollout.spec import Gate, RolloutSpec, Step, dump_spec
from console.rollout.state import Measurement, RolloutState, Transition
from screens.rollout_detail import RolloutDetailScreen
from screens.rollouts import RolloutsScreen
from screens.widgets.resource_table import ResourceTable
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, manifest, stop_runtime, wait_for
from tests.screens.conftest import PINNED_NOW
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import frozen_runtime, notices, until


@pytest.fixture
def runtime_home(home):
    yield home
    stop_runtime(home)


def cli(home, *args):
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=subprocess_env(), cwd=ROOT, timeout=120)


async def test_a_canary_is_watched_and_promoted_by_keys(runtime_home):
    from backends.local.cluster import LocalCluster

    home = runtime_home
    (home / "v1.yaml").write_text(manifest("scoring"))
    (home / "v2.yaml").write_text(manifest("scoring").replace('value: "1.0"', 'value: "3.0"'))
    (home / "spec.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=30), Step(pause_indefinite=True), Step(set_weight=100)),
        gates=(Gate("error_rate", "<", 0.5, window_seconds=10.0, min_requests=1, inconclusive_limit=100),),
        analysis_interval=2.0)))
    assert cli(home, "deploy", str(home / "v1.yaml")).returncode == 0
    cluster = LocalCluster(home)
    wait_for(lambda: cluster.get_deployment("scoring").summary.phase == "Available", timeout=60, what="Available")
    started = cli(home, "rollout", "start", "scoring", "--manifest", str(home / "v2.yaml"),
                  "--strategy", str(home / "spec.yaml"))
    assert started.returncode == 0, started.stderr

    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RolloutsScreen)
        table = screen.query_one(ResourceTable)
        await until(pilot, lambda: "scoring" in screen.rollouts, what="the rollout listed")
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RolloutDetailScreen)
        await until(pilot, lambda: detail.state and detail.state.phase == "Paused" and detail.state.step_index == 1,
                    timeout=40, what="paused at the indefinite pause with 30% on the canary")
        assert detail.state.weights == {"main": 70, "canary": 30}
        assert "▶ pause (until promoted)" in str(detail.query_one("#rollout-steps").render())

        await pilot.press("p")  # promote past the pause: 100% and done
        await settle(pilot)
        assert "Promote scoring" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await until(pilot, lambda: detail.state.phase == "Completed", timeout=60, what="completed")
        await pilot.press("escape")
        await settle(pilot)
        await until(pilot, lambda: screen.rollouts.get("scoring") and screen.rollouts["scoring"].phase == "Completed",
                    what="the list shows it completed")
        assert table.table.row_count == 1
    # Promotion's second half: stable's replicas run the new graph, then the canary predictor goes.
    wait_for(lambda: [p.name for p in cluster.get_deployment("scoring").summary.predictors] == ["main"],
             timeout=60, what="the canary predictor removed")


async def test_readonly_refuses_rollout_keys(home):
    frozen_rollout(frozen_runtime(home))
    app = make_app(home, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        for key in ("p", "P", "space", "ctrl+a"):
            await pilot.press(key)
            await pilot.pause(0.1)
        assert notices(app).count("--readonly") == 4 and isinstance(app.screen, RolloutsScreen)


# -- snapshots -----------------------------------------------------------------------------------


def frozen_rollout(home):
    """credit-risk mid-canary: 30% on the canary, its p99 gate failed once, waiting at a pause."""
    spec = RolloutSpec("canary", steps=(Step(set_weight=10), Step(pause_seconds=60), Step(set_weight=30),
                                        Step(pause_seconds=120), Step(set_weight=100)),
                       gates=(Gate("error_rate", "<", 0.05, failure_limit=2),
                              Gate("latency_p99", "<", 0.5, failure_limit=2)), analysis_interval=10.0)
    t0 = PINNED_NOW - 600
    measurements = []
    for i in range(12):
        at = t0 + 300 + i * 10
        measurements.append(Measurement(at, "error_rate", "candidate", 0.01 + 0.002 * (i % 3), "<", 0.05, True, 240))
        p99 = 0.2 + 0.03 * i
        measurements.append(Measurement(at, "latency_p99", "candidate", p99, "<", 0.5, p99 < 0.5, 240))
    state = RolloutState(
        deployment="credit-risk", spec=spec, phase="Paused", step_index=3, weights={"main": 70, "canary": 30},
        shadow={"main": False, "canary": False}, started_at=t0, step_started_at=PINNED_NOW - 20,
        updated_at=PINNED_NOW - 5, message="pause 2m: 1m40s left", measurements=measurements,
        transitions=[Transition(t0, "alice@ops", "", "Progressing", 0, "rollout started: 10 → 30 → 100"),
                     Transition(t0 + 60, "mlconsole-supervisor (rollout controller)", "Progressing", "Paused", 1,
                                "pause 1m"),
                     Transition(t0 + 120, "mlconsole-supervisor (rollout controller)", "Paused", "Progressing", 1,
                                "pause over; gates passed: error_rate 0.012, latency_p99 0.23"),
                     Transition(PINNED_NOW - 20, "mlconsole-supervisor (rollout controller)", "Progressing",
                                "Paused", 3, "pause 2m")],
        consecutive_failures={spec.gates[1].key: 1}, last_analysis_at=PINNED_NOW - 10, pause_reason="step",
        last_verdict="fail", actor="alice@ops")
    path = home / "runtime" / "state.json"
    data = json.loads(path.read_text())
    data["rollouts"]["credit-risk"] = state.to_dict()
    path.write_text(json.dumps(data))
    return home


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("inside", [False, True], ids=["list", "detail"])
def test_rollouts_snapshot(snap_compare, snapshot_home, pinned_clock, size, inside):
    frozen_rollout(frozen_runtime(snapshot_home))
    app = make_app(snapshot_home)

    async def run_before(pilot):
        await pilot.press("6")
        await settle(pilot)
        if inside:
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("down")  # the p99 gate: its values climbing to the threshold
            await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_a_rollout_starts_from_the_cluster_view_with_its_plan_previewed(runtime_home):
    from backends.local.cluster import LocalCluster

    home = runtime_home
    (home / "graphs").mkdir()
    (home / "graphs" / "scoring-v2.yaml").write_text(manifest("scoring").replace('value: "1.0"', 'value: "3.0"'))
    (home / "v1.yaml").write_text(manifest("scoring"))
    assert cli(home, "deploy", str(home / "v1.yaml")).returncode == 0
    cluster = LocalCluster(home)
    wait_for(lambda: cluster.get_deployment("scoring").summary.phase == "Available", timeout=60, what="Available")
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("o", *"v2", "enter")  # the new version
        await settle(pilot)
        await pilot.press(*"default", "enter")  # the default canary
        await settle(pilot)
        detail = str(app.screen.query_one("#confirm-detail").render())
        assert "scoring-v2.yaml" in detail and "setWeight 10" in detail and "error_rate < 0.05" in detail
        await pilot.press("y")
        await until(pilot, lambda: "rollout of scoring started" in notices(app), what="started")
    assert cluster.rollout_status("scoring")["strategy"] == "canary"
    actions = [e.action for e in __import__("console.governance.audit", fromlist=["AuditLog"]).AuditLog(home).tail(20)]
    assert "rollout.start.request" in actions


async def test_a_console_started_mid_rollout_shows_it_where_it_is(runtime_home):
    """The controller lives in the supervisor: close the console, open another, same rollout."""
    from backends.local.cluster import LocalCluster

    home = runtime_home
    (home / "v1.yaml").write_text(manifest("scoring"))
    (home / "v2.yaml").write_text(manifest("scoring").replace('value: "1.0"', 'value: "3.0"'))
    (home / "spec.yaml").write_text(dump_spec(RolloutSpec(
        "canary", steps=(Step(set_weight=20), Step(pause_indefinite=True), Step(set_weight=100)),
        gates=(Gate("error_rate", "<", 0.5, window_seconds=10.0, min_requests=1, inconclusive_limit=100),),
        analysis_interval=2.0)))
    assert cli(home, "deploy", str(home / "v1.yaml")).returncode == 0
    cluster = LocalCluster(home)
    wait_for(lambda: cluster.get_deployment("scoring").summary.phase == "Available", timeout=60, what="Available")
    assert cli(home, "rollout", "start", "scoring", "--manifest", str(home / "v2.yaml"),
               "--strategy", str(home / "spec.yaml")).returncode == 0
    seen = []
    for _ in range(2):  # two console sessions, one after the other
        app = make_app(home)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("6")
            await settle(pilot)
            screen = app.screen
            await until(pilot, lambda s=screen: s.rollouts.get("scoring") and s.rollouts["scoring"].phase == "Paused",
                        timeout=40, what="the rollout paused at its indefinite pause")
            seen.append((screen.rollouts["scoring"].step, screen.rollouts["scoring"].canary_weight))
    assert seen[0] == seen[1] and seen[0][1] == 20
