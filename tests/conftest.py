"""Shared fixtures: every test runs against an isolated home and XDG dirs in a temp dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from console.config import Settings, load_settings

ISOLATED_VARS = (
    "MLCONSOLE_HOME", "MLCONSOLE_CONTEXT", "MLCONSOLE_NAMESPACE", "MLFLOW_TRACKING_URI",
    "MLCONSOLE_METRICS", "MLCONSOLE_READONLY", "MLCONSOLE_THEME", "MLCONSOLE_CONFIG", "NO_COLOR",
    "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
)

# Snapshots show paths, so they need the same home on every run and every machine.
SNAPSHOT_HOME = Path("/tmp/mlconsole-snapshots/home")


SNAPSHOT_FIXTURES = {"snap_compare", "snapshot_home", "snapshot_registry", "snapshot_lock"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the groups into node ids
def pytest_collection_modifyitems(config, items):
    """Under xdist (`make test` runs two workers with --dist loadgroup): every module that takes a
    snapshot goes to one worker, since the snapshot homes are fixed paths behind a session-held lock
    that one worker must own; every other module stays whole on one worker, since module-scoped
    runtimes are built up test by test.

    Tried on 2 cores (bench/suite_timeline.py): letting snapshot modules spread over both workers,
    longest modules first, made the heavy modules run side by side and the suite slower (916 s
    against 809-841 s), and a snapshot caught a text cursor mid-focus; 3 workers did not help."""
    snapshot_modules = {item.path for item in items if SNAPSHOT_FIXTURES.intersection(item.fixturenames)}
    for item in items:
        if item.path in snapshot_modules:
            item.add_marker(pytest.mark.xdist_group("screens"))
        else:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """No test reads the developer's config, home or credentials."""
    xdg = tmp_path_factory.mktemp("xdg")
    for var in ISOLATED_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg / "state"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    yield


@pytest.fixture
def home(tmp_path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def settings(home) -> Settings:
    return load_settings({"home": str(home)}, env={})


@pytest.fixture(scope="session")
def snapshot_lock():
    """Held from the first snapshot test to the end of the session.

    Snapshot homes sit at fixed paths (the SVGs show them), so two pytest runs on one
    machine (a developer's and a CI rehearsal, say) would empty each other's homes
    mid-test; the second run waits here instead.
    """
    import fcntl

    SNAPSHOT_HOME.parent.mkdir(parents=True, exist_ok=True)
    with open(SNAPSHOT_HOME.parent.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture
def snapshot_home(snapshot_lock) -> Path:
    """The fixed home for snapshot tests, emptied before each."""
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    SNAPSHOT_HOME.mkdir(parents=True)
    return SNAPSHOT_HOME


def subprocess_env(**extra: str) -> dict[str, str]:
    """The current (isolated) environment for a child `mlconsole` process."""
    env = dict(os.environ)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` (sqlite backend) on 127.0.0.1, shared by the session."""
    from tests.servers import start_mlflow_server

    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory):
    """A home whose embedded sqlite registry holds the demo workspace (seeded once per session)."""
    from backends.mlflow.demo_seed import seed_demo
    from console.config import default_registry_uri

    home = tmp_path_factory.mktemp("seeded-home")
    seed_demo(default_registry_uri(home), home, progress=lambda _line: None)
    yield home


@pytest.fixture(scope="session")
def seeded_server(mlflow_server, tmp_path_factory):
    """The session's MLflow server with the demo workspace seeded into it (once per session)."""
    from backends.mlflow.demo_seed import seed_demo

    home = tmp_path_factory.mktemp("seeded-server-home")
    seed_demo(mlflow_server.url, home, progress=lambda _line: None)
    mlflow_server.demo_home = home  # the demo datasets the server's runs logged
    yield mlflow_server


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    """A real Prometheus on 127.0.0.1, scraping every second the file_sd target lists a test hands it
    (`prometheus.scrape(name, targets_file)`). Installed as `make system-deps` does when missing."""
    from tests.prometheus_server import start_prometheus

    try:
        server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


# -- where the suite's time goes ---------------------------------------------------------------
# MLCONSOLE_TEST_TIMELINE=FILE appends one JSON line per test (worker, start, end, node id), for
# bench/suite_timeline.py to show what each xdist worker did when; unset, nothing is recorded.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Runs where the test runs (an xdist worker, or the only process), unlike the log hooks,
    which the controller replays for every worker's test."""
    path = os.environ.get("MLCONSOLE_TEST_TIMELINE")
    if not path:
        yield
        return
    import json
    import time

    start = time.time()
    yield
    line = json.dumps({"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "node": item.nodeid,
                       "start": start, "end": time.time()})
    with open(path, "a") as fh:
        fh.write(line + "\n")
