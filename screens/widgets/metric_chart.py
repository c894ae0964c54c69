"""A metric's history as a plotext line chart (textual-plotext)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot


class MetricChart(Vertical):
    """Title line plus the plot; shows a message instead when there is nothing to draw."""

    def compose(self) -> ComposeResult:
        yield Static("select a metric to see its history", classes="chart-title")
        yield PlotextPlot()

    def show(self, key: str, steps: list[int], values: list[float]) -> None:
        title = self.query_one(".chart-title", Static)
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if len(values) < 2:
            title.update(f"{key}: {values[0]:.4g} (logged once, no history)" if values
                         else f"{key}: no values")
            plot.display = False
            return
        plot.display = True
        title.update(f"{key}: {len(values)} values, last {values[-1]:.4g}, "
                     f"min {min(values):.4g}, max {max(values):.4g}")
        plt.plot(steps, values, marker="braille")
        plt.xlabel("step")
        plot.refresh()

    def show_error(self, message: str) -> None:
        self.query_one(".chart-title", Static).update(message)
        self.query_one(PlotextPlot).display = False
