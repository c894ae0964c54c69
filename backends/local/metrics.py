"""MetricsBackend for the embedded runtime: its own /metrics, scraped into a window."""

from __future__ import annotations

import time
from pathlib import Path

from backends.local.state import read_state
from console.errors import ConsoleError
from console.types import Health, HealthState


class LocalMetrics:
    """Metrics kept by the local runtime's supervisor from its processes' /metrics."""

    kind = "local"

    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def endpoint(self) -> str:
        return "embedded (local runtime /metrics)"

    def health(self) -> Health:
        now = time.time()
        try:
            state = read_state(self.home)
        except ConsoleError as exc:
            return Health(HealthState.DOWN, str(exc), self.endpoint, now)
        if not state["deployments"]:
            return Health(HealthState.UP, "nothing deployed yet, so nothing to scrape", self.endpoint, now)
        return Health(HealthState.UP, f"{len(state['deployments'])} deployment(s) to scrape",
                      self.endpoint, now)
