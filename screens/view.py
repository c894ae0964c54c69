"""The shape every top-level view shares: view tabs, backend status, body, footer."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from console.errors import ConsoleError
from screens.widgets.backend_status import BackendStatus
from screens.widgets.resource_table import ResourceTable, Row
from screens.widgets.view_tabs import ViewTabs


class ViewScreen(Screen):
    """Base of the eight top-level views. Subclasses set VIEW and compose_body()."""

    VIEW = "overview"

    def compose(self) -> ComposeResult:
        yield ViewTabs(self.VIEW)
        yield BackendStatus()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def backends(self):
        """The app's backends (cluster, registry, metrics)."""
        return self.app.backends

    def filter_target(self) -> ResourceTable | None:
        """The table `/` filters: the focused one, else the first on the screen."""
        node = self.focused
        while node is not None:
            if isinstance(node, ResourceTable):
                return node
            node = node.parent
        tables = self.query(ResourceTable)
        return tables.first() if tables else None

    REFRESH_SECONDS: float | None = None
    """Views with live data reload on this interval while they are shown."""

    def on_mount(self) -> None:
        if self.REFRESH_SECONDS:
            self.set_interval(self.REFRESH_SECONDS, self._refresh_if_current)
        # Paint first, then fetch: worker threads compete with the first frame for the GIL.
        self.call_after_refresh(self.refresh_data)

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.refresh_data()

    def _refresh_if_current(self) -> None:
        if self.is_current:
            self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the view shows (r). Views with data override this."""

    def load(self, table: ResourceTable, fetch: Callable[[], list[Row]]) -> None:
        """Run fetch() in a worker thread and fill the table; a ConsoleError becomes its message."""

        def work() -> None:
            try:
                rows = fetch()
            except ConsoleError as exc:
                self._deliver(table.show_message, str(exc))
            except Exception as exc:  # never a traceback on screen
                self._deliver(table.show_message, f"unexpected error: {type(exc).__name__}: {exc}")
            else:
                self._deliver(table.set_rows, rows)

        self.run_worker(work, thread=True, group=f"load-{table.id}", exit_on_error=False)

    def _deliver(self, method: Callable, *args: object) -> None:
        try:
            self.app.call_from_thread(method, *args)
        except Exception:  # the app or the widget went away while we fetched
            pass
