"""What a view will hold and which backend it reads, until its issue fills it in."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown


class PendingNotice(VerticalScroll):
    """Honest placeholder: the plan for the view and the live backend it will read."""

    def __init__(self, title: str, plan: str, reads: str) -> None:
        super().__init__(classes="pending-notice")
        self.title = title
        self.plan = plan
        self.reads = reads

    def compose(self) -> ComposeResult:
        yield Markdown(f"## {self.title}\n\n{self.plan}\n\n**Reads:** {self.reads}\n\n"
                       "_This view is not built yet; nothing shown here is invented._")
