"""The Graphs view: manifests under home/graphs, drawn, with located validation problems."""

import shutil

import pytest

from console.config import default_registry_uri
from console.graph.demo_graph import write_demo_graph
from screens.widgets.resource_table import ResourceTable
from tests.screens.helpers import make_app, settle

BROKEN = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: broken}
spec:
  predictors:
  - name: main
    traffic: 60
    graph:
      name: router
      type: ROUTER
      implementation: RANDOM_ABTEST
      children:
      - name: router
        modelUri: models:/credit-risk@ghost
"""


def graphs_home(home, registry_home):
    """The demo graph (valid), a broken one (a repeated name, a missing alias) and bad YAML."""
    graphs = home / "graphs"
    graphs.mkdir(parents=True, exist_ok=True)
    shutil.copy(write_demo_graph(registry_home), graphs / "credit-risk.yaml")
    (graphs / "broken.yaml").write_text(BROKEN)
    (graphs / "bad.yaml").write_text("kind: [\n")
    return make_app(home, registry=default_registry_uri(registry_home))


async def test_graphs_view_lists_draws_and_validates(seeded_home, home):
    app = graphs_home(home, seeded_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        listing = app.screen.query_one("#graphs-list", ResourceTable).table
        assert [str(k.value) for k in listing.rows] == ["bad.yaml", "broken.yaml", "credit-risk.yaml"]
        assert "unreadable" in str(listing.get_row_at(0)[1])
        await pilot.press("down")
        await settle(pilot)
        problems = app.screen.query_one("#graph-problems", ResourceTable).table
        messages = " ".join(str(problems.get_row_at(i)[2]) for i in range(problems.row_count))
        assert "@ghost" in messages and "'router'" in messages and "traffic" in messages
        await pilot.press("down")
        await settle(pilot)
        drawing = str(app.screen.query_one("#graph-drawing").render())
        assert "[OUTPUT_TRA" in drawing and "[MODEL]" in drawing and "@champion" in drawing
        assert app.screen.query_one("#graph-problems", ResourceTable).table.row_count == 0


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("row", [1, 2], ids=["broken", "demo"])
def test_graphs_view_snapshot(snap_compare, snapshot_registry, snapshot_home, pinned_clock, size, row):
    app = graphs_home(snapshot_home, snapshot_registry)

    async def run_before(pilot):
        await pilot.press("4")
        await settle(pilot)
        for _ in range(row):
            await pilot.press("down")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
