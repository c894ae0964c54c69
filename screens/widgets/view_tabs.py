"""The row of top-level views with their number keys, current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

VIEWS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("data", "Data"),
    ("registry", "Registry"),
    ("graphs", "Graphs"),
    ("cluster", "Cluster"),
    ("rollouts", "Rollouts"),
    ("monitor", "Monitor"),
    ("audit", "Audit"),
)


class ViewTabs(Static):
    """`mlconsole  1 Overview  2 Data ...`: where you are and how to go elsewhere."""

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        self.watch(self.app, "readonly_label", self._redraw, init=True)

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self, _value: object = None) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        # At 80 columns all eight views fit only without the program's name.
        if self.size.width == 0 or self.size.width >= 92:
            text.append(" mlconsole ", style="bold reverse")
        for number, (mode, label) in enumerate(VIEWS, 1):
            text.append(" ")
            if mode == self.current:
                text.append(f" {number} {label} ", style="bold reverse")
            else:
                text.append(str(number), style="bold")
                text.append(f" {label}")
        if getattr(self.app, "readonly_label", ""):
            text.append("  ")
            text.append(" READONLY ", style="bold reverse")
        self.update(text)
