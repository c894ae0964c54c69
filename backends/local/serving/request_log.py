"""The gateway's request log: sampled requests and answers, appended to rotating Parquet files.

Rows are buffered in memory and written every `flush_seconds` or `flush_rows` rows, one file
per flush, as HOME/runtime/requests/<deployment>/requests-<UTC time>-<seq>.parquet (written to a
hidden temporary name first, so readers globbing *.parquet never see half a file). The oldest
files go once there are more than `max_files` or `max_bytes` of them. A failed write (disk
full, permissions) drops that batch and reports it (one log line per REPORT_EVERY seconds with the
rows dropped since the last, and the gateway's mlconsole_request_log_dropped_total); the next
batch is tried at the next flush, as usual, and the first that is written again says so in the
log. Serving never waits on the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

COLUMNS = ("id", "ts", "deployment", "predictor", "shadow", "code", "latency_ms", "request", "response", "path")
MAX_TEXT = 256 * 1024  # characters kept of one request or response; a 50 MB tensor is not worth logging whole
REPORT_EVERY = 30.0  # seconds between log lines about dropped rows: a full disk must not flood the log too
log = logging.getLogger("mlconsole.serving")


def requests_dir(home: Path, deployment: str) -> Path:
    """Where a deployment's request log files live."""
    return home / "runtime" / "requests" / deployment


def _schema():
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("deployment", pa.string()),
        ("predictor", pa.string()), ("shadow", pa.bool_()), ("code", pa.int32()),
        ("latency_ms", pa.float64()), ("request", pa.string()), ("response", pa.string()),
        ("path", pa.string()),
    ])


def _text(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT]


def _request_id(request: str, fallback: str) -> str:
    """The id the graph answered with: the request's own puid (v1) or id (V2), else the gateway's."""
    if '"puid"' not in request and '"id"' not in request:
        return fallback
    try:
        body = json.loads(request)
    except ValueError:
        return fallback
    if isinstance(body, dict):
        meta = body.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("puid"), str) and meta["puid"]:
            return meta["puid"]
        if isinstance(body.get("id"), str) and body["id"]:
            return body["id"]
    return fallback


class RequestLog:
    """Buffered, rotating Parquet log of one deployment's requests."""

    def __init__(self, directory: Path, deployment: str, *, flush_rows: int = 1000, flush_seconds: float = 2.0,
                 max_files: int = 1000, max_bytes: int = 500 * 1024 * 1024, max_pending: int = 20_000,
                 max_pending_bytes: int = 64 * 1024 * 1024, on_drop: Callable[[int], None] | None = None) -> None:
        self.directory = Path(directory)
        self.deployment = deployment
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self.on_drop = on_drop or (lambda rows: None)
        self._rows: list[tuple] = []
        self._write_lock = threading.Lock()  # one writer at a time: the flusher or the final flush
        self._files: deque[tuple[str, int]] | None = None  # (name, bytes), oldest first
        self._seq = 0
        self._last_error = 0.0
        self._unreported = 0  # rows dropped since the last line that said so
        self._failed_rows = 0  # rows whose write failed since the last write that worked
        self._wakeup: asyncio.Event | None = None
        self.written = 0
        self.dropped = 0

    def record(self, id: str, predictor: str, shadow: bool, code: int, latency_ms: float,
               request: bytes | str, response: bytes | str, path: str, ts: float | None = None) -> None:
        """Buffer one row (cheap: the encoding happens when the batch is written)."""
        # Cut here, not at write time, so a burst of huge bodies cannot pile up in memory.
        if len(request) > MAX_TEXT:
            request = request[:MAX_TEXT]
        if len(response) > MAX_TEXT:
            response = response[:MAX_TEXT]
        size = len(request) + len(response)
        if len(self._rows) >= self.max_pending or self._pending_bytes + size > self.max_pending_bytes:
            self._drop(1, "too many rows waiting to be written")
            return
        self._pending_bytes += size
        self._rows.append((id, time.time() if ts is None else ts, predictor, shadow, code, latency_ms,
                           request, response, path))
        if len(self._rows) >= self.flush_rows and self._wakeup is not None:
            self._wakeup.set()

    @staticmethod
    def prepare() -> None:
        """Import pyarrow ahead of the first flush (it takes a few hundred ms; run it off the loop)."""
        import pyarrow.parquet  # noqa: F401

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return len(self._rows)

    def _drop(self, rows: int, why: str) -> None:
        self.dropped += rows
        self._unreported += rows
        self.on_drop(rows)
        now = time.monotonic()
        if now - self._last_error > REPORT_EVERY:  # one line per burst of failures, not one per batch
            since = " since the last report" if self._last_error else ""
            self._last_error = now
            log.error("request log %s: dropped %d row(s)%s: %s", self.directory, self._unreported, since, why)
            self._unreported = 0

    # -- writing ------------------------------------------------------------------------

    def take(self) -> list[tuple]:
        """The buffered rows, leaving the buffer empty (call on the thread that records)."""
        rows, self._rows = self._rows, []
        self._pending_bytes = 0
        return rows

    def flush(self, rows: list[tuple] | None = None) -> int:
        """Write rows (default: everything buffered) to a new file; how many were written (0 on failure)."""
        if rows is None:
            rows = self.take()
        if not rows:
            return 0
        with self._write_lock:
            try:
                self._write(rows)
            except Exception as exc:  # disk full, permissions, a directory that is a file: keep serving
                self._failed_rows += len(rows)
                self._drop(len(rows), f"{type(exc).__name__}: {exc}")
                return 0
            if self._failed_rows:
                log.warning("request log %s: writing again; %d row(s) were dropped while it could not",
                            self.directory, self._failed_rows)
                self._failed_rows = 0
                self._unreported = 0
                self._last_error = 0.0  # a new outage is reported at once
        self.written += len(rows)
        return len(rows)

    def _write(self, rows: list[tuple]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.directory.mkdir(parents=True, exist_ok=True)
        if self._files is None:
            self._files = self._scan()
        columns = list(zip(*rows, strict=True))
        ids = [_request_id(_text(req), fallback) for fallback, req in zip(columns[0], columns[6], strict=True)]
        n = len(rows)
        table = pa.table([
            pa.array(ids, pa.string()),
            pa.array([int(t * 1_000_000) for t in columns[1]], pa.timestamp("us", tz="UTC")),
            pa.array([self.deployment] * n, pa.string()),
            pa.array(columns[2], pa.string()),
            pa.array(columns[3], pa.bool_()),
            pa.array(columns[4], pa.int32()),
            pa.array(columns[5], pa.float64()),
            pa.array([_text(b) for b in columns[6]], pa.string()),
            pa.array([_text(b) for b in columns[7]], pa.string()),
            pa.array(columns[8], pa.string()),
        ], schema=_schema())
        target = self._next_name()
        tmp = self.directory / f".{target.name}.tmp"
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._files.append((target.name, target.stat().st_size))
        self._rotate()

    def _next_name(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        while True:
            self._seq += 1
            target = self.directory / f"requests-{stamp}-{self._seq:06d}.parquet"
            if not target.exists():  # a gateway restarted within the second must not overwrite
                return target

    def _scan(self) -> deque[tuple[str, int]]:
        found = []
        for entry in os.scandir(self.directory):
            if entry.name.startswith("requests-") and entry.name.endswith(".parquet"):
                with contextlib.suppress(OSError):
                    found.append((entry.name, entry.stat().st_size))
        return deque(sorted(found))

    def _rotate(self) -> None:
        files = self._files
        total = sum(size for _, size in files)
        while files and (len(files) > self.max_files or total > self.max_bytes):
            name, size = files.popleft()
            total -= size
            with contextlib.suppress(OSError):
                (self.directory / name).unlink()

    # -- the flusher ----------------------------------------------------------------------

    async def run(self) -> None:
        """Flush every flush_seconds, or sooner when flush_rows rows wait; until cancelled."""
        self._wakeup = asyncio.Event()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.flush_seconds)
                self._wakeup.clear()
                if self._rows:
                    # Taken here, on the loop's thread, so no row recorded meanwhile is lost.
                    await asyncio.to_thread(self.flush, self.take())
        finally:
            self._wakeup = None
