"""The model card view: K on a version (list or detail), `:card REF`, w writes it, a bad reference is
one line; snapshots at 120x40 and 80x24 on the deterministic snapshot registry."""

import pytest
from textual.widgets import MarkdownViewer, Static

from console.config import default_registry_uri
from screens.model_card import ModelCardScreen, card_file_name
from tests.screens.conftest import PINNED_NOW
from tests.screens.helpers import settle
from tests.screens.test_snapshots_registry import SIZES, app_for, goto_versions

size_ids = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")


@pytest.fixture
def pinned_card_clock(monkeypatch, pinned_clock):
    import console.governance.card

    monkeypatch.setattr(console.governance.card, "clock", lambda: PINNED_NOW)


async def card_ready(pilot) -> ModelCardScreen:
    for _ in range(200):
        await settle(pilot)
        screen = pilot.app.screen
        if isinstance(screen, ModelCardScreen) and screen.markdown is not None:
            await pilot.pause(0.2)  # the Markdown widget mounts its blocks after the update
            return screen
        await pilot.pause(0.1)
    raise AssertionError(f"no card: {str(pilot.app.screen.query_one('#card-header', Static).render())}")


def header(screen) -> str:
    return str(screen.query_one("#card-header", Static).render())


async def test_k_on_a_version_opens_its_card_and_w_writes_it(snapshot_registry, snapshot_home, tmp_path):
    app = app_for(snapshot_registry, snapshot_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto_versions(pilot)
        await pilot.press("enter")  # the newest version's detail
        await settle(pilot)
        version = app.screen.version.version
        await pilot.press("K")
        screen = await card_ready(pilot)
        assert screen.ref == f"credit-risk/{version}"
        assert f"credit-risk v{version}" in header(screen) and "✔" in header(screen)
        text = screen.markdown
        for section in ("# Model card: credit-risk", "## Intended use", "## Training data", "## Metrics",
                        "## Fairness", "## Lineage"):
            assert section in text, section
        # The Markdown is on screen, not only in memory.
        viewer = screen.query_one(MarkdownViewer)
        assert viewer.document.source == text
        target = tmp_path / "cards" / "card.md"
        await pilot.press("w")
        await settle(pilot)
        prompt = app.screen.query_one("#text-prompt-input")
        assert prompt.value.endswith(card_file_name(f"credit-risk/{version}"))
        prompt.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert target.read_text() == text
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "VersionDetailScreen"


async def test_k_in_the_versions_list_and_the_card_command(snapshot_registry, snapshot_home):
    app = app_for(snapshot_registry, snapshot_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await goto_versions(pilot)
        selected = app.screen.selected_version()
        await pilot.press("K")
        screen = await card_ready(pilot)
        assert screen.ref == f"{selected[0]}/{selected[1]}"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("colon", *"card credit-risk@champion", "enter")
        screen = await card_ready(pilot)
        assert "@champion" in screen.markdown.splitlines()[0]


async def test_an_unknown_model_is_one_line_not_a_traceback(snapshot_registry, snapshot_home):
    app = app_for(snapshot_registry, snapshot_home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"card no-such-model", "enter")
        for _ in range(100):
            await settle(pilot)
            if "✖" in header(app.screen):
                break
        text = header(app.screen)
        assert "✖" in text and "no-such-model" in text and "Traceback" not in text
        assert app.screen.markdown is None


async def test_the_card_needs_a_reference(snapshot_home):
    from tests.screens.helpers import make_app

    app = make_app(snapshot_home, registry=default_registry_uri(snapshot_home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"card", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, ModelCardScreen)
        assert any(":card needs" in n.message for n in app._notifications)


@size_ids
def test_card_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_card_clock, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("colon", *"card credit-risk@champion", "enter")
        await card_ready(pilot)
        await settle(pilot)

    assert snap_compare(app_for(snapshot_registry, snapshot_home), terminal_size=size, run_before=run_before)
