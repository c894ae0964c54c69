"""Data view: datasets, profiles and drift (filled in by the data exploration issue)."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.view import ViewScreen
from screens.widgets.pending_notice import PendingNotice


class DataScreen(ViewScreen):
    VIEW = "data"

    def compose_body(self) -> ComposeResult:
        yield PendingNotice(
            "Data",
            "Open Parquet, CSV and JSONL files (and globs), MLflow logged datasets and the runtime's "
            "request logs; scroll tens of millions of rows; profile columns; filter and sort with SQL; "
            "compare training data with live traffic (PSI, KS, Wasserstein, chi-square).",
            "DuckDB over local files and the registry's logged datasets (`:data PATH`).",
        )
