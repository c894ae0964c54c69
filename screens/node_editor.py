"""Edit one graph node's fields as YAML (like `kubectl edit`), children left out.

The text is checked before the dialog closes: a YAML slip or a field of the wrong shape
shows under the editor with its line, and nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from console.errors import ConsoleError


class NodeEditor(ModalScreen[bool]):
    """Dismisses True once `apply(text)` accepted the text, False on esc."""

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="node_editor.apply"),
        # priority: a TextArea that indents with tab would take esc to release focus first.
        Binding("escape", "cancel", "Cancel", id="node_editor.cancel", priority=True),
    ]

    def __init__(self, title: str, text: str, apply: Callable[[str], Any]) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.apply = apply

    def compose(self) -> ComposeResult:
        with Vertical(id="node-editor-box"):
            yield Label(self.title_text, id="node-editor-title")
            yield TextArea(self.text, id="node-editor-text", tab_behavior="indent", show_line_numbers=True,
                           soft_wrap=False)
            yield Label("ctrl+s applies · esc cancels · children are edited in the tree", id="node-editor-hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_apply(self) -> None:
        text = self.query_one(TextArea).text
        try:
            self.apply(text)
        except ConsoleError as exc:
            label = self.query_one("#node-editor-hint", Label)
            label.update(f"✖ {exc}")
            label.add_class("-error")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
