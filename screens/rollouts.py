"""Rollouts view: progressive deliveries on the current cluster backend."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding

from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


class RolloutsScreen(ViewScreen):
    VIEW = "rollouts"
    REFRESH_SECONDS = 5.0

    BINDINGS = [Binding("r", "reload", "Reload", id="rollouts.reload")]

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["deployment", "namespace", "strategy", "phase", "step", "canary %", "message"],
                            empty="no rollouts yet: canary, blue-green, shadow and A/B rollouts appear here",
                            id="rollouts-table", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"Rollouts — {self.backends.cluster.endpoint}"
        table.table.focus()

    def refresh_data(self) -> None:
        cluster = self.backends.cluster
        self.load(self.query_one(ResourceTable), lambda: [
            Row(f"{r.namespace}/{r.deployment}",
                (r.deployment, r.namespace, r.strategy, r.phase, r.step, str(r.canary_weight), r.message))
            for r in cluster.list_rollouts()
        ])

    def action_reload(self) -> None:
        self.refresh_data()
