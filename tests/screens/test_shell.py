"""Pilot tests of the app shell: number keys, `:` commands, `?`, `/`, esc, q."""

import json

import pytest

from console.governance.audit import AuditLog
from console.types import HealthState
from screens.command_prompt import CommandPrompt
from screens.confirm import ConfirmScreen
from screens.keys import KeysScreen
from screens.widgets.resource_table import ResourceTable
from tests.screens.helpers import make_app, settle

VIEWS = ["overview", "data", "registry", "graphs", "cluster", "rollouts", "monitor", "audit"]


async def test_number_keys_switch_views(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for number, view in enumerate(VIEWS, 1):
            await pilot.press(str(number))
            await pilot.pause()
            assert app.current_mode == view
            assert app.screen.VIEW == view


async def test_command_line_switches_views_and_completes(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        assert isinstance(app.screen, CommandPrompt)
        await pilot.press(*"models", "enter")
        await pilot.pause()
        assert app.current_mode == "registry"
        # a partial word runs the highlighted completion, like k9s
        await pilot.press("colon", *"ro", "enter")
        await pilot.pause()
        assert app.current_mode == "rollouts"
        # tab completes into the input
        await pilot.press("colon", *"aud", "tab")
        assert app.screen.query_one("#prompt-input").value == "audit "
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "audit"


async def test_unknown_command_is_a_toast_not_a_crash(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"zz", "space", "enter")
        await pilot.pause()
        assert app.current_mode == "overview"
        messages = [n.message for n in app._notifications]
        assert any("unknown command :zz" in m for m in messages)


async def test_esc_goes_back_to_the_previous_view(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3", "5")
        assert app.current_mode == "cluster"
        await pilot.press("escape")
        assert app.current_mode == "registry"
        await pilot.press("escape")
        assert app.current_mode == "overview"


async def test_question_mark_lists_this_views_keys_first(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, KeysScreen)
        rows = app.screen.rows
        assert rows[0][2] == "view" and ("r", "Reload", "view") in rows
        assert (":", "Command", "global") in rows and ("q", "Quit", "global") in rows
        await pilot.press("escape")
        assert not isinstance(app.screen, KeysScreen)


async def test_slash_filters_the_focused_table(home):
    log = AuditLog(home)
    for target in ("credit-risk", "fraud", "churn"):
        log.append("alias.set", target, actor="test@host")
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("8")
        await settle(pilot)
        table = app.screen.query_one(ResourceTable)
        assert table.table.row_count == 3
        await pilot.press("slash", *"fra")
        await pilot.pause()
        assert table.table.row_count == 1
        await pilot.press("enter")  # keep the filter, back to the table
        assert table.filter_text == "fra" and app.focused is table.table
        await pilot.press("escape")  # clear the filter
        await pilot.pause()
        assert table.filter_text == "" and table.table.row_count == 3
        await pilot.press("escape")  # nothing left to clear: back to the previous view
        assert app.current_mode == "overview"


async def test_q_quits(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_q_asks_first_while_a_rollout_runs(home):
    (home / "runtime").mkdir()
    (home / "runtime" / "state.json").write_text(json.dumps({
        "deployments": {}, "rollouts": {"demo": {"strategy": "canary", "phase": "Progressing"}}}))
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.running_rollouts == 1
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("q", "y")
        await pilot.pause()
    assert not app.is_running


async def test_header_shows_backend_health_and_a_down_backend_keeps_the_rest_working(home):
    app = make_app(home, registry="http://127.0.0.1:9", metrics="http://127.0.0.1:9")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.health["registry"].state == HealthState.DOWN
        assert app.health["metrics"].state == HealthState.DOWN
        assert app.health["cluster"].state == HealthState.UP
        label = app.screen.query_one("#status-registry")
        assert label.has_class("-down") and "down" in str(label.render())
        models = app.screen.query_one("#ov-models", ResourceTable)
        assert "unreachable" in str(models.query_one(".table-message").render())
        await pilot.press("5")  # the cluster view still works
        await settle(pilot)
        assert app.current_mode == "cluster"


async def test_overview_reads_through_the_ports(home):
    (home / "runtime").mkdir()
    (home / "runtime" / "state.json").write_text(json.dumps({"deployments": {"demo": {
        "phase": "Available", "predictors": [{"name": "main", "traffic": 100}]}}}))
    AuditLog(home).append("deploy", "demo", actor="test@host")
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        deployments = app.screen.query_one("#ov-deployments", ResourceTable).table
        assert deployments.get_row_at(0) == ["demo", "Available", "main 100"]
        audit = app.screen.query_one("#ov-audit", ResourceTable).table
        assert audit.get_row_at(0)[1:3] == ["deploy", "demo"]
        await pilot.press("enter")  # open the deployment's view
        assert app.current_mode == "cluster"


async def test_ctx_command_switches_the_cluster_backend(home, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"ctx prod", "enter")
        await settle(pilot)
        assert app.backends.cluster.kind == "kubernetes"
        assert app.health["cluster"].state == HealthState.DOWN
        await pilot.press("colon", *"ctx local", "enter")
        await settle(pilot)
        assert app.backends.cluster.kind == "local"


async def test_ctx_alone_picks_a_context_from_the_kubeconfig(home, tmp_path, monkeypatch):
    import yaml

    config = {"apiVersion": "v1", "kind": "Config", "current-context": "dev",
              "clusters": [{"name": c, "cluster": {"server": "http://127.0.0.1:9"}} for c in ("dev-c", "prod-c")],
              "users": [{"name": "me", "user": {"token": "not-shown"}}],
              "contexts": [{"name": "dev", "context": {"cluster": "dev-c", "user": "me"}},
                           {"name": "prod", "context": {"cluster": "prod-c", "user": "me", "namespace": "models"}}]}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"ctx", "enter")
        await settle(pilot)
        picker = app.screen
        assert [c.value for c in picker.choices] == ["local", "dev", "prod"]
        assert "ns models" in picker.choices[2].note
        await pilot.press(*"prod", "enter")
        await settle(pilot)
        assert app.backends.cluster.kind == "kubernetes" and app.settings.context == "prod"


async def test_palette_offers_views(home):
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Go to Audit")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "audit"


@pytest.mark.parametrize("theme", ["mlconsole-dark", "mlconsole-light"])
async def test_themes(home, theme):
    app = make_app(home, theme=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == theme


async def test_no_color_is_respected(home, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color


def test_every_binding_has_an_id_and_description():
    from console.app import MLConsoleApp
    from screens import audit, cluster, command_prompt, confirm, keys, overview, registry, rollouts
    from screens.widgets import resource_table

    classes = [MLConsoleApp, overview.OverviewScreen, cluster.ClusterScreen, rollouts.RolloutsScreen,
               registry.RegistryScreen, audit.AuditScreen, keys.KeysScreen, confirm.ConfirmScreen,
               command_prompt.CommandPrompt, resource_table.ResourceTable]
    for cls in classes:
        for binding in cls.BINDINGS:
            assert binding.id, f"{cls.__name__} {binding.key} has no id"
            assert binding.description, f"{cls.__name__} {binding.key} has no description"
