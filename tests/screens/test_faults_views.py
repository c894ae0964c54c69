"""Faults seen from the console: the registry or the metrics backend stops while the console is open.

Each test starts its own real server (an `mlflow server`, a Prometheus) and stops it mid-test —
never the session-shared ones other tests use — then starts it again on the same port. The
console must show the backend down in the header (✖) and a sentence in the view, keep every
other view working, handle each key press within a bounded wait (no freeze), and recover when
the server is back. The health check runs every 10 s, so waits are generous; timings are
printed (-s shows them), never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from textual.widgets import Label

from backends.local.cluster import LocalCluster
from console.cluster_changes import ClusterChanges
from console.config import load_settings
from console.types import HealthState
from screens.cluster import ClusterScreen
from screens.keys import KeysScreen
from screens.monitor import MonitorScreen
from screens.registry import RegistryScreen
from screens.widgets.resource_table import ResourceTable
from tests.local_runtime import ROOT, manifest, stop_runtime, wait_for
from tests.screens.helpers import make_app
from tests.screens.test_cluster_view import until
from tests.screens.test_monitor_view import scrape_and_load

pytestmark = pytest.mark.timeout(180)

KEY_WAIT = 20.0  # seconds a key press may take before the console counts as frozen (a loaded 2-core machine)
MODELS = ("fault-churn", "fault-scoring")
# The header's health checks run every 10 s; these tests wait for two transitions each, so they
# check every 2 s (the checks and what they report are unchanged, only how often they run).
HEALTH_EVERY = 2.0


def cells(table: ResourceTable, column: int) -> list[str]:
    t = table.table
    return [str(t.get_row_at(i)[column]) for i in range(t.row_count)]


def status(app, role: str) -> str:
    """The header's text for a backend, e.g. 'registry ✖ down http://127.0.0.1:5000'."""
    return str(app.screen.query_one(f"#status-{role}", Label).render())


def health(app, role: str) -> HealthState | None:
    h = app.health.get(role)
    return h.state if h else None


class Keys:
    """Presses keys, each within KEY_WAIT seconds; remembers the slowest."""

    def __init__(self, pilot) -> None:
        self.pilot = pilot
        self.slowest = 0.0

    async def press(self, *keys: str) -> None:
        for key in keys:
            started = time.monotonic()
            await asyncio.wait_for(self.pilot.press(key), KEY_WAIT)
            self.slowest = max(self.slowest, time.monotonic() - started)


@contextlib.contextmanager
def on_port(monkeypatch, module: str, port: int):
    """The test servers' start helpers pick a free port; this makes them take `port` again."""
    with monkeypatch.context() as m:
        m.setattr(f"{module}.free_port", lambda: port)
        yield


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def runtime_home(home):
    """A home whose local runtime serves one deployment (for the views that must keep working)."""
    yield home
    stop_runtime(home)


def deploy(home, name: str, predictors=(("main", 100),)) -> LocalCluster:
    cluster = LocalCluster(home)
    ClusterChanges(load_settings({"home": str(home)}, env={}), cluster).deploy(manifest(name, list(predictors)),
                                                                                [str(ROOT)])
    wait_for(lambda: cluster.get_deployment(name).summary.phase == "Available", timeout=60, what=f"{name} Available")
    return cluster


# -- the registry --------------------------------------------------------------------------------------


@pytest.fixture
def own_mlflow(tmp_path):
    """An `mlflow server` of this test's own (it stops and restarts it), with two registered models."""
    from tests.servers import start_mlflow_server

    workdir = tmp_path / "mlflow"
    servers = [start_mlflow_server(workdir)]
    for name in MODELS:
        resp = httpx.post(f"{servers[0].url}/api/2.0/mlflow/registered-models/create", json={"name": name},
                          timeout=30)
        resp.raise_for_status()

    def restart(monkeypatch):
        with on_port(monkeypatch, "tests.servers", port_of(servers[0].url)):
            servers.append(start_mlflow_server(workdir))  # the same sqlite store: the same models
        return servers[-1]

    yield servers[0], restart
    for server in servers:
        server.stop()


async def test_the_registry_stopping_and_coming_back_while_the_console_is_open(runtime_home, own_mlflow,
                                                                                monkeypatch):
    home = runtime_home
    server, restart = own_mlflow
    deploy(home, "calm")
    monkeypatch.setattr("console.app.HEALTH_SECONDS", HEALTH_EVERY)
    app = make_app(home, registry=server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        keys = Keys(pilot)
        await keys.press("3")
        screen = app.screen
        assert isinstance(screen, RegistryScreen)
        models = screen.query_one("#registry-models", ResourceTable)
        await until(pilot, lambda: set(MODELS) <= set(cells(models, 0)), what="the models listed")
        await until(pilot, lambda: health(app, "registry") == HealthState.UP, what="registry up")

        # The server stops.
        server.stop()
        stopped = time.monotonic()
        await keys.press("r")
        await until(pilot, lambda: models.message, what="the view's error")
        assert "unreachable" in models.message and server.url in models.message
        assert "start the MLflow server" in models.message and "Traceback" not in models.message
        await until(pilot, lambda: health(app, "registry") == HealthState.DOWN, timeout=60, what="registry down")
        down = time.monotonic()
        assert "✖" in status(app, "registry") and "down" in status(app, "registry")
        assert "registry is down" in " ".join(n.message for n in app._notifications)
        assert health(app, "cluster") == HealthState.UP  # the others are not dragged down with it

        # Everything else keeps working, and keys answer.
        await keys.press("5")
        assert isinstance(app.screen, ClusterScreen)
        deployments = app.screen.query_one("#cluster-deployments", ResourceTable)
        await until(pilot, lambda: "calm" in cells(deployments, 0) and "Available" in cells(deployments, 2),
                    what="the Cluster view on the local runtime")
        assert "✖" in status(app, "registry")  # the header says so on every view
        await keys.press("question_mark")
        assert isinstance(app.screen, KeysScreen)
        await keys.press("escape", "3")
        assert app.screen is screen
        await until(pilot, lambda: models.message and "unreachable" in models.message,
                    what="the registry view still saying why")

        # The server comes back on the same port: health goes up, r lists the models again.
        server = restart(monkeypatch)
        restarted = time.monotonic()
        await until(pilot, lambda: health(app, "registry") == HealthState.UP, timeout=60, what="registry up again")
        up = time.monotonic()
        assert "●" in status(app, "registry")
        await keys.press("r")
        await until(pilot, lambda: set(MODELS) <= set(cells(models, 0)) and not models.message,
                    what="the models listed again")
        print(f"\nregistry stopped -> header down {down - stopped:.1f}s; restarted -> header up "
              f"{up - restarted:.1f}s; slowest key press {keys.slowest:.2f}s")


# -- the metrics backend ----------------------------------------------------------------------------------


@pytest.fixture
def own_prometheus(tmp_path):
    """A Prometheus of this test's own (it stops and restarts it, keeping its data directory)."""
    from tests.prometheus_server import start_prometheus

    workdir = tmp_path / "prometheus"
    try:
        servers = [start_prometheus(workdir)]
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)

    def restart(monkeypatch):
        with on_port(monkeypatch, "tests.prometheus_server", port_of(servers[0].url)):
            servers.append(start_prometheus(workdir))
        return servers[-1]

    yield servers[0], restart
    for server in servers:
        server.stop()


async def test_prometheus_stopping_and_coming_back_while_the_monitor_follows_a_deployment(runtime_home,
                                                                                          own_prometheus,
                                                                                          monkeypatch):
    home = runtime_home
    prometheus, restart = own_prometheus
    deploy(home, "scoring", (("main", 80), ("canary", 20)))
    traffic = scrape_and_load(home, prometheus, rate=20, duration=150)
    monkeypatch.setattr("console.app.HEALTH_SECONDS", HEALTH_EVERY)
    try:
        app = make_app(home, metrics=prometheus.url)
        async with app.run_test(size=(120, 40)) as pilot:
            keys = Keys(pilot)
            await keys.press("7")
            screen = app.screen
            assert isinstance(screen, MonitorScreen) and app.backends.metrics.kind == "prometheus"

            def serving() -> bool:
                m = screen.metrics
                return bool(m and not screen.stale and {p.name for p in m.predictors if p.request_rate}
                            == {"main", "canary"})

            await until(pilot, serving, timeout=60, what="main and canary through Prometheus")
            await until(pilot, lambda: health(app, "metrics") == HealthState.UP, what="metrics up")
            header = screen.query_one("#monitor-header")

            # Prometheus stops: the last figures stay, marked stale; the header shows it down.
            last = screen.metrics
            prometheus.stop()
            stopped = time.monotonic()
            await until(pilot, lambda: screen.stale, timeout=30, what="the figures marked stale")
            stale = time.monotonic()
            said = str(header.render())
            assert "STALE" in said and screen.has_class("-stale")
            assert f"Prometheus at {prometheus.url} is unreachable" in said and "Traceback" not in said
            assert screen.metrics is last  # nothing thrown away
            await until(pilot, lambda: health(app, "metrics") == HealthState.DOWN, timeout=60, what="metrics down")
            assert "✖" in status(app, "metrics") and health(app, "cluster") == HealthState.UP

            # Other views and keys keep working; back on the Monitor it is still stale, not blank.
            await keys.press("5")
            assert isinstance(app.screen, ClusterScreen)
            deployments = app.screen.query_one("#cluster-deployments", ResourceTable)
            await until(pilot, lambda: "scoring" in cells(deployments, 0), what="the Cluster view")
            await keys.press("7")
            assert app.screen is screen
            await keys.press("r")
            await until(pilot, lambda: not screen.polling, what="the poll after r")
            assert screen.stale and screen.metrics is last

            # Prometheus comes back on the same port: fresh figures, health up.
            prometheus = restart(monkeypatch)
            restarted = time.monotonic()
            wall = time.time()
            await until(pilot, lambda: not screen.stale and screen.metrics.at > wall and serving(), timeout=60,
                        what="fresh figures")
            fresh = time.monotonic()
            assert "STALE" not in str(header.render()) and not screen.has_class("-stale")
            assert screen.metrics.overall.request_rate > 0
            # Prometheus itself scrapes the runtime again (a sample newer than the restart).
            prometheus.wait_for_query('up{job="mlconsole"}', lambda r: len(r) == 3 and all(
                float(s["value"][0]) > wall and s["value"][1] == "1" for s in r), timeout=30)
            await until(pilot, lambda: health(app, "metrics") == HealthState.UP, timeout=60, what="metrics up again")
            assert "●" in status(app, "metrics")
            print(f"\nprometheus stopped -> stale {stale - stopped:.1f}s; restarted -> fresh figures "
                  f"{fresh - restarted:.1f}s; slowest key press {keys.slowest:.2f}s")
    finally:
        traffic.kill()
        traffic.wait(10)
