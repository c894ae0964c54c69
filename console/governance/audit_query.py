"""Choosing audit entries: since a time, by target, by action — for `audit log` and the Audit view."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from console.errors import InvalidSpec
from console.types import AuditEntry

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'90s', '15m', '1h', '2d', '1w' ago, or an ISO 8601 date/time (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text)
    if match:
        try:
            return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
        except OverflowError:
            raise InvalidSpec(f"--since {text!r} reaches back before the year 1",
                              hint="e.g. --since 30m, --since 2d or --since 2026-11-30") from None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidSpec(f"--since {text!r} is neither a duration nor an ISO 8601 time",
                          hint="e.g. --since 30m, --since 2d, --since 2026-11-30 or --since 2026-11-30T09:00Z") \
            from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def entry_time(entry: AuditEntry) -> datetime | None:
    """When the entry was written (UTC), or None when its time does not parse (a damaged entry)."""
    try:
        when = datetime.fromisoformat(entry.time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _matches(pattern: str, value: str, *, prefix_words: bool) -> bool:
    """Globs (`*`, `?`) match the whole value; plain text matches a part (targets) or a dotted prefix (actions)."""
    if any(ch in pattern for ch in "*?["):
        return fnmatchcase(value.lower(), pattern.lower())
    if prefix_words:
        return value == pattern or value.startswith(pattern.rstrip(".") + ".")
    return pattern.lower() in value.lower()


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show. Empty fields match everything."""

    since: datetime | None = None
    target: str = ""
    action: str = ""

    def matches(self, entry: AuditEntry) -> bool:
        if self.since is not None:
            when = entry_time(entry)
            if when is None or when < self.since:
                return False
        if self.target and not _matches(self.target, entry.target, prefix_words=False):
            return False
        return not self.action or _matches(self.action, entry.action, prefix_words=True)
