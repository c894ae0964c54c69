"""Pick one of many by typing a few letters (fuzzy, like the command palette).

Choices may be given, or loaded in a worker (the registry's models): the dialog opens at
once and fills in when they arrive; a load error shows in place of the list. With
`accept_typed`, enter on text that matches the prefix (e.g. `models:/name/3`) takes the
text as typed, for the versions a short list leaves out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from console.errors import ConsoleError

LIMIT = 200  # options shown at once; typing narrows the rest
INLINE_NOTE = 24  # longer notes show under the list for the highlighted option (no wrapped rows)


@dataclass(frozen=True)
class Choice:
    """One option: the value returned, what is shown, and a dim note after it."""

    value: str
    label: str
    note: str = ""


class FuzzyPicker(ModalScreen[str | None]):
    """Dismisses with the chosen value, or None on esc."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker.up"),
    ]

    def __init__(self, title: str, choices: list[Choice] | None = None,
                 load: Callable[[], list[Choice]] | None = None, placeholder: str = "type to filter",
                 accept_typed: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices or []
        self.loader = load
        self.placeholder = placeholder
        self.accept_typed = accept_typed
        self.shown: list[Choice] = []
        self.count = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Label(self.title_text, id="picker-title")
            yield Input(placeholder=self.placeholder, id="picker-input")
            yield OptionList(id="picker-options")
            yield Label("", id="picker-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self.loader is not None:
            self._hint("loading…")
            self._load()
        else:
            self._refilter("")

    @work(thread=True, exclusive=True, group="picker-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            choices = self.loader()
        except ConsoleError as exc:
            self.app.call_from_thread(self._hint, str(exc))
            return
        except Exception as exc:  # never a traceback in a dialog
            self.app.call_from_thread(self._hint, f"unexpected error: {type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._loaded, choices)

    def _loaded(self, choices: list[Choice]) -> None:
        self.choices = choices
        self._refilter(self.query_one(Input).value)

    def _hint(self, text: str) -> None:
        self.query_one("#picker-hint", Label).update(text)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._refilter(event.value)

    def _refilter(self, query: str) -> None:
        query = query.strip()
        options = self.query_one(OptionList)
        if query:
            # Spaces separate words to a person; the fuzzy matcher would look for a space.
            matcher = Matcher("".join(query.split()))
            scored = [(matcher.match(f"{c.label} {c.note}"), i, c) for i, c in enumerate(self.choices)]
            ranked = [c for score, _, c in sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))]
        else:
            matcher, ranked = None, list(self.choices)
        self.shown = ranked[:LIMIT]
        options.clear_options()
        for choice in self.shown:
            # Content, not rich Text: the matcher's highlights are Textual Content.
            label = matcher.highlight(choice.label) if matcher else Content(choice.label)
            if choice.note and len(choice.note) <= INLINE_NOTE:
                label = Content.assemble(label, "  ", (choice.note, "dim"))
            options.add_option(Option(label))
        if self.shown:
            options.highlighted = 0
        more = f" (first {LIMIT} of {len(ranked)}; type to narrow)" if len(ranked) > LIMIT else ""
        typed = f"; enter takes {query!r} as typed" if self._takes_typed(query) else ""
        self.count = f"{len(ranked)} match(es){more}{typed}" if query or self.choices else \
            f"nothing to pick from{typed}"
        self._describe(0 if self.shown else None)

    def _describe(self, index: int | None) -> None:
        """The count, and the highlighted option's note when it is too long to show inline."""
        note = self.shown[index].note if index is not None and 0 <= index < len(self.shown) else ""
        self._hint(f"{note} · {self.count}" if len(note) > INLINE_NOTE else self.count)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._describe(event.option_index)

    def _takes_typed(self, query: str) -> bool:
        return bool(self.accept_typed and query.startswith(self.accept_typed) and len(query) > len(self.accept_typed))

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + delta))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if self._takes_typed(query) and not any(c.value == query for c in self.shown[:1]):
            self.dismiss(query)
            return
        self._pick(self.query_one(OptionList).highlighted)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option_index)

    def _pick(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.shown):
            self.dismiss(self.shown[index].value)

    def action_cancel(self) -> None:
        self.dismiss(None)
