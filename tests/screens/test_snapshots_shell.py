"""SVG snapshots of the shell and every top-level view, at 120x40 and 80x24.

The home is fixed (tests.conftest.SNAPSHOT_HOME) because views show its paths; audit
entries carry a fixed time and actor, so nothing depends on the clock or the hostname.
"""

import json
from datetime import UTC, datetime

import pytest

from console.governance.audit import AuditLog
from tests.screens.helpers import make_app, settle

SIZES = [(120, 40), (80, 24)]
VIEW_KEYS = {"overview": "1", "data": "2", "registry": "3", "graphs": "4", "cluster": "5",
             "rollouts": "6", "monitor": "7", "audit": "8"}


def seed(home):
    """A runtime state with two deployments and a rollout, and three audit entries."""
    (home / "runtime").mkdir()
    (home / "runtime" / "state.json").write_text(json.dumps({
        "deployments": {
            "credit-risk": {"phase": "Available", "url": "http://127.0.0.1:9100",
                            "predictors": [{"name": "stable", "traffic": 90, "ready_replicas": 1},
                                           {"name": "canary", "traffic": 10, "ready_replicas": 1}]},
            "fraud": {"phase": "Creating", "url": "http://127.0.0.1:9101",
                      "predictors": [{"name": "main", "traffic": 100},
                                     {"name": "mirror", "shadow": True}]},
        },
        "rollouts": {"credit-risk": {"strategy": "canary", "phase": "Paused", "step": "2/5",
                                     "canary_weight": 10, "message": "waiting for promotion"}},
    }))
    log = AuditLog(home)
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    for minute, (action, target) in enumerate([("deploy", "fraud"), ("deploy", "credit-risk"),
                                               ("rollout.start", "credit-risk")]):
        log.append(action, target, actor="ops@bastion", now=at.replace(minute=minute),
                   after="canary 10%" if action == "rollout.start" else "")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEW_KEYS))
def test_view(snap_compare, snapshot_home, view, size):
    seed(snapshot_home)

    async def run_before(pilot):
        await pilot.press(VIEW_KEYS[view])
        await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_empty_home(snap_compare, snapshot_home, size):
    async def run_before(pilot):
        await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_command_line(snap_compare, snapshot_home, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("colon", "r")
        await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_keys(snap_compare, snapshot_home, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_backends_down_and_readonly(snap_compare, snapshot_home, size):
    async def run_before(pilot):
        await settle(pilot)

    app = make_app(snapshot_home, registry="http://127.0.0.1:9", readonly=True)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_quit_confirmation(snap_compare, snapshot_home, size):
    seed(snapshot_home)

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)
