"""Diverging text bars: each feature's contribution left (down) or right (up) of a centre line.

Text, not a plot: it reads the same over SSH, at 80 columns and with NO_COLOR (the sign is
also in the number), and it snapshots deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static

UP, DOWN = "indian_red", "steel_blue"  # pushes the score up (e.g. towards default) / down


def _value(value: Any, width: int) -> str:
    if value is None:
        text = "(missing)"
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e12:
        text = f"{int(value):,}"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def bars(rows: Sequence[tuple[str, Any, float]], width: int) -> Text:
    """Lines of 'feature  value  ▇▇▇│        +0.123' scaled to the largest |contribution|."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if not rows:
        return out
    name_w = min(24, max(len(r[0]) for r in rows))
    value_w = min(14, max(len(_value(r[1], 14)) for r in rows))
    number_w = 9
    half = max(4, (width - name_w - value_w - number_w - 6) // 2)
    largest = max(abs(r[2]) for r in rows) or 1.0
    for i, (feature, value, contribution) in enumerate(rows):
        length = round(abs(contribution) / largest * half)
        if contribution and not length:
            length = 1 if abs(contribution) / largest > 0.02 else 0
        left = "█" * length if contribution < 0 else ""
        right = "█" * length if contribution > 0 else ""
        if i:
            out.append("\n")
        out.append(f"{feature[:name_w]:<{name_w}}  ", style="bold")
        out.append(f"{_value(value, value_w):>{value_w}}  ", style="dim")
        out.append(f"{left:>{half}}", style=DOWN)
        out.append("│")
        out.append(f"{right:<{half}}", style=UP)
        out.append(f" {contribution:>+{number_w}.4f}")
    return out


class ContributionBars(Static):
    """Shows (feature, value, contribution) rows as diverging bars; redraws on resize."""

    DEFAULT_CSS = "ContributionBars { height: auto; }"

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.rows: list[tuple[str, Any, float]] = []

    def show(self, rows: Sequence[tuple[str, Any, float]]) -> None:
        self.rows = list(rows)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.content_size.width or 80
        self.update(bars(self.rows, width))
