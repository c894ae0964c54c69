"""A deployment's reference data for drift: the dataset its model was trained on.

For each `models:/` node of the graph, in the order requests reach them, the registry gives
the model version, its run, and the datasets the run logged (MLflow dataset inputs); the
first one with a readable local file wins, "training" context first. The same walk as
console.graph.sample_request, which wants evaluation rows first instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from console.errors import ConsoleError, NotFound
from console.graph.spec import Deployment
from console.graph.validate import parse_model_uri

CONTEXT_ORDER = ("training", "train", "validation", "evaluation", "eval", "test")
_DATA_SUFFIXES = (".parquet", ".pq", ".parq", ".csv", ".tsv", ".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class ReferenceDataset:
    """A logged dataset file standing for what a deployed model was trained on."""

    path: Path
    name: str
    context: str
    model: str
    version: str
    run_id: str
    node: str
    predictor: str

    @property
    def description(self) -> str:
        """e.g. 'credit-risk-train (training) logged by credit-risk v3's run'."""
        context = f" ({self.context})" if self.context else ""
        return f"{self.name}{context} logged by {self.model} v{self.version}'s run"


def local_path(source: str) -> Path | None:
    """The local file a dataset source names (a path or a file:// URI), if it is one."""
    if not source:
        return None
    if source.startswith("file://"):
        source = unquote(source.removeprefix("file://"))
    elif "://" in source:
        return None  # s3://, https://, dbfs:/ ...: not read from here
    return Path(source)


def _readable(path: Path) -> bool:
    if path.is_file():
        return path.name.lower().endswith(_DATA_SUFFIXES) and path.stat().st_size > 0
    return path.is_dir() and any(path.rglob("*.parquet"))


def _context_rank(context: str) -> int:
    return CONTEXT_ORDER.index(context) if context in CONTEXT_ORDER else len(CONTEXT_ORDER)


def _models(dep: Deployment, predictor: str | None) -> list[tuple[str, str, str]]:
    """(predictor, node, model URI) of every registry model, the chosen predictor's first, shadows last."""
    order = sorted(dep.predictors, key=lambda p: (p.name != predictor, bool(p.shadow) and p.name != predictor))
    out = []
    for p in order:
        for node in p.graph.walk():
            if isinstance(node.model_uri, str) and node.model_uri.startswith("models:/"):
                out.append((p.name, node.name, node.model_uri))
    return out


def find_reference(dep: Deployment, registry: Any, *, predictor: str | None = None) -> ReferenceDataset:
    """The reference dataset of a deployment (see the module docstring); NotFound saying why not."""
    if registry is None:
        raise NotFound(f"{dep.name}: no registry to look its models up in")
    models = _models(dep, predictor)
    if not models:
        raise NotFound(f"{dep.name}: the graph has no registry model (models:/...) to take training data from",
                       hint="compare against a file instead", target=dep.name)
    reasons: list[str] = []
    for pred, node, uri in models:
        parsed = parse_model_uri(uri)
        if parsed is None:
            reasons.append(f"{uri}: not a registry version")
            continue
        name, ref = parsed
        try:
            version = registry.get_version(name, ref)
            run = registry.get_run(version.run_id) if version.run_id else None
        except ConsoleError as exc:
            reasons.append(f"{uri}: {exc.message}")
            continue
        if run is None:
            reasons.append(f"{uri}: version {version.version} has no run")
            continue
        datasets = sorted(getattr(run, "datasets", []) or [], key=lambda d: _context_rank(d.context))
        if not datasets:
            reasons.append(f"{uri}: {name} v{version.version}'s run logged no dataset")
        for dataset in datasets:
            path = local_path(dataset.source)
            if path is None:
                reasons.append(f"{dataset.name}: source {dataset.source or '(none)'} is not a local file")
            elif not path.exists():
                reasons.append(f"{dataset.name}: {path} no longer exists")
            elif not _readable(path):
                reasons.append(f"{dataset.name}: {path} is not a Parquet, CSV or JSON-lines file")
            else:
                return ReferenceDataset(path, dataset.name, dataset.context, name, version.version,
                                        version.run_id, node, pred)
    raise NotFound(f"{dep.name}: no logged training dataset found ({'; '.join(reasons)})",
                   hint="log one with mlflow.log_input(..., context='training'), or compare against a file",
                   target=dep.name)


def find_reference_for(name: str, cluster: Any, registry: Any, *, predictor: str | None = None) -> ReferenceDataset:
    """The reference dataset of a deployed graph, by name: its manifest from the cluster, then find_reference."""
    from console.graph.manifest_io import load_manifest

    detail = cluster.get_deployment(name)
    dep = load_manifest(detail.manifest, source=name)
    return find_reference(dep, registry, predictor=predictor)
