"""MetricsBackend for the embedded runtime: the supervisor's scraped window of its processes' /metrics.

While the supervisor runs, figures come from its API (GET /v1/metrics/NAME, computed over the
in-memory window); while it does not, from the window it saved under HOME/runtime/metrics,
with "now" set to the last scrape it holds: stale history, shown as such, never invented.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from backends.local.metrics_window import check_window, metrics_dir, read_header, window_path
from backends.local.state import TOKEN_HEADER, read_state, read_token, supervisor_running
from console.errors import BackendUnavailable, ConsoleError, NotFound
from console.types import DeploymentMetrics, Health, HealthState, Series

CONNECT_TIMEOUT, READ_TIMEOUT = 1.0, 5.0


class LocalMetrics:
    """Metrics kept by the local runtime's supervisor from its processes' /metrics."""

    kind = "local"

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._client: Any = None
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[tuple[int, int], Any]] = {}  # name -> (file stamp, DeploymentWindow)

    @property
    def endpoint(self) -> str:
        return "embedded (local runtime /metrics)"

    # -- health -----------------------------------------------------------------------------

    def health(self) -> Health:
        now = time.time()
        try:
            state = read_state(self.home)
        except ConsoleError as exc:
            return Health(HealthState.DOWN, str(exc), self.endpoint, now)
        deployed = len(state["deployments"])
        supervisor = supervisor_running(self.home, state)
        if supervisor:
            reason = f"scraping {deployed} deployment(s) every second" if deployed else "nothing deployed yet"
            return Health(HealthState.UP, reason, self.endpoint, now)
        last = self._history_ends()
        if last is None:
            if not deployed:
                return Health(HealthState.UP, "nothing deployed yet", self.endpoint, now)
            return Health(HealthState.DEGRADED, "supervisor not running: no metrics history recorded",
                          self.endpoint, now)
        shown = time.strftime("%H:%M:%S", time.gmtime(last))
        return Health(HealthState.DEGRADED, f"supervisor not running: showing history up to {shown} UTC",
                      self.endpoint, now)

    def _history_ends(self) -> float | None:
        """The newest scrape time among the saved windows (headers only)."""
        newest = None
        try:
            paths = list(metrics_dir(self.home).glob("*.window"))
        except OSError:
            return None
        for path in paths:
            header = read_header(path)
            last = header.get("last_at") if header else None
            if isinstance(last, (int, float)) and (newest is None or last > newest):
                newest = float(last)
        return newest

    # -- the port -----------------------------------------------------------------------------

    def deployment_metrics(self, name: str, window_seconds: float = 300.0) -> DeploymentMetrics:
        from backends.local.metrics_window import metrics_from_dict

        window_seconds = check_window(window_seconds)
        answer = self._from_supervisor(f"/v1/metrics/{quote(name, safe='')}", {"window": window_seconds})
        if answer is not None:
            return metrics_from_dict(answer["metrics"])
        return self._saved(name).metrics(window_seconds)

    def series(self, name: str, metric: str, window_seconds: float = 300.0, step_seconds: float = 5.0,
               by: str | None = "predictor") -> list[Series]:
        from backends.local.metrics_window import check_series_args, series_from_dict

        window_seconds, step_seconds, by = check_series_args(metric, window_seconds, step_seconds, by)
        answer = self._from_supervisor(f"/v1/metrics/{quote(name, safe='')}/series",
                                       {"metric": metric, "window": window_seconds, "step": step_seconds,
                                        "by": by or ""})
        if answer is not None:
            return series_from_dict(answer["series"])
        return self._saved(name).series(metric, window_seconds, step_seconds, by)

    def query(self, promql: str) -> list[dict]:
        raise ConsoleError("PromQL needs a Prometheus backend (--metrics URL)",
                           hint="the embedded metrics answer the Monitor's figures only")

    # -- sources ------------------------------------------------------------------------------

    def _from_supervisor(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The supervisor's answer, or None when no supervisor runs (then the saved window answers)."""
        import httpx

        from backends.local.supervisor_client import answer

        record = supervisor_running(self.home)
        if not record or not record.get("port"):
            return None
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT))
            client = self._client
        url = f"http://127.0.0.1:{record['port']}{path}"
        try:
            resp = client.get(url, params=params, headers={TOKEN_HEADER: read_token(self.home)})
        except httpx.HTTPError as exc:
            if not supervisor_running(self.home):
                return None  # it stopped under us: its saved window has the history
            raise BackendUnavailable(f"the local runtime's supervisor did not answer: {type(exc).__name__}",
                                     hint="`mlconsole local up` restarts it") from None
        return answer(resp)

    def _saved(self, name: str) -> Any:
        """The deployment's saved window (re-read only when the file changed)."""
        from backends.local.metrics_window import DeploymentWindow

        path = window_path(metrics_dir(self.home), name)
        try:
            st = path.stat()
        except OSError:
            raise NotFound(f"no metrics recorded for deployment {name!r}", target=name,
                           hint="the local runtime records metrics while its supervisor runs "
                                "(`mlconsole local up`)") from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._windows.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        window = DeploymentWindow.load(path)
        with self._lock:
            self._windows[name] = (stamp, window)
        return window
