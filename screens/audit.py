"""Audit view: the tamper-evident log, newest first, with the chain's verification."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.governance.audit import AuditLog
from screens.view import ViewScreen
from screens.widgets.resource_table import ResourceTable, Row


class AuditScreen(ViewScreen):
    VIEW = "audit"
    REFRESH_SECONDS = 5.0

    BINDINGS = [Binding("r", "reload", "Reload", id="audit.reload")]

    def compose_body(self) -> ComposeResult:
        yield Static("verifying…", id="audit-verify")
        yield ResourceTable(["time (UTC)", "actor", "action", "target", "before", "after", "reason"],
                            empty="no audit events yet: changes to clusters, the registry and rollouts "
                                  "are recorded here",
                            id="audit-table", classes="panel main")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.border_title = "Audit log"
        table.table.focus()

    def refresh_data(self) -> None:
        log = AuditLog(self.app.settings.home)
        self.load(self.query_one(ResourceTable), lambda: [
            Row(e.hash, (e.time.replace("T", " ")[:23], e.actor, e.action, e.target, e.before, e.after,
                         e.reason))
            for e in reversed(log.entries())
        ])
        self.run_worker(lambda: self._verify(log), thread=True, group="audit-verify", exit_on_error=False)

    def _verify(self, log: AuditLog) -> None:
        ok, message = log.verify()
        widget = self.query_one("#audit-verify", Static)

        def show() -> None:
            widget.update(("✔ " if ok else "✖ TAMPERED: ") + message)
            widget.set_class(ok, "-ok")
            widget.set_class(not ok, "-bad")

        self._deliver(show)

    def action_reload(self) -> None:
        self.refresh_data()
