"""The k9s resource view shape: a table with a `/` filter over every column."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

MAX_COLUMN_WIDTH = 60


def cell_width(cell: object) -> int:
    """Terminal cells a value takes on one line."""
    if isinstance(cell, Text):
        return cell.cell_len
    return cell_len(str(cell))


def sort_key(cell: object) -> tuple:
    """Numbers sort as numbers, everything else as case-insensitive text."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


@dataclass(frozen=True)
class Row:
    """A table row: a stable key and the cells shown."""

    key: str
    cells: tuple


class ResourceTable(Vertical):
    """A DataTable with a filter line; `/` opens the filter, esc clears it."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="table.clear_filter", show=False),
        Binding("s", "sort", "Sort", id="table.sort", show=False),
        Binding("S", "sort(True)", "Sort descending", id="table.sort_reverse", show=False),
    ]

    filter_text: reactive[str] = reactive("", init=False)

    class FilterSubmitted(Message):
        """Enter in the filter line: screens with server-side search may re-query."""

        def __init__(self, table: ResourceTable, text: str) -> None:
            super().__init__()
            self.table = table
            self.text = text

        @property
        def control(self) -> ResourceTable:
            return self.table

    class Activated(Message):
        """A row was chosen with enter."""

        def __init__(self, table: ResourceTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> ResourceTable:
            return self.table

    def __init__(self, columns: Sequence[str], *, empty: str = "nothing here", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.empty = empty
        self._rows: list[Row] = []
        self._message: str | None = None
        self._sort: tuple[int, bool] | None = None  # (column, descending)
        self._loaded = False  # until the first rows arrive, say so rather than "empty"

    def compose(self) -> ComposeResult:
        table = DataTable(cursor_type="row", zebra_stripes=True)
        for label in self.columns:
            table.add_column(label, width=len(label), key=label)
        yield table
        yield Static("", classes="table-message")

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def on_mount(self) -> None:
        self._render_message()

    def _filter_box(self) -> Input | None:
        """The filter line, mounted on first use (most tables are never filtered)."""
        boxes = self.query(".table-filter")
        return boxes.first(Input) if boxes else None

    @property
    def message(self) -> str | None:
        """The message shown instead of rows (a backend error), if any."""
        return self._message

    extra_note = ""
    """Shown in the border subtitle, e.g. 'more: m loads the next page'."""

    def action_sort(self, descending: bool = False) -> None:
        """s: sort by the next column (cycling); S: the same column, descending."""
        if descending:
            column = self._sort[0] if self._sort else 0
            self._sort = (column, not (self._sort or (0, False))[1])
        else:
            column = -1 if self._sort is None else self._sort[0]
            self._sort = ((column + 1) % len(self.columns), False)
        self._refill()

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the rows, keeping the cursor on the same key where it still exists."""
        if list(rows) == self._rows and self._message is None and self.table.row_count:
            return  # a periodic reload that changed nothing must not reset scroll or widths
        self._rows = list(rows)
        self._message = None
        self._loaded = True
        self._refill()

    def show_message(self, message: str) -> None:
        """Show a message instead of rows (e.g. 'registry down: ...')."""
        self._rows = []
        self._message = message
        self._loaded = True
        self._refill()

    def _matches(self, row: Row) -> bool:
        if not self.filter_text:
            return True
        try:
            pattern = re.compile(self.filter_text, re.IGNORECASE)
            return any(pattern.search(str(c)) for c in row.cells)
        except re.error:
            needle = self.filter_text.lower()
            return any(needle in str(c).lower() for c in row.cells)

    def _refill(self) -> None:
        table = self.table
        current = None
        if table.row_count and table.cursor_row >= 0:
            try:
                current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # cursor outside the rows: nothing to keep
                current = None
        shown = [row for row in self._rows if self._matches(row)]
        if self._sort is not None:
            column, descending = self._sort
            shown.sort(key=lambda r: sort_key(r.cells[column] if column < len(r.cells) else ""),
                       reverse=descending)
        # Widths are computed here, not by DataTable's auto-width (which measures on a later
        # idle and only ever widens), so a table looks the same however its rows arrived.
        table.clear(columns=True)
        for index, label in enumerate(self.columns):
            cells = [cell_width(row.cells[index]) for row in shown if index < len(row.cells)]
            table.add_column(label, width=min(MAX_COLUMN_WIDTH, max([len(label), *cells])), key=label)
        for row in shown:
            table.add_row(*row.cells, key=row.key)
        if current is not None:
            try:
                table.move_cursor(row=table.get_row_index(current))
            except Exception:  # the row is gone or filtered out
                pass
        self._render_message()

    def _render_message(self) -> None:
        note = self.query_one(".table-message", Static)
        if self._message:
            text = self._message
        elif not self._loaded:
            text = "loading…"
        elif not self._rows:
            text = self.empty
        elif self.table.row_count == 0:
            text = f"no row matches /{self.filter_text}"
        else:
            text = ""
        note.update(text)
        note.display = bool(text)
        notes = []
        if self._sort is not None:
            column, descending = self._sort
            notes.append(f"sort {self.columns[column]} {'↓' if descending else '↑'}")
        if self.filter_text:
            notes.append(f"/{self.filter_text}  {self.table.row_count}/{len(self._rows)}")
        if self.extra_note:
            notes.append(self.extra_note)
        self.border_subtitle = "  ".join(notes)

    # -- filter ---------------------------------------------------------------------

    def open_filter(self) -> None:
        box = self._filter_box()
        if box is None:
            box = Input(placeholder="filter (text or regex); enter keeps, esc clears", classes="table-filter")
            self.mount(box)
        box.display = True
        box.value = self.filter_text
        box.focus()

    def watch_filter_text(self) -> None:
        self._refill()

    @on(Input.Changed, ".table-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    @on(Input.Submitted, ".table-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.FilterSubmitted(self, self.filter_text))
        event.input.display = bool(self.filter_text)
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self._filter_box()
        if not self.filter_text and (box is None or not box.display):
            # Nothing to clear: let esc mean "back" to the screen and app.
            raise SkipAction()
        self.filter_text = ""
        if box is not None:
            box.value = ""
            box.display = False
        self.table.focus()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Activated(self, str(event.row_key.value)))
