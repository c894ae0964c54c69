"""The graph builder, driven by keys: build a 4-node graph, validate it live, undo, save, try it."""

import subprocess
import sys

import pytest
import yaml
from textual.widgets import Input

from console.config import default_registry_uri
from console.graph.manifest_io import load_file
from console.graph.validate import validate
from screens.graph_builder import GraphBuilderScreen
from screens.try_graph import TryGraphScreen
from screens.widgets.resource_table import ResourceTable
from tests.screens.helpers import make_app, settle
from tests.screens.test_graphs_view import graphs_home
from tests.test_graph_export import assert_valid_for_seldon, crd_schema  # noqa: F401 - crd_schema is a fixture


def problems(app) -> str:
    table = app.screen.query_one("#builder-problems", ResourceTable).table
    return " | ".join(str(table.get_row_at(i)[2]) for i in range(table.row_count))


def notices(app) -> str:
    return " ".join(n.message for n in app._notifications)


async def answer(pilot, key: str, text: str) -> None:
    """Press key, replace the prompt's text, enter."""
    await pilot.press(key)
    await settle(pilot)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await settle(pilot)


async def add(pilot, kind: str, *then: str) -> None:
    """a, pick the kind by typing, then answer what it asks (a model, an import path)."""
    await pilot.press("a", *kind, "enter")
    await settle(pilot)
    for answer in then:
        await pilot.press(*answer, "enter")
        await settle(pilot)


async def test_build_a_four_node_graph_by_keys_and_save_it(seeded_home, home):
    app = make_app(home, registry=default_registry_uri(seeded_home))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("n", *"fraud-scoring", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, GraphBuilderScreen) and screen.draft.is_empty(0)

        await add(pilot, "feature")                       # root: a feature transformer
        await add(pilot, "ab router")                     # under it, an A/B router
        assert "has 0 children; it needs at least two" in problems(app)  # live validation
        await add(pilot, "mlflow", "credit champion")     # the router's first branch
        await pilot.press("up")                           # back on the router
        await add(pilot, "mlflow", "credit challenger")   # its second branch
        dep = screen.deployment
        assert [n.name for _, n in dep.nodes()] == ["features", "ab-test", "champion", "challenger"]
        assert [n.model_uri for _, n in dep.nodes()][2:] == ["models:/credit-risk@champion",
                                                            "models:/credit-risk@challenger"]
        assert not [p for p in screen.problems if p.is_error], problems(app)
        drawing = str(screen.query_one("#builder-drawing").render())
        assert "[ROUTER]" in drawing and "challenger" in drawing

        # A refused edit says why and changes nothing; undo takes the last node back, redo again.
        await answer(pilot, "r", "CHAMPION!")
        assert "not valid" in notices(app)
        assert [n.name for _, n in screen.deployment.nodes()][-1] == "challenger"
        await pilot.press("u")
        await settle(pilot)
        assert [n.name for _, n in screen.deployment.nodes()] == ["features", "ab-test", "champion"]
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(list(screen.deployment.nodes())) == 4

        await pilot.press("ctrl+s")
        await settle(pilot)
        saved = load_file(home / "graphs" / "fraud-scoring.yaml")
        assert [n.name for _, n in saved.nodes()] == ["features", "ab-test", "champion", "challenger"]
        assert not [p for p in validate(saved, check_imports=False) if p.is_error]
        assert not screen.draft.dirty

        await pilot.press("escape")  # saved: leaves without asking
        await settle(pilot)
        listing = app.screen.query_one("#graphs-list", ResourceTable).table
        assert "fraud-scoring.yaml" in [str(k.value) for k in listing.rows]


async def test_builder_opens_the_demo_graph_edits_a_node_and_tries_a_request(seeded_home, home):
    app = graphs_home(home, seeded_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # credit-risk.yaml
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, GraphBuilderScreen) and screen.draft.name == "credit-risk"
        assert not [p for p in screen.problems if p.is_error], problems(app)

        # Edit the router's fields as YAML: a slip stays in the editor with its line.
        for _ in range(4):  # from the root (decision): application, bureau, outliers, ab-test
            await pilot.press("down")
        await settle(pilot)
        assert screen.draft.node(screen.selected)["name"] == "ab-test"
        await pilot.press("e")
        await settle(pilot)
        editor = app.screen
        area = editor.query_one("#node-editor-text")
        area.load_text("name: ab-test\n  type: [\n")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is editor and "line" in str(editor.query_one("#node-editor-hint").render())
        assert area.text == "name: ab-test\n  type: [\n"  # nothing typed is lost
        area.load_text("name: ab-test\ntype: ROUTER\nimplementation: RANDOM_ABTEST\nparameters:\n"
                       "- {name: ratioA, value: '1.0', type: FLOAT}\n")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen and screen.draft.dirty
        assert screen.draft.node(screen.selected)["parameters"][0]["value"] == "1.0"

        # Try it: rows of the model's logged dataset, through every node in-process.
        await pilot.press("T")
        await settle(pilot)
        trying = app.screen
        assert isinstance(trying, TryGraphScreen)
        assert "applicant_id" in trying.query_one("#try-request").text
        assert "logged by credit-risk" in str(trying.query_one("#try-status").render())
        await pilot.press("ctrl+r")
        for _ in range(60):
            await settle(pilot)
            if trying.run_result is not None:
                break
            await pilot.pause(0.5)
        result = trying.run_result
        assert result is not None, str(trying.query_one("#try-status").render())
        ran = [n.name for n in result.nodes]
        assert ran == ["decision", "application", "bureau", "outliers", "ab-test", "champion"]  # ratioA 1.0
        assert result.response["data"]["names"] == ["p_repay", "p_default"]
        table = trying.query_one("#try-nodes", ResourceTable).table
        assert table.row_count == 6

        # A malformed request is answered with a clear message, not a crash.
        trying.query_one("#try-request").load_text('{"data": {"ndarray": "nope"}}')
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "✖" in str(trying.query_one("#try-status").render())

        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")  # unsaved changes: asks first
        await settle(pilot)
        assert "Discard" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen


async def test_refused_edits_say_why_and_change_nothing(seeded_home, home):
    app = graphs_home(home, seeded_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        screen = app.screen
        before = screen.draft.text()
        await pilot.press("up", "d")  # the predictor's line: not a node
        await settle(pilot)
        await answer(pilot, "t", "main=ninety")
        assert screen.draft.text() == before
        assert "select a node" in notices(app) and "whole number" in notices(app)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_graph_builder_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    app = graphs_home(snapshot_home, snapshot_registry)

    async def run_before(pilot):
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        for _ in range(5):
            await pilot.press("down")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_add_node_picker_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    app = graphs_home(snapshot_home, snapshot_registry)

    async def run_before(pilot):
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("a", *"router")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_try_graph_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size):
    """Before sending (latencies differ run to run): the sample request and its source."""
    app = graphs_home(snapshot_home, snapshot_registry)

    async def run_before(pilot):
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_done_when_the_demo_graph_gains_a_node_and_exports_valid_for_seldon(seeded_home, home, tmp_path,
                                                                                  crd_schema):  # noqa: F811
    """The issue's story: open the demo graph, add a node, see validation, save, export for Seldon."""
    app = graphs_home(home, seeded_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        screen = app.screen
        for _ in range(4):
            await pilot.press("down")  # ab-test
        await add(pilot, "combiner: av")  # a third child of RANDOM_ABTEST: validation objects
        assert "has 3 children" in problems(app)
        assert "has 0 children; it needs at least two" in problems(app)
        await pilot.press("u")  # take it back; put the combiner above the champion instead
        await settle(pilot)
        await pilot.press("down")  # champion
        await pilot.press("i", *"combiner: av", "enter")
        await settle(pilot)
        await pilot.press("down")  # champion, now under the combiner
        await pilot.press("x")  # cut it: the combiner is selected now
        await settle(pilot)
        assert screen.draft.node(screen.selected)["name"] == "ensemble"
        await pilot.press("p")  # paste champion back under the combiner
        await settle(pilot)
        await pilot.press("up")
        await add(pilot, "mlflow", "credit-risk/3")  # and a second member: version 3
        await settle(pilot)
        assert not [p for p in screen.problems if p.is_error], problems(app)
        await pilot.press("ctrl+s")
        await settle(pilot)

    saved = home / "graphs" / "credit-risk.yaml"
    names = [n.name for _, n in load_file(saved).nodes()]
    assert names[4:] == ["ab-test", "ensemble", "champion", "credit-risk-v3", "challenger"], names
    out = tmp_path / "seldon.yaml"
    done = subprocess.run([sys.executable, "-m", "console.cli", "graph", "export", str(saved), "--target", "seldon",
                           "-o", str(out), "--home", str(home), "--registry", default_registry_uri(seeded_home)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_valid_for_seldon(yaml.safe_load(out.read_text()), crd_schema)


async def test_colon_graph_opens_any_manifest_file_and_a_missing_one_says_so(home, tmp_path):
    from tests.seldon_fixtures import EXAMPLES

    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(":", *f"graph {tmp_path}/nope.yaml", "enter")
        await settle(pilot)
        assert "no such file" in notices(app) and not isinstance(app.screen, GraphBuilderScreen)
        await pilot.press(":", *f"graph {EXAMPLES[0]}", "enter")
        await settle(pilot)
        assert isinstance(app.screen, GraphBuilderScreen) and app.screen.draft.path == EXAMPLES[0]
