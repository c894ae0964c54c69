"""Monitor view: live traffic per deployment, predictor and node (filled in by the metrics issue)."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.view import ViewScreen
from screens.widgets.pending_notice import PendingNotice


class MonitorScreen(ViewScreen):
    VIEW = "monitor"

    def compose_body(self) -> ComposeResult:
        yield PendingNotice(
            "Monitor",
            "Request rate, error rate and latency quantiles per deployment, per predictor (stable, "
            "canary, shadow) and per graph node; routing shares; outlier rate; feature drift.",
            "the metrics backend shown in the status line above.",
        )
