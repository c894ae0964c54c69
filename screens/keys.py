"""`?`: the keys of the current view, then the global ones."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label


class KeysScreen(ModalScreen[None]):
    """A modal table of (key, what it does, where it applies)."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="keys.close"),
        Binding("question_mark", "close", "Close", id="keys.close_q", show=False),
        Binding("q", "close", "Close", id="keys.close_quit", show=False),
    ]

    def __init__(self, view: str, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.view = view
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="keys-box"):
            yield Label(f"Keys — {self.view}", id="keys-title")
            table = DataTable(cursor_type="row", id="keys-table")
            table.add_columns("key", "action", "scope")
            for row in self.rows:
                table.add_row(*row)
            yield table
            yield Label("esc closes", id="keys-hint")

    def action_close(self) -> None:
        self.dismiss(None)
