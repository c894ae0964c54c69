"""`:` — the k9s-style command line with completion."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from console.command_line import COMMANDS, complete, is_command


class CommandPrompt(ModalScreen[str | None]):
    """Type a command; tab or → completes; ↑/↓ pick from the list; enter runs; esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
        Binding("down", "move(1)", "Next", id="prompt.next", show=False),
        Binding("up", "move(-1)", "Previous", id="prompt.previous", show=False),
        Binding("tab", "complete", "Complete", id="prompt.complete", show=False, priority=True),
    ]

    def compose(self) -> ComposeResult:
        names = [c.name for c in COMMANDS] + [a for c in COMMANDS for a in c.aliases if a.isalpha()]
        with Vertical(id="prompt-box"):
            yield Input(placeholder="command (tab completes, esc cancels)", id="prompt-input",
                        suggester=SuggestFromList(names, case_sensitive=False))
            yield OptionList(id="prompt-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        for command in complete(text):
            arg = f" {command.arg}" if command.arg else ""
            aliases = f"  ({', '.join(command.aliases)})" if command.aliases else ""
            options.add_option(Option(f":{command.name}{arg} — {command.help}{aliases}", id=command.name))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        word, _, rest = value.partition(" ")
        options = self.query_one(OptionList)
        # Enter on a partial word runs the highlighted completion, as k9s does.
        if word and not is_command(word) and options.highlighted is not None and options.option_count:
            picked = options.get_option_at_index(options.highlighted).id
            value = f"{picked} {rest}".strip()
        self.dismiss(value or None)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.query_one(Input).value = f"{event.option.id} "
        self.query_one(Input).focus()

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + delta) % options.option_count

    def action_complete(self) -> None:
        box = self.query_one(Input)
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            option = options.get_option_at_index(options.highlighted)
            box.value = f"{option.id} "
            box.cursor_position = len(box.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
