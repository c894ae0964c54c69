"""Follow a deployment's logs (all replicas, one predictor, one replica, or the gateway).

A worker thread reads the backend's follow_logs; lines are handed over through a deque
and written in batches ten times a second, so a chatty process never floods the UI loop.
f pauses and resumes auto-scroll (to read back without losing lines), c clears.
"""

from __future__ import annotations

import threading
from collections import deque

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Log, Static

from console.errors import ConsoleError
from console.secrets import mask_line
from screens.view import ViewScreen

MAX_LINES = 10_000  # kept on screen; older lines scroll away (the files keep everything)


class LogsScreen(ViewScreen):
    VIEW = "cluster"

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow on/off", id="logs.follow"),
        Binding("c", "clear", "Clear", id="logs.clear"),
        Binding("escape", "close", "Back", id="logs.close", show=False),
    ]

    def __init__(self, deployment: str, predictor: str | None = None, replica: int | None = None) -> None:
        super().__init__()
        self.deployment = deployment
        self.predictor = predictor
        self.replica = replica
        self.stop = threading.Event()
        self.pending: deque[str] = deque(maxlen=MAX_LINES)
        self.lines_seen = 0

    @property
    def what(self) -> str:
        if self.predictor == "gateway":
            return f"{self.deployment} gateway"
        if self.predictor and self.replica is not None:
            return f"{self.deployment}-{self.predictor}-{self.replica}"
        if self.predictor:
            return f"{self.deployment}/{self.predictor} (every replica)"
        return f"{self.deployment} (every process)"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="logs-header")
        yield Log(max_lines=MAX_LINES, id="logs-view", classes="panel")

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.border_title = f"Logs — {self.what}"
        log.focus()
        self._header()
        self.set_interval(0.1, self._drain)
        self.run_worker(self._follow, thread=True, group="logs-follow", exit_on_error=False)

    def _header(self, note: str = "") -> None:
        follow = "following" if self.query_one(Log).auto_scroll else "paused (f resumes)"
        self.query_one("#logs-header", Static).update(f" {self.what}  ·  {follow}  ·  {self.lines_seen} lines"
                                                      + (f"  ·  {note}" if note else ""))

    def _follow(self) -> None:
        try:
            for line in self.backends.cluster.follow_logs(self.deployment, self.predictor, self.replica,
                                                          tail=200, stop=self.stop):
                self.pending.append(mask_line(line))
                if self.stop.is_set():
                    break
        except ConsoleError as exc:
            self.pending.append(f"✖ {exc}")
        except Exception as exc:  # never a traceback
            self.pending.append(f"✖ unexpected error: {type(exc).__name__}: {exc}")

    def _drain(self) -> None:
        if not self.pending:
            return
        batch = []
        while self.pending:
            batch.append(self.pending.popleft())
        self.lines_seen += len(batch)
        self.query_one(Log).write_lines(batch)
        self._header()

    def action_toggle_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = not log.auto_scroll
        if log.auto_scroll:
            log.scroll_end(animate=False)
        self._header()

    def action_clear(self) -> None:
        self.query_one(Log).clear()

    def on_unmount(self) -> None:
        self.stop.set()

    def action_close(self) -> None:
        self.stop.set()
        self.dismiss()
