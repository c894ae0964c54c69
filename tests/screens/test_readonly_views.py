"""`--readonly` in the console: every key that would change something is refused, visibly, before asking.

The keys come from the BINDINGS of every screen and widget class in screens/ (and the app's own), and each
binding must be classified in KINDS below: a new binding fails `test_every_binding_is_classified` until
someone decides what it is, and a new changing one on a screen this file cannot reach yet fails
`test_every_screen_with_changing_keys_is_reached`.

CHANGE — refused under --readonly with a notice naming the action and "--readonly"; no prompt, picker or
confirmation opens (nothing is asked about a change that would then be refused); nothing changes:
    registry versions list and version detail   a set alias, A delete alias, t tag, T untag, e description
    Cluster view and deployment detail          a deploy, s scale, R restart, t traffic, ctrl+d delete,
                                                o start a rollout (Cluster view)
    graph builder                               D deploy the draft
    Rollouts list and rollout detail            p promote, P promote fully, space pause/resume, ctrl+a abort,
                                                ctrl+r retry
LOCAL — allowed, they change no cluster, registry or rollout and are not audited:
    graph builder edits and ctrl+s save: a manifest under <home>/graphs is a draft, not a deployment; nothing
        runs differently until D deploys it, and that is refused (`test_local_edits_stay_allowed`)
    Monitor A: the alert thresholds live in the session's memory only
    Data x (export) and model card w (write): files the user names, like the CLI's --output / -o
DIALOG — y/n on a confirmation: only reachable once a change was asked for, which read-only refuses first.
READ — everything else: moving, filtering, reloading, opening views, logs, describe, lineage, try a graph
    in-process, compute fairness or an explanation.

The `:` command line changes nothing (`:deploy` opens the Cluster view): COMMAND_KINDS classifies each
command. The command palette (ctrl+p) offers the current view's keys; choosing one runs the same action, so
the same refusal (`test_palette_actions_are_refused_too`).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import shutil
import sqlite3
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.command import CommandList
from textual.dom import DOMNode

import screens
import screens.widgets
from console import command_line
from tests.local_runtime import manifest, runtime_pids
from tests.screens.helpers import make_app, settle
from tests.screens.test_cluster_view import frozen_runtime, until
from tests.screens.test_rollouts_view import frozen_rollout

CHANGE, LOCAL, DIALOG, READ = "change", "local", "dialog", "read"

# By binding id (or Class:action for the few bindings without one).
KINDS: dict[str, str] = {
    # changes
    **dict.fromkeys(["registry.set_alias", "registry.delete_alias", "registry.set_tag", "registry.delete_tag",
                     "registry.edit_description", "cluster.deploy", "cluster.scale", "cluster.restart",
                     "cluster.traffic", "cluster.delete", "cluster.rollout", "builder.deploy", "rollout.promote",
                     "rollout.promote_full", "rollout.pause_resume", "rollout.abort", "rollout.retry"], CHANGE),
    # local: drafts, files the user names, session settings
    **dict.fromkeys(["builder.add", "builder.insert", "builder.edit", "builder.rename", "builder.delete",
                     "builder.cut", "builder.paste", "builder.move_up", "builder.move_down", "builder.traffic",
                     "builder.add_predictor", "builder.undo", "builder.redo", "builder.save", "node_editor.apply",
                     "graphs.new", "monitor.alerts", "data.export", "card.write"], LOCAL),
    **dict.fromkeys(["confirm.yes", "confirm.no", "confirm.cancel", "diff_confirm.yes", "diff_confirm.no",
                     "diff_confirm.cancel"], DIALOG),
    **dict.fromkeys([
        "audit.reload", "audit.filter", "audit.verify", "audit_entry.close",
        "cluster.reload", "cluster.logs", "cluster.describe", "cluster.edit", "cluster.lineage",
        "prompt.cancel", "prompt.next", "prompt.previous", "prompt.complete",
        "data.open", "data.profile", "data.panel", "data.frequency", "data.sort", "data.sort_desc", "data.sql",
        "data.compare", "data.datasets", "data.reload", "data.run_sql", "data.escape",
        "compare.swap", "compare.recompute", "compare.escape",
        "deployment.reload", "deployment.logs", "deployment.describe", "deployment.close",
        "describe.edit", "describe.reload", "describe.close",
        "explain.method", "explain.reload", "picker.cancel", "picker.down", "picker.up",
        "builder.try", "builder.close", "graphs.reload", "graphs.edit",
        "keys.close", "keys.close_q", "keys.close_quit",
        "lineage.reload", "lineage.expand", "lineage.collapse", "lineage.close",
        "logs.follow", "logs.clear", "logs.close", "card.reload", "card.contents", "card.close",
        "versions.reload", "versions.compare", "versions.card",
        "monitor.pick", "monitor.window", "monitor.pause", "monitor.explain", "monitor.lineage", "monitor.reload",
        "node_editor.cancel", "overview.reload", "registry.reload", "registry.more",
        "rollout_detail.reload", "rollout_detail.close", "rollouts.reload", "text_prompt.cancel",
        "try.send", "try.sample", "try.close", "compare.only_diff", "compare.reload",
        "detail.next_tab", "detail.previous_tab", "detail.reload", "detail.explain", "detail.fairness_file",
        "detail.card", "table.clear_filter", "table.sort", "table.sort_reverse",
        "DataGrid:move(-1, 0)", "DataGrid:move(1, 0)", "DataGrid:move(0, -1)", "DataGrid:move(0, 1)",
        "DataGrid:page(-1)", "DataGrid:page(1)", "DataGrid:edge(-1)", "DataGrid:edge(1)",
        "view.overview", "view.data", "view.registry", "view.graphs", "view.cluster", "view.rollouts",
        "view.monitor", "view.audit", "app.command", "app.filter", "app.keys", "app.back", "app.quit",
    ], READ),
}

# `:` commands: views, things to look at, and the console's own session (theme, context, namespace).
COMMAND_KINDS = {
    "overview": READ, "data": READ, "models": READ, "graphs": READ, "deploy": READ, "rollouts": READ,
    "monitor": READ, "audit": READ, "lineage": READ, "card": READ, "help": READ, "quit": READ,
    "theme": LOCAL, "ctx": LOCAL, "ns": LOCAL,
}


def binding_classes() -> list[type]:
    """Every class in screens/ (and the app) that declares BINDINGS of its own."""
    from console.app import MLConsoleApp

    modules = [importlib.import_module(f"{pkg.__name__}.{m.name}")
               for pkg in (screens, screens.widgets) for m in pkgutil.iter_modules(pkg.__path__)]
    found = {MLConsoleApp}
    for module in modules:
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, DOMNode) and cls.__module__ == module.__name__ \
                    and "BINDINGS" in cls.__dict__:
                found.add(cls)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__name__}")


def own_bindings(cls: type) -> list[tuple[str, Binding]]:
    """(classification key, binding) for each binding the class declares."""
    out = []
    for item in cls.__dict__["BINDINGS"]:
        binding = item if isinstance(item, Binding) else Binding(*item)
        out.append((binding.id or f"{cls.__name__}:{binding.action}", binding))
    return out


def changing_keys() -> dict[str, list[tuple[str, Binding]]]:
    """Screen class name -> its bindings that change something."""
    out: dict[str, list[tuple[str, Binding]]] = {}
    for cls in binding_classes():
        changes = [(k, b) for k, b in own_bindings(cls) if KINDS.get(k) == CHANGE]
        if changes:
            out[cls.__name__] = changes
    return out


def test_every_binding_is_classified():
    seen = {key for cls in binding_classes() for key, _ in own_bindings(cls)}
    missing = sorted(seen - set(KINDS))
    assert not missing, f"classify these bindings (change, local, dialog or read) in {__name__}.KINDS: {missing}"
    assert not sorted(set(KINDS) - seen), "bindings gone: drop them from KINDS"


def test_every_command_line_command_is_classified():
    assert {c.name for c in command_line.COMMANDS} == set(COMMAND_KINDS)
    assert CHANGE not in COMMAND_KINDS.values()  # a changing `:` command would need a refusal test here


# -- a home with something to change: a stopped runtime's deployments, a held rollout, a registry, a graph ---


@pytest.fixture
def ro_home(home, seeded_home):
    """Copies, so that a key that was not refused could only ever change this test's files."""
    shutil.copytree(seeded_home / "registry", home / "registry")
    frozen_rollout(frozen_runtime(home))
    (home / "graphs").mkdir()
    (home / "graphs" / "scoring.yaml").write_text(manifest("scoring", [("main", 80), ("canary", 20)]))
    return home


def registry_rows(home: Path) -> dict:
    con = sqlite3.connect(f"file:{home / 'registry' / 'mlflow.db'}?mode=ro", uri=True)
    try:
        return {table: sorted(con.execute(f"select * from {table}").fetchall())  # noqa: S608 - fixed names
                for table in ("registered_models", "model_versions", "registered_model_aliases",
                              "registered_model_tags", "model_version_tags")}
    finally:
        con.close()


def home_view(home: Path) -> dict:
    files = {p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(home.rglob("*")) if p.is_file() and not p.relative_to(home).as_posix().startswith(
                 "registry/")}
    return {"files": files, "registry": registry_rows(home), "processes": runtime_pids(home)}


def readonly_app(home, **kw):
    """make_app, its notices recorded as they are raised: a toast expires after a few seconds, and
    on a loaded machine one could expire between counting the refusals and counting them again."""
    app = make_app(home, readonly=True, **kw)
    seen: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        seen.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording
    app.seen_notices = seen
    return app


def readonly_notices(app) -> list[str]:
    return [m for m in app.seen_notices if "--readonly" in m]


async def open_row(pilot, table_id: str, key: str | None = None) -> None:
    from screens.widgets.resource_table import ResourceTable

    if key is not None:
        table = pilot.app.screen.query_one(table_id, ResourceTable).table
        table.move_cursor(row=[str(k.value) for k in table.rows].index(key))
    await pilot.press("enter")
    await settle(pilot)


async def to_versions(pilot) -> None:
    await pilot.press("3")
    await settle(pilot)
    await open_row(pilot, "#registry-models", "credit-risk")


async def to_version_detail(pilot) -> None:
    await to_versions(pilot)
    await open_row(pilot, "#model-versions")


async def to_cluster(pilot) -> None:
    await pilot.press("5")
    await settle(pilot)


async def to_deployment(pilot) -> None:
    await to_cluster(pilot)
    await open_row(pilot, "#cluster-deployments", "credit-risk")


async def to_builder(pilot) -> None:
    await pilot.press("4")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def to_rollouts(pilot) -> None:
    await pilot.press("6")
    await settle(pilot)


async def to_rollout_detail(pilot) -> None:
    await to_rollouts(pilot)
    await pilot.press("enter")
    await settle(pilot)


REACH = {
    "ModelVersionsScreen": to_versions,
    "VersionDetailScreen": to_version_detail,
    "ClusterScreen": to_cluster,
    "DeploymentDetailScreen": to_deployment,
    "GraphBuilderScreen": to_builder,
    "RolloutsScreen": to_rollouts,
    "RolloutDetailScreen": to_rollout_detail,
}


def test_every_screen_with_changing_keys_is_reached():
    assert set(changing_keys()) == set(REACH), "add a way to reach the screen in REACH"


@pytest.mark.parametrize("screen_name", sorted(changing_keys()))
async def test_every_changing_key_is_refused_with_a_notice_and_no_dialog(ro_home, screen_name):
    before = home_view(ro_home)
    app = readonly_app(ro_home)
    pressed = []
    async with app.run_test(size=(120, 40)) as pilot:
        await REACH[screen_name](pilot)
        screen = app.screen
        assert type(screen).__name__ == screen_name
        for key_id, binding in changing_keys()[screen_name]:
            key = binding.key.split(",")[0]
            count = len(readonly_notices(app))
            await pilot.press(key)
            await settle(pilot, rounds=1)
            assert app.screen is screen, f"{key} ({key_id}) opened {type(app.screen).__name__} under --readonly"
            refusals = readonly_notices(app)
            assert len(refusals) == count + 1, f"{key} ({key_id}) was not refused: {refusals}"
            assert "refused: mlconsole runs with --readonly" in refusals[-1]
            pressed.append(key)
    assert pressed
    assert home_view(ro_home) == before
    assert not (ro_home / "audit").exists()


@pytest.mark.parametrize("screen_name", ["ClusterScreen", "RolloutDetailScreen", "VersionDetailScreen"])
async def test_palette_actions_are_refused_too(ro_home, screen_name):
    """ctrl+p lists the view's keys; choosing a changing one is refused just the same."""
    from console.app import ViewCommands

    before = home_view(ro_home)
    app = readonly_app(ro_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await REACH[screen_name](pilot)
        screen = app.screen
        entries = {name: run for name, run, _ in ViewCommands(screen)._entries()}
        for key_id, binding in changing_keys()[screen_name]:
            name = next((n for n in entries if n.startswith(f"{binding.description} (")), None)
            assert name is not None, f"the palette does not offer {binding.description} ({key_id})"
            count = len(readonly_notices(app))
            await entries[name]()
            await settle(pilot, rounds=1)
            assert app.screen is screen and len(readonly_notices(app)) == count + 1, key_id
        # and through the palette itself, typed and chosen as a person would
        first = changing_keys()[screen_name][0][1]
        count = len(readonly_notices(app))
        await pilot.press("ctrl+p")
        await pilot.press(*f"{first.description} (")
        await until(pilot, lambda: any(c.option_count for c in app.screen.query(CommandList)),
                    what="the palette's match")
        await pilot.press("enter")
        await settle(pilot, rounds=1)
        assert app.screen is screen and len(readonly_notices(app)) == count + 1
    assert home_view(ro_home) == before


async def test_command_line_deploy_only_opens_the_cluster_view(ro_home):
    before = home_view(ro_home)
    app = readonly_app(ro_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"deploy", "enter")
        await settle(pilot)
        assert app.current_mode == "cluster" and len(app.screen_stack) == 1
        assert app.readonly_label == "READONLY"
    assert home_view(ro_home) == before


async def test_local_edits_stay_allowed(home):
    """Read-only guards what runs and what is recorded, not the user's own drafts and session settings."""
    (home / "graphs").mkdir()
    path = home / "graphs" / "scoring.yaml"
    path.write_text(manifest("scoring"))
    app = readonly_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_builder(pilot)
        builder = app.screen
        assert type(builder).__name__ == "GraphBuilderScreen"
        await pilot.press("t")  # the draft's traffic: a prompt opens, as without --readonly
        await settle(pilot, rounds=1)
        assert type(app.screen).__name__ == "TextPrompt"
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await settle(pilot, rounds=1)
        assert any(n.message.startswith("saved ") for n in app._notifications)
        assert not readonly_notices(app)
        await pilot.press("escape", "7")
        await settle(pilot)
        await pilot.press("A")  # Monitor alert thresholds: a session setting
        await settle(pilot, rounds=1)
        assert type(app.screen).__name__ == "TextPrompt" and not readonly_notices(app)
    assert not (home / "runtime").exists() and not (home / "audit").exists()
