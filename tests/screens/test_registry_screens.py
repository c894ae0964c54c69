"""Pilot tests of the registry screens by keys, against the real MLflow server."""

import pytest
from mlflow import MlflowClient

from console.governance.audit import AuditLog
from screens.confirm import ConfirmScreen
from screens.model_versions import ModelVersionsScreen
from screens.text_prompt import TextPrompt
from screens.version_compare import VersionCompareScreen
from screens.version_detail import VersionDetailScreen
from screens.widgets.resource_table import ResourceTable
from tests.screens.helpers import make_app, settle


async def open_model(pilot, name: str) -> None:
    app = pilot.app
    await pilot.press("3")
    await settle(pilot)
    table = app.screen.query_one("#registry-models", ResourceTable).table
    keys = [str(k.value) for k in table.rows]
    table.move_cursor(row=keys.index(name))
    await pilot.press("enter")
    await settle(pilot)


async def test_drill_down_models_versions_detail_tabs(seeded_server, home):
    app = make_app(home, registry=seeded_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_model(pilot, "credit-risk")
        assert isinstance(app.screen, ModelVersionsScreen)
        versions = app.screen.query_one("#model-versions", ResourceTable).table
        assert versions.row_count == 3
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, VersionDetailScreen) and detail.version.version == "3"
        tabs = detail.query_one("TabbedContent")
        seen = []
        for _ in range(6):
            seen.append(tabs.active)
            await pilot.press("right_square_bracket")
            await settle(pilot)
        assert seen == ["overview", "run", "data", "signature", "artifacts", "lineage"]
        assert detail.query_one("#run-params", ResourceTable).table.row_count > 0
        assert detail.query_one("#data-inputs", ResourceTable).table.row_count >= 2
        assert detail.query_one("#sig-inputs", ResourceTable).table.row_count > 5
        assert detail.query_one("#artifact-list", ResourceTable).table.row_count > 0
        await pilot.press("escape", "escape")
        assert app.current_mode == "registry" and len(app.screen_stack) == 1


async def test_set_alias_by_keys_is_confirmed_audited_and_visible_in_mlflow(seeded_server, home):
    client = MlflowClient(seeded_server.url, registry_uri=seeded_server.url)
    app = make_app(home, registry=seeded_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_model(pilot, "fraud-detector")
        await pilot.press("a")
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"blue", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        version = str(client.get_model_version_by_alias("fraud-detector", "blue").version)
        entry = AuditLog(home).entries()[-1]
        assert (entry.action, entry.target, entry.after) == ("registry.alias.set", "fraud-detector@blue",
                                                             f"v{version}")
        badges = app.screen.query_one("#model-versions", ResourceTable).table
        assert any("@blue" in str(cell) for row in badges.rows for cell in badges.get_row(row))
        # and delete it again, by keys
        await pilot.press("A")
        await pilot.press("ctrl+a", "ctrl+k", *"blue", "enter", "y")
        await settle(pilot)
        assert "blue" not in client.get_registered_model("fraud-detector").aliases


async def test_answering_no_changes_nothing(seeded_server, home):
    client = MlflowClient(seeded_server.url, registry_uri=seeded_server.url)
    app = make_app(home, registry=seeded_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_model(pilot, "fraud-detector")
        await pilot.press("a", *"never", "enter", "n")
        await settle(pilot)
    assert "never" not in client.get_registered_model("fraud-detector").aliases
    assert AuditLog(home).entries() == []


async def test_readonly_refuses_alias_keys(seeded_server, home):
    app = make_app(home, registry=seeded_server.url, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_model(pilot, "fraud-detector")
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt)
        assert any("--readonly" in n.message for n in app._notifications)


async def test_compare_two_versions(seeded_server, home):
    app = make_app(home, registry=seeded_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_model(pilot, "credit-risk")
        await pilot.press("c", "down", "c")
        await settle(pilot)
        assert isinstance(app.screen, VersionCompareScreen)
        table = app.screen.query_one("#compare-table", ResourceTable).table
        assert table.row_count > 5
        all_rows = table.row_count
        await pilot.press("d")
        await settle(pilot)
        assert 0 < table.row_count <= all_rows


async def test_slash_then_enter_searches_the_server(seeded_server, home):
    app = make_app(home, registry=seeded_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("slash", *"fraud", "enter")
        await settle(pilot)
        table = app.screen.query_one("#registry-models", ResourceTable).table
        assert [str(k.value) for k in table.rows] == ["fraud-detector"]


async def test_unreachable_registry_shows_down_and_the_view_says_why(home):
    app = make_app(home, registry="http://127.0.0.1:9")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        message = app.screen.query_one("#registry-models", ResourceTable).query_one(".table-message")
        assert "unreachable" in str(message.render())
        await pilot.press("1")  # the rest keeps working
        assert app.current_mode == "overview"


@pytest.mark.parametrize("ref", ["ghost"])
async def test_unknown_model_detail_is_a_message_not_a_crash(seeded_server, home, ref):
    app = make_app(home, registry=seeded_server.url)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(VersionDetailScreen(ref, "1"))
        await settle(pilot)
        assert any("ghost" in n.message for n in app._notifications)


class _Slow(__import__("http.server").server.BaseHTTPRequestHandler):
    """A registry that takes its time: every answer comes after a delay."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        import time

        self.server.in_flight += 1
        try:
            time.sleep(self.server.delay)
        finally:
            self.server.in_flight -= 1
        body = b'{"registered_models": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


async def test_a_slow_registry_never_freezes_the_console(home):
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.delay = 4.0
    server.in_flight = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app = make_app(home, registry=f"http://127.0.0.1:{server.server_port}")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await pilot.pause(0.3)
            table = app.screen.query_one("#registry-models", ResourceTable)
            assert "loading" in str(table.query_one(".table-message").render())
            await pilot.press("5")  # keys still work while the registry is answering
            await pilot.pause()
            # Proof without a stopwatch: the view changed while the registry was still answering.
            assert app.current_mode == "cluster" and server.in_flight >= 1
            await pilot.press("3")
            await settle(pilot)
            assert "no registered models" in str(table.query_one(".table-message").render())
    finally:
        server.shutdown()
