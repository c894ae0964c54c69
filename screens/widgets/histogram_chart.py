"""Bars for one or two distributions on shared bins (reference vs current), via plotext."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot


def shares(counts: list[int]) -> list[float]:
    """Counts as percentages of their total, so samples of different sizes compare."""
    total = sum(counts)
    return [c * 100.0 / total if total else 0.0 for c in counts]


class HistogramChart(Vertical):
    """Title, then side-by-side bars per bin; `show` takes labels and named count lists."""

    def __init__(self, title: str, id: str | None = None) -> None:
        super().__init__(id=id, classes="histogram-chart")
        self.title = title

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="chart-title")
        yield PlotextPlot()

    def show(self, caption: str, labels: list[str], series: list[tuple[str, list[int]]]) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self.query_one(".chart-title", Static).update(caption)
        if not labels or not any(sum(counts) for _, counts in series):
            plot.refresh()
            return
        values = [shares(counts) for _, counts in series]
        if len(series) == 1:
            plt.bar(labels, values[0], color="cyan")
        else:
            plt.multiple_bar(labels, values, labels=[name for name, _ in series], color=["green", "orange"])
        plt.ylabel("% of rows")
        plot.refresh()

    def clear(self, caption: str) -> None:
        self.query_one(PlotextPlot).plt.clear_data()
        self.query_one(".chart-title", Static).update(caption)
        self.query_one(PlotextPlot).refresh()
