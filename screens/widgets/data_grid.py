"""A virtual table over any number of rows: only the pages on screen are fetched, then cached.

Line API: each screen line is drawn from the page cache; a line whose page is missing draws
placeholders and asks for that page, which a worker thread fetches through the `fetch`
callable the screen hands over (offset, limit -> rows). Nothing but the visible pages (and
the next one) is ever held, so ten million rows scroll as lightly as a hundred.

The header and the row numbers stay put; columns scroll sideways a whole column at a time,
keeping the cursor's column in view. Column widths grow to fit the pages seen (capped), never
shrink while the same data is shown, so the table does not jitter as it scrolls.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.data.report import cell

PAGE_ROWS = 100
CACHED_PAGES = 40
MAX_WIDTH = 40
MIN_WIDTH = 4


@dataclass(frozen=True)
class GridColumn:
    """A column as the grid shows it: its name, whether numbers (right-aligned), a header mark."""

    name: str
    numeric: bool = False
    mark: str = ""  # e.g. a sort arrow


class DataGrid(ScrollView, can_focus=True):
    """Rows come from `fetch(offset, limit)`, called in a worker thread; `total` may arrive later."""

    COMPONENT_CLASSES = {"data-grid--header", "data-grid--rownum", "data-grid--cursor",
                         "data-grid--cursor-row", "data-grid--missing", "data-grid--null"}

    DEFAULT_CSS = """
    DataGrid { background: $surface; overflow-x: hidden; }
    DataGrid > .data-grid--header { text-style: bold; color: $primary; background: $panel; }
    DataGrid > .data-grid--rownum { color: $text-muted; }
    DataGrid > .data-grid--cursor { background: $accent 60%; color: $text; text-style: bold; }
    DataGrid:blur > .data-grid--cursor { background: $accent 25%; }
    DataGrid > .data-grid--cursor-row { background: $primary 15%; }
    DataGrid > .data-grid--missing { color: $text-muted; }
    DataGrid > .data-grid--null { color: $text-muted; text-style: italic; }
    """

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First row", show=False),
        Binding("end", "edge(1)", "Last row", show=False),
    ]

    class CursorMoved(Message):
        """The cursor is on another row or column."""

        def __init__(self, grid: DataGrid, row: int, column: int) -> None:
            super().__init__()
            self.grid = grid
            self.row = row
            self.column = column

        @property
        def control(self) -> DataGrid:
            return self.grid

    class FetchFailed(Message):
        """A page could not be fetched; `message` says why."""

        def __init__(self, grid: DataGrid, message: str) -> None:
            super().__init__()
            self.grid = grid
            self.message = message

        @property
        def control(self) -> DataGrid:
            return self.grid

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns: list[GridColumn] = []
        self.widths: list[int] = []
        self.total: int | None = None
        self.fetch: Callable[[int, int], Sequence[tuple]] | None = None
        self.cursor_row = 0
        self.cursor_column = 0
        self.first_column = 0
        self.empty_text = ""
        self._pages: OrderedDict[int, Sequence[tuple]] = OrderedDict()
        self._pending: set[int] = set()
        self._wanted: set[int] = set()
        self._generation = 0
        self._failed = ""

    # -- what is shown ----------------------------------------------------------------------------

    def show(self, columns: list[GridColumn], fetch: Callable[[int, int], Sequence[tuple]] | None, *,
             total: int | None = None, first_page: Sequence[tuple] | None = None, keep_cursor: bool = False,
             empty_text: str = "") -> None:
        """Show other rows: the cache is dropped and pages in flight are ignored when they land."""
        self._generation += 1
        self._pages.clear()
        self._pending.clear()
        self._wanted.clear()
        self._failed = ""
        same_shape = [c.name for c in columns] == [c.name for c in self.columns]  # a filter or sort: stay
        self.columns = columns
        if not same_shape:
            self.widths = [max(MIN_WIDTH, min(MAX_WIDTH, cell_len(c.name) + 2)) for c in columns]
            self.cursor_column = 0
            self.first_column = 0
        self.fetch = fetch
        self.total = total
        self.empty_text = empty_text
        if first_page is not None:
            self._store(0, first_page)
        if not keep_cursor:
            self.cursor_row = 0
            self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor_row = max(0, min(self.cursor_row, self._last_row()))
        self._resize()
        self.refresh()

    def set_total(self, total: int) -> None:
        self.total = total
        self.cursor_row = max(0, min(self.cursor_row, self._last_row()))
        self._resize()
        self.refresh()

    def set_marks(self, marks: dict[str, str]) -> None:
        """Header marks by column name (sort arrows); others cleared."""
        self.columns = [GridColumn(c.name, c.numeric, marks.get(c.name, "")) for c in self.columns]
        self.refresh()

    @property
    def known_rows(self) -> int:
        """Rows known to exist: the total once counted, else as far as fetched pages reach."""
        if self.total is not None:
            return self.total
        if not self._pages:
            return 0
        last = max(self._pages)
        return last * PAGE_ROWS + len(self._pages[last])

    def _last_row(self) -> int:
        return max(0, self.known_rows - 1)

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width or 80, self.known_rows + 1)

    def on_resize(self) -> None:
        self._resize()
        self._keep_column_visible()  # the column panel opening narrows the table

    @property
    def current_column(self) -> str | None:
        return self.columns[self.cursor_column].name if self.columns else None

    def row(self, index: int) -> tuple | None:
        """A fetched row, or None when its page is not in the cache."""
        page = self._pages.get(index // PAGE_ROWS)
        if page is None or index % PAGE_ROWS >= len(page):
            return None
        return page[index % PAGE_ROWS]

    # -- fetching -----------------------------------------------------------------------------------

    def _store(self, page: int, rows: Sequence[tuple]) -> None:
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        grew = False
        for row in rows[:PAGE_ROWS]:
            for j, value in enumerate(row[:len(self.widths)]):
                width = min(MAX_WIDTH, cell_len(cell(value)) + 1)
                if width > self.widths[j]:
                    self.widths[j] = width
                    grew = True
        if grew:
            self.refresh()

    def _want(self, page: int) -> None:
        if page in self._pages or page in self._pending or self.fetch is None or page < 0:
            return
        if self.total is not None and page * PAGE_ROWS >= self.total:
            return
        if not self._wanted:
            self.call_later(self._fetch_wanted)
        self._wanted.add(page)

    def _fetch_wanted(self) -> None:
        wanted, self._wanted = sorted(self._wanted), set()
        for page in wanted:
            if page in self._pages or page in self._pending:
                continue
            self._pending.add(page)
            self.run_worker(lambda p=page, g=self._generation, f=self.fetch: self._fetch_page(p, g, f),
                            thread=True, group="data-grid-pages", exit_on_error=False)

    def _fetch_page(self, page: int, generation: int, fetch) -> None:
        try:
            rows = list(fetch(page * PAGE_ROWS, PAGE_ROWS))
        except Exception as exc:  # a ConsoleError's message, or whatever broke: never a traceback
            message = str(exc) or type(exc).__name__
            self._deliver(self._page_failed, page, generation, message)
            return
        self._deliver(self._page_arrived, page, generation, rows)

    def _deliver(self, method, *args) -> None:
        try:
            self.app.call_from_thread(method, *args)
        except Exception:  # the app went away while we fetched
            pass

    def _page_arrived(self, page: int, generation: int, rows: list[tuple]) -> None:
        if generation != self._generation:
            return
        self._pending.discard(page)
        self._store(page, rows)
        if self.total is None and len(rows) < PAGE_ROWS:
            self.total = page * PAGE_ROWS + len(rows)
        self._resize()
        self.refresh()

    def _page_failed(self, page: int, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self._pending.discard(page)
        self._failed = message
        self.post_message(self.FetchFailed(self, message))
        self.refresh()

    # -- moving -------------------------------------------------------------------------------------

    @property
    def visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def move_to(self, row: int, column: int | None = None) -> None:
        """Put the cursor on a row (and column), scrolling it into view."""
        last = self._last_row()
        row = max(0, min(row, last))
        column = self.cursor_column if column is None else max(0, min(column, len(self.columns) - 1))
        moved = (row, column) != (self.cursor_row, self.cursor_column)
        self.cursor_row, self.cursor_column = row, max(column, 0)
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + self.visible_rows:
            self.scroll_to(y=row - self.visible_rows + 1, animate=False, immediate=True)
        self._keep_column_visible()
        self.refresh()
        if moved:
            self.post_message(self.CursorMoved(self, self.cursor_row, self.cursor_column))

    def _keep_column_visible(self) -> None:
        if self.cursor_column < self.first_column:
            self.first_column = self.cursor_column
            return
        room = self._width - self._gutter() + 1
        while self.first_column < self.cursor_column and \
                sum(w + 1 for w in self.widths[self.first_column:self.cursor_column + 1]) > room:
            self.first_column += 1

    def action_move(self, rows: int, columns: int) -> None:
        self.move_to(self.cursor_row + rows, self.cursor_column + columns)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor_row + direction * self.visible_rows)

    def action_edge(self, direction: int) -> None:
        self.move_to(0 if direction < 0 else self._last_row())

    def on_click(self, event: events.Click) -> None:
        if event.y == 0 or not self.columns:
            return
        row = round(self.scroll_y) + event.y - 1
        x = self._gutter()
        column = self.cursor_column
        for j in range(self.first_column, len(self.columns)):
            if x <= event.x < x + self.widths[j] + 1:
                column = j
                break
            x += self.widths[j] + 1
        self.move_to(row, column)

    # -- drawing ------------------------------------------------------------------------------------

    def _gutter(self) -> int:
        return len(f"{max(self.known_rows, 1):,}") + 1

    def render_line(self, y: int) -> Strip:
        width = self._width
        if not self.columns:
            import textwrap

            style = self.get_component_rich_style("data-grid--missing")
            lines = textwrap.wrap(self.empty_text, max(10, width - 2))
            text = lines[y - 1] if 1 <= y <= len(lines) else ""
            return Strip([Segment(set_cell_size(" " + text, width), style)], width)
        if y == 0:
            return self._header(width)
        index = round(self.scroll_y) + y - 1
        if index >= self.known_rows:
            if index == 0 and self._failed:
                return Strip([Segment(set_cell_size(" " + self._failed, width),
                                      self.get_component_rich_style("data-grid--null"))], width)
            if self.total is None and index < self.known_rows + PAGE_ROWS:
                self._want(index // PAGE_ROWS)
            if index == 0 and self.total == 0:
                return Strip([Segment(set_cell_size(" " + (self.empty_text or "no rows"), width),
                                      self.get_component_rich_style("data-grid--missing"))], width)
            return Strip.blank(width, self.rich_style)
        row = self.row(index)
        if row is None:
            self._want(index // PAGE_ROWS)
        elif index % PAGE_ROWS == PAGE_ROWS - 1 or index == round(self.scroll_y) + self.visible_rows - 1:
            self._want(index // PAGE_ROWS + 1)  # the next page, before it is needed
        return self._row_line(index, row, width)

    def _visible_columns(self, width: int) -> list[tuple[int, int]]:
        """(column index, width drawn) from first_column while they fit whole: a cut number would
        read as another number. Only a first column wider than the table is cut."""
        out = []
        x = self._gutter()
        for j in range(self.first_column, len(self.columns)):
            if x + self.widths[j] > width:
                if not out:
                    out.append((j, max(0, width - x)))
                break
            out.append((j, self.widths[j]))
            x += self.widths[j] + 1
        return out

    @property
    def _width(self) -> int:
        """Cells for the table: the widget less its scrollbar."""
        return self.scrollable_content_region.width or self.size.width

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("data-grid--header")
        segments = [Segment(" " * self._gutter(), style)]
        used = self._gutter()
        for j, w in self._visible_columns(width):
            column = self.columns[j]
            label = column.name + (f" {column.mark}" if column.mark else "")
            text = set_cell_size(label, w) if not column.numeric else _right(label, w)
            segments.append(Segment(text, style))
            used += w
            if used < width:
                segments.append(Segment(" ", style))
                used += 1
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(segments, width)

    def _row_line(self, index: int, row: tuple | None, width: int) -> Strip:
        base = self.rich_style
        on_cursor_row = index == self.cursor_row
        row_style = base + self.get_component_rich_style("data-grid--cursor-row") if on_cursor_row else base
        number = f"{index + 1:,}".rjust(self._gutter() - 1) + " "
        segments = [Segment(number, row_style + self.get_component_rich_style("data-grid--rownum"))]
        used = len(number)
        missing = self.get_component_rich_style("data-grid--missing")
        null = self.get_component_rich_style("data-grid--null")
        cursor = self.get_component_rich_style("data-grid--cursor")
        for j, w in self._visible_columns(width):
            numeric = self.columns[j].numeric
            if row is None:
                text, style = set_cell_size("…", w), row_style + missing
            else:
                value = row[j] if j < len(row) else None
                if value is None:
                    text, style = _right("∅", w) if numeric else set_cell_size("∅", w), row_style + null
                else:
                    shown = cell(value, width=w)
                    text, style = (_right(shown, w) if numeric else set_cell_size(shown, w)), row_style
            if on_cursor_row and j == self.cursor_column:
                style = style + cursor
            segments.append(Segment(text, style))
            used += w
            if used < width:
                segments.append(Segment(" ", row_style))
                used += 1
        if used < width:
            segments.append(Segment(" " * (width - used), row_style))
        return Strip(segments, width)


def _right(text: str, width: int) -> str:
    if cell_len(text) >= width:
        return set_cell_size(text, width)
    return " " * (width - cell_len(text)) + text



