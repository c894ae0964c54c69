"""A live line chart (textual-plotext): one line per predictor or node, time on the x axis."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from console.types import Series

# plotext's named colours, in the order lines get them: stable first, then canary, shadow...
COLOURS = ("green", "orange", "cyan", "magenta", "blue", "red")


class LiveChart(Vertical):
    """Title with the latest values, then the lines; `scale` turns values into the shown unit."""

    def __init__(self, title: str, unit: str = "", scale: float = 1.0, id: str | None = None) -> None:
        super().__init__(id=id, classes="live-chart")
        self.title = title
        self.unit = unit
        self.scale = scale

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="chart-title")
        yield PlotextPlot()

    def show(self, series: list[Series], now: float | None = None, window: float | None = None) -> None:
        """Draw the lines; x is seconds before now (so the right edge is 'now', the left the window's start)."""
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        now = now or time.time()
        latest = []
        drawn = 0
        for i, s in enumerate(series):
            points = [(t - now, v * self.scale) for t, v in s.points if v is not None]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            plt.plot(list(xs), list(ys), label=s.label, color=COLOURS[i % len(COLOURS)], marker="braille")
            latest.append(f"{s.label} {ys[-1]:.3g}{self.unit}")
            drawn += 1
        title = self.query_one(".chart-title", Static)
        if not drawn:
            title.update(f"{self.title}: no data in this window")
            plot.refresh()
            return
        title.update(f"{self.title}: " + "  ".join(latest))
        plt.xlabel("seconds ago")
        if window:
            plt.xlim(-window, 0)  # the whole window, even while history is shorter
        plot.refresh()

    def clear(self, message: str) -> None:
        self.query_one(PlotextPlot).plt.clear_data()
        self.query_one(".chart-title", Static).update(f"{self.title}: {message}")
        self.query_one(PlotextPlot).refresh()
