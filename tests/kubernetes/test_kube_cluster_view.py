"""The Cluster view, unchanged, on the Kubernetes backend: kmock's deployments, and RBAC refusals explained."""

from __future__ import annotations

import time

from console.app import MLConsoleApp
from console.config import load_settings
from screens.cluster import ClusterScreen
from screens.widgets.resource_table import ResourceTable
from tests.kubernetes import objects as o
from tests.kubernetes.emulator import PODS, SDEPS


def notices(app) -> str:
    return " ".join(n.message for n in app._notifications)


def cells(table: ResourceTable, column: int) -> list[str]:
    return [str(table.table.get_row_at(i)[column]) for i in range(table.table.row_count)]


async def until(pilot, check, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        result = check()
        if result:
            return result
    raise AssertionError(f"timed out waiting for {what}; notices: {notices(pilot.app)}")


async def test_the_cluster_view_lists_kmock_deployments_and_says_what_rbac_refuses(kube, home):
    kube.seed(SDEPS, [o.sdep("iris", status=o.available("iris", {"main": 1})), o.sdep("wine")])
    kube.seed(SDEPS, [o.sdep("other", "staging")])
    kube.seed(PODS, [o.pod("iris", "main", 0)])
    kube.deny("delete", "seldondeployments", "role model-viewer")
    # A registry that answers nothing quickly: this test is about the cluster.
    settings = load_settings({"home": str(home), "context": "kmock-ctx", "registry": "http://127.0.0.1:9"}, env={})
    app = MLConsoleApp(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        screen = app.screen
        assert isinstance(screen, ClusterScreen)
        table = screen.query_one("#cluster-deployments", ResourceTable)
        await until(pilot, lambda: cells(table, 0) == ["iris", "wine"], what="the deployments")
        assert cells(table, 2) == ["Available", "Unknown"] and cells(table, 3) == ["1/1", "0/1"]
        assert "kmock-ctx / models" in str(table.border_title)

        await until(pilot, lambda: "delete" in screen.refusals, what="the RBAC review")
        assert screen.check_action("delete", ()) is None  # shown disabled in the footer
        assert screen.check_action("scale", ()) is True
        assert "not allowed here: delete" in str(table.border_subtitle)
        assert "may not delete seldondeployments.machinelearning.seldon.io" in notices(app)
        assert "role model-viewer" in notices(app)
        assert screen._allowed("delete") is False  # what the action says if it is reached at all
        await until(pilot, lambda: "delete refused: RBAC" in notices(app), what="the refusal")

        app.run_command("ns all")  # every namespace: names qualified
        await until(pilot, lambda: cells(app.screen.query_one("#cluster-deployments", ResourceTable), 0)
                    == ["models/iris", "models/wine", "staging/other"], what="all namespaces")
