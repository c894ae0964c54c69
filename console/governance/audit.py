"""Append-only audit log with a SHA-256 hash chain (JSONL under home).

Each entry carries the previous entry's hash, so an edited, removed or reordered line
breaks the chain at that point. A chain alone cannot show that its newest entries were cut
off, so every append also records the log's end (count, last hash, byte size) in a head
file beside it: a log shorter than its head was truncated.

Writers take an exclusive lock on the log (fcntl.flock), so the console and the runtime's
supervisor never interleave lines; readers take a shared one, so they never see half a line.
Secrets are masked before anything is written. A damaged or tampered log is reported by
verify() and never repaired: appends chain onto whatever the file ends with and leave a
head that disagrees with the file as it is, so the evidence stays.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec
from console.secrets import mask_line, mask_manifest
from console.types import AuditEntry

GENESIS = "0" * 64
FIELDS = tuple(AuditEntry.__dataclass_fields__)
# Lone surrogates: what Python makes of bytes in argv or the environment that are not UTF-8. They cannot
# be written as UTF-8, so an entry holding one could never be hashed, written or read back.
_SURROGATE = re.compile("[\ud800-\udfff]")


def default_actor() -> str:
    """OS user@host of whoever runs this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def with_identity(actor: str, identity: str) -> str:
    """'alice@ops' plus the cluster identity it acted as: 'alice@ops (k8s admin-prod)'."""
    return f"{actor} (k8s {identity})" if identity else actor


def entry_digest(fields: dict) -> str:
    """The SHA-256 an entry's `hash` must equal: over every field but `hash`, canonical JSON."""
    payload = json.dumps({k: v for k, v in fields.items() if k != "hash"}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()



def masked(value: Any) -> str:
    """Text safe to write: mappings as JSON with secret fields masked, then secret-looking assignments;
    characters that are not text (lone surrogates, from undecodable bytes) become U+FFFD."""
    if isinstance(value, dict | list):
        value = json.dumps(mask_manifest(value), sort_keys=True, ensure_ascii=False, default=str)
    return _SURROGATE.sub("\ufffd", mask_line("" if value is None else str(value)))


@dataclass(frozen=True)
class AuditRecord:
    """One line of the file as read: its number, the entry, or why the line is not one."""

    line: int
    entry: AuditEntry | None
    raw: str
    error: str = ""


@dataclass(frozen=True)
class AuditHead:
    """Where the log ended after the last append: entries, the last entry's hash, bytes."""

    count: int
    hash: str
    size: int


@dataclass(frozen=True)
class AuditSnapshot:
    """The log read at one moment under a shared lock: its lines, its head, how it ends."""

    records: list[AuditRecord]
    head: AuditHead | None
    head_error: str = ""  # the head file exists but cannot be read
    ends_with_newline: bool = True


def parse_record(number: int, raw: str) -> AuditRecord:
    """A line of the log as an AuditRecord (entry None and error set when it is not an entry)."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        missing = [k for k in ("time", "action", "target", "prev_hash", "hash") if k not in data]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        fields = {k: str(data.get(k, "")) for k in FIELDS}
        if any(_SURROGATE.search(v) for v in fields.values()):
            raise ValueError("holds an escaped lone surrogate (\\udXXX), which no writer produces")
        entry = AuditEntry(**fields)
    except RecursionError:
        return AuditRecord(number, None, raw, "nested too deeply to be an entry")
    except ValueError as exc:
        return AuditRecord(number, None, raw, str(exc))
    return AuditRecord(number, entry, raw)


class AuditLog:
    """The audit log of one home directory."""

    def __init__(self, home: Path) -> None:
        self.path = home / "audit" / "audit.jsonl"
        self.head_path = self.path.with_name("audit.head.json")

    # -- writing ------------------------------------------------------------------------

    def append(self, action: str, target: str, *, before: Any = "", after: Any = "", reason: str = "",
               actor: str | None = None, identity: str = "", now: datetime | None = None) -> AuditEntry:
        """Write one entry, chained to the last one, under an exclusive lock.

        before/after may be text or a mapping (written as JSON); secrets in either, and in the
        target and reason, are masked first. identity: who the cluster knows the actor as.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                size = fh.seek(0, os.SEEK_END)
                last = _last_line(fh, size)
                head = self._read_head()[0]
                consistent = _head_matches(fh, head, size) if head is not None else size == 0
                fields = {
                    "time": (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "actor": _SURROGATE.sub("\ufffd", with_identity(actor or default_actor(), identity)),
                    "action": masked(action), "target": masked(target), "before": masked(before),
                    "after": masked(after), "reason": masked(reason), "prev_hash": _chain_hash(last),
                }
                entry = AuditEntry(hash=entry_digest(fields), **fields)
                # A line cut short (a crash, or tampering) must not swallow ours: start a new one.
                data = (b"" if _ends_with_newline(fh, size) else b"\n") + \
                    (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode("utf-8")
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                if consistent:
                    written = head.count if head is not None else 0
                    if head is not None and head.size < size:
                        fh.seek(head.size)
                        # entries appended after a head write that was lost (a crash between the two)
                        written += sum(1 for line in fh.read(size - head.size).split(b"\n") if line.strip())
                    try:
                        self._write_head(AuditHead(written + 1, entry.hash, size + len(data)))
                    except OSError:
                        pass  # the entry is on disk; a head left behind reads as a lag, not as tampering
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def _write_head(self, head: AuditHead) -> None:
        tmp = self.head_path.with_name(f".{self.head_path.name}.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(head), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.head_path)

    def _read_head(self) -> tuple[AuditHead | None, str]:
        try:
            data = json.loads(self.head_path.read_text(encoding="utf-8"))
            head = AuditHead(int(data["count"]), str(data["hash"]), int(data["size"]))
            if head.count < 0 or head.size < 0:
                raise ValueError(f"count {head.count} and size {head.size} must be 0 or more")
            return head, ""
        except FileNotFoundError:
            return None, ""
        except KeyError as exc:
            return None, f"cannot read {self.head_path.name}: no {exc}"
        except RecursionError:
            return None, f"cannot read {self.head_path.name}: nested too deeply"
        except (OSError, ValueError, TypeError, OverflowError) as exc:
            return None, f"cannot read {self.head_path.name}: {exc}"

    # -- reading ------------------------------------------------------------------------

    @contextmanager
    def _shared(self) -> Iterator[Any]:
        """The log file under a shared lock (None when there is no log yet)."""
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            yield None
            return
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            try:
                yield fh
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def snapshot(self) -> AuditSnapshot:
        """Every line and the head, read together, consistently."""
        with self._shared() as fh:
            data = fh.read() if fh is not None else b""
            head, head_error = self._read_head()
        text = data.decode("utf-8", errors="replace")
        records = [parse_record(number, line) for number, line in enumerate(text.split("\n"), 1)
                   if line.strip()]
        return AuditSnapshot(records, head, head_error, ends_with_newline=not data or data.endswith(b"\n"))

    def records(self) -> list[AuditRecord]:
        """Every non-blank line, oldest first, damaged ones included (entry None)."""
        return self.snapshot().records

    def entries(self) -> list[AuditEntry]:
        """Every entry, oldest first. A damaged line raises InvalidSpec naming it."""
        out = []
        for record in self.records():
            if record.entry is None:
                raise InvalidSpec(f"audit log {self.path} line {record.line} is not a valid entry: {record.error}",
                                  hint="run `mlconsole audit verify` to see where the chain breaks",
                                  location=f"{self.path}:{record.line}")
            out.append(record.entry)
        return out

    def tail(self, count: int) -> list[AuditEntry]:
        """The newest `count` entries, newest first (damaged lines skipped)."""
        entries = [r.entry for r in self.records() if r.entry is not None]
        return list(reversed(entries[-count:]))

    # -- verifying ----------------------------------------------------------------------

    def check(self, expect: tuple[int, str] | None = None):
        """The chain checked line by line and against the head: a ChainCheck naming the first bad entry.

        expect: (entry number, hash prefix) recorded elsewhere earlier, which that entry must still have.
        """
        from console.governance.audit_check import check_chain

        return check_chain(self.snapshot(), self.head_path.name, expect)

    def verify(self) -> tuple[bool, str]:
        """Check the chain; (ok, message naming the first bad entry)."""
        result = self.check()
        return result.ok, result.message


def _last_line(fh: Any, end: int) -> bytes:
    """The last non-blank line of the file's first `end` bytes (without its newline)."""
    position, tail, chunk = end, b"", 4096
    while position > 0:
        step = min(chunk, position)
        position -= step
        fh.seek(position)
        tail = fh.read(step) + tail
        body = tail.rstrip(b"\n")
        if body and (b"\n" in body or position == 0):
            return body.rsplit(b"\n", 1)[-1]
        chunk *= 2  # one huge entry: read further back in bigger steps
    return b""


def _ends_with_newline(fh: Any, size: int) -> bool:
    if size == 0:
        return True
    fh.seek(size - 1)
    return fh.read(1) == b"\n"


def _chain_hash(last: bytes) -> str:
    """What the next entry chains to: the last entry's hash; for a damaged line, that line's SHA-256."""
    if not last.strip():
        return GENESIS
    try:
        value = json.loads(last).get("hash")
        if isinstance(value, str) and len(value) == 64:
            return value
    except (ValueError, AttributeError, RecursionError):
        pass
    return hashlib.sha256(last).hexdigest()


def _head_matches(fh: Any, head: AuditHead, size: int) -> bool:
    """True when the file still holds, ending at head.size, the entry the head names."""
    if head.size > size:
        return False
    if head.size == 0:
        return head.count == 0
    return _ends_with_newline(fh, head.size) and _chain_hash(_last_line(fh, head.size)) == head.hash
