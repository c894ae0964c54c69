"""Registry view: registered models in the MLflow registry."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding

from screens.formatting import age, aliases_label
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


class RegistryScreen(ViewScreen):
    VIEW = "registry"

    BINDINGS = [Binding("r", "reload", "Reload", id="registry.reload")]

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(["model", "latest", "aliases", "updated", "description"],
                            empty="no registered models: run `mlconsole demo` to seed a workspace",
                            id="registry-models", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"Models — {self.backends.registry.endpoint}"
        table.table.focus()

    def refresh_data(self) -> None:
        registry = self.backends.registry
        self.load(self.query_one(ResourceTable), lambda: [
            Row(m.name, (m.name, m.latest_version or "", aliases_label(m.aliases), age(m.updated_at),
                         m.description.splitlines()[0] if m.description else ""))
            for m in registry.list_models(max_results=200).items
        ])

    def action_reload(self) -> None:
        self.refresh_data()
