"""One line with each backend's kind, endpoint and health; details in the tooltip."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from console.types import Health, HealthState

ROLES = ("cluster", "registry", "metrics")
DOT = {HealthState.UP: "●", HealthState.DEGRADED: "◐", HealthState.DOWN: "✖", HealthState.CHECKING: "○"}


class BackendStatus(Horizontal):
    """cluster ● local   registry ● sqlite:…/mlflow.db   metrics ● embedded"""

    def compose(self) -> ComposeResult:
        for role in ROLES:
            yield Label(role, id=f"status-{role}", classes="backend-status")

    def on_mount(self) -> None:
        self.watch(self.app, "health", self._show, init=True)

    def _show(self, health: dict[str, Health]) -> None:
        for role in ROLES:
            label = self.query_one(f"#status-{role}", Label)
            h = health.get(role)
            state = h.state if h else HealthState.CHECKING
            endpoint = short_endpoint(h.endpoint if h else "")
            label.update(f"{role} {DOT[state]} {state.value} {endpoint}")
            for s in HealthState:
                label.set_class(s == state, f"-{s.value}")
            label.tooltip = f"{role}: {h.endpoint}\n{h.state.value}: {h.reason}" if h else f"{role}: checking"


def short_endpoint(endpoint: str) -> str:
    """Keep the informative tail of long paths so three backends fit in 80 columns."""
    if endpoint.startswith("sqlite:///"):
        return "sqlite:…/" + endpoint.rsplit("/", 1)[-1]
    if endpoint.startswith(("local runtime", "embedded")):
        return endpoint.split(" (")[0]
    return endpoint if len(endpoint) <= 28 else "…" + endpoint[-27:]
