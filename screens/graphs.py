"""Graphs view: inference graphs and the builder (filled in by the graphs issue)."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.view import ViewScreen
from screens.widgets.pending_notice import PendingNotice


class GraphsScreen(ViewScreen):
    VIEW = "graphs"

    def compose_body(self) -> ComposeResult:
        yield PendingNotice(
            "Graphs",
            "Build SeldonDeployment inference graphs by keys: transformers, MLflow models, routers "
            "(A/B, bandits), combiners, enrichment look-ups and outlier detectors; validate live; try "
            "a request in-process; save as a manifest; deploy.",
            "graph manifests on disk and models from the registry.",
        )
