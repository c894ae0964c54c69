"""The column panel of the Data view: a column's statistics over its histogram or top values."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from console.data.profile import ColumnProfile
from console.data.report import bar, histogram_labels, number, stat_rows
from screens.widgets.binned_chart import BinnedChart


def stats_table(profile: ColumnProfile) -> Table:
    """Two columns of label/value pairs, so that they fit a narrow panel in few lines."""
    rows = stat_rows(profile)
    table = Table.grid(padding=(0, 1), expand=True)
    for _ in range(2):
        table.add_column(style="dim", no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    half = (len(rows) + 1) // 2
    for left, right in zip(rows[:half], rows[half:] + [("", "")], strict=False):
        table.add_row(left[0], left[1], right[0], right[1])
    return table


def top_text(profile: ColumnProfile, limit: int = 12, bar_width: int = 10) -> Text:
    """The most frequent values with their share and a bar: a frequency table, as VisiData's."""
    total = max(profile.rows - profile.missing, 1)
    text = Text(no_wrap=True, overflow="ellipsis")
    lines = [(v, n) for v, n in profile.top[:limit]]
    rest = sum(n for _, n in profile.top[limit:]) + profile.other
    if rest:
        lines.append(("(other)", rest))
    if profile.missing:
        lines.append(("(missing)", profile.missing))
        total = max(profile.rows, 1)
    for i, (value, n) in enumerate(lines):
        share = n / total
        text.append(f"{share * 100:5.1f}% ", style="bold")
        text.append(bar(n, total, bar_width).ljust(bar_width), style="green")
        text.append(f" {value}", style="dim" if value.startswith("(") else "")
        if i < len(lines) - 1:
            text.append("\n")
    return text


class ColumnPanel(Vertical):
    """Title, stats, and a chart: a histogram for numbers and times, top values for the rest."""

    def compose(self) -> ComposeResult:
        yield Static("", id="column-title")
        yield Static("", id="column-stats")
        yield Static("", id="column-top")
        yield BinnedChart("", id="column-histogram")

    def loading(self, column: str) -> None:
        self.query_one("#column-title", Static).update(Text(f"{column}: profiling…", style="bold"))
        self.query_one("#column-stats", Static).update("")
        self.query_one("#column-top", Static).display = False

    def message(self, text: str) -> None:
        self.query_one("#column-title", Static).update(Text(text, style="bold"))
        self.query_one("#column-stats", Static).update("")
        self.query_one("#column-top", Static).display = False
        self.query_one(BinnedChart).clear("")

    def show(self, profile: ColumnProfile, scope: str = "") -> None:
        title = Text(profile.column, style="bold")
        title.append(f"  {profile.type.lower()} · {profile.kind}", style="dim")
        if scope:
            title.append(f"  {scope}", style="dim")
        self.query_one("#column-title", Static).update(title)
        self.query_one("#column-stats", Static).update(stats_table(profile))
        top = self.query_one("#column-top", Static)
        chart = self.query_one(BinnedChart)
        if profile.counts:
            top.display = False
            chart.show(f"histogram ({len(profile.counts)} bins, % of values)", histogram_labels(profile),
                       [(profile.column, profile.counts)])
            chart.display = True
        elif profile.top:
            top.display = True
            top.border_title = f"top {len(profile.top)} of {number(profile.distinct)} values"
            top.update(top_text(profile))
            chart.display = False
        else:
            top.display = False
            chart.display = True
            chart.clear("no values to chart")
