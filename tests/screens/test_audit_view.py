"""The Audit view: the verdict first (verified, or the first bad entry), filters, one entry in full.
Snapshots use entries with fixed times and actors, so their hashes are the same every run."""

import json
from datetime import UTC, datetime

import pytest

from console.governance.audit import AuditLog
from screens.audit import AuditScreen, parse_filter
from screens.audit_entry import AuditEntryScreen
from screens.widgets.resource_table import ResourceTable
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import answer, cells, notices

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SIZES = [(120, 40), (80, 24)]


def seed(home):
    """A morning's changes: a deploy, an alias move, a canary and its promotion, a scale."""
    log = AuditLog(home)
    for minute, (action, target, before, after, reason, actor) in enumerate([
        ("cluster.deploy", "local/credit-risk", "", "main 100; replicas main 1; manifest sha256:20b57a1eea3f",
         "created", "ops@bastion"),
        ("registry.alias.set", "credit-risk@challenger", "", "2", "new candidate", "dana@laptop"),
        ("rollout.start", "local/credit-risk", "", "canary 10 → 50 → 100", "", "ops@bastion"),
        ("rollout.step", "local/credit-risk", "main 90 / canary 10", "main 50 / canary 50",
         "gates passed: error_rate 0.004 < 0.05, latency_p99 0.041 < 0.5", "mlconsole-supervisor"),
        ("registry.alias.set", "credit-risk@champion", "1", "2", "rollout completed", "mlconsole-supervisor"),
        ("cluster.scale", "local/fraud", "main replicas 1", "main replicas 3", "[load test] friday", "ops@bastion"),
    ]):
        log.append(action, target, before=before, after=after, reason=reason, actor=actor,
                   now=AT.replace(minute=minute * 7))
    return log


def tamper(log):
    rows = log.path.read_text().splitlines()
    entry = json.loads(rows[3])
    entry["after"] = "main 0 / canary 100"
    rows[3] = json.dumps(entry)
    log.path.write_text("\n".join(rows) + "\n")


def entry_text(app) -> str:
    from io import StringIO

    from rich.console import Console

    console = Console(width=200, record=True, file=StringIO())
    console.print(app.screen.query_one("#audit-entry").content)
    return console.export_text()


def banner(app) -> str:
    return str(app.screen.query_one("#audit-verify").render())


async def open_audit(pilot):
    await pilot.press("8")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AuditScreen)
    return pilot.app.screen.query_one(ResourceTable)


async def test_a_verified_log_newest_first(home):
    seed(home)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_audit(pilot)
        assert banner(app).startswith("✔ VERIFIED 6 entries, chain intact · newest entry 6 sha256:")
        assert cells(table, 0) == ["6", "5", "4", "3", "2", "1"]
        assert cells(table, 5)[:2] == ["main replicas 1 → main replicas 3", "1 → 2"]
        assert cells(table, 6)[0] == "[load test] friday"  # data, not markup


async def test_a_tampered_log_names_and_marks_the_first_bad_entry(home):
    log = seed(home)
    tamper(log)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_audit(pilot)
        assert banner(app).startswith("✖ TAMPERED entry 4 (rollout.step local/credit-risk): contents altered")
        assert app.screen.query_one("#audit-verify").has_class("-bad")
        assert cells(table, 0) == ["6", "5", "✖ 4", "3", "2", "1"]


async def test_filter_by_fields_and_search(home):
    seed(home)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_audit(pilot)
        await pilot.press("f")
        await answer(pilot, "action:registry target:champion")
        await settle(pilot)
        assert cells(table, 0) == ["5"] and "filter action:registry target:champion" in table.border_subtitle
        await pilot.press("f")
        await answer(pilot, "when:yesterday")
        assert "write since:WHEN, action:A or target:T" in notices(app)
        await pilot.press("f")
        await answer(pilot, "")
        await settle(pilot)
        assert table.table.row_count == 6
        await pilot.press("slash", *"supervisor")
        await pilot.pause()
        assert table.table.row_count == 2


async def test_enter_shows_an_entry_in_full(home):
    log = seed(home)
    tamper(log)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_audit(pilot)
        await pilot.press("down", "down", "enter")  # entry 4, the altered one
        await settle(pilot)
        assert isinstance(app.screen, AuditEntryScreen)
        text = entry_text(app)
        assert "main 0 / canary 100" in text and "does not match its fields: altered" in text
        assert "✖ entry 4 (rollout.step local/credit-risk): contents altered" in text
        await pilot.press("escape")
        await pilot.press("up", "enter")  # entry 5 comes after the bad one
        await settle(pilot)
        assert "comes after the first bad entry (4)" in entry_text(app)


def test_parse_filter():
    chosen = parse_filter("since:2026-11-30T09:10Z action:rollout")
    assert chosen.action == "rollout" and chosen.since == AT.replace(minute=10) and chosen.target == ""


# -- snapshots ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", ["verified", "tampered", "entry"])
def test_audit_snapshot(snap_compare, snapshot_home, size, state):
    log = seed(snapshot_home)
    if state != "verified":
        tamper(log)

    async def run_before(pilot):
        await pilot.press("8")
        await settle(pilot)
        if state == "entry":
            await pilot.press("down", "down", "enter")
            await settle(pilot)

    assert snap_compare(make_app(snapshot_home), terminal_size=size, run_before=run_before)
