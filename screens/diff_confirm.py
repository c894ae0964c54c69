"""Confirm a change with the diff it makes in view, as `kubectl diff` shows it before apply."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


def colour_diff(diff: str) -> Text:
    """A unified diff with + lines green, - lines red, @@ hunks dim."""
    out = Text()
    for line in diff.splitlines():
        style = ("green" if line.startswith("+") and not line.startswith("+++") else
                 "red" if line.startswith("-") and not line.startswith("---") else
                 "dim" if line.startswith(("@@", "---", "+++")) else "")
        out.append(line + "\n", style=style)
    return out


class DiffConfirm(ModalScreen[bool]):
    """Dismisses with True on y / the yes button, False on n / esc."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="diff_confirm.yes"),
        Binding("n", "answer(False)", "No", id="diff_confirm.no"),
        Binding("escape", "answer(False)", "Cancel", id="diff_confirm.cancel"),
    ]

    def __init__(self, question: str, diff: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.diff = diff
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="diff-confirm-box"):
            yield Label(self.question, id="diff-confirm-question")
            if self.diff:
                with VerticalScroll(id="diff-confirm-diff"):
                    yield Static(colour_diff(self.diff))
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="diff-confirm-yes")
                yield Button("No (n)", variant="primary", id="diff-confirm-no")

    def on_mount(self) -> None:
        self.query_one("#diff-confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "diff-confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
