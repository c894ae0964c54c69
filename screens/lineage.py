"""Lineage view: from a deployment down to the data its models were trained on, as a tree.

Reached by L from a deployment in the Cluster or Monitor view (from a metric spike to the
data behind the model) and by `:lineage NAME`. Tracing asks the cluster and the registry and
re-reads local datasets to recompute their digests, so it runs in a worker; r traces again.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from console.errors import ConsoleError
from console.governance.lineage_outline import BAD, OK, WARN, OutlineNode
from screens.view import ViewScreen

STATUS_STYLES = {OK: "green", BAD: "bold red", WARN: "yellow"}
KIND_STYLES = {"deployment": "bold", "predictor": "bold", "model": "bold", "run": "", "params": "dim",
               "metrics": "dim", "param": "dim", "metric": "dim", "source": "dim"}


def label(node: OutlineNode) -> Text:
    """The node's text, coloured by its status (its glyph says the same without colour)."""
    style = STATUS_STYLES.get(node.status) or KIND_STYLES.get(node.kind, "")
    return Text(node.text, style=style)


def fill(tree_node: TreeNode, outline_node: OutlineNode) -> None:
    for child in outline_node.children:
        if child.children:
            branch = tree_node.add(label(child), data=child.kind, expand=not child.collapsed)
            fill(branch, child)
        else:
            tree_node.add_leaf(label(child), data=child.kind)


class LineageScreen(ViewScreen):
    CSS_PATH = "../themes/governance.tcss"

    BINDINGS = [
        Binding("r", "reload", "Trace again", id="lineage.reload"),
        Binding("e", "expand_all", "Expand all", id="lineage.expand"),
        Binding("E", "collapse_all", "Collapse", id="lineage.collapse", show=False),
        Binding("escape", "close", "Back", id="lineage.close", show=False),
    ]

    def __init__(self, deployment: str, view: str = "cluster") -> None:
        self.VIEW = view  # the tab stays on the view it was opened from
        super().__init__()
        self.deployment = deployment
        self.lineage = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text(f"tracing {self.deployment}: cluster, registry, runs, data digests…"),
                     id="lineage-header")
        tree: Tree[str] = Tree(Text(self.deployment, style="bold"), id="lineage-tree")
        tree.show_root = True
        tree.guide_depth = 3  # deep trees: every column counts at 80 wide
        yield tree

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        tree.border_title = f"Lineage — {self.deployment}"
        tree.focus()

    def refresh_data(self) -> None:
        cluster, registry = self.backends.cluster, self.backends.registry
        home = self.app.settings.home

        def work() -> None:
            from console.governance.lineage import trace_deployment
            from console.governance.lineage_outline import outline

            try:
                lineage = trace_deployment(cluster, registry, self.deployment, home=home)
            except ConsoleError as exc:
                self._deliver(self._failed, str(exc))
                return
            except Exception as exc:  # never a traceback on screen
                self._deliver(self._failed, f"unexpected error: {type(exc).__name__}: {exc}")
                return
            self._deliver(self._show, lineage, outline(lineage))

        self.run_worker(work, thread=True, group="lineage", exclusive=True, exit_on_error=False)

    def _failed(self, message: str) -> None:
        header = self.query_one("#lineage-header", Static)
        header.update(Text(f"✖ {message}"))
        header.set_class(True, "-bad")

    def _show(self, lineage, root: OutlineNode) -> None:
        self.lineage = lineage
        verdict = lineage.data_ok
        header = self.query_one("#lineage-header", Static)
        models = len(lineage.models)
        summary = (f"{'✔' if verdict else '✖' if verdict is False else '·'} {lineage.deployment}: "
                   f"{models} model node{'s' if models != 1 else ''}, {lineage.data_summary()} "
                   f"· manifest sha256:{lineage.manifest_sha256[:12]}")
        header.update(Text(summary))
        header.set_class(verdict is True, "-ok")
        header.set_class(verdict is False, "-bad")
        tree = self.query_one(Tree)
        tree.clear()
        tree.root.set_label(label(root))
        fill(tree.root, root)
        tree.root.expand()

    def on_screen_resume(self, event) -> None:
        if self.lineage is not None:
            event.prevent_default()  # back from a modal: keep the tree as the reader left it (r retraces)

    def action_reload(self) -> None:
        self.refresh_data()

    def action_expand_all(self) -> None:
        self.query_one(Tree).root.expand_all()

    def action_collapse_all(self) -> None:
        root = self.query_one(Tree).root
        root.collapse_all()
        root.expand()

    def action_close(self) -> None:
        self.dismiss()


def open_lineage(screen, deployment: str | None, view: str) -> None:
    """Push the Lineage view of a deployment (a toast when none is selected)."""
    if not deployment:
        screen.notify("select a deployment first", severity="warning", timeout=4)
        return
    screen.app.push_screen(LineageScreen(deployment, view))
