"""How DuckDB reads a file: its kind from the name, CSV sniffing with overrides, and bad-input checks.

DuckDB sniffs CSV delimiters, headers and types well, but a ragged file inside its sniffing
sample makes it guess a different shape and silently return the wrong rows, and its errors
are long and technical. So before DuckDB sees a CSV we read its first megabyte ourselves:
the encoding must decode, the delimiter and header are sniffed (or taken from the caller),
and every sampled row must have the header's field count. Later problems (a ragged row or a
mixed-type value past the sample) surface as DuckDB errors, which `explain` turns into one
line naming the file, the line and the problem.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from console.errors import InvalidSpec, NotFound

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")
SNIFF_BYTES = 1 << 20
DELIMITERS = ",;\t|"
# DuckDB's encodings without an extension; anything else is named in the error.
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
             "iso-8859-1": "latin-1", "utf-16": "utf-16"}


@dataclass(frozen=True)
class CsvOptions:
    """Overrides for reading CSV; None means sniffed. `types` pins columns (e.g. {'zip': 'VARCHAR'})."""

    delimiter: str | None = None
    header: bool | None = None
    encoding: str = "utf-8"
    types: dict[str, str] = field(default_factory=dict)
    pad_ragged: bool = False  # short rows padded with nulls instead of an error


@dataclass(frozen=True)
class FileSource:
    """A file, glob or Parquet directory DuckDB will read, and how."""

    spec: str  # as given
    target: str  # the path or glob handed to DuckDB
    kind: str  # parquet, csv or json
    csv: CsvOptions | None = None

    def reader(self) -> str:
        """The DuckDB table function reading it, the target as a literal (views cannot take parameters)."""
        path = quote_literal(self.target)
        if self.kind == "parquet":
            return f"read_parquet({path}, union_by_name = true)"
        if self.kind == "json":
            return f"read_json({path}, format = 'newline_delimited', union_by_name = true)" \
                if not self.target.lower().endswith(".json") else f"read_json_auto({path})"
        options = self.csv or CsvOptions()
        parts = [path, "union_by_name = true"]
        if options.delimiter is not None:
            parts.append(f"delim = {quote_literal(options.delimiter)}")
        if options.header is not None:
            parts.append(f"header = {'true' if options.header else 'false'}")
        if options.encoding and ENCODINGS.get(options.encoding.lower(), options.encoding) != "utf-8":
            parts.append(f"encoding = {quote_literal(ENCODINGS.get(options.encoding.lower(), options.encoding))}")
        if options.types:
            pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in options.types.items())
            parts.append(f"types = {{{pairs}}}")
        if options.pad_ragged:
            parts.append("null_padding = true")
        return f"read_csv({', '.join(parts)})"


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def kind_of(name: str) -> str | None:
    low = name.lower()
    if low.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if low.endswith(CSV_SUFFIXES):
        return "csv"
    if low.endswith(JSON_SUFFIXES):
        return "json"
    return None


def file_source(spec: str, csv_options: CsvOptions | None = None) -> FileSource:
    """Check that something readable is there and say how to read it; NotFound / InvalidSpec naming it."""
    text = spec.strip()
    if not text:
        raise InvalidSpec("an empty path")
    expanded = str(Path(text).expanduser())
    if any(c in expanded for c in "*?["):
        matches = sorted(m for m in glob.glob(expanded, recursive=True) if Path(m).is_file())
        if not matches:
            raise NotFound(f"{text}: no file matches", target=text)
        kinds = {kind_of(m) for m in matches}
        if None in kinds or len(kinds) != 1:
            raise InvalidSpec(f"{text}: the matching files must all be Parquet, all CSV or all JSON lines "
                              f"(found {', '.join(sorted({Path(m).suffix or '(no suffix)' for m in matches}))})",
                              target=text)
        nonempty = [m for m in matches if Path(m).stat().st_size > 0]
        if not nonempty:
            raise InvalidSpec(f"{text}: every matching file is empty (0 bytes)", target=text)
        kind = kinds.pop()
        if kind == "csv":
            csv_options = sniff_csv(nonempty[0], csv_options)
        return FileSource(text, expanded, kind, csv_options if kind == "csv" else None)
    path = Path(expanded)
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise NotFound(f"{text}: a directory with no .parquet files", target=text)
        return FileSource(text, str(path / "**" / "*.parquet"), "parquet")
    if not path.exists():
        raise NotFound(f"{text}: no such file", target=text)
    kind = kind_of(path.name)
    if kind is None:
        raise InvalidSpec(f"{text}: unknown file type {path.suffix or '(no suffix)'} "
                          "(expected .parquet, .csv, .tsv or .jsonl)", target=text)
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InvalidSpec(f"{text}: cannot be read ({exc.strerror or exc})", target=text) from None
    if size == 0:
        raise InvalidSpec(f"{text}: empty file (0 bytes)", target=text)
    if kind == "csv" and not path.name.lower().endswith(".gz"):
        csv_options = sniff_csv(str(path), csv_options)
    return FileSource(text, str(path), kind, csv_options if kind == "csv" else None)


def sniff_csv(path: str, options: CsvOptions | None = None) -> CsvOptions:
    """The delimiter and header of a CSV (the caller's where given), after checking its first megabyte
    decodes and is not ragged. Raises InvalidSpec naming the file, the line and the problem."""
    options = options or CsvOptions()
    encoding = ENCODINGS.get(options.encoding.lower())
    if encoding is None:
        raise InvalidSpec(f"{path}: encoding {options.encoding!r} is not supported "
                          f"(use one of {', '.join(sorted(set(ENCODINGS.values())))})", target=path)
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        complete = len(fh.read(1)) == 0
    text = _decode(path, head, encoding, complete)
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the cut may have split the last line
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise InvalidSpec(f"{path}: no rows (only blank lines)", target=path)
    delimiter = options.delimiter if options.delimiter is not None else _delimiter(lines)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    width = len(rows[0])
    if not options.pad_ragged:
        for number, row in enumerate(rows[1:], start=2):
            if len(row) != width:
                raise InvalidSpec(
                    f"{path}: ragged rows: line {number} has {len(row)} field(s) where line 1 has {width} "
                    f"(delimiter {delimiter!r})", hint="fix the file, or open it with short rows padded "
                    "(--pad-ragged)", target=path, location=f"line {number}")
    header = options.header if options.header is not None else _has_header(rows)
    if header and len(rows) == 1:
        raise InvalidSpec(f"{path}: a header and no rows", target=path)
    return CsvOptions(delimiter, header, encoding, dict(options.types), options.pad_ragged)


def _decode(path: str, head: bytes, encoding: str, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError as exc:
        line = head[:exc.start].count(b"\n") + 1
        raise InvalidSpec(f"{path}: not {encoding} text: byte 0x{head[exc.start]:02x} on line {line} "
                          "does not decode", hint="name its encoding (e.g. --encoding latin-1)",
                          target=path, location=f"line {line}") from None


def _delimiter(lines: list[str]) -> str:
    """The candidate splitting the sampled lines into the most equal, widest rows."""
    best, best_score = ",", (-1, 0)
    sample = lines[:200]
    for candidate in DELIMITERS:
        widths = [len(row) for row in csv.reader(io.StringIO("\n".join(sample)), delimiter=candidate)]
        if not widths or max(widths) < 2:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common), common)
        if score > best_score:
            best, best_score = candidate, score
    return best


_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _has_header(rows: list[list[str]]) -> bool:
    """A first row of names over typed data: any column numeric below but not in row 1, or all
    first-row cells non-numeric and distinct while some later row has a number."""
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:51]
    for j, cell in enumerate(first):
        below = [r[j] for r in rest if j < len(r) and r[j].strip()]
        if below and all(_NUMBER.match(v) for v in below) and not _NUMBER.match(cell):
            return True
    names_like = all(c.strip() and not _NUMBER.match(c) for c in first) and len(set(first)) == len(first)
    if not names_like:
        return False
    # All text: a header when the first row's values never appear again in their column.
    return all(all(r[j] != cell for r in rest if j < len(r)) for j, cell in enumerate(first))


# -- DuckDB errors, in a person's words ----------------------------------------------------------

_CONVERT = re.compile(r'CSV Error on Line: (\d+).*?Error when converting column "([^"]+)"\. '
                      r'Could not convert string "([^"]*)" to \'(\w+)\'', re.S)
_COLUMNS = re.compile(r"CSV Error on Line: (\d+).*?Expected Number of Columns: (\d+) Found: (\d+)", re.S)
_UNICODE = re.compile(r"CSV Error on Line: (\d+).*?Invalid unicode", re.S)
_JSON = re.compile(r"Malformed JSON in file .*?, at byte (\d+) in line (\d+): ([^.\n]+)", re.S)


@dataclass(frozen=True)
class MixedColumn:
    """A CSV column whose values past the sniffed sample do not fit the sniffed type."""

    column: str
    line: int
    value: str
    sniffed_type: str


def mixed_column(exc: Exception) -> MixedColumn | None:
    """The column a DuckDB conversion error is about, when it is a CSV value that does not fit."""
    match = _CONVERT.search(str(exc))
    if not match:
        return None
    return MixedColumn(match.group(2), int(match.group(1)), match.group(3), match.group(4))


def explain(exc: Exception, source: str) -> str:
    """One line saying what is wrong with `source`, from a DuckDB error."""
    text = str(exc)
    mixed = mixed_column(exc)
    if mixed is not None:
        return (f"{source}: column {mixed.column!r} mixes types: line {mixed.line} has {mixed.value!r} "
                f"where the first rows are {mixed.sniffed_type}")
    match = _COLUMNS.search(text)
    if match:
        return (f"{source}: ragged rows: line {match.group(1)} has {match.group(3)} field(s), "
                f"expected {match.group(2)}")
    match = _UNICODE.search(text)
    if match:
        return f"{source}: not UTF-8 text (line {match.group(1)}); name its encoding (e.g. --encoding latin-1)"
    match = _JSON.search(text)
    if match:
        return f"{source}: malformed JSON near line {match.group(2)}: {match.group(3).strip()}"
    low = text.lower()
    if "no magic bytes" in low or "too small to be a parquet" in low or "invalid parquet" in low \
            or ("parquet" in low and ("metadata" in low or "corrupt" in low)):
        return f"{source}: not a valid Parquet file (corrupt or truncated)"
    if "no files found" in low:
        return f"{source}: no such file"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return f"{source}: {first.removeprefix('Invalid Input Error: ').removeprefix('IO Error: ')}"
