"""The Lineage view: one key from a deployment in the Cluster or Monitor view down to the digest of the
data its models were trained on, re-verified. Snapshots use the deterministic snapshot registry,
copied into the snapshot home so its data may be changed."""

import os
import shutil
import sqlite3

import pytest
from textual.widgets import Tree

from console.governance.audit import AuditLog
from console.governance.lineage import manifest_digest
from screens.cluster import ClusterScreen
from screens.lineage import LineageScreen
from screens.monitor import MonitorScreen
from tests.screens.conftest import PINNED_MS
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import notices, until
from tests.test_lineage import demo_copy, demo_manifest_text, frozen_deployment

SIZES = [(120, 40), (80, 24)]


def deploy_frozen(home, actor="ops@bastion", at=None):
    text = demo_manifest_text(home)
    frozen_deployment(home, text, created_at=PINNED_MS / 1000)
    AuditLog(home).append("cluster.deploy", "local/credit-risk", after="main 100; replicas main 1; manifest "
                          f"sha256:{manifest_digest(text)[:12]}", reason="created", actor=actor, now=at)


def change_training_data(home):
    import pandas as pd

    path = home / "data/credit-risk/train.parquet"
    frame = pd.read_parquet(path)
    frame.loc[5, "income"] = frame.loc[5, "income"] + 1000
    frame.to_parquet(path, index=False)


def labels(tree: Tree) -> list[str]:
    out = []

    def walk(node):
        out.append(str(node.label))
        for child in node.children:
            walk(child)

    walk(tree.root)
    return out


def header(app) -> str:
    return str(app.screen.query_one("#lineage-header").render())


async def traced(pilot) -> LineageScreen:
    screen = pilot.app.screen
    assert isinstance(screen, LineageScreen)
    await until(pilot, lambda: screen.lineage is not None or "✖" in header(pilot.app), timeout=60,
                what="the lineage traced")
    await settle(pilot)
    return screen


@pytest.fixture
def demo(seeded_home, tmp_path):
    home = demo_copy(seeded_home, tmp_path / "home")
    deploy_frozen(home)
    return home


async def test_L_in_the_cluster_view_opens_the_deployments_lineage(demo):
    app = make_app(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, ClusterScreen)
        await until(pilot, lambda: app.screen.selected_deployment() == "credit-risk", what="the deployment listed")
        await pilot.press("L")
        screen = await traced(pilot)
        assert header(app).startswith("✔ credit-risk: 2 model nodes, 2 datasets: 2 match · manifest sha256:")
        assert screen.VIEW == "cluster" and screen.query_one(Tree).has_focus
        tree = labels(screen.query_one(Tree))
        train = next(d for d in screen.lineage.datasets() if d.name == "credit-risk-train")
        assert f"✔ credit-risk-train digest {train.digest}: data matches (training)" in tree
        assert "champion: models:/credit-risk@champion → credit-risk v1 (@champion)" in tree
        assert any(t.startswith("deployed ") and "by ops@bastion (audit entry 1)" in t for t in tree)
        await pilot.press("escape")
        assert isinstance(app.screen, ClusterScreen)


async def test_L_in_the_monitor_view_and_a_changed_data_file(demo):
    change_training_data(demo)
    app = make_app(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        await settle(pilot)
        assert isinstance(app.screen, MonitorScreen)
        await until(pilot, lambda: app.screen.deployment == "credit-risk", what="the monitor picked credit-risk")
        await pilot.press("L")
        screen = await traced(pilot)
        assert screen.VIEW == "monitor"
        assert header(app).startswith("✖ credit-risk: 2 model nodes, 2 datasets: 1 changed, 1 match")
        assert screen.query_one("#lineage-header").has_class("-bad")
        assert any("DATA CHANGED" in t for t in labels(screen.query_one(Tree)))


async def test_lineage_command_and_unknown_deployment(demo):
    app = make_app(demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"lineage nope", "enter")
        await traced(pilot)
        assert header(app).startswith("✖ no deployment 'nope' in the local runtime")
        await pilot.press("escape")
        await pilot.press("colon", *"lin credit-risk", "enter")
        screen = await traced(pilot)
        assert screen.lineage.deployment == "credit-risk"
        await pilot.press("e")  # expand all: the params and metrics too
        await pilot.pause()
        assert all(n.is_expanded for n in _branches(screen.query_one(Tree).root))


def _branches(node):
    if node.children:
        yield node
        for child in node.children:
            yield from _branches(child)


async def test_L_without_a_deployment_says_so(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("L")
        await pilot.pause()
        assert "select a deployment first" in notices(app) and isinstance(app.screen, ClusterScreen)


# -- snapshots ------------------------------------------------------------------------------------


def snapshot_workspace(registry_home, home):
    """The snapshot registry copied into the snapshot home: its datasets point at the copy's data,
    its runs' user and the data files' times pinned (the registry fixture pins the runs' times)."""
    (home / "registry").mkdir(parents=True)
    shutil.copy2(registry_home / "registry" / "mlflow.db", home / "registry" / "mlflow.db")
    shutil.copytree(registry_home / "data", home / "data")
    con = sqlite3.connect(home / "registry" / "mlflow.db")
    with con:
        con.execute("update datasets set dataset_source = replace(dataset_source, ?, ?)",
                    (str(registry_home), str(home)))
        con.execute("update runs set user_id = 'ops'")
        con.execute("update tags set value = 'ops' where key = 'mlflow.user'")
    con.close()
    for path in (home / "data").rglob("*.parquet"):
        os.utime(path, (PINNED_MS / 1000 - 60, PINNED_MS / 1000 - 60))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("data", ["matches", "changed"])
def test_lineage_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size, data):
    from datetime import UTC, datetime

    snapshot_workspace(snapshot_registry, snapshot_home)
    if data == "changed":
        change_training_data(snapshot_home)
        for path in (snapshot_home / "data").rglob("*.parquet"):
            os.utime(path, (PINNED_MS / 1000 - 60, PINNED_MS / 1000 - 60))
    deploy_frozen(snapshot_home, at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))

    async def run_before(pilot):
        await pilot.press("colon", *"lineage credit-risk", "enter")
        await traced(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)
