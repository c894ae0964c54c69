"""Data view: open a dataset, scroll any number of rows, profile columns, filter, sort, query, compare.

The table is a DataGrid fetching only the pages on screen from the screen's DataSession (one
DuckDB database holding every dataset opened here, and every SQL result). Every DuckDB call
runs in a worker thread; the long ones (opening, sorting, profiling, exporting, comparing)
show what they do and for how long in the status line, and esc interrupts them.

esc unwinds one thing at a time: a running operation, the SQL editor, the filter and sort,
the previous dataset (a frequency table or an SQL result goes back to its source), then the
previous view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Static, TextArea

from console.data.formats import quote_ident
from console.data.session import DataSession, Dataset, Selection
from console.errors import ConsoleError
from screens.fuzzy_picker import Choice, FuzzyPicker
from screens.text_prompt import TextPrompt
from screens.view import ViewScreen
from screens.widgets.column_panel import ColumnPanel
from screens.widgets.data_grid import DataGrid, GridColumn

WELCOME = ("no dataset open — o: open a file, a registry dataset or a request log · "
           ":data PATH opens a path · ? lists the keys")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class _RowFilter:
    """What `/` opens in this view: an SQL condition on the rows (the app calls open_filter)."""

    def __init__(self, screen: DataScreen) -> None:
        self.screen = screen

    def open_filter(self) -> None:
        self.screen.action_filter_rows()


class DataScreen(ViewScreen):
    VIEW = "data"
    CSS_PATH = "../themes/data.tcss"

    BINDINGS = [
        Binding("o", "open", "Open", id="data.open"),
        Binding("enter", "profile", "Profile column", id="data.profile"),
        Binding("p", "toggle_panel", "Panel", id="data.panel"),
        Binding("F", "frequency", "Frequency", id="data.frequency"),
        Binding("s", "sort(False)", "Sort ↑", id="data.sort"),
        Binding("S", "sort(True)", "Sort ↓", id="data.sort_desc"),
        Binding("e", "sql", "SQL", id="data.sql"),
        Binding("C", "compare", "Compare", id="data.compare"),
        Binding("x", "export", "Export", id="data.export"),
        Binding("d", "datasets", "Datasets", id="data.datasets"),
        Binding("r", "reload", "Reload", id="data.reload", show=False),
        Binding("ctrl+r", "run_sql", "Run SQL", id="data.run_sql", priority=True, show=False),
        Binding("escape", "unwind", "Back / cancel", id="data.escape", priority=True, show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session = DataSession()
        self.dataset: Dataset | None = None
        self.selection: Selection | None = None
        self.history: list[tuple[str, Selection]] = []  # datasets to go back to, with their selections
        self.pending: str | None = None
        self.busy: str = ""
        self.running = 0
        self.busy_since = 0.0
        self.busy_timer: Timer | None = None
        self.status_text: Text = Text("")
        self.profiles: dict[tuple[Selection, str], Any] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(Text(" Data"), id="data-header")
        yield Static("", id="data-status")
        with Horizontal(id="data-body"):
            yield DataGrid(id="data-grid")
            yield ColumnPanel(id="data-column")
        yield TextArea("", id="data-sql", soft_wrap=True, show_line_numbers=False)

    def on_mount(self) -> None:
        self.session = DataSession(temp_dir=self.app.settings.home / "cache" / "duckdb")
        grid = self.query_one(DataGrid)
        grid.show([], None, empty_text=WELCOME)
        grid.focus()
        self.query_one(ColumnPanel).display = False
        editor = self.query_one("#data-sql", TextArea)
        editor.display = False
        editor.border_title = "SQL — ctrl+r runs · esc closes"
        self._header()
        if self.pending:
            spec, self.pending = self.pending, None
            self.open_spec(spec)

    def on_unmount(self) -> None:
        self.session.cancel()
        self.session.close()

    def filter_target(self):  # type: ignore[override]
        return _RowFilter(self) if self.dataset is not None else None

    # -- running things off the UI thread -------------------------------------------------------------

    def _run(self, label: str, work: Callable[[], Any], done: Callable[[Any], None], *, group: str = "data-op",
             quiet: bool = False) -> None:
        """work() in a worker thread, then done(result) here; its errors become the status line."""
        if not quiet:
            self._busy(label)

        def run() -> None:
            try:
                result = work()
            except ConsoleError as exc:
                self._deliver(self._failed, label, str(exc), quiet)
            except Exception as exc:  # never a traceback on screen
                self._deliver(self._failed, label, f"unexpected error: {type(exc).__name__}: {exc}", quiet)
            else:
                self._deliver(self._succeeded, done, result, quiet)

        self.run_worker(run, thread=True, group=group, exclusive=group != "data-op", exit_on_error=False)

    def _succeeded(self, done: Callable[[Any], None], result: Any, quiet: bool) -> None:
        if not quiet:
            self._idle()
        done(result)

    def _failed(self, label: str, message: str, quiet: bool) -> None:
        if not quiet:
            self._idle()
        self.status(message, error=True)

    def _busy(self, label: str) -> None:
        self.running += 1
        self.busy, self.busy_since = label, time.monotonic()
        if self.busy_timer is None:
            self.busy_timer = self.set_interval(0.2, self._show_busy)
        self._show_busy()

    def _idle(self, *, all_of_them: bool = False) -> None:
        self.running = 0 if all_of_them else max(0, self.running - 1)
        if self.running:
            return
        self.busy = ""
        if self.busy_timer is not None:
            self.busy_timer.stop()
            self.busy_timer = None
        self._render_status()

    def _show_busy(self) -> None:
        self._render_status()

    def status(self, message: str, *, error: bool = False) -> None:
        self.status_text = Text(message, style="bold red" if error else "")
        self._render_status()

    def _render_status(self) -> None:
        if self.busy:
            elapsed = time.monotonic() - self.busy_since
            spin = SPINNER[int(elapsed * 5) % len(SPINNER)]
            text = Text.assemble((f" {spin} {self.busy}… {elapsed:.1f}s", "bold yellow"), ("  esc cancels", "dim"))
        else:
            text = Text(" ") + self.status_text
        self.query_one("#data-status", Static).update(text)

    def _header(self) -> None:
        if self.dataset is None:
            self.query_one("#data-header", Static).update(Text(" no dataset open", style="dim"))
            return
        d, grid = self.dataset, self.query_one(DataGrid)
        text = Text.assemble(" ", (d.name, "bold"), "  ")
        rows = f"{grid.total:,}" if grid.total is not None else "counting…"
        text.append(f"{rows} rows × {len(d.columns)} columns", style="")
        if self.selection is not None and self.selection.describe():
            text.append(f"  {self.selection.describe()}", style="bold cyan")
        text.append(f"  {d.description}", style="dim")
        self.query_one("#data-header", Static).update(text)

    # -- opening -----------------------------------------------------------------------------------------

    def _sources(self):
        from console.data.sources import SourceContext

        return SourceContext(self.app.settings.home, self.backends.registry, self.backends.cluster)

    def open_spec(self, spec: str) -> None:
        """Open a path, glob, requests:DEP, training:DEP, dataset:MODEL/VERSION or runs:/ URI."""
        if not self.is_mounted:
            self.pending = spec
            return
        from console.data.sources import open_spec

        context = self._sources()
        self._run(f"opening {spec}", lambda: open_spec(self.session, spec, context), self._opened)

    def _opened(self, dataset: Dataset) -> None:
        notes = "; ".join(dataset.notes)
        self.status(f"opened {dataset.spec} as table {dataset.name}" + (f" — {notes}" if notes else ""))
        self.show_dataset(dataset)

    def show_dataset(self, dataset: Dataset, selection: Selection | None = None, *, remember: bool = True) -> None:
        """Show a dataset of the session (the one shown now is remembered for esc)."""
        if remember and self.dataset is not None and self.selection is not None \
                and self.dataset.name != dataset.name:
            self.history.append((self.dataset.name, self.selection))
            self.history = self.history[-30:]
        self.dataset = dataset
        self.apply(selection or Selection(dataset.name))

    def apply(self, selection: Selection, *, keep_cursor: bool = False) -> None:
        """Show a selection: check it, fetch its first page, then count it."""
        session = self.session
        dataset = session.get(selection.table)

        def work():
            if selection.where or selection.order:
                session.check(selection)
            return session.page(selection, 0)

        def shown(first_page: list[tuple]) -> None:
            self.selection = selection
            grid = self.query_one(DataGrid)
            columns = [GridColumn(c.name, c.kind == "numeric") for c in dataset.columns]
            grid.show(columns, lambda offset, limit: session.page(selection, offset, limit),
                      first_page=first_page, total=dataset.rows if not selection.where else None,
                      keep_cursor=keep_cursor, empty_text="no rows match" if selection.where else "no rows")
            grid.set_marks({c: "↓" if desc else "↑" for c, desc in selection.order})
            self._header()
            self._count(selection)
            if self.query_one(ColumnPanel).display and grid.current_column:
                self.action_profile()

        label = "sorting" if selection.order else "filtering" if selection.where else f"reading {dataset.name}"
        self._run(label, work, shown)

    def _count(self, selection: Selection) -> None:
        grid = self.query_one(DataGrid)
        if grid.total is not None:
            self._header()
            return

        def counted(total: int) -> None:
            if self.selection == selection:
                grid.set_total(total)
                self._header()

        self._run("counting", lambda: self.session.count(selection), counted, group="data-count", quiet=True)

    def action_open(self) -> None:
        from console.data.sources import candidates

        context = self._sources()
        folders = [self.app.settings.home / "data", Path.cwd()]

        def load() -> list[Choice]:
            return [Choice(c.spec, c.label, c.note) for c in candidates(context, folders)]

        self.app.push_screen(FuzzyPicker("Open which dataset? (or type an absolute path)", load=load,
                                         accept_typed="/"),
                             lambda spec: spec and self.open_spec(spec))

    def action_datasets(self) -> None:
        choices = [Choice(d.name, d.name, d.spec if d.kind != "query" else "SQL result")
                   for d in self.session.datasets.values()]
        if not choices:
            self.status("nothing open yet: o opens a dataset", error=True)
            return
        self.app.push_screen(FuzzyPicker("Show which open dataset?", choices),
                             lambda name: name and self.show_dataset(self.session.get(name)))

    def action_reload(self) -> None:
        if self.selection is not None and self.dataset is not None:
            self.dataset.rows = None
            self.apply(self.selection, keep_cursor=True)

    # -- filter, sort, profile -----------------------------------------------------------------------

    def _need_data(self) -> bool:
        if self.dataset is None or self.selection is None:
            self.status("no dataset open: o opens one", error=True)
            return False
        return True

    def action_filter_rows(self) -> None:
        if not self._need_data():
            return
        selection = self.selection

        def apply(text: str | None) -> None:
            if text is None:
                return
            self.apply(Selection(selection.table, text.strip(), selection.order))

        self.app.push_screen(TextPrompt("Show the rows where (SQL condition)", value=selection.where,
                                        placeholder="income > 50000 AND region = 'north'",
                                        hint="any DuckDB expression over the columns; empty shows every row"),
                             apply)

    def action_sort(self, descending: bool) -> None:
        if not self._need_data():
            return
        column = self.query_one(DataGrid).current_column
        if column is None:
            return
        order = () if self.selection.order == ((column, descending),) else ((column, descending),)
        self.apply(Selection(self.selection.table, self.selection.where, order))

    def action_toggle_panel(self) -> None:
        panel = self.query_one(ColumnPanel)
        panel.display = not panel.display
        if panel.display:
            self.action_profile()

    def action_profile(self) -> None:
        """Profile the cursor's column of what is shown (its filter applies) into the column panel."""
        if not self._need_data():
            return
        from console.data.profile import profile_column

        column = self.query_one(DataGrid).current_column
        if column is None:
            return
        panel = self.query_one(ColumnPanel)
        panel.display = True
        selection = Selection(self.selection.table, self.selection.where)
        scope = f"where {selection.where}" if selection.where else ""
        cached = self.profiles.get((selection, column))
        if cached is not None:
            panel.show(cached, scope)
            return
        panel.loading(column)

        def shown(profile) -> None:
            self.profiles[(selection, column)] = profile
            if self.query_one(DataGrid).current_column == column:
                panel.show(profile, scope)

        self._run(f"profiling {column}", lambda: profile_column(self.session, selection, column), shown)

    @on(DataGrid.CursorMoved)
    def _cursor_moved(self, event: DataGrid.CursorMoved) -> None:
        panel = self.query_one(ColumnPanel)
        if panel.display and self.selection is not None:
            column = event.grid.current_column
            cached = self.profiles.get((Selection(self.selection.table, self.selection.where), column))
            if cached is not None:
                panel.show(cached, f"where {self.selection.where}" if self.selection.where else "")
            elif column is not None:
                panel.message(f"{column}: enter profiles it")

    @on(DataGrid.FetchFailed)
    def _fetch_failed(self, event: DataGrid.FetchFailed) -> None:
        self.status(event.message, error=True)

    def action_frequency(self) -> None:
        """The cursor column's values with their counts, most frequent first, as a table (VisiData's F)."""
        if not self._need_data():
            return
        column = self.query_one(DataGrid).current_column
        if column is None:
            return
        selection = Selection(self.selection.table, self.selection.where)
        col = quote_ident(column)
        sql = (f"SELECT {col}, count(*) AS count, round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS percent "
               f"FROM ({selection.sql()}) GROUP BY {col} ORDER BY count DESC, {col}")
        self._run(f"counting values of {column}", lambda: self.session.open_query(sql), self._result)

    # -- SQL console ---------------------------------------------------------------------------------

    def action_sql(self) -> None:
        editor = self.query_one("#data-sql", TextArea)
        editor.display = True
        if not editor.text.strip() and self.dataset is not None:
            editor.text = f"SELECT *\nFROM {self.dataset.name}\nLIMIT 1000"
        tables = ", ".join(self.session.datasets) or "none yet"
        editor.border_subtitle = f"tables: {tables}"
        editor.focus()

    def action_run_sql(self) -> None:
        editor = self.query_one("#data-sql", TextArea)
        if not editor.display:
            raise SkipAction()
        sql = editor.text.strip()
        if not sql:
            self.status("type a query first", error=True)
            return
        self._run("running the query", lambda: self.session.open_query(sql), self._result)

    def _result(self, dataset: Dataset) -> None:
        self.status(f"result in table {dataset.name} (esc goes back)")
        self.show_dataset(dataset)

    # -- export and compare ------------------------------------------------------------------------

    def action_export(self) -> None:
        if not self._need_data():
            return
        selection = self.selection
        default = str(Path.cwd() / f"{selection.table}.csv")

        def export(text: str | None) -> None:
            if not text:
                return
            path = Path(text.strip()).expanduser()
            self._run(f"exporting to {path}", lambda: self.session.export(selection, path),
                      lambda rows: self.status(f"wrote {rows:,} rows to {path}"))

        self.app.push_screen(TextPrompt("Export the rows shown (filter and order kept) to", value=default,
                                        hint=".csv, .tsv or .parquet"), export)

    def action_compare(self) -> None:
        """Compare what is shown (the reference) with another dataset (the current one)."""
        if not self._need_data():
            return
        from console.data.sources import candidates

        context = self._sources()
        folders = [self.app.settings.home / "data", Path.cwd()]
        here = self.dataset.name
        open_ones = [Choice(f"open:{d.name}", d.name, "open") for d in self.session.datasets.values()
                     if d.name != here]

        def load() -> list[Choice]:
            return open_ones + [Choice(c.spec, c.label, c.note) for c in candidates(context, folders)]

        self.app.push_screen(FuzzyPicker(f"Compare {here} with?", load=load, accept_typed="/"), self._compare_with)

    def _compare_with(self, choice: str | None) -> None:
        if not choice:
            return
        reference = self.selection
        if choice.startswith("open:"):
            self._push_compare(reference, Selection(choice.removeprefix("open:")))
            return
        from console.data.sources import open_spec

        context = self._sources()
        self._run(f"opening {choice}", lambda: open_spec(self.session, choice, context),
                  lambda dataset: self._push_compare(reference, Selection(dataset.name)))

    def _push_compare(self, reference: Selection, current: Selection) -> None:
        from screens.data_compare import DataCompareScreen

        self.app.push_screen(DataCompareScreen(self.session, reference, current))

    # -- esc ----------------------------------------------------------------------------------------

    def action_unwind(self) -> None:
        """esc: cancel, close the editor, clear filter and sort, go back a dataset, else leave the view."""
        if self.app.screen is not self:
            raise SkipAction()
        if self.busy:
            self.session.cancel()
            self._idle(all_of_them=True)
            self.status("cancelled")
            return
        editor = self.query_one("#data-sql", TextArea)
        if editor.display:
            editor.display = False
            self.query_one(DataGrid).focus()
            return
        if self.selection is not None and (self.selection.where or self.selection.order):
            self.apply(Selection(self.selection.table))
            return
        while self.history:
            name, selection = self.history.pop()
            if name in self.session.datasets:
                self.dataset = self.session.get(name)
                self.apply(selection)
                return
        raise SkipAction()


def open_in_data_view(app, spec: str) -> None:
    """`:data SPEC`: the Data view (just switched to) opens SPEC."""
    screen = app.screen_stack[0] if app.screen_stack else None
    if isinstance(screen, DataScreen):
        screen.open_spec(spec)
