"""Two versions side by side: params and metrics, differences highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding

from console.errors import ConsoleError
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def diff_rows(kind: str, left: dict, right: dict) -> list[Row]:
    """One row per key; changed values in bold, with the numeric delta for metrics."""
    rows = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        same = a == b
        style = "" if same else "bold"
        delta = ""
        if not same and isinstance(a, float) and isinstance(b, float):
            delta = f"{b - a:+.4g}"
        mark = " " if same else "≠"
        rows.append(Row(f"{kind}:{key}", (Text(mark, style=style), kind, Text(key, style=style),
                                          Text(_fmt(a), style=style), Text(_fmt(b), style=style), delta)))
    return rows


class VersionCompareScreen(ViewScreen):
    VIEW = "registry"

    BINDINGS = [
        Binding("d", "only_differences", "Only differences", id="compare.only_diff"),
        Binding("r", "reload", "Reload", id="compare.reload"),
    ]

    def __init__(self, name: str, left: str, right: str) -> None:
        super().__init__()
        self.model_name = name
        self.left, self.right = sorted((left, right), key=int)
        self.only_diff = False
        self._rows: list[Row] = []

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["", "kind", "name", f"v{self.left}", f"v{self.right}", "Δ"],
                            empty="nothing to compare", id="compare-table", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"{self.model_name}: v{self.left} vs v{self.right}"
        table.table.focus()

    def _fetch(self) -> list[Row]:
        registry = self.backends.registry
        runs = []
        for ref in (self.left, self.right):
            version = registry.get_version(self.model_name, ref)
            try:
                runs.append(registry.get_run(version.run_id) if version.run_id else None)
            except ConsoleError:
                runs.append(None)
        a, b = runs
        self._rows = (diff_rows("param", a.params if a else {}, b.params if b else {})
                      + diff_rows("metric", a.metrics if a else {}, b.metrics if b else {}))
        return self._visible()

    def _visible(self) -> list[Row]:
        if not self.only_diff:
            return self._rows
        return [r for r in self._rows if str(r.cells[0]).strip()]

    def refresh_data(self) -> None:
        self.load(self.query_one(ResourceTable), self._fetch)

    def action_reload(self) -> None:
        self.refresh_data()

    def action_only_differences(self) -> None:
        self.only_diff = not self.only_diff
        table = self.query_one(ResourceTable)
        table.extra_note = "differences only" if self.only_diff else ""
        table.set_rows(self._visible())
