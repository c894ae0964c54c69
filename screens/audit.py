"""Audit view: the tamper-evident log, newest first, with the chain's verification above it.

The verdict is the first thing on the screen: verified with its count, or the first bad entry
named (and its row marked). `/` searches every column, `f` filters by time, action and target,
enter shows one entry in full with its hashes.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.errors import ConsoleError
from console.governance.audit import AuditLog, AuditRecord
from console.governance.audit_query import AuditFilter, parse_since
from screens.text_prompt import TextPrompt
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row

FILTER_HELP = "since:1h action:cluster target:credit (any of them; empty clears)"


def parse_filter(text: str) -> AuditFilter:
    """'since:2d action:registry target:credit-risk' -> an AuditFilter; InvalidSpec names a bad word."""
    from console.errors import InvalidSpec

    fields: dict[str, str] = {}
    for word in text.split():
        key, sep, value = word.partition(":")
        if not sep or key not in ("since", "action", "target") or not value:
            raise InvalidSpec(f"{word!r}: write since:WHEN, action:A or target:T")
        fields[key] = value
    return AuditFilter(since=parse_since(fields["since"]) if "since" in fields else None,
                       action=fields.get("action", ""), target=fields.get("target", ""))


def verdict_text(result) -> Text:
    """The banner: verified with the count and newest hash, or TAMPERED with the first bad entry."""
    if result.ok:
        text = Text("✔ VERIFIED ", style="bold")
        text.append(result.message)
        if result.count:
            text.append(f" · newest entry {result.count} sha256:{result.last_hash[:16]}…")
        return text
    text = Text("✖ TAMPERED ", style="bold")
    text.append(result.message)
    return text


def change(before: str, after: str) -> str:
    """'main 100 → main 90 / canary 10', or just the new state when there was none before."""
    before, after = " ".join(before.split()), " ".join(after.split())
    return f"{before} → {after}" if before else after


class AuditScreen(ViewScreen):
    VIEW = "audit"
    REFRESH_SECONDS = 5.0
    CSS_PATH = "../themes/governance.tcss"

    BINDINGS = [
        Binding("r", "reload", "Reload", id="audit.reload"),
        Binding("f", "filter_fields", "Fields", id="audit.filter"),
        Binding("v", "reload", "Verify", id="audit.verify", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, AuditRecord] = {}
        self.check = None
        self.chosen = AuditFilter()
        self.chosen_text = ""

    def compose_body(self) -> ComposeResult:
        yield Static("verifying the chain…", id="audit-verify")
        yield ResourceTable(["#", "time (UTC)", "actor", "action", "target", "change", "reason"],
                            empty="no audit events yet: changes to clusters, the registry and rollouts "
                                  "are recorded here",
                            id="audit-table", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = "Audit log"
        table.table.focus()

    def refresh_data(self) -> None:
        log = AuditLog(self.app.settings.home)
        table = self.query_one(ResourceTable)

        def work() -> None:
            try:
                snapshot = log.snapshot()
                from console.governance.audit_check import check_chain

                check = check_chain(snapshot, log.head_path.name)
            except (ConsoleError, OSError) as exc:
                self._deliver(table.show_message, f"cannot read {log.path}: {exc}")
                return
            self._deliver(self._show, snapshot.records, check)

        self.run_worker(work, thread=True, group="audit-load", exit_on_error=False)

    def _show(self, records: list[AuditRecord], check) -> None:
        self.check = check
        self.records = {str(r.line): r for r in records}
        banner = self.query_one("#audit-verify", Static)
        banner.update(verdict_text(check))
        banner.set_class(check.ok, "-ok")
        banner.set_class(not check.ok, "-bad")
        rows = []
        for record in reversed(records):
            bad = record.line in check.bad_lines or record.line == check.first_bad
            number = Text(f"{'✖ ' if bad else ''}{record.line}", style="bold red" if bad else "")
            entry = record.entry
            if entry is None:
                rows.append(Row(str(record.line), (number, "", "", Text("(damaged line)", style="bold red"),
                                                   Text(record.raw[:60]), "", Text(record.error))))
                continue
            if not self.chosen.matches(entry):
                continue
            # Text, not str: DataTable would read '[...]' in an entry as markup.
            cells = (entry.time[5:19].replace("T", " "), entry.actor, entry.action, entry.target,
                     change(entry.before, entry.after), entry.reason)
            rows.append(Row(str(record.line), (number, *(Text(" ".join(c.split())) for c in cells))))
        table = self.query_one(ResourceTable)
        table.set_rows(rows)
        table.border_subtitle = f"filter {self.chosen_text}" if self.chosen_text else ""

    def action_reload(self) -> None:
        self.refresh_data()

    def action_filter_fields(self) -> None:
        def answered(text: str | None) -> None:
            if text is None:
                return
            try:
                self.chosen = parse_filter(text)
            except ConsoleError as exc:
                self.notify(str(exc), severity="error", timeout=6)
                return
            self.chosen_text = text.strip()
            self.refresh_data()

        self.app.push_screen(TextPrompt("Filter the audit log", value=self.chosen_text, hint=FILTER_HELP), answered)

    @on(ResourceTable.Activated, "#audit-table")
    def _activated(self, event: ResourceTable.Activated) -> None:
        from screens.audit_entry import AuditEntryScreen

        record = self.records.get(event.key)
        if record is not None:
            self.app.push_screen(AuditEntryScreen(record, self.check))
