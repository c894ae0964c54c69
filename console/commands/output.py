"""Printing helpers shared by headless commands: aligned tables and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """kubectl-style: upper-case headers, columns padded to their widest cell."""
    rows = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    for row in [[h.upper() for h in headers], *rows]:
        print("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
