"""Overview: what runs, what is registered, what is rolling out, what changed, what is down."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid

from console.governance.audit import AuditLog
from console.types import Health, HealthState
from screens.formatting import aliases_label
from screens.view import ViewScreen
from screens.widgets.backend_status import ROLES
from screens.widgets.resource_table import ResourceTable, Row


class OverviewScreen(ViewScreen):
    VIEW = "overview"
    REFRESH_SECONDS = 5.0

    BINDINGS = [Binding("r", "reload", "Reload", id="overview.reload")]

    def compose_body(self) -> ComposeResult:
        with Grid(id="overview-grid"):
            yield ResourceTable(["name", "phase", "traffic"], empty="no deployments",
                                id="ov-deployments", classes="panel")
            yield ResourceTable(["model", "latest", "aliases"], empty="no registered models",
                                id="ov-models", classes="panel")
            yield ResourceTable(["deployment", "strategy", "phase", "step"], empty="no rollouts",
                                id="ov-rollouts", classes="panel")
            yield ResourceTable(["time", "action", "target", "actor"], empty="no audit events yet",
                                id="ov-audit", classes="panel")
            yield ResourceTable(["backend", "state", "reason", "kind", "endpoint"],
                                id="ov-backends", classes="panel wide")

    def on_mount(self) -> None:
        titles = {"ov-deployments": "Deployments", "ov-models": "Models", "ov-rollouts": "Rollouts",
                  "ov-audit": "Recent audit events", "ov-backends": "Backends"}
        for table_id, title in titles.items():
            self.query_one(f"#{table_id}", ResourceTable).border_title = title
        self.watch(self.app, "health", self._show_health, init=True)
        self.query_one("#ov-deployments", ResourceTable).table.focus()

    def refresh_data(self) -> None:
        backends = self.backends
        self.load(self.query_one("#ov-deployments", ResourceTable), lambda: [
            Row(d.name, (d.name, d.phase, d.traffic_label)) for d in backends.cluster.list_deployments()
        ])
        self.load(self.query_one("#ov-models", ResourceTable), lambda: [
            Row(m.name, (m.name, m.latest_version or "", aliases_label(m.aliases)))
            for m in backends.registry.list_models(max_results=50).items
        ])
        self.load(self.query_one("#ov-rollouts", ResourceTable), lambda: [
            Row(r.deployment, (r.deployment, r.strategy, r.phase, r.step))
            for r in backends.cluster.list_rollouts()
        ])
        home = self.app.settings.home
        self.load(self.query_one("#ov-audit", ResourceTable), lambda: [
            Row(e.hash, (e.time[5:16].replace("T", " "), e.action, e.target, e.actor))
            for e in AuditLog(home).tail(20)
        ])

    def _show_health(self, health: dict[str, Health]) -> None:
        rows = []
        for role in ROLES:
            h = health.get(role)
            backend = getattr(self.backends, role)
            state = h.state if h else HealthState.CHECKING
            rows.append(Row(role, (role, state.value, h.reason if h else "", backend.kind, backend.endpoint)))
        self.query_one("#ov-backends", ResourceTable).set_rows(rows)

    def action_reload(self) -> None:
        self.app.refresh_health()
        self.refresh_data()

    @on(ResourceTable.Activated, "#ov-deployments")
    def _open_deployment(self) -> None:
        self.app.switch_view("cluster")

    @on(ResourceTable.Activated, "#ov-models")
    def _open_model(self) -> None:
        self.app.switch_view("registry")

    @on(ResourceTable.Activated, "#ov-rollouts")
    def _open_rollout(self) -> None:
        self.app.switch_view("rollouts")

    @on(ResourceTable.Activated, "#ov-audit")
    def _open_audit(self) -> None:
        self.app.switch_view("audit")
