"""Values and profiles as text: one formatting for the table, the column panel and the CLI."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from console.data.profile import ColumnProfile


def cell(value: Any, *, width: int | None = None) -> str:
    """A value as one line: numbers short but exact enough, text with newlines shown as ⏎."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = f"{value:.6g}" if (value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-4)) else f"{value:.6f}"
        if "." in text and "e" not in text:
            text = text.rstrip("0").rstrip(".")
        return text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return "0x" + value[:32].hex() + ("…" if len(value) > 32 else "")
    text = str(value).replace("\r\n", "⏎").replace("\n", "⏎").replace("\t", " ")
    if width is not None and len(text) > width:
        return text[:max(width - 1, 0)] + "…"
    return text


def number(value: Any) -> str:
    """A statistic: 4 significant digits, thousands separated."""
    if value is None:
        return "–"
    if isinstance(value, (datetime, date)):
        return cell(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return cell(value)
    if not math.isfinite(f):
        return cell(f)
    if f != 0 and (abs(f) >= 1e7 or abs(f) < 1e-3):
        return f"{f:.4g}"
    if f == int(f) and abs(f) < 1e7:
        return f"{int(f):,}"
    if abs(f) >= 1000:
        return f"{f:,.0f}" if abs(f) >= 100_000 else f"{f:,.1f}"
    return f"{f:.4g}"


def stat_rows(profile: ColumnProfile) -> list[tuple[str, str]]:
    """(label, value) lines of a profile, in the order the panel and the CLI show them."""
    p = profile
    rows = [("rows", number(p.rows)),
            ("missing", f"{number(p.missing)} ({p.missing_fraction * 100:.1f}%)")]
    if p.distinct is not None:
        rows.append(("distinct", ("" if p.distinct_exact else "≈") + number(p.distinct)))
    if p.min is not None:
        rows += [("min", number(p.min)), ("max", number(p.max))]
    if p.mean is not None:
        rows.append(("mean", number(p.mean)))
    if p.std is not None:
        rows.append(("std", number(p.std)))
    for q, v in p.quantiles.items():
        rows.append((f"p{round(q * 100)}", ("" if p.quantiles_exact else "≈") + number(v)))
    return rows


def histogram_labels(profile: ColumnProfile) -> list[str]:
    """Bar labels: each bin's lower edge (as a date for times), or the top values."""
    if profile.counts:
        if profile.kind == "temporal":
            return [datetime.fromtimestamp(e, tz=UTC).strftime("%m-%d %H:%M") for e in profile.edges[:-1]]
        if "INT" in profile.type.upper():  # integer bins start half a unit below their first value
            return [number(e + 0.5) for e in profile.edges[:-1]]
        return [number(e) for e in profile.edges[:-1]]
    return [v for v, _ in profile.top]


def bar(count: int, total: int, width: int = 20) -> str:
    """A text bar for the CLI's histogram lines."""
    if total <= 0:
        return ""
    cells = count / total * width
    full = int(cells)
    return "█" * full + ("▌" if cells - full >= 0.5 else "")
