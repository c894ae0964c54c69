"""Graphs view: the graph manifests under home/graphs, each drawn with its validation."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from console.errors import ConsoleError
from console.graph.layout import render_graph
from console.graph.manifest_io import load_file
from console.graph.validate import Problem, validate
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

PATTERNS = ("*.yaml", "*.yml", "*.json")


class GraphsScreen(ViewScreen):
    VIEW = "graphs"

    BINDINGS = [
        Binding("r", "reload", "Reload", id="graphs.reload"),
        Binding("e", "open_builder", "Edit in builder", id="graphs.edit"),
        Binding("n", "new_graph", "New graph", id="graphs.new"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, tuple[object | None, list[Problem], str]] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="graphs-body"):
            yield ResourceTable(["graph", "status", "file"],
                                empty="no graph manifests yet: `mlconsole demo` writes one to home/graphs",
                                id="graphs-list", classes="panel")
            with Vertical(id="graph-detail"):
                yield VerticalScroll(Static("", id="graph-drawing"), id="graph-drawing-box")
                yield ResourceTable(["", "line", "problem", "where"], empty="no problems",
                                    id="graph-problems", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#graphs-list", ResourceTable).border_title = "Graphs — home/graphs"
        problems = self.query_one("#graph-problems", ResourceTable)
        problems.border_title = "Validation"
        problems.show_message("select a graph to see its problems")
        self.query_one("#graph-drawing-box").border_title = "Graph"
        self.query_one("#graphs-list", ResourceTable).table.focus()

    def _scan(self) -> list[Row]:
        folder = self.folder
        files = sorted({p for pattern in PATTERNS for p in folder.glob(pattern)}) if folder.is_dir() else []
        found, rows = {}, []
        for path in files:
            try:
                dep = load_file(path)
            except ConsoleError as exc:
                found[path.name] = (None, [Problem("error", exc.message, "", None, exc.hint)], str(exc))
                rows.append(Row(path.name, ("?", Text("unreadable", style="bold red"), path.name)))
                continue
            problems = validate(dep, registry=self.backends.registry)
            errors = sum(1 for p in problems if p.is_error)
            warnings = len(problems) - errors
            status = (Text(f"{errors} error(s)", style="bold red") if errors
                      else Text(f"valid, {warnings} warning(s)" if warnings else "valid", style="green"))
            found[path.name] = (dep, problems, "")
            rows.append(Row(path.name, (dep.name, status, path.name)))
        self.found = found
        return rows

    def refresh_data(self) -> None:
        self.load(self.query_one("#graphs-list", ResourceTable), self._scan)

    def action_reload(self) -> None:
        self.refresh_data()

    @property
    def folder(self) -> Path:
        return Path(self.app.settings.home) / "graphs"

    @on(ResourceTable.Activated, "#graphs-list")
    def _activated(self, event: ResourceTable.Activated) -> None:
        self.action_open_builder()

    def action_open_builder(self) -> None:
        from screens.graph_builder import open_builder

        table = self.query_one("#graphs-list", ResourceTable).table
        if not table.row_count:
            self.notify("no graph to edit: n starts a new one", severity="warning", timeout=4)
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        open_builder(self.app, path=self.folder / str(key))

    def action_new_graph(self) -> None:
        from screens.graph_builder import open_builder
        from screens.text_prompt import TextPrompt

        def named(name: str | None) -> None:
            if name and name.strip():
                open_builder(self.app, new_name=name.strip(), folder=self.folder)

        self.app.push_screen(TextPrompt("New graph — the SeldonDeployment's name", placeholder="fraud-scoring",
                                        hint="saved as home/graphs/NAME.yaml by ctrl+s in the builder"), named)

    @on(DataTable.RowHighlighted, "#graphs-list DataTable")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value in self.found:
            self._show(str(event.row_key.value))

    def _show(self, key: str) -> None:
        dep, problems, error = self.found[key]
        drawing = self.query_one("#graph-drawing", Static)
        box = self.query_one("#graph-drawing-box")
        width = max(20, box.size.width - 2 if box.size.width else 60)
        # Text, not markup: the drawing's [MODEL] badges would read as style tags.
        drawing.update(Text("\n".join(render_graph(dep, width=width)) if dep is not None else error))
        rows = [Row(str(i), (Text("✖" if p.is_error else "!", style="bold red" if p.is_error else "yellow"),
                             "" if p.line is None else str(p.line),
                             p.message + (f" — {p.hint}" if p.hint else ""), p.path))
                for i, p in enumerate(problems)]
        self.query_one("#graph-problems", ResourceTable).set_rows(rows)
