"""Append-only audit log with a SHA-256 hash chain (JSONL under home).

Each entry carries the previous entry's hash, so an edited, removed or reordered line
breaks the chain at that point. Writers take an exclusive file lock, so the console and
the runtime's supervisor never interleave lines.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from console.errors import InvalidSpec
from console.types import AuditEntry

GENESIS = "0" * 64


def default_actor() -> str:
    """OS user@host of whoever runs this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _digest(fields: dict) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class AuditLog:
    """The audit log of one home directory."""

    def __init__(self, home: Path) -> None:
        self.path = home / "audit" / "audit.jsonl"

    def append(self, action: str, target: str, *, before: str = "", after: str = "",
               reason: str = "", actor: str | None = None, now: datetime | None = None) -> AuditEntry:
        """Write one entry, chained to the last one, under an exclusive lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                prev = GENESIS
                for line in fh:
                    if line.strip():
                        prev = json.loads(line).get("hash", prev)
                fields = {
                    "time": (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "actor": actor or default_actor(),
                    "action": action, "target": target, "before": before, "after": after,
                    "reason": reason, "prev_hash": prev,
                }
                entry = AuditEntry(hash=_digest(fields), **fields)
                fh.seek(0, os.SEEK_END)
                fh.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def entries(self) -> list[AuditEntry]:
        """Every entry, oldest first. A damaged line raises InvalidSpec naming it."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                out.append(AuditEntry(**{k: str(data.get(k, "")) for k in AuditEntry.__dataclass_fields__}))
            except (ValueError, TypeError, AttributeError) as exc:
                raise InvalidSpec(f"audit log {self.path} line {number} is not a valid entry: {exc}",
                                  hint="run `mlconsole audit verify` to see where the chain breaks",
                                  location=f"{self.path}:{number}") from exc
        return out

    def tail(self, count: int) -> list[AuditEntry]:
        """The newest `count` entries, newest first."""
        return list(reversed(self.entries()[-count:]))

    def verify(self) -> tuple[bool, str]:
        """Check the chain; (ok, message naming the first bad entry)."""
        prev = GENESIS
        try:
            entries = self.entries()
        except InvalidSpec as exc:
            return False, str(exc)
        for number, entry in enumerate(entries, 1):
            fields = asdict(entry)
            claimed = fields.pop("hash")
            if entry.prev_hash != prev:
                return False, f"entry {number} ({entry.action} {entry.target}): previous entry removed or reordered"
            if _digest(fields) != claimed:
                return False, f"entry {number} ({entry.action} {entry.target}): contents altered"
            prev = claimed
        return True, f"{len(entries)} entries, chain intact"
