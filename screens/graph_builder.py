"""The graph builder: edit a SeldonDeployment's graphs by keys, validated as you type.

Left, the predictors and their nodes as a tree (the cursor is where edits apply); right,
the graph drawn as boxes, the selected node's fields, and the validation panel, which runs
again after every edit in a worker (registry look-ups and component imports take time).
Every edit is one undo step; nothing touches the file until ctrl+s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from console.errors import ConsoleError
from console.graph.draft import Address, GraphDraft, node_text, parse_node_text, parse_traffic
from console.graph.layout import render_graph, render_predictor
from console.graph.node_kinds import BY_KEY, KINDS, NodeKind
from console.graph.spec import Deployment, Node, deployment_from_dict
from console.graph.validate import Problem, validate
from screens.cluster_actions import ClusterActions
from screens.confirm import ConfirmScreen
from screens.fuzzy_picker import Choice, FuzzyPicker
from screens.node_editor import NodeEditor
from screens.text_prompt import TextPrompt
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

TYPE_STYLES = {"MODEL": "bold green", "TRANSFORMER": "bold cyan", "OUTPUT_TRANSFORMER": "bold cyan",
               "ROUTER": "bold magenta", "COMBINER": "bold yellow"}
SHORT = {"MODEL": "MODEL", "TRANSFORMER": "TRANS", "OUTPUT_TRANSFORMER": "OUT", "ROUTER": "ROUTER",
         "COMBINER": "COMB"}


def model_choices(registry: Any, limit: int = 1000) -> list[Choice]:
    """Every registered model's aliases and latest version, as `models:/` URIs."""
    out: list[Choice] = []
    token = None
    while len(out) < limit:
        page = registry.list_models(page_token=token, max_results=200)
        for model in page.items:
            for alias, version in sorted(model.aliases.items()):
                out.append(Choice(f"models:/{model.name}@{alias}", f"{model.name}@{alias}", f"v{version}"))
            if model.latest_version:
                out.append(Choice(f"models:/{model.name}/{model.latest_version}",
                                  f"{model.name}/{model.latest_version}", "latest version"))
        token = page.next_token
        if not token:
            break
    return out


def node_label(node: dict[str, Any]) -> Text:
    """`name [TYPE] what-runs-it` for a tree line."""
    parsed = Node(name=str(node.get("name") or ""), type=node.get("type"),
                  implementation=node.get("implementation"))
    kind = parsed.resolved_type
    what = node.get("modelUri") or node.get("implementation") or ""
    label = Text(str(node.get("name") or "(no name)"), style="bold")
    # Separators unstyled: a styled leading space can vanish from SVG renders.
    label.append(" ")
    label.append(SHORT.get(kind, kind), style=TYPE_STYLES.get(kind, ""))
    if what:
        what = str(what)
        label.append(" ")
        label.append(what if len(what) <= 32 else what[:14] + "…" + what[-17:], style="dim")
    return label


class GraphBuilderScreen(ClusterActions, ViewScreen):
    """Build or change a graph; saves a SeldonDeployment YAML."""

    VIEW = "graphs"

    BINDINGS = [
        Binding("a", "add", "Add node", id="builder.add"),
        Binding("i", "insert", "Insert above", id="builder.insert"),
        Binding("e", "edit", "Edit", id="builder.edit"),
        Binding("r", "rename", "Rename", id="builder.rename"),
        Binding("d", "delete", "Delete", id="builder.delete"),
        Binding("x", "cut", "Cut", id="builder.cut", show=False),
        Binding("p", "paste", "Paste", id="builder.paste", show=False),
        Binding("K,shift+up", "move(-1)", "Move up", id="builder.move_up", show=False),
        Binding("J,shift+down", "move(1)", "Move down", id="builder.move_down", show=False),
        Binding("t", "traffic", "Traffic", id="builder.traffic"),
        Binding("P", "add_predictor", "Add predictor", id="builder.add_predictor", show=False),
        Binding("u,ctrl+z", "undo", "Undo", id="builder.undo"),
        Binding("ctrl+r,ctrl+y", "redo", "Redo", id="builder.redo", show=False),
        Binding("T", "try_it", "Try it", id="builder.try"),
        Binding("ctrl+s", "save", "Save", id="builder.save"),
        Binding("D", "deploy_draft", "Deploy", id="builder.deploy"),
        Binding("escape", "close", "Back", id="builder.close", show=False),
    ]

    def __init__(self, draft: GraphDraft) -> None:
        super().__init__()
        self.draft = draft
        self.selected = Address(0, None if draft.predictors() and draft.is_empty(0) else ())
        self.problems: list[Problem] = []
        self.deployment: Deployment | None = None

    # -- layout ------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static("", id="builder-header")
        with Horizontal(id="builder-body"):
            yield Tree("", id="builder-tree", classes="panel")
            with Vertical(id="builder-detail"):
                yield VerticalScroll(Static("", id="builder-drawing"), id="builder-drawing-box")
                yield Static("", id="builder-node")
                yield ResourceTable(["", "line", "problem", "where"], empty="no problems: the graph is valid",
                                    id="builder-problems", classes="panel")

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        tree.border_title = "Predictors and nodes"
        tree.show_root = False
        tree.guide_depth = 2  # graphs are often long chains: keep deep nodes on screen
        self.query_one("#builder-drawing-box").border_title = "Graph"
        self.query_one("#builder-problems", ResourceTable).border_title = "Validation"
        self.refresh_view()
        tree.focus()

    def on_resize(self) -> None:
        self._draw()

    # -- showing the draft --------------------------------------------------------------

    def refresh_view(self, select: Address | None = None) -> None:
        """Rebuild tree, drawing and header from the draft, then validate in the background."""
        if select is not None:
            self.selected = select
        self.selected = self._existing(self.selected)
        try:
            self.deployment = self.draft.deployment()
        except ConsoleError as exc:  # an edit that cannot be read back is refused before it lands
            self.deployment = None
            self.notify(str(exc), severity="error", timeout=8)
        self._fill_tree()
        self._header()
        self._draw()
        self._validate()

    def _existing(self, at: Address) -> Address:
        """at, or its nearest ancestor that still exists (after an undo took a node away)."""
        while at.node is not None:
            try:
                self.draft.node(at)
                return at
            except ConsoleError:
                at = at.parent if at.node else Address(at.predictor, None)
        if at.predictor >= len(self.draft.predictors()):
            return Address(0, None)
        return at

    def _header(self) -> None:
        path = self.draft.path.name if self.draft.path else "(not saved yet)"
        state = Text(" ● modified", style="bold yellow") if self.draft.dirty else Text(" saved", style="green")
        errors = sum(1 for p in self.problems if p.is_error)
        verdict = (Text(f"  {errors} error(s)", style="bold red") if errors
                   else Text("  valid", style="green") if self.problems is not None else Text(""))
        text = Text.assemble(Text(f" {self.draft.name or '(unnamed)'}", style="bold"), Text(f"  {path}"),
                             state, verdict)
        self.query_one("#builder-header", Static).update(text)

    def _fill_tree(self) -> None:
        tree = self.query_one(Tree)
        tree.clear()
        wanted: TreeNode | None = None
        for i, pred in enumerate(self.draft.predictors()):
            share = "shadow" if pred.get("shadow") else f"{pred.get('traffic', 0)}%"
            label = Text.assemble(Text("predictor ", style="dim"), Text(str(pred.get("name")), style="bold"),
                                  "  ", Text(share, style="italic"))
            item = tree.root.add(label, data=Address(i, None).path, expand=True)
            if self.selected == Address(i, None):
                wanted = item
            if self.draft.is_empty(i):
                item.add_leaf(Text("(empty: a adds the first node)", style="dim"), data=Address(i, None).path)
                continue
            stack: list[tuple[TreeNode, dict[str, Any], tuple[int, ...]]] = [(item, pred["graph"], ())]
            while stack:
                parent, node, index = stack.pop(0)
                children = node.get("children") or []
                here = (parent.add(node_label(node), data=Address(i, index).path, expand=True) if children
                        else parent.add_leaf(node_label(node), data=Address(i, index).path))
                if self.selected == Address(i, index):
                    wanted = here
                stack[0:0] = [(here, child, (*index, j)) for j, child in enumerate(children)]
        tree.root.expand_all()
        target = wanted or (tree.root.children[0] if tree.root.children else None)
        if target is not None:
            self.call_after_refresh(tree.move_cursor, target)

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        box = self.query_one("#builder-drawing-box")
        width = max(20, box.size.width - 2 if box.size.width else 60)
        drawing = self.query_one("#builder-drawing", Static)
        dep = self.deployment
        if dep is None:
            drawing.update(Text("the manifest cannot be read back: undo (u) the last edit"))
        else:
            lines: list[str] = []
            for i, pred in enumerate(dep.predictors):
                if i:
                    lines.append("")
                if self.draft.is_empty(i):
                    lines += [render_predictor(pred, width)[0], "  (no graph yet: select it and press a)"]
                else:
                    lines += render_predictor(pred, width, sum(1 for p in dep.predictors if not p.shadow))
            drawing.update(Text("\n".join(lines) or "\n".join(render_graph(dep, width))))
        self._show_node()

    def _show_node(self) -> None:
        panel = self.query_one("#builder-node", Static)
        try:
            node = self.draft.node(self.selected) if self.selected.node is not None else None
        except ConsoleError:
            node = None
        if node is None:
            pred = self.draft.predictors()[self.selected.predictor] if self.draft.predictors() else {}
            panel.update(Text.assemble(Text("predictor ", style="dim"), Text(str(pred.get("name", "")), style="bold"),
                                       Text("  a: add a node · t: traffic · P: add predictor", style="dim")))
            return
        text = Text.assemble(node_label(node), "\n")
        for p in node.get("parameters") or []:
            if isinstance(p, dict):
                text.append(f"  {p.get('name')}", style="cyan")
                text.append(f" = {p.get('value')}")
                text.append(f" ({p.get('type', 'STRING')})\n", style="dim")
        text.append("e edits the fields · r renames · d deletes · T tries a request", style="dim")
        panel.update(text)

    # -- validation ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="builder-validate", exit_on_error=False)
    def _validate(self) -> None:
        dep = self.deployment
        if dep is None:
            return
        try:
            problems = validate(dep, registry=self.backends.registry)
        except Exception as exc:  # the validator must never take the builder down
            problems = [Problem("error", f"validation failed: {type(exc).__name__}: {exc}")]
        self.app.call_from_thread(self._show_problems, dep, problems)

    def _show_problems(self, dep: Deployment, problems: list[Problem]) -> None:
        if dep is not self.deployment:
            return  # an older draft's verdict: a newer validation is on its way
        self.problems = problems
        rows = [Row(str(i), (Text("✖" if p.is_error else "!", style="bold red" if p.is_error else "yellow"),
                             "" if p.line is None else str(p.line),
                             p.message + (f" — {p.hint}" if p.hint else ""), p.path))
                for i, p in enumerate(problems)]
        self.query_one("#builder-problems", ResourceTable).set_rows(rows)
        self._header()

    @on(ResourceTable.Activated, "#builder-problems")
    def _jump_to_problem(self, event: ResourceTable.Activated) -> None:
        """enter on a problem selects the node it is about (its path, or the nearest node above)."""
        problem = self.problems[int(event.key)] if event.key.isdigit() and int(event.key) < len(self.problems) \
            else None
        path = problem.path if problem else ""
        while path:
            try:
                address = Address.parse(path)
                if address.node is None or self.draft.node(address) is not None:
                    self.refresh_view(select=address)
                    self.query_one(Tree).focus()
                    return
            except ConsoleError:
                pass
            path = path.rpartition(".")[0]

    # -- the cursor ---------------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        if event.node.data:
            self.selected = Address.parse(event.node.data)
            self._show_node()

    def _edit(self, change, *args: Any) -> None:
        """Run one draft edit; a refused edit says why and changes nothing."""
        try:
            where = change(*args)
        except ConsoleError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.refresh_view(select=where if isinstance(where, Address) else None)

    # -- adding nodes -------------------------------------------------------------------

    def action_add(self) -> None:
        self._pick_kind(lambda node: self._edit(self.draft.add_child, self.selected, node))

    def action_insert(self) -> None:
        if self.selected.node is None:
            self.action_add()
            return
        self._pick_kind(lambda node: self._edit(self.draft.insert_above, self.selected, node))

    def _pick_kind(self, place) -> None:
        choices = [Choice(k.key, k.label, k.help) for k in KINDS]

        def chosen(key: str | None) -> None:
            if key:
                self._complete(BY_KEY[key], place)

        self.app.push_screen(FuzzyPicker("Add a node — what kind?", choices), chosen)

    def _complete(self, kind: NodeKind, place) -> None:
        """Ask what the kind needs (a model, an import path), then place the node."""
        if kind.needs == "model":
            def picked(uri: str | None) -> None:
                if uri:
                    # The alias names the role (champion, challenger); a pinned version its number.
                    rest = uri.removeprefix("models:/")
                    base = rest.partition("@")[2] if "@" in rest else rest.replace("/", "-v")
                    place(kind.node(self.draft.unique_name(base), model_uri=uri))

            self.app.push_screen(FuzzyPicker("MLflow model — type a name, pick a version or alias",
                                             load=lambda: model_choices(self.backends.registry),
                                             accept_typed="models:/"), picked)
        elif kind.needs == "import":
            def typed(path: str | None) -> None:
                if path and path.strip():
                    base = path.strip().rpartition(".")[2] or kind.base_name
                    place(kind.node(self.draft.unique_name(base), import_path=path.strip()))

            self.app.push_screen(TextPrompt(f"{kind.label} — import path", placeholder="package.module.ClassName",
                                            hint=kind.help), typed)
        else:
            place(kind.node(self.draft.unique_name(kind.base_name)))

    # -- changing nodes -----------------------------------------------------------------

    def _selected_node(self) -> dict[str, Any] | None:
        if self.selected.node is None:
            self.notify("select a node first (this is a predictor)", severity="warning", timeout=4)
            return None
        try:
            return self.draft.node(self.selected)
        except ConsoleError as exc:
            self.notify(str(exc), severity="warning", timeout=4)
            return None

    def action_edit(self) -> None:
        node = self._selected_node()
        if node is None:
            return
        at = self.selected

        def apply(text: str) -> None:
            self.draft.set_fields(at, parse_node_text(text))

        def done(applied: bool | None) -> None:
            if applied:
                self.refresh_view(select=at)

        self.app.push_screen(NodeEditor(f"Edit node {node.get('name')} (YAML)", node_text(node), apply), done)

    def action_rename(self) -> None:
        node = self._selected_node()
        if node is not None:
            at = self.selected
            self.app.push_screen(TextPrompt(f"Rename {node.get('name')} to", value=str(node.get("name") or "")),
                                 lambda name: name and self._edit(self.draft.rename, at, name))

    def action_delete(self) -> None:
        if self._selected_node() is not None:
            self._edit(self.draft.delete, self.selected)

    def action_cut(self) -> None:
        node = self._selected_node()
        if node is not None:
            self._edit(self.draft.cut, self.selected)
            self.notify(f"cut {node.get('name')}: p pastes it under the selected node", timeout=4)

    def action_paste(self) -> None:
        self._edit(self.draft.paste, self.selected)

    def action_move(self, delta: int) -> None:
        if self._selected_node() is not None:
            self._edit(self.draft.move, self.selected, delta)

    def action_traffic(self) -> None:
        current = " ".join(f"{p.get('name')}={'shadow' if p.get('shadow') else p.get('traffic', 0)}"
                           for p in self.draft.predictors())

        def apply(text: str | None) -> None:
            if not text:
                return
            try:
                weights, shadows = parse_traffic(text)
            except ConsoleError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            self._edit(self.draft.set_traffic, weights, shadows)

        self.app.push_screen(TextPrompt("Predictor traffic (percent; NAME=shadow mirrors)", value=current,
                                        hint="weights of the predictors that answer should add up to 100"), apply)

    def action_add_predictor(self) -> None:
        source = self.selected.predictor

        def named(name: str | None) -> None:
            if name:
                try:
                    index = self.draft.add_predictor(name.strip(), copy_of=source)
                except ConsoleError as exc:
                    self.notify(str(exc), severity="error", timeout=8)
                    return
                self.refresh_view(select=Address(index, None))

        self.app.push_screen(TextPrompt("New predictor's name (it starts as a copy of the selected one, at 0%)",
                                        placeholder="canary"), named)

    def action_undo(self) -> None:
        if self.draft.undo():
            self.refresh_view()
        else:
            self.notify("nothing to undo", timeout=2)

    def action_redo(self) -> None:
        if self.draft.redo():
            self.refresh_view()
        else:
            self.notify("nothing to redo", timeout=2)

    # -- saving, trying, leaving --------------------------------------------------------

    def action_save(self) -> None:
        errors = sum(1 for p in self.problems if p.is_error)
        try:
            target = self.draft.save()
        except (ConsoleError, OSError) as exc:
            self.notify(f"not saved: {exc}", severity="error", timeout=8)
            return
        note = f" (with {errors} validation error(s))" if errors else ""
        self.notify(f"saved {target}{note}", severity="warning" if errors else "information", timeout=5)
        self._header()

    def selected_deployment(self) -> str | None:
        return self.draft.name or None

    def action_deploy_draft(self) -> None:
        """Deploy the graph as it is now (validated, diffed against what runs, confirmed)."""
        if not self._allowed("deploy"):  # refused under --readonly before any other notice
            return
        if self.draft.dirty:
            self.notify("deploying the unsaved draft; ctrl+s keeps it in the file too", timeout=4)
        folder = str(self.draft.path.parent) if self.draft.path else "."
        self.deploy_text(self.draft.text(), str(self.draft.path or self.draft.name),
                         search_paths=(folder, os.getcwd()))

    def action_try_it(self) -> None:
        if self.deployment is None:
            return
        from screens.try_graph import TryGraphScreen

        pred = self.draft.predictors()[self.selected.predictor]
        self.app.push_screen(TryGraphScreen(deployment_from_dict(self.draft.doc), str(pred.get("name"))))

    def action_close(self) -> None:
        if not self.draft.dirty:
            self.dismiss()
            return
        self.app.push_screen(ConfirmScreen("Discard the unsaved changes?",
                                           "ctrl+s saves them; the file on disk is unchanged until then",
                                           yes="Discard"),
                             lambda yes: yes and self.dismiss())


def open_builder(app, path: Path | None = None, new_name: str | None = None, folder: Path | None = None) -> None:
    """Push the builder on a file, or on a new empty graph to be saved in folder."""
    try:
        draft = GraphDraft.open(path) if path is not None else GraphDraft.new(new_name or "", folder or Path("."))
    except ConsoleError as exc:
        app.notify(str(exc), severity="error", timeout=8)
        return
    app.push_screen(GraphBuilderScreen(draft))
