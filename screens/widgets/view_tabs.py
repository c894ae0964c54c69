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
        readonly = bool(getattr(self.app, "readonly_label", ""))
        # At 80 columns all eight views fit only without the program's name, and with the
        # readonly badge first and short: it must never be the part that is cut off.
        wide = self.size.width == 0 or self.size.width >= 92
        if wide:
            text.append(" mlconsole ", style="bold reverse")
        elif readonly:
            text.append(" RO ", style="bold reverse")
        gap = " " if wide or not readonly else ""
        for number, (mode, label) in enumerate(VIEWS, 1):
            text.append(" ")
            if mode == self.current:
                text.append(f" {number}{gap}{label} ", style="bold reverse")
            else:
                text.append(str(number), style="bold")
                text.append(f"{gap}{label}")
        if readonly and wide:
            text.append("  ")
            text.append(" READONLY ", style="bold reverse")
        self.update(text)
