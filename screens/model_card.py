"""Model card view: the Markdown card of one model version, as `mlconsole card` writes it.

Reached by K on a version's detail in the Registry and by `:card MODEL[@ALIAS|/VERSION]`.
Gathering the card reads the registry, recomputes the logged datasets' digests, loads the
model for the fairness table and verifies the audit log, so it runs in a worker; r gathers
it again, w writes it to a file (a local export, allowed under --readonly like the data
view's), t shows the table of contents.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import MarkdownViewer, Static

from console.errors import ConsoleError
from screens.view import ViewScreen


def card_file_name(ref: str) -> str:
    """'credit-risk@champion' -> 'credit-risk-champion.md' (no separators from the reference)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ref).strip("-") + ".md"


class ModelCardScreen(ViewScreen):
    CSS_PATH = "../themes/governance.tcss"

    BINDINGS = [
        Binding("r", "reload", "Gather again", id="card.reload"),
        Binding("w", "write", "Write to file", id="card.write"),
        Binding("t", "contents", "Contents", id="card.contents"),
        Binding("escape", "close", "Back", id="card.close", show=False),
    ]

    def __init__(self, ref: str, view: str = "registry") -> None:
        self.VIEW = view  # the tab stays on the view it was opened from
        super().__init__()
        self.ref = ref.removeprefix("models:/")
        self.markdown: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text(f"gathering the card of {self.ref}: registry, data digests, fairness, audit…"),
                     id="card-header")
        yield MarkdownViewer("", show_table_of_contents=False, id="card-viewer")

    def on_mount(self) -> None:
        viewer = self.query_one(MarkdownViewer)
        viewer.border_title = f"Model card — {self.ref}"
        viewer.focus()

    def refresh_data(self) -> None:
        registry, cluster = self.backends.registry, self.backends.cluster
        home = self.app.settings.home
        ref = self.ref

        def work() -> None:
            from console.governance.card import gather_card, render_card

            try:
                card = gather_card(registry, ref, home=home, cluster=cluster)
                text = render_card(card)
            except ConsoleError as exc:
                self._deliver(self._failed, str(exc))
                return
            except Exception as exc:  # never a traceback on screen
                self._deliver(self._failed, f"unexpected error: {type(exc).__name__}: {exc}")
                return
            summary = (f"{card.model.name} v{card.version.version} · run {(card.version.run_id or '—')[:8]} · "
                       f"{len(card.history)} audit entr{'y' if len(card.history) == 1 else 'ies'} · "
                       f"audit {card.audit_status.split(':')[0]}")
            self._deliver(self._show, text, summary, card.audit_status.startswith("verified"))

        self.run_worker(work, thread=True, group="card", exclusive=True, exit_on_error=False)

    def _failed(self, message: str) -> None:
        header = self.query_one("#card-header", Static)
        header.update(Text(f"✖ {message}"))
        header.set_class(True, "-bad")

    def _show(self, markdown: str, summary: str, verified: bool) -> None:
        self.markdown = markdown
        header = self.query_one("#card-header", Static)
        header.update(Text(("✔ " if verified else "✖ ") + summary))
        header.set_class(verified, "-ok")
        header.set_class(not verified, "-bad")
        self.query_one(MarkdownViewer).document.update(markdown)

    def on_screen_resume(self, event) -> None:
        if self.markdown is not None:
            event.prevent_default()  # back from the file prompt: keep the card and its scroll (r gathers again)

    def action_reload(self) -> None:
        self.refresh_data()

    def action_contents(self) -> None:
        viewer = self.query_one(MarkdownViewer)
        viewer.show_table_of_contents = not viewer.show_table_of_contents

    def action_write(self) -> None:
        from screens.text_prompt import TextPrompt

        if self.markdown is None:
            self.notify("the card is still being gathered", severity="warning", timeout=4)
            return
        default = Path(self.app.settings.home) / "cards" / card_file_name(self.ref)

        def chosen(text: str | None) -> None:
            if not text or self.markdown is None:
                return
            path = Path(text.strip()).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(self.markdown, encoding="utf-8")
            except OSError as exc:
                self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error", timeout=8)
                return
            self.notify(f"wrote {path} ({len(self.markdown.splitlines())} lines)", timeout=5)

        self.app.push_screen(TextPrompt("Write the card to which file?", value=str(default),
                                        hint="Markdown; the same text `mlconsole card` prints"), chosen)

    def action_close(self) -> None:
        self.dismiss()


def open_card(screen, ref: str | None, view: str = "registry") -> None:
    """Push the model card of a version (a toast when none is selected)."""
    if not ref:
        screen.notify("select a model version first", severity="warning", timeout=4)
        return
    screen.app.push_screen(ModelCardScreen(ref, view))
