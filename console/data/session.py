"""The open datasets of one console (or one headless command), as tables of one DuckDB database.

Every dataset is a view named for SQL (`train`, `requests_credit_risk`, ...) over a file that
DuckDB reads on demand, or a table loaded from rows Python produced (request logs). Nothing
reads a whole file: pages are `LIMIT/OFFSET` over the view (DuckDB keeps file order without
ORDER BY), counts and statistics are SQL, exports are `COPY`.

Threads: DuckDB connections are not shared between threads, so every call takes its own
cursor of the one database; long operations keep theirs registered so that `cancel()` can
interrupt them from the UI thread. A CSV value past the sniffed sample that does not fit its
column's type (a "mixed" column) re-reads that column as text, says so in the dataset's notes,
and retries, so the view stays usable. duckdb is imported on first use.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from console.data.formats import CsvOptions, FileSource, explain, mixed_column, quote_ident, quote_literal
from console.errors import ConsoleError, InvalidSpec, NotFound

MEMORY_LIMIT = "400MB"  # DuckDB spills sorts and joins to disk past this
PAGE_ROWS = 100
MAX_MIXED_RETRIES = 8
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
TEMPORAL_TYPES = ("DATE", "TIMESTAMP", "TIME", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")


class Cancelled(ConsoleError):
    """An operation was interrupted on request (esc in the view)."""


@dataclass(frozen=True)
class Column:
    """A column of a dataset: its name and DuckDB type."""

    name: str
    type: str

    @property
    def kind(self) -> str:
        """numeric, temporal, boolean, categorical (text) or other (lists, structs, blobs)."""
        base = self.type.upper().split("(")[0].strip()
        if base in NUMERIC_TYPES:
            return "numeric"
        if base.startswith(TEMPORAL_TYPES):
            return "temporal"
        if base == "BOOLEAN":
            return "boolean"
        if base in ("VARCHAR", "ENUM", "UUID") or base.startswith("ENUM"):
            return "categorical"
        return "other"


@dataclass
class Dataset:
    """An open dataset: the table name SQL uses, where it came from, its columns."""

    name: str
    spec: str
    description: str
    columns: list[Column]
    kind: str  # file, rows (loaded from Python) or query
    source: FileSource | None = None
    notes: list[str] = field(default_factory=list)
    rows: int | None = None  # counted on demand (a CSV must be parsed to count it)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFound(f"{self.spec}: no column {name!r}", target=name)


@dataclass(frozen=True)
class Selection:
    """What the table shows: a dataset, filtered by an SQL expression, ordered by columns."""

    table: str
    where: str = ""
    order: tuple[tuple[str, bool], ...] = ()  # (column, descending), most significant first

    def sql(self, projection: str = "*", *, order: bool = True) -> str:
        query = f"SELECT {projection} FROM {quote_ident(self.table)}"
        if self.where.strip():
            query += f" WHERE {self.where}"
        if order and self.order:
            query += " ORDER BY " + ", ".join(f"{quote_ident(c)} {'DESC' if d else 'ASC'} NULLS LAST"
                                              for c, d in self.order)
        return query

    def describe(self) -> str:
        parts = []
        if self.where.strip():
            parts.append(f"where {self.where.strip()}")
        if self.order:
            parts.append("order by " + ", ".join(f"{c} {'↓' if d else '↑'}" for c, d in self.order))
        return "  ".join(parts)


def table_name(text: str, taken: set[str]) -> str:
    """An SQL-friendly table name from a file stem or label, unique among `taken`."""
    stem = text.strip().lower()
    for suffix in (".gz", ".parquet", ".pq", ".parq", ".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"):
        stem = stem.removesuffix(suffix)
    name = re.sub(r"[^a-z0-9_]+", "_", stem).strip("_") or "data"
    if name[0].isdigit():
        name = f"t_{name}"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


class DataSession:
    """One DuckDB database holding the open datasets; every method is safe from any thread."""

    def __init__(self, *, temp_dir: Path | None = None, memory_limit: str = MEMORY_LIMIT) -> None:
        self._temp_dir = temp_dir
        self._memory_limit = memory_limit
        self._con = None
        self._lock = threading.RLock()
        self._running: set[Any] = set()
        self._cancelled: set[int] = set()
        self.datasets: dict[str, Dataset] = {}
        self._queries = 0

    # -- the database ---------------------------------------------------------------------------

    @property
    def connection(self):
        with self._lock:
            if self._con is None:
                import duckdb

                self._con = duckdb.connect(config={"memory_limit": self._memory_limit})
                temp = self._temp_dir or Path(tempfile.gettempdir()) / "mlconsole-duckdb"
                self._con.execute(f"SET temp_directory = {quote_literal(str(temp))}")
            return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A cursor of the database for this thread; `cancel()` interrupts it while it runs."""
        cur = self.connection.cursor()
        with self._lock:
            self._running.add(cur)
        try:
            yield cur
        finally:
            with self._lock:
                self._running.discard(cur)
                self._cancelled.discard(id(cur))
            cur.close()

    def cancel(self) -> int:
        """Interrupt every running query; returns how many were running."""
        with self._lock:
            running = list(self._running)
            self._cancelled.update(id(c) for c in running)
        for cur in running:
            try:
                cur.interrupt()
            except Exception:  # it finished meanwhile
                pass
        return len(running)

    def execute(self, sql: str, params: list[Any] | None = None, *, what: str = "", fetch: str = "all"):
        """Run one statement on a fresh cursor: rows (fetch="all"), an Arrow table ("arrow") or the
        cursor's description ("description"). DuckDB errors become InvalidSpec naming `what`;
        a mixed-type CSV column is re-read as text and the statement retried."""
        import duckdb

        for _ in range(MAX_MIXED_RETRIES):
            with self.cursor() as cur:
                try:
                    if fetch == "arrow":  # a relation hands Arrow over without the DB-API's extra copy
                        relation = cur.sql(sql, params=params or None)
                        return relation.to_arrow_table() if relation is not None else None
                    result = cur.execute(sql, params or [])
                    if fetch == "description":
                        return result.description
                    return result.fetchall()
                except duckdb.InterruptException:
                    raise Cancelled(f"{what or 'query'}: cancelled") from None
                except duckdb.Error as exc:
                    if id(cur) in self._cancelled:
                        raise Cancelled(f"{what or 'query'}: cancelled") from None
                    if not self._retype_mixed(exc):
                        raise InvalidSpec(self._explain(exc, what), target=what) from None
        raise InvalidSpec(f"{what}: too many columns of mixed types", target=what)

    def _explain(self, exc: Exception, what: str) -> str:
        for dataset in self.datasets.values():
            if dataset.source is not None and dataset.source.target in str(exc):
                return explain(exc, dataset.spec)
        return explain(exc, what or "query")

    def _retype_mixed(self, exc: Exception) -> bool:
        """Re-read a CSV column as text when a value past the sniffed sample did not fit its type."""
        mixed = mixed_column(exc)
        if mixed is None:
            return False
        text = str(exc)
        for dataset in self.datasets.values():
            source = dataset.source
            if source is None or source.kind != "csv" or mixed.column in (source.csv or CsvOptions()).types:
                continue
            if source.target not in text and not any(c.name == mixed.column for c in dataset.columns):
                continue
            options = source.csv or CsvOptions()
            dataset.source = replace(source, csv=replace(options, types={**options.types, mixed.column: "VARCHAR"}))
            dataset.notes.append(f"column {mixed.column!r} mixes types (line {mixed.line} has {mixed.value!r} "
                                 f"in a {mixed.sniffed_type} column): read as text")
            self._define_view(dataset)
            dataset.columns = self._describe(dataset.name, dataset.spec)
            return True
        return False

    # -- opening ------------------------------------------------------------------------------------

    def _define_view(self, dataset: Dataset) -> None:
        assert dataset.source is not None
        with self._lock:
            self.connection.execute(f"CREATE OR REPLACE VIEW {quote_ident(dataset.name)} AS "
                                    f"SELECT * FROM {dataset.source.reader()}")

    def _describe(self, name: str, what: str) -> list[Column]:
        rows = self.execute(f"DESCRIBE SELECT * FROM {quote_ident(name)}", what=what)
        return [Column(r[0], str(r[1])) for r in rows]

    def _name(self, wanted: str | None, fallback: str) -> str:
        if wanted:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", wanted):
                raise InvalidSpec(f"{wanted!r} is not a table name (letters, digits and _)")
            return wanted
        return table_name(fallback, set(self.datasets))

    def open_file(self, source: FileSource, *, name: str | None = None, label: str | None = None,
                  description: str = "") -> Dataset:
        """A view over a file (see console.data.formats.file_source), checked by reading its schema.
        `name` is the table name as given (checked); without it one is made from `label` or the file."""
        label = label or (Path(source.spec.rstrip("/")).name if not any(c in source.spec for c in "*?[") else
                          Path(source.spec).parent.name or "data")
        dataset = Dataset(self._name(name, label), source.spec, description or source.spec, [], "file", source)
        with self._lock:
            try:
                self._define_view(dataset)
            except Exception as exc:
                raise InvalidSpec(explain(exc, source.spec), target=source.spec) from None
            self.datasets[dataset.name] = dataset
        try:
            dataset.columns = self._describe(dataset.name, source.spec)
        except ConsoleError:
            self.close_dataset(dataset.name)
            raise
        if not dataset.columns:
            self.close_dataset(dataset.name)
            raise InvalidSpec(f"{source.spec}: no columns", target=source.spec)
        return dataset

    def open_rows(self, table: Any, *, spec: str, name: str | None = None, label: str | None = None,
                  description: str = "", notes: list[str] | None = None) -> Dataset:
        """A table loaded from an Arrow table (rows Python produced, e.g. expanded request logs)."""
        dataset = Dataset(self._name(name, label or spec), spec, description or spec, [], "rows", notes=list(notes or []),
                          rows=table.num_rows)
        with self._lock:
            con = self.connection
            con.register("__incoming", table)
            try:
                con.execute(f"CREATE OR REPLACE TABLE {quote_ident(dataset.name)} AS SELECT * FROM __incoming")
            finally:
                con.unregister("__incoming")
            self.datasets[dataset.name] = dataset
        dataset.columns = self._describe(dataset.name, spec)
        return dataset

    def open_query(self, sql: str, *, name: str | None = None) -> Dataset:
        """The result of SQL over the open datasets, as a table to page through.

        A SELECT becomes a view (pages re-run it: nothing is copied); anything else (SHOW,
        DESCRIBE, SUMMARIZE, several statements) runs now and its result is kept. Earlier
        statements of a script run first, in order.
        """
        statements = self._statements(sql)
        for statement in statements[:-1]:
            self.execute(statement, what="query")
        last = statements[-1]
        self._queries += 1
        dataset_name = self._name(name, f"result_{self._queries}")
        dataset = Dataset(dataset_name, last, last, [], "query")
        if re.match(r"^\s*(\(\s*)*(SELECT|WITH|FROM|VALUES|TABLE)\b", last, re.IGNORECASE):
            try:
                self.execute(f"DESCRIBE {last}", what="query")  # checks it before any view exists
                with self._lock:
                    self.connection.execute(f"CREATE OR REPLACE VIEW {quote_ident(dataset_name)} AS {last}")
            except ConsoleError:
                raise
            except Exception as exc:
                raise InvalidSpec(explain(exc, "query"), target="query") from None
        else:
            table = self.execute(last, what="query", fetch="arrow")
            if table is None or table.num_columns == 0:
                table = _done_table(last)
            with self._lock:
                con = self.connection
                con.register("__incoming", table)
                try:
                    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(dataset_name)} AS SELECT * FROM __incoming")
                finally:
                    con.unregister("__incoming")
            dataset.rows = table.num_rows
            dataset.kind = "rows"
        with self._lock:
            self.datasets[dataset_name] = dataset
        dataset.columns = self._describe(dataset_name, "query")
        return dataset

    def _statements(self, sql: str) -> list[str]:
        import duckdb

        text = sql.strip().rstrip(";").strip()
        if not text:
            raise InvalidSpec("an empty query")
        try:
            parts = [s.query.strip() for s in self.connection.extract_statements(text)]
        except duckdb.Error as exc:
            raise InvalidSpec(explain(exc, "query"), target="query") from None
        parts = [p.rstrip(";").strip() for p in parts if p.strip()]
        if not parts:
            raise InvalidSpec("an empty query")
        return parts

    def close_dataset(self, name: str) -> None:
        with self._lock:
            dataset = self.datasets.pop(name, None)
            if dataset is None or self._con is None:
                return
            kind = "VIEW" if dataset.kind in ("file", "query") else "TABLE"
            self._con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")

    def get(self, name: str) -> Dataset:
        if name not in self.datasets:
            raise NotFound(f"no open dataset {name!r}", target=name)
        return self.datasets[name]

    # -- reading --------------------------------------------------------------------------------

    def check(self, selection: Selection) -> None:
        """Raise InvalidSpec when the filter or order does not parse or names no column."""
        dataset = self.get(selection.table)
        for column, _ in selection.order:
            dataset.column(column)
        self.execute(f"DESCRIBE {selection.sql()}", what=f"filter {selection.where!r}" if selection.where
                     else dataset.spec)

    def count(self, selection: Selection) -> int:
        """Rows of the selection (metadata only for an unfiltered Parquet file)."""
        dataset = self.get(selection.table)
        rows = self.execute(f"SELECT count(*) FROM ({selection.sql(order=False)})", what=dataset.spec)
        total = int(rows[0][0])
        if not selection.where.strip():
            dataset.rows = total
        return total

    def page(self, selection: Selection, offset: int, limit: int = PAGE_ROWS) -> list[tuple]:
        """Rows offset..offset+limit of the selection, in its order (file order when unsorted)."""
        dataset = self.get(selection.table)
        return self.execute(f"{self._ordered(selection)} LIMIT {int(limit)} OFFSET {int(offset)}",
                            what=dataset.spec)

    def _ordered(self, selection: Selection) -> str:
        """The selection's SQL with a total order: ties would let rows swap between pages (and
        exports differ run to run), so the remaining columns break them."""
        sql = selection.sql()
        if selection.order:
            keyed = {c for c, _ in selection.order}
            rest = [c for c in self.get(selection.table).columns if c.name not in keyed and c.kind != "other"]
            if rest:
                sql += ", " + ", ".join(quote_ident(c.name) for c in rest)
        return sql

    def sample(self, selection: Selection, rows: int, *, seed: int = 42):
        """At most `rows` rows of the selection as an Arrow table: a repeatable reservoir sample."""
        dataset = self.get(selection.table)
        return self.execute(f"SELECT * FROM ({selection.sql(order=False)}) "
                            f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({int(seed)})",
                            what=dataset.spec, fetch="arrow")

    def export(self, selection: Selection, path: Path) -> int:
        """Write the selection to CSV or Parquet (by the suffix) with COPY; returns the rows written."""
        path = Path(path).expanduser()
        low = path.name.lower()
        if low.endswith((".parquet", ".pq")):
            options = "FORMAT parquet, COMPRESSION zstd"
        elif low.endswith(".csv"):
            options = "FORMAT csv, HEADER true"
        elif low.endswith(".tsv"):
            options = "FORMAT csv, HEADER true, DELIMITER '\t'"
        else:
            raise InvalidSpec(f"{path}: export to .csv, .tsv or .parquet", target=str(path))
        if not path.parent.is_dir():
            raise NotFound(f"{path.parent}: no such directory", target=str(path))
        dataset = self.get(selection.table)
        rows = self.execute(f"COPY ({self._ordered(selection)}) TO {quote_literal(str(path))} ({options})",
                            what=f"export of {dataset.spec} to {path}")
        return int(rows[0][0]) if rows and rows[0] else 0


def _done_table(statement: str):
    import pyarrow as pa

    return pa.table({"status": [f"done: {statement[:60]}"]})
