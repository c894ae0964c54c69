"""Cluster view: the deployments on the current cluster backend, and what happened to them.

Like k9s: a table that refreshes itself, enter goes into a deployment (its processes),
l follows its logs, y describes it, and the changing keys (deploy, scale, restart,
traffic, delete) confirm first, are audited, and are refused under --readonly.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding

from console.types import ClusterEvent, DeploymentSummary
from screens import formatting
from screens.cluster_actions import CLUSTER_BINDINGS, ClusterActions, RolloutStart
from screens.formatting import age
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

# Console actions as ClusterActions names them, and as their key bindings do -> the backend's refusal keys.
REFUSAL_KEYS = {"change traffic": "traffic", "start a rollout": "rollout", "start_rollout": "rollout"}

PHASE_STYLES = {"Available": "green", "Running": "green", "Progressing": "yellow", "Pending": "yellow",
                "Degraded": "bold yellow", "Failed": "bold red", "CrashLoopBackOff": "bold red",
                "NotServed": "bold red", "Unknown": "dim", "Terminated": "dim"}


def phase_text(phase: str) -> Text:
    return Text(phase, style=PHASE_STYLES.get(phase, ""))


def ready_label(d: DeploymentSummary) -> str:
    """ready/desired replicas over the predictors, as kubectl's READY column."""
    desired = sum(p.replicas for p in d.predictors)
    return f"{sum(p.ready_replicas for p in d.predictors)}/{desired}"


def event_row(i: int, e: ClusterEvent, now: float, with_deployment: bool = True) -> Row:
    kind = Text(e.kind, style="bold yellow" if e.kind == "Warning" else "dim")
    cells = (age(e.time, now), kind, e.reason, *((e.deployment,) if with_deployment else ()), e.object, e.message)
    return Row(str(i), cells)


class ClusterScreen(RolloutStart, ClusterActions, ViewScreen):
    VIEW = "cluster"
    REFRESH_SECONDS = 2.0

    BINDINGS = [
        Binding("r", "reload", "Reload", id="cluster.reload"),
        Binding("l", "logs", "Logs", id="cluster.logs"),
        Binding("y", "describe", "Describe", id="cluster.describe"),
        Binding("e", "edit", "Edit graph", id="cluster.edit", show=False),
        Binding("o", "start_rollout", "Rollout", id="cluster.rollout"),
        Binding("L", "lineage", "Lineage", id="cluster.lineage", show=False),  # listed by ?
        *CLUSTER_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.deployments: dict[str, DeploymentSummary] = {}
        self.refusals: dict[str, str] = {}  # action -> why the cluster (RBAC) would refuse it

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["name", "namespace", "phase", "ready", "predictors / traffic", "url", "age"],
                            empty="no deployments yet: a deploys a manifest (or `mlconsole deploy FILE`)",
                            id="cluster-deployments", classes="panel main")
        yield ResourceTable(["age", "type", "reason", "deployment", "object", "message"],
                            empty="no events yet", id="cluster-events", classes="panel")

    def on_mount(self) -> None:
        table = self.query_one("#cluster-deployments", ResourceTable)
        table.border_title = f"Deployments — {self.backends.cluster.endpoint}"
        self.query_one("#cluster-events", ResourceTable).border_title = "Events"
        table.table.focus()

    def _fetch(self) -> list[Row]:
        deployments = self.backends.cluster.list_deployments()
        self.deployments = {d.name: d for d in deployments}
        refusals = getattr(self.backends.cluster, "refusals", None)  # Kubernetes: RBAC, reviewed and cached
        if callable(refusals):
            self.app.call_from_thread(self._show_refusals, refusals())
        return [Row(d.name, (d.name, d.namespace, phase_text(d.phase), ready_label(d), d.traffic_label,
                             d.url, age(d.created_at)))
                for d in deployments]

    def _fetch_events(self) -> list[Row]:
        events = getattr(self.backends.cluster, "events", None)
        if events is None:
            return []
        now = formatting.clock()
        recent = events()[-50:]
        return [event_row(i, e, now) for i, e in enumerate(reversed(recent))]

    # -- what the cluster would refuse ---------------------------------------------------------

    def _show_refusals(self, refusals: dict[str, str]) -> None:
        if refusals == self.refusals:
            return
        self.refusals = dict(refusals)
        table = self.query_one("#cluster-deployments", ResourceTable)
        # Shown with the rows this fetch delivers next (the table's subtitle).
        table.extra_note = f"not allowed here: {', '.join(sorted(refusals))}" if refusals else ""
        self.refresh_bindings()  # their keys show disabled in the footer
        for action, reason in sorted(refusals.items()):
            self.notify(f"{action}: {reason}", severity="warning", timeout=8)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if REFUSAL_KEYS.get(action, action) in self.refusals else True

    def _allowed(self, action: str) -> bool:
        if not super()._allowed(action):
            return False
        reason = self.refusals.get(REFUSAL_KEYS.get(action, action))
        if reason:
            self.notify(f"{action} refused: {reason}", severity="error", timeout=8)
            return False
        return True

    def refresh_data(self) -> None:
        self.load(self.query_one("#cluster-deployments", ResourceTable), self._fetch)
        self.load(self.query_one("#cluster-events", ResourceTable), self._fetch_events)

    def action_reload(self) -> None:
        self.refresh_data()

    # -- selection ----------------------------------------------------------------------

    def selected_deployment(self) -> str | None:
        table = self.query_one("#cluster-deployments", ResourceTable).table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key in self.deployments else None

    def predictor_names(self) -> list[str]:
        name = self.selected_deployment()
        return [p.name for p in self.deployments[name].predictors] if name in self.deployments else []

    def current_traffic(self) -> str:
        name = self.selected_deployment()
        if name not in self.deployments:
            return ""
        return " ".join(f"{p.name}={'shadow' if p.shadow else p.traffic}" for p in self.deployments[name].predictors)

    # -- going in -----------------------------------------------------------------------

    @on(ResourceTable.Activated, "#cluster-deployments")
    def _activated(self, event: ResourceTable.Activated) -> None:
        from screens.deployment_detail import DeploymentDetailScreen

        if event.key in self.deployments:
            self.app.push_screen(DeploymentDetailScreen(event.key))

    def action_logs(self) -> None:
        if "logs" in self.refusals:
            self.notify(f"logs refused: {self.refusals['logs']}", severity="error", timeout=8)
            return
        name = self.selected_deployment()
        if name is None:
            self.notify("select a deployment first", severity="warning", timeout=4)
            return
        from screens.logs import LogsScreen

        self.app.push_screen(LogsScreen(name))

    def action_lineage(self) -> None:
        from screens.lineage import open_lineage

        open_lineage(self, self.selected_deployment(), self.VIEW)

    def action_describe(self) -> None:
        name = self.selected_deployment()
        if name is None:
            self.notify("select a deployment first", severity="warning", timeout=4)
            return
        from screens.describe import DescribeScreen

        self.app.push_screen(DescribeScreen(name))

    def action_edit(self) -> None:
        """Open the deployed manifest in the graph builder (saved under home/graphs)."""
        name = self.selected_deployment()
        if name is None:
            return
        from screens.describe import open_deployed_in_builder

        open_deployed_in_builder(self, name)
