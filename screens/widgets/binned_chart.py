"""HistogramChart with the x labels drawn by us, under the plot: first, middle and last bin.

plotext places bar labels (and even explicit ticks) at positions that change from one process
to the next, so the same histogram drew a different axis run to run (and snapshots flaked).
Here plotext draws bars and the y axis only; a line under it names the first, middle and last
bins, which reads better than a crowded axis too.
"""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.widgets import Static
from textual_plotext import PlotextPlot

from screens.widgets.histogram_chart import HistogramChart, shares


def axis_line(labels: list[str]) -> Table:
    """The first label at the left, the middle one centred, the last at the right."""
    table = Table.grid(expand=True)
    for justify in ("left", "center", "right"):
        table.add_column(justify=justify, ratio=1, no_wrap=True, overflow="ellipsis")
    if labels:
        middle = labels[len(labels) // 2] if len(labels) > 2 else ""
        table.add_row(labels[0], middle, labels[-1] if len(labels) > 1 else "")
    return table


class BinnedChart(HistogramChart):
    """Same API as HistogramChart: `show(caption, labels, [(name, counts), ...])`."""

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", classes="chart-axis")

    def show(self, caption: str, labels: list[str], series: list[tuple[str, list[int]]]) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self.query_one(".chart-title", Static).update(caption)
        if not labels or not any(sum(counts) for _, counts in series):
            self.query_one(".chart-axis", Static).update("")
            plot.refresh()
            return
        positions = list(range(1, len(labels) + 1))
        values = [shares(counts) for _, counts in series]
        if len(series) == 1:
            plt.bar(positions, values[0], color="cyan", width=1)
        else:
            plt.multiple_bar(positions, values, labels=[name for name, _ in series], color=["green", "orange"])
        plt.xticks([], [])
        plt.ylabel("% of rows")
        self.query_one(".chart-axis", Static).update(axis_line([label[:14] for label in labels]))
        plot.refresh()

    def clear(self, caption: str) -> None:
        super().clear(caption)
        self.query_one(".chart-axis", Static).update("")
