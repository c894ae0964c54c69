"""Small display helpers shared by views: ages, times, badges."""

from __future__ import annotations

import time

clock = time.time
"""The 'now' that ages are measured from; snapshot tests pin it."""


def age(timestamp: float | None, now: float | None = None) -> str:
    """k9s-style age: 42s, 7m, 3h, 12d."""
    if not timestamp:
        return ""
    seconds = max(0, int((now or clock()) - timestamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def aliases_label(aliases: dict[str, str]) -> str:
    """'@champion→3 @challenger→4'."""
    return " ".join(f"@{a}→{v}" for a, v in sorted(aliases.items()))


def time_of_day(timestamp: float) -> str:
    """HH:MM:SS in UTC (ops hosts and logs agree on UTC)."""
    return time.strftime("%H:%M:%S", time.gmtime(timestamp))
