"""SVG snapshots of every registry screen at 120x40 and 80x24, on a deterministic registry."""

import pytest

from console.config import default_registry_uri
from tests.screens.helpers import make_app, settle

SIZES = [(120, 40), (80, 24)]
size_ids = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")


def app_for(snapshot_registry, snapshot_home):
    # State (audit, runtime) in the per-test home; the registry from the seeded one.
    return make_app(snapshot_home, registry=default_registry_uri(snapshot_registry))


async def goto_versions(pilot, name="credit-risk"):
    await pilot.press("3")
    await settle(pilot)
    table = pilot.app.screen.query_one("#registry-models").table
    table.move_cursor(row=[str(k.value) for k in table.rows].index(name))
    await pilot.press("enter")
    await settle(pilot)


@size_ids
def test_models(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    async def run_before(pilot):
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(app_for(snapshot_registry, snapshot_home), terminal_size=size, run_before=run_before)


@size_ids
def test_versions(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    assert snap_compare(app_for(snapshot_registry, snapshot_home), terminal_size=size,
                        run_before=goto_versions)


@size_ids
@pytest.mark.parametrize("tab", range(6), ids=["overview", "run", "data", "signature", "artifacts", "lineage"])
def test_version_detail(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size, tab):
    async def run_before(pilot):
        await goto_versions(pilot)
        await pilot.press("enter")
        await settle(pilot)
        for _ in range(tab):
            await pilot.press("right_square_bracket")
        await settle(pilot)

    assert snap_compare(app_for(snapshot_registry, snapshot_home), terminal_size=size, run_before=run_before)


@size_ids
def test_compare(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    async def run_before(pilot):
        await goto_versions(pilot)
        await pilot.press("c", "down", "c")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app_for(snapshot_registry, snapshot_home), terminal_size=size, run_before=run_before)


@size_ids
def test_alias_confirmation(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    async def run_before(pilot):
        await goto_versions(pilot)
        await pilot.press("down", "a", *"champion", "enter")
        await settle(pilot)

    assert snap_compare(app_for(snapshot_registry, snapshot_home), terminal_size=size, run_before=run_before)
