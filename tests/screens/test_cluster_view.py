"""The Cluster view on the real local runtime: deploy, look inside, scale, traffic, logs, delete.

Processes are real (a supervisor, a gateway, graph servers on 127.0.0.1) and serve a Python
component from tests/components, so no MLflow is needed. Snapshots use a runtime state
written by hand with its supervisor down: pids, ports and ages are then the same each run.
"""

import json
import os
import signal
import time

import httpx
import pytest
from textual.widgets import Input, Log

from console.governance.audit import AuditLog
from screens.cluster import ClusterScreen
from screens.deployment_detail import DeploymentDetailScreen
from screens.describe import DescribeScreen
from screens.logs import LogsScreen
from screens.widgets.resource_table import ResourceTable
from tests.local_runtime import REQUEST, manifest, stop_runtime
from tests.screens.conftest import PINNED_NOW as PINNED  # noqa: E402 - ages are measured from it
from tests.screens.helpers import make_app, settle


def notices(app) -> str:
    return " ".join(n.message for n in app._notifications)


async def until(pilot, check, timeout=40.0, what="condition"):
    """Poll check() while letting the app run (the views refresh every 2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.3)
        result = check()
        if result:
            return result
    raise AssertionError(f"timed out waiting for {what}; notices: {notices(pilot.app)}")


def cells(table: ResourceTable, column: int) -> list[str]:
    t = table.table
    return [str(t.get_row_at(i)[column]) for i in range(t.row_count)]


async def answer(pilot, text: str) -> None:
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause(0.2)


@pytest.fixture
def runtime_home(home):
    (home / "graphs").mkdir(parents=True, exist_ok=True)
    (home / "graphs" / "scoring.yaml").write_text(manifest("scoring", [("main", 80), ("canary", 20)]))
    yield home
    stop_runtime(home)


async def test_deploy_scale_split_follow_and_delete_from_the_cluster_view(runtime_home):
    home = runtime_home
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ClusterScreen)

        # a: pick the manifest, see that it creates, confirm.
        await pilot.press("a", *"scoring", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DiffConfirm", what="the deploy confirmation")
        assert "Create deployment scoring?" in str(app.screen.query_one("#diff-confirm-question").render())
        await pilot.press("y")
        deployments = screen.query_one("#cluster-deployments", ResourceTable)
        await until(pilot, lambda: "Available" in cells(deployments, 2), what="Available")
        assert cells(deployments, 3) == ["2/2"] and cells(deployments, 4) == ["main 80 / canary 20"]
        url = screen.deployments["scoring"].url
        assert httpx.post(f"{url}/api/v1.0/predictions", json=REQUEST, timeout=10).status_code == 200
        events = screen.query_one("#cluster-events", ResourceTable)
        await until(pilot, lambda: "Deployed" in cells(events, 2), what="the Deployed event")

        # enter: the processes, the gateway first.
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DeploymentDetailScreen)
        replicas = detail.query_one("#deployment-replicas", ResourceTable)
        await until(pilot, lambda: cells(replicas, 0) == ["scoring-gateway", "scoring-canary-0", "scoring-main-0"],
                    what="three processes")

        # kill -9 a graph server: it comes back with a restart counted.
        victim = detail.replicas["main/0"].pid
        os.kill(victim, signal.SIGKILL)
        await until(pilot, lambda: detail.replicas.get("main/0") and detail.replicas["main/0"].restarts == 1
                    and detail.replicas["main/0"].ready and detail.replicas["main/0"].pid != victim,
                    what="the killed replica back")
        await until(pilot, lambda: "Crashed" in cells(detail.query_one("#deployment-events", ResourceTable), 2),
                    what="the Crashed event")

        # s on the main replica: scale main to 2.
        await pilot.press("down", "down")  # gateway -> canary-0 -> main-0
        await pilot.press("s")
        await pilot.pause(0.2)
        await answer(pilot, "main=2")
        await pilot.press("y")
        await until(pilot, lambda: len([k for k in detail.replicas if k.startswith("main/")]) == 2
                    and all(r.ready for r in detail.replicas.values()), what="two main replicas")

        # t: move traffic to 50/50.
        await pilot.press("t")
        await pilot.pause(0.2)
        await answer(pilot, "main=50 canary=50")
        await pilot.press("y")
        await until(pilot, lambda: detail.detail and detail.detail.summary.traffic_label == "main 50 / canary 50",
                    what="the new weights")

        # l: the logs of the selected replica follow new lines.
        await pilot.press("up", "up", "l")  # main-0 -> canary-0 -> gateway
        await pilot.pause(0.5)
        logs = app.screen
        assert isinstance(logs, LogsScreen) and logs.predictor == "gateway"
        for _ in range(3):
            httpx.post(f"{url}/api/v1.0/predictions", content=b"{not json", timeout=10)
        await until(pilot, lambda: logs.lines_seen > 0, what="log lines")
        assert "gateway" in logs.query_one(Log).border_title
        await pilot.press("escape")
        await pilot.pause(0.2)

        # y: the manifest as deployed.
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, DescribeScreen)
        described = app.screen.text
        assert "tests.components.risk_model.RiskModel" in described
        await pilot.press("escape")
        await settle(pilot)

        # ctrl+d: delete, confirmed; back in the list, which is empty again.
        await pilot.press("ctrl+d")
        await pilot.pause(0.2)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ClusterScreen) and not screen.deployments,
                    what="the deployment gone")

    actions = [e.action for e in AuditLog(home).tail(50)]
    for action in ("cluster.deploy", "cluster.scale", "cluster.traffic", "cluster.delete"):
        assert action in actions, actions


async def test_readonly_refuses_every_change_and_changes_nothing(runtime_home):
    app = make_app(runtime_home, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        for key in ("a", "s", "R", "t", "ctrl+d"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, ClusterScreen), key  # no dialog opened
        assert notices(app).count("--readonly") == 5
    assert not (runtime_home / "runtime" / "state.json").exists()


async def test_an_invalid_manifest_is_not_deployed_and_says_where(home):
    (home / "graphs").mkdir(parents=True)
    (home / "graphs" / "bad.yaml").write_text(manifest("bad", [("main", 60)]))  # traffic 60, not 100
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("a", *"bad", "enter")
        await until(pilot, lambda: "not deployed" in notices(app), what="the refusal")
        assert "traffic" in notices(app) and isinstance(app.screen, ClusterScreen)
    assert not (home / "runtime" / "state.json").exists()


# -- snapshots: a runtime whose supervisor is down, written by hand ---------------------------


def frozen_runtime(home):
    """Three deployments as a stopped runtime leaves them: deterministic pids, ports and times."""
    runtime = home / "runtime"
    (runtime / "deployments").mkdir(parents=True, exist_ok=True)
    (runtime / "logs" / "credit-risk").mkdir(parents=True, exist_ok=True)
    t0 = PINNED - 3600

    def rec(predictor, index, port, phase="Running", restarts=0, message="", kind="graph-server"):
        return {"predictor": predictor, "index": index, "pid": 999_000 + port % 1000, "port": port,
                "phase": phase, "ready": phase == "Running", "restarts": restarts, "started_at": t0 + 60,
                "kind": kind, "message": message}

    state = {"deployments": {
        "credit-risk": {
            "phase": "Available", "url": "http://127.0.0.1:40100", "created_at": t0,
            "gateway": rec("", 0, 40100, kind="gateway"),
            "replicas": [rec("main", 0, 40101), rec("main", 1, 40102),
                         rec("canary", 0, 40103, "CrashLoopBackOff", 3, "ValueError: weight must be > 0")],
            "predictors": [{"name": "main", "traffic": 90, "replicas": 2, "ready_replicas": 2},
                           {"name": "canary", "traffic": 10, "replicas": 1, "ready_replicas": 0}],
        },
        "fraud": {"phase": "Progressing", "url": "http://127.0.0.1:40200", "created_at": t0 + 1800,
                  "predictors": [{"name": "main", "traffic": 100, "replicas": 1, "ready_replicas": 0}]},
        "legacy": {"phase": "Failed", "url": "", "created_at": t0 - 86400, "message": "canary crash-looping",
                   "predictors": [{"name": "main", "traffic": 100, "replicas": 1, "ready_replicas": 0}]},
    }, "rollouts": {}}
    (runtime / "state.json").write_text(json.dumps(state))
    (runtime / "logs" / "credit-risk" / "main-0.log").write_text("".join(
        f"2026-11-30 07:{m:02d}:00,000 graph-server[credit-risk/main/0] INFO {line}\n" for m, line in enumerate([
            "serving credit-risk/main replica 0 on http://127.0.0.1:40101 (1 nodes, ready in 1.20 s)",
            "POST /api/v1.0/predictions 200 2.1ms",
            "WARNING 400 /api/v1.0/predictions: data.ndarray must be a list of rows",
            "connecting with MLFLOW_TRACKING_TOKEN=s3cr3t-value to https://bob:hunter2@mlflow.internal",
        ])))
    (runtime / "deployments" / "credit-risk.yaml").write_text(manifest("credit-risk", [("main", 90), ("canary", 10)]))
    events = [
        (t0, "Normal", "Deployed", "credit-risk", "", "deployed 2 predictor(s): main 90 / canary 10"),
        (t0 + 5, "Normal", "Ready", "credit-risk", "main-0", "main-0 ready on port 40101 after 1.2s"),
        (t0 + 900, "Warning", "Crashed", "credit-risk", "canary-0", "canary-0 exited with code 1"),
        (t0 + 901, "Warning", "BackOff", "credit-risk", "canary-0", "restarting canary-0 in 4s"),
        (t0 + 1800, "Normal", "Deployed", "fraud", "", "deployed 1 predictor(s): main 100"),
    ]
    (runtime / "events.jsonl").write_text("".join(json.dumps(
        {"time": t, "kind": k, "reason": r, "deployment": d, "object": o, "message": m}) + "\n"
        for t, k, r, d, o, m in events))
    return home


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("inside", [False, True], ids=["deployments", "processes"])
def test_cluster_view_snapshot(snap_compare, snapshot_home, pinned_clock, size, inside):
    frozen_runtime(snapshot_home)
    app = make_app(snapshot_home)

    async def run_before(pilot):
        await pilot.press("5")
        await settle(pilot)
        if inside:
            await pilot.press("enter")
            await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_describe_snapshot(snap_compare, snapshot_home, pinned_clock, size):
    frozen_runtime(snapshot_home)
    app = make_app(snapshot_home)

    async def run_before(pilot):
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_logs_snapshot_masks_secrets(snap_compare, snapshot_home, pinned_clock, size):
    frozen_runtime(snapshot_home)
    app = make_app(snapshot_home)

    async def run_before(pilot):
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("down", "down", "l")  # credit-risk-main-0
        # Not settle(): the follow worker runs until the screen closes.
        for _ in range(20):
            await pilot.pause(0.1)
            if pilot.app.screen.lines_seen >= 4:
                break
        text = "\n".join(pilot.app.screen.query_one(Log).lines)
        assert "s3cr3t" not in text and "hunter2" not in text and "MLFLOW_TRACKING_TOKEN=****" in text

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_the_builder_deploys_its_draft_and_shows_the_diff_of_an_update(runtime_home):
    from screens.diff_confirm import DiffConfirm
    from screens.graph_builder import GraphBuilderScreen

    app = make_app(runtime_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("enter")  # scoring.yaml, the only graph
        await settle(pilot)
        builder = app.screen
        assert isinstance(builder, GraphBuilderScreen)
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, DiffConfirm), what="the deploy confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "scoring created" in notices(app), what="created")

        await pilot.press("t")
        await settle(pilot)
        await answer(pilot, "main=60 canary=40")
        await settle(pilot)
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, DiffConfirm), what="the update confirmation")
        assert "-    traffic: 80" in app.screen.diff and "+    traffic: 60" in app.screen.diff
        await pilot.press("y")
        await until(pilot, lambda: "scoring configured" in notices(app), what="configured")
    summary = app.backends.cluster.get_deployment("scoring").summary
    assert summary.traffic_label == "main 60 / canary 40"
