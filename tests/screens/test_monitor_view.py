"""The Monitor view: live figures from the real runtime, and snapshots of a recorded window.

The live test deploys a two-predictor graph of Python components, drives it with
`mlconsole traffic` (with injected errors), and watches the view follow it, alert, pause,
switch windows, show the request tail, and keep its last figures greyed while the runtime is
down. The snapshots replay a window recorded through the serving processes' own metric
classes at pinned times, read back by the embedded metrics backend as a stopped runtime's
history: the same figures every run.
"""

import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from textual.widgets import Input, TabbedContent

from backends.local.cluster import LocalCluster
from backends.local.metrics_window import DeploymentWindow, metrics_dir, window_path
from backends.local.serving.metrics import GatewayMetrics, GraphMetrics, NodeLabels, exposition
from screens.monitor import MonitorScreen
from screens.widgets.resource_table import ResourceTable
from tests.conftest import subprocess_env
from tests.local_runtime import ROOT, manifest, stop_runtime, wait_for
from tests.screens.conftest import PINNED_NOW
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import frozen_runtime, notices, until


def cells(table: ResourceTable, column: int) -> list[str]:
    t = table.table
    return [str(t.get_row_at(i)[column]) for i in range(t.row_count)]


@pytest.fixture
def runtime_home(home):
    (home / "graphs").mkdir(parents=True, exist_ok=True)
    (home / "graphs" / "scoring.yaml").write_text(manifest("scoring", [("main", 80), ("canary", 20)]))
    yield home
    stop_runtime(home)


def cli(home, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args], capture_output=True,
                          text=True, env=subprocess_env(), cwd=ROOT, timeout=timeout)


async def test_monitor_follows_live_traffic_alerts_pauses_and_survives_the_runtime_going_down(runtime_home):
    home = runtime_home
    deployed = cli(home, "deploy", str(home / "graphs" / "scoring.yaml"))
    assert deployed.returncode == 0, deployed.stderr
    cluster = LocalCluster(home)
    wait_for(lambda: cluster.get_deployment("scoring").summary.phase == "Available", timeout=60, what="Available")
    rows = home / "rows.csv"
    rows.write_text("a,b\n" + "".join(f"{i / 10},{(i % 7) / 3}\n" for i in range(200)))
    traffic = subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(home), "traffic", "scoring",
                                "--rate", "30", "--duration", "25", "--error-rate", "0.2",
                                "--from-dataset", str(rows)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env(), cwd=ROOT)
    try:
        app = make_app(home)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            await pilot.pause(0.5)
            screen = app.screen
            assert isinstance(screen, MonitorScreen)
            predictors = screen.query_one("#monitor-predictors", ResourceTable)
            await until(pilot, lambda: screen.deployment == "scoring", what="the deployment picked")

            def both_predictors_serving() -> bool:
                m = screen.metrics
                return bool(m and {p.name for p in m.predictors if p.request_rate} == {"main", "canary"})

            await until(pilot, both_predictors_serving, timeout=40, what="main and canary traffic")
            assert cells(predictors, 0)[:1] == ["all"] and set(cells(predictors, 0)[1:]) == {"main", "canary"}
            await until(pilot, lambda: (screen.metrics.overall.error_rate or 0) > 0.05, what="errors counted")
            # the default alert (error_rate > 5%) fired once, naming the deployment
            await until(pilot, lambda: "scoring" in notices(app) and "error_rate" in notices(app), what="an alert")

            # w: 5m -> 1h; space pauses (no more polls), space resumes.
            await pilot.press("w")
            await until(pilot, lambda: screen.metrics and screen.metrics.window_seconds == 3600, what="the 1h window")
            await pilot.press("space")
            await pilot.pause(0.2)
            seen = screen.metrics.at
            await pilot.pause(2.5)
            assert screen.paused and screen.metrics.at == seen and screen.timer is None
            await pilot.press("space")
            await until(pilot, lambda: screen.metrics.at > seen, what="polling again")

            # A: thresholds; a request-rate floor nobody meets here fires at once.
            await pilot.press("A")
            await pilot.pause(0.2)
            app.screen.query_one(Input).value = "request_rate>0.001"
            await pilot.press("enter")
            await until(pilot, lambda: "request_rate" in notices(app), what="the new alert")

            # The request tail and the node timings.
            screen.query_one(TabbedContent).active = "tab-requests"
            tail = screen.query_one("#monitor-tail", ResourceTable)
            await until(pilot, lambda: tail.table.row_count > 0, what="the request tail")
            assert {"main", "canary"} & set(cells(tail, 1))
            screen.query_one(TabbedContent).active = "tab-graph"
            nodes = screen.query_one("#monitor-nodes", ResourceTable)
            await until(pilot, lambda: nodes.table.row_count >= 2, what="node timings")
            await until(pilot, lambda: "/s p50" in str(screen.query_one("#monitor-graph").render()),
                        what="the annotated graph")

            # The runtime goes down: the last figures stay, greyed, marked stale; then it comes back.
            traffic.wait(timeout=60)
            assert cli(home, "local", "down").returncode == 0
            await until(pilot, lambda: screen.stale or screen.has_class("-stale") or
                        app.health.get("metrics") and not app.health["metrics"].state == "up",
                        timeout=30, what="stale or degraded")
            assert screen.metrics is not None  # nothing thrown away
            assert cli(home, "local", "up").returncode == 0
            await until(pilot, lambda: not screen.stale, timeout=40, what="recovery")
    finally:
        traffic.kill()


# -- snapshots: a recorded window, replayed -------------------------------------------------


def record_window(home, seconds: int = 240) -> None:
    """credit-risk main (90%) and canary (10%, with errors) through the real metric classes."""
    gateway = GatewayMetrics("credit-risk")
    nodes = {n: NodeLabels("/predict", "", "") for n in ("model",)}
    servers = {p: GraphMetrics("credit-risk", p, "", nodes) for p in ("main", "canary")}
    window = DeploymentWindow("credit-risk")
    start = PINNED_NOW - seconds
    for tick in range(seconds):
        at = start + tick
        for i in range(20):
            predictor = "canary" if i % 10 == 0 else "main"
            slow = 1.6 if predictor == "canary" else 1.0
            seconds_taken = (0.004 + 0.0005 * ((tick + i) % 9)) * slow
            code = 500 if predictor == "canary" and tick % 4 == 0 else 200
            gateway.answered(predictor, "predictions", code, seconds_taken + 0.0007)
            servers[predictor].observe_request("predictions", code, seconds_taken)
            servers[predictor].observe_node("model", code, seconds_taken * 0.8)
        for process, registry in (("gateway", gateway.registry), ("main-0", servers["main"].registry),
                                  ("canary-0", servers["canary"].registry)):
            text = exposition(registry)[0]
            window.ingest(process, text_string_to_metric_families(text.decode() if isinstance(text, bytes) else text),
                          at, started_at=start - 1)
    path = window_path(metrics_dir(home), "credit-risk")
    path.parent.mkdir(parents=True, exist_ok=True)
    window.save(path)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab", ["tab-predictors", "tab-graph"], ids=["predictors", "graph"])
def test_monitor_snapshot(snap_compare, snapshot_home, pinned_clock, size, tab):
    frozen_runtime(snapshot_home)
    record_window(snapshot_home)
    app = make_app(snapshot_home)

    async def run_before(pilot):
        await pilot.press("7")
        await settle(pilot)
        screen = pilot.app.screen
        for _ in range(50):
            if screen.metrics is not None and not screen.polling:
                break
            await pilot.pause(0.1)
        screen.action_toggle_pause()  # hold the picture still
        pilot.app.clear_notifications()  # the alert toast has its own test
        screen.query_one(TabbedContent).active = tab
        await settle(pilot)
        time.sleep(0.2)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_monitor_shows_the_same_deployment_through_prometheus(runtime_home, prometheus):
    """--metrics URL: the view reads a real Prometheus scraping the runtime (Seldon's metric names)."""
    home = runtime_home
    assert cli(home, "deploy", str(home / "graphs" / "scoring.yaml")).returncode == 0
    cluster = LocalCluster(home)
    wait_for(lambda: cluster.get_deployment("scoring").summary.phase == "Available", timeout=60, what="Available")
    traffic = scrape_and_load(home, prometheus, rate=30, duration=30)
    try:
        app = make_app(home, metrics=prometheus.url)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            screen = app.screen
            assert app.backends.metrics.kind == "prometheus"

            def served() -> bool:
                m = screen.metrics
                return bool(m and {p.name for p in m.predictors if p.request_rate} == {"main", "canary"})

            await until(pilot, served, timeout=60, what="main and canary through Prometheus")
            assert screen.metrics.overall.request_rate > 0 and screen.metrics.overall.error_rate == 0
    finally:
        traffic.kill()


def scrape_and_load(home, prometheus, rate: int, duration: int) -> subprocess.Popen:
    """Point Prometheus at the scoring deployment's 3 processes and send it traffic from a second process."""
    import json

    from backends.local.scraper import TARGETS_FILE

    targets = metrics_dir(home) / TARGETS_FILE
    wait_for(lambda: targets.exists() and len(json.loads(targets.read_text())) == 3, what="3 scrape targets")
    prometheus.scrape("scoring", targets)
    rows = home / "rows.csv"
    rows.write_text("a,b\n" + "".join(f"{i / 10},{(i % 7) / 3}\n" for i in range(100)))
    return subprocess.Popen([sys.executable, "-m", "console.cli", "--home", str(home), "traffic", "scoring",
                             "--rate", str(rate), "--duration", str(duration), "--from-dataset", str(rows)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env(), cwd=ROOT)
