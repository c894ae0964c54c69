"""Registry view: registered models, paged and searched on the server."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding

from console.types import Page, RegisteredModel
from screens.formatting import age, aliases_label
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

PAGE_SIZE = 100


class RegistryScreen(ViewScreen):
    VIEW = "registry"

    BINDINGS = [
        Binding("r", "reload", "Reload", id="registry.reload"),
        Binding("m", "more", "More", id="registry.more"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.models: list[RegisteredModel] = []
        self.next_token: str | None = None
        self.search = ""

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["model", "latest", "aliases", "updated", "description"],
                            empty="no registered models: run `mlconsole demo` to seed a workspace",
                            id="registry-models", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"Models — {self.backends.registry.endpoint}"
        table.table.focus()

    def _rows(self) -> list[Row]:
        return [Row(m.name, (m.name, m.latest_version or "", aliases_label(m.aliases), age(m.updated_at),
                             (m.description.splitlines() or [""])[0][:80]))
                for m in self.models]

    def _fetch_page(self, token: str | None) -> list[Row]:
        page: Page[RegisteredModel] = self.backends.registry.list_models(
            self.search, page_token=token, max_results=PAGE_SIZE)
        self.models = (self.models if token else []) + page.items
        self.next_token = page.next_token
        table = self.query_one(ResourceTable)
        table.extra_note = "m: next page" if self.next_token else ""
        if self.search:
            table.extra_note = f"server search '{self.search}'  {table.extra_note}".strip()
        return self._rows()

    def refresh_data(self) -> None:
        self.load(self.query_one(ResourceTable), lambda: self._fetch_page(None))

    def action_reload(self) -> None:
        self.refresh_data()

    def action_more(self) -> None:
        if not self.next_token:
            self.notify("no more models", timeout=2)
            return
        token = self.next_token
        self.load(self.query_one(ResourceTable), lambda: self._fetch_page(token))

    @on(ResourceTable.FilterSubmitted)
    def _search_server(self, event: ResourceTable.FilterSubmitted) -> None:
        # The local filter sees only loaded pages; with more on the server, ask the server.
        if event.text != self.search and (self.next_token or self.search):
            self.search = event.text
            self.refresh_data()

    @on(ResourceTable.Activated)
    def _open(self, event: ResourceTable.Activated) -> None:
        from screens.model_versions import ModelVersionsScreen

        self.app.push_screen(ModelVersionsScreen(event.key))
