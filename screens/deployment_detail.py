"""One deployment: its processes ("pods": gateway and graph-server replicas) and its events."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.types import DeploymentDetail, ReplicaInfo
from screens import formatting
from screens.cluster import event_row, phase_text, ready_label
from screens.cluster_actions import CLUSTER_BINDINGS, ClusterActions
from screens.formatting import age
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


def replica_key(r: ReplicaInfo) -> str:
    return "gateway" if r.kind == "gateway" else f"{r.predictor}/{r.index}"


class DeploymentDetailScreen(ClusterActions, ViewScreen):
    VIEW = "cluster"
    REFRESH_SECONDS = 2.0

    BINDINGS = [
        Binding("r", "reload", "Reload", id="deployment.reload"),
        Binding("l", "logs", "Logs", id="deployment.logs"),
        Binding("y", "describe", "Describe", id="deployment.describe"),
        Binding("escape", "close", "Back", id="deployment.close", show=False),
        *[b for b in CLUSTER_BINDINGS if b.action != "deploy"],
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.deployment_name = name
        self.detail: DeploymentDetail | None = None
        self.replicas: dict[str, ReplicaInfo] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("", id="deployment-header")
        yield ResourceTable(["name", "predictor", "phase", "ready", "restarts", "pid", "port", "age", "message"],
                            empty="no processes", id="deployment-replicas", classes="panel main")
        yield ResourceTable(["age", "type", "reason", "object", "message"], empty="no events",
                            id="deployment-events", classes="panel")

    def on_mount(self) -> None:
        table = self.query_one("#deployment-replicas", ResourceTable)
        table.border_title = f"{self.deployment_name} — processes"
        self.query_one("#deployment-events", ResourceTable).border_title = "Events"
        table.table.focus()

    def _fetch(self) -> list[Row]:
        cluster = self.backends.cluster
        detail = cluster.get_deployment(self.deployment_name)
        replicas = cluster.list_replicas(self.deployment_name)
        self.detail = detail
        self.replicas = {replica_key(r): r for r in replicas}
        self.app.call_from_thread(self._show_header)
        now = formatting.clock()
        rows = []
        for r in replicas:
            message = r.message.splitlines()[-1] if r.message else ""
            rows.append(Row(replica_key(r), (
                r.name, "(gateway)" if r.kind == "gateway" else r.predictor, phase_text(r.phase),
                Text("yes", style="green") if r.ready else Text("no", style="yellow"),
                Text(str(r.restarts), style="bold red" if r.restarts else ""),
                "" if r.pid is None else str(r.pid), "" if r.port is None else str(r.port),
                age(r.started_at, now), message)))
        return rows

    def _fetch_events(self) -> list[Row]:
        now = formatting.clock()
        events = self.backends.cluster.events(self.deployment_name)[-50:]
        return [event_row(i, e, now, with_deployment=False) for i, e in enumerate(reversed(events))]

    def _show_header(self) -> None:
        d = self.detail
        if d is None:
            return
        s = d.summary
        text = Text.assemble(Text(f" {s.name}", style="bold"), "  ", phase_text(s.phase),
                             f"  ready {ready_label(s)}  ", Text(s.traffic_label, style="italic"),
                             "  ", Text(s.url, style="underline"))
        if s.message:
            text.append(f"\n {s.message}", style="yellow")
        self.query_one("#deployment-header", Static).update(text)

    def refresh_data(self) -> None:
        self.load(self.query_one("#deployment-replicas", ResourceTable), self._fetch)
        self.load(self.query_one("#deployment-events", ResourceTable), self._fetch_events)

    def action_reload(self) -> None:
        self.refresh_data()

    # -- selection ----------------------------------------------------------------------

    def _selected_replica(self) -> ReplicaInfo | None:
        table = self.query_one("#deployment-replicas", ResourceTable).table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.replicas.get(str(key))

    def selected_deployment(self) -> str | None:
        return self.deployment_name

    def selected_predictor(self) -> str | None:
        replica = self._selected_replica()
        return replica.predictor if replica is not None and replica.kind != "gateway" else None

    def predictor_names(self) -> list[str]:
        return [p.name for p in self.detail.summary.predictors] if self.detail else []

    def current_traffic(self) -> str:
        if self.detail is None:
            return ""
        return " ".join(f"{p.name}={'shadow' if p.shadow else p.traffic}" for p in self.detail.summary.predictors)

    # -- going further ------------------------------------------------------------------

    @on(ResourceTable.Activated, "#deployment-replicas")
    def _activated(self, event: ResourceTable.Activated) -> None:
        self.action_logs()

    def action_logs(self) -> None:
        from screens.logs import LogsScreen

        replica = self._selected_replica()
        if replica is None:
            self.app.push_screen(LogsScreen(self.deployment_name))
        elif replica.kind == "gateway":
            self.app.push_screen(LogsScreen(self.deployment_name, predictor="gateway"))
        else:
            self.app.push_screen(LogsScreen(self.deployment_name, replica.predictor, replica.index))

    def action_describe(self) -> None:
        from screens.describe import DescribeScreen

        self.app.push_screen(DescribeScreen(self.deployment_name))

    def action_close(self) -> None:
        self.dismiss()

    def after_delete(self) -> None:
        self.dismiss()
