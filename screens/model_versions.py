"""Versions of one registered model, with aliases as badges; alias and tag keys."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.types import ModelVersion, RegisteredModel
from screens.formatting import age
from screens.registry_actions import REGISTRY_BINDINGS, RegistryActions
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


def alias_badges(aliases: list[str]) -> Text:
    """@champion @challenger as reverse-video badges."""
    text = Text()
    for alias in aliases:
        if text:
            text.append(" ")
        text.append(f" @{alias} ", style="bold reverse")
    return text


class ModelVersionsScreen(RegistryActions, ViewScreen):
    VIEW = "registry"

    BINDINGS = [
        Binding("r", "reload", "Reload", id="versions.reload"),
        Binding("c", "compare", "Compare", id="versions.compare"),
        Binding("K", "card", "Model card", id="versions.card"),
        *REGISTRY_BINDINGS,
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.model: RegisteredModel | None = None
        self.versions: list[ModelVersion] = []
        self.marked: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="model-header")
        yield ResourceTable(["version", "status", "aliases", "run", "created", "description"],
                            empty="this model has no versions", id="model-versions", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = f"{self.model_name} — versions"
        table.table.focus()

    def _fetch(self) -> list[Row]:
        registry = self.backends.registry
        self.model = registry.get_model(self.model_name)
        self.versions = registry.list_versions(self.model_name)
        self.app.call_from_thread(self._show_header)
        return [
            Row(v.version, (v.version + (" ◆" if v.version == self.marked else ""), v.status,
                            alias_badges(v.aliases), v.run_id[:12], age(v.created_at),
                            (v.description.splitlines() or [""])[0][:60]))
            for v in self.versions
        ]

    def _show_header(self) -> None:
        model = self.model
        if model is None:
            return
        text = Text()
        text.append(model.name, style="bold")
        if model.description:
            text.append(f" — {model.description.splitlines()[0]}")
        if model.tags:
            text.append("\n")
            text.append("  ".join(f"{k}={v}" for k, v in sorted(model.tags.items())), style="dim")
        self.query_one("#model-header", Static).update(text)

    def refresh_data(self) -> None:
        self.load(self.query_one(ResourceTable), self._fetch)

    def action_reload(self) -> None:
        self.refresh_data()

    # -- RegistryActions hooks --------------------------------------------------------

    def action_card(self) -> None:
        from screens.model_card import open_card

        selected = self.selected_version()
        open_card(self, f"{selected[0]}/{selected[1]}" if selected else None)

    def selected_version(self) -> tuple[str, str] | None:
        table = self.query_one(ResourceTable).table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return (self.model_name, str(key)) if key else None

    def current_aliases(self) -> dict[str, str]:
        return dict(self.model.aliases) if self.model else {}

    def _selected(self) -> ModelVersion | None:
        target = self.selected_version()
        return next((v for v in self.versions if target and v.version == target[1]), None)

    def current_tags(self) -> dict[str, str]:
        version = self._selected()
        return dict(version.tags) if version else {}

    def current_description(self) -> str:
        version = self._selected()
        return version.description if version else ""

    # -- navigation -------------------------------------------------------------------

    def action_compare(self) -> None:
        """c marks a version; c on another opens the two side by side."""
        target = self.selected_version()
        if target is None:
            return
        version = target[1]
        if self.marked is None or self.marked == version:
            self.marked = None if self.marked == version else version
            self.notify(f"version {version} marked: move to another and press c" if self.marked
                        else "mark cleared", timeout=3)
            self.refresh_data()
            return
        from screens.version_compare import VersionCompareScreen

        first, self.marked = self.marked, None
        self.app.push_screen(VersionCompareScreen(self.model_name, first, version))

    @on(ResourceTable.Activated)
    def _open(self, event: ResourceTable.Activated) -> None:
        from screens.version_detail import VersionDetailScreen

        self.app.push_screen(VersionDetailScreen(self.model_name, event.key))
