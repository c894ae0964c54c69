"""The supervisor's scraper: every second, each serving process's /metrics into the metrics window.

All processes are scraped concurrently (aiohttp, short timeout) and parsed with
prometheus_client's text parser; a scrape that fails or does not parse is skipped and counted.
That parser costs ~45 us a line, and a process's lines are the same series every second with
new values, so each series line is parsed once and remembered by its text up to the value
(`ExpositionParser`): later scrapes only read the numbers.
The windows are saved under HOME/runtime/metrics/NAME.window every SAVE_EVERY seconds and on
shutdown, and loaded at start, so history survives a supervisor restart.

The scraper also keeps HOME/runtime/metrics/prometheus-targets.json, a Prometheus file_sd
target list of the same processes: point a Prometheus `file_sd_configs` at it to scrape the
runtime. Each target carries `mlconsole_process` ("gateway" or "graph-server"), which the
Prometheus backend's queries use to tell the gateway's series from the graph servers' (they
share Seldon's metric names), plus `mlconsole_deployment` and `mlconsole_replica`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.local.metrics_window import (
    DEFAULT_CAPACITY,
    GATEWAY,
    MetricsWindow,
    metrics_dir,
    window_path,
    write_bytes_atomic,
)

log = logging.getLogger("mlconsole.supervisor")

INTERVAL = 1.0
TIMEOUT = 0.8  # a scrape slower than this is skipped (the next round comes a second later)
SAVE_EVERY = 30.0
WARN_EVERY = 60  # failed scrapes of one target between two warnings
MAX_REMEMBERED_LINES = 20_000  # per process; a process exporting ever new series starts over
TARGETS_FILE = "prometheus-targets.json"


@dataclass(frozen=True)
class Target:
    """One process to scrape: its deployment, process label ("gateway" or "main-0"), port and start."""

    deployment: str
    process: str
    port: int
    started_at: float | None = None  # when the process (this incarnation) started

    @property
    def kind(self) -> str:
        return "gateway" if self.process == GATEWAY else "graph-server"


class _Samples:
    """All the samples of one scrape, as one family-like group (the window reads sample names only)."""

    __slots__ = ("name", "samples")

    def __init__(self, samples: list[Any]) -> None:
        self.name = ""
        self.samples = samples


class ExpositionParser:
    """Prometheus text format to samples, each series line parsed once by prometheus_client's parser."""

    def __init__(self) -> None:
        self._series: dict[str, tuple[str, dict[str, str]]] = {}  # line up to its value -> (name, labels)

    def parse(self, text: str) -> list[Any]:
        """The scrape's samples in one group; ValueError when a line is not the text format."""
        from prometheus_client.parser import text_string_to_metric_families
        from prometheus_client.samples import Sample

        series = self._series
        if len(series) > MAX_REMEMBERED_LINES:
            series.clear()
        samples = []
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            head, _, value = line.rpartition(" ")
            known = series.get(head)
            if known is None:
                parsed = [s for f in text_string_to_metric_families(line + "\n") for s in f.samples]
                if len(parsed) != 1:
                    raise ValueError(f"not a sample line: {line[:200]!r}")
                known = series[head] = (parsed[0].name, parsed[0].labels)
            samples.append(Sample(known[0], known[1], float(value)))
        return [_Samples(samples)]


@dataclass
class ScrapeStats:
    """What scraping costs and how often it fails, for `GET /v1/metrics` and the benchmarks."""

    rounds: int = 0
    scrapes: int = 0
    failures: int = 0
    targets: int = 0
    last_round_seconds: float = 0.0  # wall time of the last round (network included)
    cpu_seconds: float = 0.0  # parse + ingest CPU, all rounds
    saved_at: float | None = None
    failing: dict[str, int] = field(default_factory=dict)  # "deployment/process" -> consecutive failures

    def to_dict(self, window: MetricsWindow) -> dict[str, Any]:
        return {"rounds": self.rounds, "scrapes": self.scrapes, "failures": self.failures, "targets": self.targets,
                "last_round_ms": round(self.last_round_seconds * 1000, 2),
                "cpu_ms_per_round": round(self.cpu_seconds * 1000 / self.rounds, 3) if self.rounds else None,
                "saved_at": self.saved_at, "failing": dict(self.failing), "window_bytes": window.nbytes(),
                "deployments": {name: {"ticks": len(w), "columns": len(w.columns), "last_at": w.last_at}
                                for name, w in window.deployments.items()}}


class Scraper:
    """Scrapes a home's serving processes into a MetricsWindow and saves it."""

    def __init__(self, home: Path, capacity: int = DEFAULT_CAPACITY, interval: float = INTERVAL,
                 timeout: float = TIMEOUT, save_every: float = SAVE_EVERY) -> None:
        self.home = Path(home)
        self.directory = metrics_dir(self.home)
        self.window = MetricsWindow(capacity)
        self.interval = interval
        self.timeout = timeout
        self.save_every = save_every
        self.stats = ScrapeStats()
        self._session: Any = None
        self._targets_text = ""
        self._saved: dict[str, float | None] = {}  # deployment -> last_at when last saved
        self._parsers: dict[tuple[str, str, int], ExpositionParser] = {}

    # -- history ------------------------------------------------------------------------

    def load(self, names: list[str]) -> None:
        """Load the saved windows of these deployments (a damaged file is left out, with a warning)."""
        loaded = MetricsWindow.load(self.directory, names, self.window.capacity)
        for name, window in loaded.deployments.items():
            self.window.deployments[name] = window
            self._saved[name] = window.last_at
        missing = [n for n in names if n not in loaded.deployments and window_path(self.directory, n).exists()]
        for name in missing:
            log.warning("metrics history of %s could not be read: starting a new one", name)

    def save(self, force: bool = False) -> list[Path]:
        """Write the windows that changed since the last save (all with force)."""
        written = []
        for name, window in list(self.window.deployments.items()):
            if not force and self._saved.get(name) == window.last_at:
                continue
            try:
                window.save(window_path(self.directory, name))
            except OSError as exc:
                log.warning("cannot save the metrics window of %s: %s", name, exc)
                continue
            self._saved[name] = window.last_at
            written.append(window_path(self.directory, name))
        self.stats.saved_at = time.time()
        return written

    async def save_soon(self) -> None:
        """Save off the event loop: serialise here (a copy), write and fsync in a thread, one
        deployment at a time so that only one copy is held at once."""
        for name, window in list(self.window.deployments.items()):
            if self._saved.get(name) == window.last_at or not window.size:
                continue
            last_at, data = window.last_at, window.to_bytes()
            try:
                await asyncio.to_thread(write_bytes_atomic, window_path(self.directory, name), data)
            except OSError as exc:
                log.warning("cannot save the metrics window of %s: %s", name, exc)
                continue
            self._saved[name] = last_at
        self.stats.saved_at = time.time()

    def forget(self, name: str) -> None:
        """A deleted deployment: drop its window and its file."""
        self.window.forget(name)
        self._saved.pop(name, None)
        with contextlib.suppress(OSError):
            window_path(self.directory, name).unlink()

    # -- scraping -------------------------------------------------------------------------

    async def _scrape(self, target: Target) -> str | None:
        import aiohttp

        try:
            async with self._session.get(f"http://127.0.0.1:{target.port}/metrics") as resp:
                if resp.status != 200:
                    return None
                return await resp.text()
        except (TimeoutError, aiohttp.ClientError, OSError, UnicodeDecodeError):
            return None

    async def scrape_round(self, targets: list[Target], at: float | None = None) -> None:
        """Scrape every target once, concurrently, and ingest what answered as one tick."""
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=64), skip_auto_headers=("User-Agent",))
        at = time.time() if at is None else at
        started = time.perf_counter()
        texts = await asyncio.gather(*(self._scrape(t) for t in targets))
        cpu = time.thread_time()
        for target, text in zip(targets, texts, strict=True):
            key = f"{target.deployment}/{target.process}"
            families = None
            if text is not None:
                parser = self._parsers.get((target.deployment, target.process, target.port))
                if parser is None:
                    parser = self._parsers[(target.deployment, target.process, target.port)] = ExpositionParser()
                try:
                    families = parser.parse(text)
                except Exception:  # a malformed exposition: this scrape is skipped like a failed one
                    families = None
            if families is None:
                self.stats.failures += 1
                failures = self.stats.failing[key] = self.stats.failing.get(key, 0) + 1
                if failures % WARN_EVERY == 1:
                    log.warning("scraping %s on port %s failed (%d in a row)", key, target.port, failures)
                continue
            self.stats.failing.pop(key, None)
            self.stats.scrapes += 1
            self.window.ingest(target.deployment, target.process, families, at, target.started_at)
        self.stats.cpu_seconds += time.thread_time() - cpu
        live = {(t.deployment, t.process, t.port) for t in targets}
        for gone in [k for k in self._parsers if k not in live]:
            del self._parsers[gone]
        self.stats.rounds += 1
        self.stats.targets = len(targets)
        self.stats.last_round_seconds = time.perf_counter() - started

    def write_targets(self, targets: list[Target]) -> None:
        """Keep the Prometheus file_sd target list in step with the processes (only when it changes)."""
        groups = [{"targets": [f"127.0.0.1:{t.port}"],
                   "labels": {"mlconsole_process": t.kind, "mlconsole_deployment": t.deployment,
                              "mlconsole_replica": t.process}}
                  for t in sorted(targets, key=lambda t: (t.deployment, t.process))]
        text = json.dumps(groups, indent=1) + "\n"
        if text == self._targets_text:
            return
        try:
            write_bytes_atomic(self.directory / TARGETS_FILE, text.encode())
        except OSError as exc:
            log.warning("cannot write %s: %s", self.directory / TARGETS_FILE, exc)
            return
        self._targets_text = text

    async def run(self, targets: Any, stopping: asyncio.Event) -> None:
        """Scrape `targets()` every interval until `stopping` is set; save every SAVE_EVERY seconds."""
        next_round = time.monotonic()
        last_save = time.monotonic()
        try:
            while not stopping.is_set():
                current = targets()
                self.write_targets(current)
                if current:
                    try:
                        await self.scrape_round(current)
                    except Exception:  # scraping must never take the supervisor down
                        log.exception("metrics scrape round failed")
                if time.monotonic() - last_save >= self.save_every:
                    last_save = time.monotonic()
                    await self.save_soon()
                next_round += self.interval
                delay = next_round - time.monotonic()
                if delay < 0:  # fell behind (a slow round, a suspended machine): skip, do not catch up
                    next_round = time.monotonic()
                    delay = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
