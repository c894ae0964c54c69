"""Cluster view: deployments on the current cluster backend."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding

from screens.formatting import age
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


class ClusterScreen(ViewScreen):
    VIEW = "cluster"
    REFRESH_SECONDS = 5.0

    BINDINGS = [Binding("r", "reload", "Reload", id="cluster.reload")]

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["name", "namespace", "phase", "predictors / traffic", "url", "age"],
                            empty="no deployments on this cluster yet", id="cluster-deployments",
                            classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"Deployments — {self.backends.cluster.endpoint}"
        table.table.focus()

    def refresh_data(self) -> None:
        cluster = self.backends.cluster
        self.load(self.query_one(ResourceTable), lambda: [
            Row(f"{d.namespace}/{d.name}",
                (d.name, d.namespace, d.phase, d.traffic_label, d.url, age(d.created_at)))
            for d in cluster.list_deployments()
        ])

    def action_reload(self) -> None:
        self.refresh_data()
