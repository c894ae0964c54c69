"""One audit entry in full: every field, its hashes, and where it stands in the chain's verification."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.governance.audit import AuditRecord, entry_digest
from console.types import AuditEntry
from screens.view import ViewScreen


def standing(record: AuditRecord, check) -> Text:
    """Whether this entry can be trusted, given the verification of the whole log."""
    if check is None:
        return Text("verification pending", style="dim")
    if check.ok:
        return Text(f"✔ part of a verified chain of {check.count} entries", style="green")
    first = check.first_bad
    if record.line == first or record.line in check.bad_lines:
        return Text(f"✖ {check.message}", style="bold red")
    if first is None or record.line < first:
        return Text(f"✔ verifies: the chain holds up to here (first bad entry: {first or 'the head record'})",
                    style="green")
    return Text(f"! comes after the first bad entry ({first}): do not rely on it until the log is examined",
                style="yellow")


def entry_table(record: AuditRecord, check) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("entry", Text(str(record.line)))
    grid.add_row("verification", standing(record, check))
    entry = record.entry
    if entry is None:
        grid.add_row("damaged", Text(record.error, style="bold red"))
        grid.add_row("line", Text(record.raw))
        return grid
    for name in ("time", "actor", "action", "target", "before", "after", "reason"):
        grid.add_row(name if name != "time" else "time (UTC)", Text(getattr(entry, name) or "—"))
    fields = {k: getattr(entry, k) for k in AuditEntry.__dataclass_fields__}
    holds = entry_digest(fields) == entry.hash
    grid.add_row("hash", Text(f"sha256:{entry.hash}"))
    grid.add_row("", Text("✔ matches its fields" if holds else "✖ does not match its fields: altered",
                          style="green" if holds else "bold red"))
    grid.add_row("previous", Text(f"sha256:{entry.prev_hash}"))
    return grid


class AuditEntryScreen(ViewScreen):
    VIEW = "audit"
    CSS_PATH = "../themes/governance.tcss"

    BINDINGS = [Binding("escape", "close", "Back", id="audit_entry.close")]

    def __init__(self, record: AuditRecord, check) -> None:
        super().__init__()
        self.record = record
        self.check = check

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="audit-entry-box"):
            yield Static(entry_table(self.record, self.check), id="audit-entry")

    def on_mount(self) -> None:
        box = self.query_one("#audit-entry-box")
        entry = self.record.entry
        box.border_title = f"Audit entry {self.record.line}" + (f" — {entry.action} {entry.target}" if entry else "")
        box.focus()

    def action_close(self) -> None:
        self.dismiss()
