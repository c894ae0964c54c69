"""What a dataset spec names, and opening it in a DataSession.

Specs (the same in `:data SPEC`, the view's open dialog and `mlconsole data ...`):

- a path, a glob (`logs/*.parquet`) or a directory of Parquet files;
- `requests:DEPLOYMENT[@SINCE]`: the deployment's request log, payloads expanded to feature
  columns (SINCE: 30m, 1h, 2d or an ISO time; the newest REQUEST_ROWS rows);
- `training:DEPLOYMENT`: the dataset its model's training run logged (console.data.reference);
- `dataset:MODEL/VERSION[/NAME]`: a dataset a model version's run logged (VERSION may be an
  alias); the training one unless NAME says which;
- `runs:/RUN_ID/PATH`: a run artifact; read in place from a local artifact store, otherwise
  downloaded once to HOME/cache/artifacts/RUN_ID/PATH.

Only local files are read: a logged dataset whose source is s3:// or a URL says so.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.data.formats import CsvOptions, file_source
from console.data.reference import CONTEXT_ORDER, local_path
from console.data.session import DataSession, Dataset
from console.errors import ConsoleError, InvalidSpec, NotFound

REQUESTS, TRAINING, DATASET, RUNS = "requests:", "training:", "dataset:", "runs:/"
REQUEST_ROWS = 100_000


@dataclass(frozen=True)
class SourceContext:
    """Where specs other than paths are looked up; any of them may be None (paths still work)."""

    home: Path | None = None
    registry: Any = None
    cluster: Any = None


def open_spec(session: DataSession, spec: str, context: SourceContext | None = None, *,
              name: str | None = None, csv: CsvOptions | None = None,
              request_rows: int = REQUEST_ROWS) -> Dataset:
    """Open what `spec` names (see the module docstring) as a table of the session."""
    context = context or SourceContext()
    spec = spec.strip()
    if spec.startswith(REQUESTS):
        return _requests(session, spec, context, name=name, limit=request_rows)
    if spec.startswith(TRAINING):
        path, description = _training(spec, context)
        return session.open_file(file_source(str(path), csv), name=name, label=_stem(path), description=description)
    if spec.startswith(DATASET):
        path, description = _logged_dataset(spec, context)
        return session.open_file(file_source(str(path), csv), name=name, label=_stem(path), description=description)
    if spec.startswith(RUNS):
        path = _run_artifact(spec, context)
        return session.open_file(file_source(str(path), csv), name=name, description=f"{spec} ({path})")
    source = file_source(spec, csv)
    return session.open_file(source, name=name)


def _stem(path: Path) -> str:
    return path.name if path.is_file() else path.name or "data"


def _requests(session: DataSession, spec: str, context: SourceContext, *, name: str | None,
              limit: int) -> Dataset:
    from console.data.request_log import log_dir, log_files, parse_since, read_requests

    if context.home is None:
        raise InvalidSpec(f"{spec}: request logs need the console's home")
    deployment, _, since_text = spec[len(REQUESTS):].partition("@")
    if not deployment:
        raise InvalidSpec(f"{spec}: name a deployment, e.g. requests:credit-risk@1h")
    since = parse_since(since_text) if since_text else None
    if not log_files(context.home, deployment):
        raise NotFound(f"{spec}: no request log at {log_dir(context.home, deployment)} "
                       "(is the deployment logging requests, and has traffic reached it?)", target=spec)
    sample = read_requests(context.home, deployment, since=since, shadow=False, limit=limit)
    window = f" since {since_text}" if since_text else ""
    if sample.requests == 0:
        raise InvalidSpec(f"{spec}: no requests logged{window}", target=spec)
    if not sample.features:
        reasons = ", ".join(f"{n} {why}" for why, n in sample.skip_reasons.items())
        raise InvalidSpec(f"{spec}: none of the {sample.requests:,} logged requests has a readable payload "
                          f"({reasons})", target=spec)
    notes = []
    if sample.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in sample.skip_reasons.items())
        notes.append(f"{sample.skipped:,} malformed request(s) skipped: {reasons}")
    if sample.truncated:
        notes.append(f"the newest {sample.rows:,} rows only")
    description = f"{sample.rows:,} rows from {sample.requests:,} logged requests of {deployment}{window}"
    return session.open_rows(sample.table, spec=spec, name=name, label=f"requests_{deployment}",
                             description=description, notes=notes)


def _training(spec: str, context: SourceContext) -> tuple[Path, str]:
    from console.data.reference import find_reference_for

    deployment = spec[len(TRAINING):]
    if not deployment:
        raise InvalidSpec(f"{spec}: name a deployment, e.g. training:credit-risk")
    if context.cluster is None or context.registry is None:
        raise InvalidSpec(f"{spec}: needs the cluster and the registry")
    reference = find_reference_for(deployment, context.cluster, context.registry)
    return reference.path, f"{reference.path} ({reference.description})"


def _logged_dataset(spec: str, context: SourceContext) -> tuple[Path, str]:
    parts = spec[len(DATASET):].split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidSpec(f"{spec}: expected dataset:MODEL/VERSION[/NAME], e.g. dataset:credit-risk/1")
    if context.registry is None:
        raise InvalidSpec(f"{spec}: needs the registry")
    model, ref = parts[0], parts[1]
    version = context.registry.get_version(model, ref)
    if not version.run_id:
        raise NotFound(f"{spec}: {model} v{version.version} has no run", target=spec)
    run = context.registry.get_run(version.run_id)
    datasets = sorted(run.datasets or [], key=lambda d: CONTEXT_ORDER.index(d.context)
                      if d.context in CONTEXT_ORDER else len(CONTEXT_ORDER))
    if len(parts) == 3:
        datasets = [d for d in datasets if d.name == parts[2]]
    if not datasets:
        logged = ", ".join(d.name for d in run.datasets or []) or "none"
        raise NotFound(f"{spec}: no such logged dataset (the run logged: {logged})", target=spec)
    chosen = datasets[0]
    path = local_path(chosen.source)
    if path is None:
        raise NotFound(f"{spec}: {chosen.name}'s source {chosen.source or '(none)'} is not a local file",
                       hint="only local files are read", target=spec)
    if not path.exists():
        raise NotFound(f"{spec}: {chosen.name}'s file {path} no longer exists", target=spec)
    context_note = f" ({chosen.context})" if chosen.context else ""
    return path, f"{path} ({chosen.name}{context_note}, logged by {model} v{version.version}'s run)"


def _run_artifact(spec: str, context: SourceContext) -> Path:
    run_id, _, artifact = spec[len(RUNS):].partition("/")
    if not run_id or not artifact:
        raise InvalidSpec(f"{spec}: expected runs:/RUN_ID/PATH")
    if context.registry is None:
        raise InvalidSpec(f"{spec}: needs the registry")
    run = context.registry.get_run(run_id)
    # mlflow-artifacts:/, s3://, dbfs:/ ... are remote; a plain path or file:// is read in place.
    remote = bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", run.artifact_uri)) and \
        not run.artifact_uri.startswith("file:")
    local = None if remote else local_path(run.artifact_uri)
    if local is not None:
        path = local / artifact
        if not path.exists():
            raise NotFound(f"{spec}: the run has no artifact {artifact} ({path})", target=spec)
        return path
    if context.home is None:
        raise InvalidSpec(f"{spec}: downloading an artifact needs the console's home for its cache")
    cached = Path(context.home) / "cache" / "artifacts" / run_id / artifact
    if cached.exists():
        return cached
    download = getattr(context.registry, "download_artifacts", None)
    client = getattr(context.registry, "client", None)
    partial = cached.with_name(cached.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, exist_ok=True)
    try:
        if download is not None:
            fetched = Path(download(run_id, artifact, str(partial)))
        elif client is not None:
            fetched = Path(client.download_artifacts(run_id, artifact, str(partial)))
        else:
            raise NotFound(f"{spec}: artifacts at {run.artifact_uri} are not local and this registry "
                           "cannot download them", target=spec)
    except ConsoleError:
        raise
    except Exception as exc:
        raise NotFound(f"{spec}: download failed: {exc}", target=spec) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(fetched), str(cached))
    shutil.rmtree(partial, ignore_errors=True)
    return cached


# -- what the open dialog offers --------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """Something the view can open: the spec, a label and where it comes from."""

    spec: str
    label: str
    note: str


SKIPPED_DIRS = {".venv", "venv", "node_modules", "__pycache__", "mlruns", "site-packages", ".git"}


def files_under(directory: Path, *, limit: int = 500, depth: int = 4) -> list[Candidate]:
    """Data files under a directory (hidden and tool folders skipped, `depth` levels at most),
    shallow ones first."""
    import os

    from console.data.formats import kind_of

    found: list[tuple[int, str, Path]] = []
    if not directory.is_dir():
        return []
    for root, dirs, names in os.walk(directory):
        level = len(Path(root).relative_to(directory).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS and level < depth)
        for name in names:
            if not name.startswith(".") and kind_of(name):
                found.append((level, os.path.join(root, name), Path(root) / name))
        if len(found) >= limit * 2:
            break
    out = []
    for _, _, path in sorted(found)[:limit]:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        out.append(Candidate(str(path), str(path.relative_to(directory)), _size(size)))
    return out


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def request_logs(home: Path) -> list[Candidate]:
    """Every deployment with a request log under home."""
    from console.data.request_log import log_files

    root = Path(home) / "runtime" / "requests"
    out = []
    if root.is_dir():
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            files = log_files(home, directory.name)
            if files:
                out.append(Candidate(f"{REQUESTS}{directory.name}", f"requests of {directory.name}",
                                     f"{len(files)} log file(s)"))
    return out


def registry_datasets(registry: Any, *, limit: int = 50) -> list[Candidate]:
    """The datasets logged by the runs of every registered model's latest versions."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for model in registry.list_models(max_results=limit).items:
        try:
            versions = registry.list_versions(model.name)
        except ConsoleError:
            continue
        for version in sorted(versions, key=lambda v: -int(v.version) if str(v.version).isdigit() else 0)[:3]:
            if not version.run_id:
                continue
            try:
                run = registry.get_run(version.run_id)
            except ConsoleError:
                continue
            for dataset in run.datasets or []:
                spec = f"{DATASET}{model.name}/{version.version}/{dataset.name}"
                if spec in seen:
                    continue
                seen.add(spec)
                context = f" ({dataset.context})" if dataset.context else ""
                out.append(Candidate(spec, f"{dataset.name}{context}", f"{model.name} v{version.version}"))
    return out


def candidates(context: SourceContext, directories: list[Path]) -> list[Candidate]:
    """Everything the open dialog offers: request logs, registry datasets, then files."""
    out: list[Candidate] = []
    if context.home is not None:
        out += request_logs(context.home)
    if context.registry is not None:
        try:
            out += registry_datasets(context.registry)
        except ConsoleError:
            pass  # a registry that is down leaves the files to pick from
    seen = {c.spec for c in out}
    for directory in directories:
        for candidate in files_under(directory):
            if candidate.spec not in seen:
                seen.add(candidate.spec)
                out.append(candidate)
    return out
