"""MLCONSOLE_ENRICHMENT: join each request row with a look-up table by key.

Parameters: `table` — a Parquet file path, or `sqlite:///path.db?table=NAME`; `key` — the
join column, present in both; `columns` (JSON list, optional) — which table columns to add
(default: all but the key). The table is read once (pyarrow for Parquet, the standard
library for sqlite) into an in-memory index shared by every executor in the process, and
re-read when the file changes; each request is then a dict look-up per row, not a query.
A key the table lacks adds nulls, and the tag `enrichment_misses` counts such rows.
Columns the request already has are kept as sent, not overwritten.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from console.errors import InvalidSpec, NotFound
from console.graph.components.base import BuildContext, RequestContext, Transformer, json_param
from console.graph.payload import Payload
from console.graph.spec import Node

MISSES_TAG = "enrichment_misses"
MAX_ROWS = 5_000_000  # an in-memory index beyond this belongs in a real feature store
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_cache: dict[tuple[Any, ...], LookupTable] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class LookupTable:
    """A table indexed by its key: the added column names and a row tuple per key."""

    columns: list[str]
    index: dict[Any, tuple[Any, ...]]


def parse_table_spec(spec: str) -> tuple[str, Path, str | None]:
    """('parquet', path, None) or ('sqlite', path, table) from the `table` parameter."""
    if spec.startswith("sqlite:///"):
        # As SQLAlchemy reads it: sqlite:///relative.db, sqlite:////absolute.db.
        location, _, query = spec[len("sqlite:///"):].partition("?")
        table = (parse_qs(query).get("table") or [None])[0]
        if not table:
            raise InvalidSpec(f"table {spec!r} names no table", hint="write sqlite:///path.db?table=NAME")
        if not _IDENT.match(table):
            raise InvalidSpec(f"table name {table!r} is not a plain identifier")
        return "sqlite", Path(location), table
    return "parquet", Path(spec).expanduser(), None


def _read_parquet(path: Path, wanted: list[str] | None, key: str) -> tuple[list[str], dict[str, list[Any]]]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = list(schema.names)
    _check_columns(names, wanted, key, str(path))
    take = [key] + [c for c in (wanted or names) if c != key]
    meta = pq.read_metadata(path)
    if meta.num_rows > MAX_ROWS:
        raise InvalidSpec(f"look-up table {path} has {meta.num_rows:,} rows; the in-process index stops at "
                          f"{MAX_ROWS:,}", hint="select fewer rows into a smaller table")
    return take, pq.read_table(path, columns=take).to_pydict()


def _read_sqlite(path: Path, table: str, wanted: list[str] | None, key: str) -> tuple[list[str], dict[str, list]]:
    con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)
    try:
        names = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        if not names:
            raise NotFound(f"sqlite table {table!r} not found in {path}", target=table)
        _check_columns(names, wanted, key, f"{path}?table={table}")
        take = [key] + [c for c in (wanted or names) if c != key]
        count = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if count > MAX_ROWS:
            raise InvalidSpec(f"look-up table {table} has {count:,} rows; the in-process index stops at {MAX_ROWS:,}")
        select = ", ".join('"' + c.replace('"', '""') + '"' for c in take)
        rows = con.execute(f'SELECT {select} FROM "{table}"').fetchall()
    finally:
        con.close()
    return take, {c: [r[i] for r in rows] for i, c in enumerate(take)}


def _check_columns(names: list[str], wanted: list[str] | None, key: str, where: str) -> None:
    if key not in names:
        raise InvalidSpec(f"look-up table {where} has no key column {key!r}", hint=f"its columns: {', '.join(names)}")
    missing = [c for c in wanted or [] if c not in names]
    if missing:
        raise InvalidSpec(f"look-up table {where} has no column {', '.join(map(repr, missing))}",
                          hint=f"its columns: {', '.join(names)}")


def load_table(spec: str, key: str, wanted: list[str] | None = None) -> LookupTable:
    """The table behind `spec` indexed by `key`, from the process-wide cache when unchanged."""
    kind, path, table = parse_table_spec(spec)
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise NotFound(f"look-up table {path} not found: {exc.strerror}", target=str(path)) from exc
    cache_key = (kind, str(path.resolve()), table, key, tuple(wanted or ()), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    try:
        if kind == "sqlite":
            take, data = _read_sqlite(path, table or "", wanted, key)
        else:
            take, data = _read_parquet(path, wanted, key)
    except (InvalidSpec, NotFound):
        raise
    except Exception as exc:  # a corrupt file or a locked database: say which, in words
        raise InvalidSpec(f"cannot read look-up table {spec}: {type(exc).__name__}: {exc}") from exc
    keys = data[key]
    added = take[1:]
    columns = [data[c] for c in added]
    index = {k: tuple(col[i] for col in columns) for i, k in enumerate(keys) if k is not None}
    result = LookupTable(added, index)
    with _cache_lock:
        for old in [k for k in _cache if k[:5] == cache_key[:5]]:
            del _cache[old]  # the file changed: drop the stale index
        _cache[cache_key] = result
    return result


def _lookup(index: dict[Any, tuple[Any, ...]], key: Any) -> tuple[Any, ...] | None:
    """The row for key; a miss retries the other spelling (JSON '42' against an integer 42)."""
    found = index.get(key)
    if found is not None or key is None:
        return found
    if isinstance(key, str):
        try:
            return index.get(int(key))
        except ValueError:
            return None
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return index.get(str(int(key)) if float(key).is_integer() else str(key))
    return None


class Enrichment(Transformer):
    """Adds a look-up table's columns to each row, joined by key."""

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.node_name = node.name
        self.spec = str(node.param("table", "") or "")
        self.key = str(node.param("key", "") or "")
        if not self.spec or not self.key:
            raise InvalidSpec(f"node {node.name!r} needs parameters `table` and `key`", location=node.path)
        self.wanted = json_param(node, "columns", None, list)
        self.label = self.spec
        self.table = load_table(self.spec, self.key, self.wanted)
        self._plans: dict[tuple[str, ...], tuple[int, list[str], list[int]]] = {}

    def _plan(self, names: list[str]) -> tuple[int, list[str], list[int]]:
        plan = self._plans.get(tuple(names))
        if plan is None:
            if self.key not in names:
                raise InvalidSpec(f"node {self.node_name!r}: the request has no key column {self.key!r}",
                                  hint=f"it has: {', '.join(names) or 'no names'}")
            present = set(names)
            keep = [i for i, c in enumerate(self.table.columns) if c not in present]
            plan = (names.index(self.key), names + [self.table.columns[i] for i in keep], keep)
            if len(self._plans) < 64:
                self._plans[tuple(names)] = plan
        return plan

    def transform(self, msg: Payload, ctx: RequestContext) -> Payload:
        if not msg.is_tabular() or not msg.names:
            raise InvalidSpec(f"node {self.node_name!r} joins data rows by name: send data with names")
        key_at, names, keep = self._plan(msg.names)
        index = self.table.index
        blank = (None,) * len(keep)
        misses = 0
        out = []
        for row in msg.rows():
            found = _lookup(index, row[key_at])
            if found is None:
                misses += 1
                out.append(row + list(blank))
            else:
                out.append(row + [found[i] for i in keep])
        if misses:
            ctx.tags[MISSES_TAG] = ctx.tags.get(MISSES_TAG, 0) + misses
        return Payload("ndarray", names, out, msg.meta)
