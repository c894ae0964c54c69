"""A one-line question: an alias name, a tag key=value, a description."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class TextPrompt(ModalScreen[str | None]):
    """Dismisses with the text on enter, None on esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="text_prompt.cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", hint: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="text-prompt-box"):
            yield Label(self.question, id="text-prompt-question")
            yield Input(value=self.value, placeholder=self.placeholder, id="text-prompt-input")
            if self.hint:
                yield Label(self.hint, id="text-prompt-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
