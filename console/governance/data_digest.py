"""Recompute a logged dataset's digest now, the way MLflow computed it, to say whether the data still matches.

MLflow's digest of a pandas dataset (mlflow.data.digest_utils.compute_pandas_digest) hashes the
first 10,000 rows of its string and numeric columns, the row count and the column names: an
edit past row 10,000 that keeps the row count does not change it. So the check also compares
the file's modification time with the run, and says so when the file changed after training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DIGEST_ROWS = 10_000  # mlflow.data.digest_utils.MAX_ROWS
READERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".json": "json",
           ".jsonl": "jsonl", ".ndjson": "jsonl"}

MATCHES, CHANGED, MISSING, NOT_LOCAL, UNREADABLE = "matches", "changed", "missing", "not-local", "unreadable"


@dataclass(frozen=True)
class DataCheck:
    """The verdict on one logged dataset: does the data at its source still have the logged digest?"""

    status: str  # matches, changed, missing, not-local, unreadable
    recomputed: str = ""
    message: str = ""
    modified_after_run: bool = False

    @property
    def verified(self) -> bool | None:
        """True: recomputed and equal; False: the data changed or is gone; None: could not be checked."""
        if self.status == MATCHES:
            return True
        if self.status in (CHANGED, MISSING):
            return False
        return None


def local_path(source: str, source_type: str = "") -> Path | None:
    """The file a dataset's source names, when it is on this machine (a path or a file:// URI)."""
    if not source or source_type not in ("", "local", "local_artifact", "file"):
        return None
    if source.startswith("file:"):
        parts = urlsplit(source)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parts.path))
    if "://" in source:
        return None
    return Path(source).expanduser()


def pandas_digest(path: Path) -> str:
    """MLflow's digest of the pandas DataFrame read from path (Parquet, CSV, TSV, JSON, JSON lines)."""
    import pandas as pd
    from mlflow.data.digest_utils import compute_pandas_digest

    suffix = path.suffix.lower() if path.is_file() else ".parquet"  # a folder: a partitioned Parquet dataset
    kind = READERS.get(suffix)
    if kind is None:
        raise ValueError(f"cannot read {suffix or 'extension-less'} files as a table")
    frame = {
        "parquet": lambda: pd.read_parquet(path),
        "csv": lambda: pd.read_csv(path),
        "tsv": lambda: pd.read_csv(path, sep="\t"),
        "json": lambda: pd.read_json(path),
        "jsonl": lambda: pd.read_json(path, lines=True),
    }[kind]()
    return compute_pandas_digest(frame)


def check_dataset(source: str, source_type: str, logged: str, run_end: float | None = None) -> DataCheck:
    """Recompute the digest of the data at source and compare it with the one the run logged."""
    path = local_path(source, source_type)
    if path is None:
        where = source_type or "remote"
        return DataCheck(NOT_LOCAL, message=f"a {where} source: not on this machine, not recomputed")
    if not path.exists():
        return DataCheck(MISSING, message=f"{path} no longer exists: the training data is gone")
    suffix = path.suffix.lower() if path.is_file() else ".parquet"
    if suffix not in READERS:
        return DataCheck(UNREADABLE, message=f"cannot recompute the digest of {suffix or 'extension-less'} files")
    try:
        now = pandas_digest(path)
    except Exception as exc:  # the file was readable as this format when the run logged it
        return DataCheck(CHANGED, message=f"changed: {path.name} no longer reads as {READERS[suffix]} "
                                          f"({type(exc).__name__}: {exc}); the run logged {logged}")
    modified = _modified_after(path, run_end)
    if now != logged:
        return DataCheck(CHANGED, now, f"changed: the data now has digest {now}, the run logged {logged}",
                         modified)
    note = ""
    if modified:
        note = (f"; but the file was modified after the run, and MLflow's digest covers only the first "
                f"{DIGEST_ROWS:,} rows, the row count and the columns")
    return DataCheck(MATCHES, now, f"matches: recomputed {now} now{note}", modified)


def _modified_after(path: Path, run_end: float | None) -> bool:
    if run_end is None:
        return False
    try:
        stamp = max((p.stat().st_mtime for p in [path, *path.rglob("*")] if p.is_file()), default=0.0) \
            if path.is_dir() else os.stat(path).st_mtime
    except OSError:
        return False
    return stamp > run_end + 1.0  # file systems round times; a second of slack
