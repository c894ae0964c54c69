"""Paged lists and list+watch mirrors: a view refreshing every two seconds costs no request once warm.

A mirror lists (in pages of `limit`, following `continue`), remembers the list's resourceVersion,
and, once it is read a second time (a one-shot CLI command never pays for a watch), keeps itself
fresh from a watch started at that version. A watch that ends (the server's timeout, a dropped
connection) resumes from the last version it saw; one whose version expired (410 Gone) lists
again. While the watch is broken, reads list again themselves, so a cluster that went away shows
as an error, never as stale rows.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from backends.kubernetes.api import KubeApi, StreamedLines
from backends.kubernetes.errors import ResourceExpired
from console.errors import BackendUnavailable, ConsoleError

log = logging.getLogger("mlconsole.kubernetes")

T = TypeVar("T")
PAGE = 500  # kubectl's page size too
WATCH_SECONDS = 240  # the server ends a watch after this; we resume it at once
MAX_BACKOFF = 10.0


def list_pages(api: KubeApi, path: str, what: str, params: dict[str, Any] | None = None,
               limit: int = PAGE) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """Each page's items with the list's resourceVersion; a continuation that expired starts over once."""
    token: str | None = None
    restarted = False
    while True:
        try:
            body = api.request("GET", path, what, {**(params or {}), "limit": limit, "continue": token}) or {}
        except ResourceExpired:
            if restarted or token is None:
                raise
            token, restarted = None, True  # the snapshot is gone: a consistent list starts again
            continue
        meta = body.get("metadata") or {}
        token = meta.get("continue") or None
        yield list(body.get("items") or []), str(meta.get("resourceVersion") or "")
        if not token:
            return


def _newer(new: str, old: str | None) -> bool:
    """Whether resourceVersion `new` may replace `old` (opaque strings: only numbers are compared)."""
    if not old or not new:
        return True
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True


class Mirror(Generic[T]):
    """A list+watch copy of one collection: records keyed by (namespace, name)."""

    def __init__(self, api: KubeApi, path: str, what: str, to_record: Callable[[dict[str, Any]], T | None],
                 params: dict[str, Any] | None = None, limit: int = PAGE, watch_seconds: int = WATCH_SECONDS,
                 watch_after_reads: int = 2) -> None:
        self.api = api
        self.path = path
        self.what = what
        self.to_record = to_record
        self.params = dict(params or {})
        self.limit = limit
        self.watch_seconds = watch_seconds
        self.watch_after_reads = watch_after_reads
        self._items: dict[tuple[str, str], T] = {}
        self._versions: dict[tuple[str, str], str] = {}
        self._version = ""
        self._synced = False
        self._connected = False
        self._reads = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: StreamedLines | None = None
        # Counters for tests and benchmarks: how the mirror kept itself fresh.
        self.lists = 0
        self.watches = 0
        self.events = 0

    # -- reading ----------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Served from the watch (no request per read)."""
        return self._synced and self._connected

    def items(self) -> list[T]:
        """Every record; lists first unless a live watch keeps the copy fresh. Raises typed errors."""
        with self._lock:
            self._reads += 1
            reads = self._reads
            if self._synced and self._connected:
                return list(self._items.values())
        self.relist()
        if reads >= self.watch_after_reads:
            self.start()
        with self._lock:
            return list(self._items.values())

    def relist(self) -> None:
        items: dict[tuple[str, str], T] = {}
        versions: dict[tuple[str, str], str] = {}
        version = ""
        for page, page_version in list_pages(self.api, self.path, self.what, self.params, self.limit):
            version = page_version  # the last page's is the list's
            for obj in page:
                record = self.to_record(obj)
                if record is not None:
                    key = _key(obj)
                    items[key] = record
                    versions[key] = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        with self._lock:
            self._items, self._versions, self._version = items, versions, version
            self._synced = True
            self.lists += 1

    # -- watching ---------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name=f"watch {self.what}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def _run(self) -> None:
        backoff, expired = 0.5, 0
        while not self._stop.is_set():
            try:
                if not self._version:
                    self.relist()
                self._watch_once()
                backoff, expired = 0.5, 0  # it ended normally (server timeout, dropped connection): resume
            except ResourceExpired:
                with self._lock:
                    self._version = ""  # too old: list again, then watch from the new version
                expired += 1
                if expired > 1:  # expired again at once: do not hammer the server with lists
                    self._stop.wait(min(MAX_BACKOFF, 0.2 * expired))
            except ConsoleError as exc:
                with self._lock:
                    self._connected = False
                log.info("watch %s failed: %s; retrying in %.1fs", self.what, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
            except Exception:  # noqa: BLE001 - a watch thread must never die silently
                with self._lock:
                    self._connected = False
                log.exception("watch %s failed", self.what)
                self._stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
        with self._lock:
            self._connected = False

    def _watch_once(self) -> None:
        params = {**self.params, "watch": True, "resourceVersion": self._version, "allowWatchBookmarks": True,
                  "timeoutSeconds": self.watch_seconds}
        stream = self.api.stream(self.path, self.what, params, read_timeout=self.watch_seconds + 30)
        self._stream = stream
        with self._lock:
            self._connected = True
            self.watches += 1
        try:
            for line in stream:
                if self._stop.is_set():
                    return
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            stream.close()
            self._stream = None

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            message = obj.get("message") or obj.get("reason") or "watch error"
            if code == 410:
                raise ResourceExpired(f"{self.what}: {message}", target=self.what)
            raise BackendUnavailable(f"watch of {self.what} failed: {message}", target=self.what)
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        with self._lock:
            self.events += 1
            if version:
                self._version = version
            if kind == "BOOKMARK":
                return
            key = _key(obj)
            if not _newer(version, self._versions.get(key)):
                return  # a relist already holds a newer copy
            record = self.to_record(obj) if kind != "DELETED" else None
            if record is None:
                self._items.pop(key, None)
                self._versions.pop(key, None)
            else:
                self._items[key] = record
                self._versions[key] = version


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))

