"""Rollouts view: every progressive delivery with its phase, step, traffic and gate verdicts.

Enter opens one (steps timeline, weights, gates against their thresholds, transitions);
the keys promote, promote fully, pause/resume, abort and retry, each confirmed and audited.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding

from console.types import RolloutSummary
from screens.cluster import phase_text
from screens.rollout_actions import ROLLOUT_BINDINGS, RolloutActions
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

ROLLOUT_STYLES = {"Progressing": "yellow", "Paused": "bold cyan", "Inconclusive": "bold magenta",
                  "Completed": "green", "Aborted": "bold red", "Failed": "bold red"}


def rollout_phase(phase: str) -> Text:
    return Text(phase, style=ROLLOUT_STYLES.get(phase, "")) if phase in ROLLOUT_STYLES else phase_text(phase)


class RolloutsScreen(RolloutActions, ViewScreen):
    VIEW = "rollouts"
    REFRESH_SECONDS = 2.0

    BINDINGS = [Binding("r", "reload", "Reload", id="rollouts.reload"), *ROLLOUT_BINDINGS]

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: dict[str, RolloutSummary] = {}

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["deployment", "namespace", "strategy", "phase", "step", "canary %", "message"],
                            empty="no rollouts yet: `mlconsole rollout start NAME --manifest FILE` starts a canary",
                            id="rollouts-table", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"Rollouts — {self.backends.cluster.endpoint}"
        table.table.focus()

    def _fetch(self) -> list[Row]:
        rollouts = self.backends.cluster.list_rollouts()
        self.rollouts = {r.deployment: r for r in rollouts}
        return [Row(r.deployment, (r.deployment, r.namespace, r.strategy, rollout_phase(r.phase), r.step,
                                   str(r.canary_weight), r.message)) for r in rollouts]

    def refresh_data(self) -> None:
        self.load(self.query_one(ResourceTable), self._fetch)

    def action_reload(self) -> None:
        self.refresh_data()

    def selected_rollout(self) -> tuple[str, str] | None:
        table = self.query_one(ResourceTable).table
        if not table.row_count:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return (key, self.rollouts[key].phase) if key in self.rollouts else None

    @on(ResourceTable.Activated, "#rollouts-table")
    def _activated(self, event: ResourceTable.Activated) -> None:
        from screens.rollout_detail import RolloutDetailScreen

        if event.key in self.rollouts:
            self.app.push_screen(RolloutDetailScreen(event.key))
