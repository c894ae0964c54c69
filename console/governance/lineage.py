"""Lineage of a deployment: what runs, from which model versions, trained by which runs on which data.

deployment -> manifest digest (and the audit entry that deployed it) -> each model node's
`models:/` URI resolved in the registry -> the version's training run (params, metrics, git
commit, entry point) -> the datasets the run logged (name, digest, source) -> for data on this
machine, the digest recomputed now: does the data still match?
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.governance.data_digest import DataCheck, check_dataset
from console.governance.data_pins import PinCheck, check_pin, parse_pins, resolve_version
from console.types import AuditEntry


@dataclass(frozen=True)
class DatasetLink:
    """A dataset the run logged, and whether the data at its source still has the logged digest."""

    name: str
    digest: str
    source_type: str
    source: str
    context: str
    check: DataCheck | None = None  # None when not recomputed (asked not to)


@dataclass(frozen=True)
class RunLink:
    """The training run behind a model version."""

    run_id: str
    name: str = ""
    experiment: str = ""
    status: str = ""
    user: str = ""
    start_time: float | None = None
    end_time: float | None = None
    git_commit: str = ""
    entry_point: str = ""
    source_type: str = ""
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: list[DatasetLink] = field(default_factory=list)


@dataclass(frozen=True)
class ModelLink:
    """One model node of the graph, resolved through the registry to its version and run."""

    predictor: str
    node: str
    model_uri: str
    model: str = ""  # registered model name
    version: str = ""
    aliases: list[str] = field(default_factory=list)
    run: RunLink | None = None
    pins: list[PinCheck] = field(default_factory=list)
    error: str = ""  # why the chain stops here (not a registry model, not found, registry down)


@dataclass(frozen=True)
class DeployRecord:
    """The audit entry that deployed this manifest (or the newest deploy of the deployment)."""

    entry: int  # its number in the audit log
    time: str
    actor: str
    reason: str
    same_manifest: bool  # the entry recorded this manifest's digest


@dataclass(frozen=True)
class DeploymentLineage:
    """Everything `mlconsole lineage NAME` and the Lineage view show."""

    deployment: str
    namespace: str
    cluster: str
    registry: str
    manifest_sha256: str
    models: list[ModelLink] = field(default_factory=list)
    deployed: DeployRecord | None = None
    traced_at: float = 0.0
    problems: list[str] = field(default_factory=list)  # e.g. a malformed pin annotation

    def datasets(self) -> list[DatasetLink]:
        """Each dataset once (by source and digest), across every model."""
        seen, out = set(), []
        for model in self.models:
            for ds in model.run.datasets if model.run else []:
                if (ds.source, ds.digest) not in seen:
                    seen.add((ds.source, ds.digest))
                    out.append(ds)
        return out

    def unresolved(self) -> list[ModelLink]:
        """Registry models (models:/, runs:/) whose chain broke: not found, registry down."""
        return [m for m in self.models if m.error and m.model_uri.startswith(("models:/", "runs:/"))]

    @property
    def data_ok(self) -> bool | None:
        """False when any local dataset changed or is gone; True when all checked match; None if none checked."""
        verdicts = [ds.check.verified for ds in self.datasets() if ds.check is not None]
        if any(v is False for v in verdicts):
            return False
        return True if any(v is True for v in verdicts) else None

    def data_summary(self) -> str:
        """'3 datasets: 2 match, 1 changed' — the verdict in one line."""
        datasets = self.datasets()
        counts: dict[str, int] = {}
        for ds in datasets:
            status = ds.check.status if ds.check else "not checked"
            counts[status] = counts.get(status, 0) + 1
        words = {"matches": "match", "not-local": "not local"}
        order = ["changed", "missing", "unreadable", "not-local", "not checked", "matches"]
        parts = [f"{n} {words.get(s, s)}" for s, n in sorted(counts.items(), key=lambda i: order.index(i[0]))]
        noun = "dataset" if len(datasets) == 1 else "datasets"
        return f"{len(datasets)} {noun}: {', '.join(parts)}" if datasets else "no logged datasets"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["data_ok"] = self.data_ok
        data["data_summary"] = self.data_summary()
        return data


def manifest_digest(manifest: str) -> str:
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def _deploy_record(entries: list[tuple[int, AuditEntry]], name: str, digest: str) -> DeployRecord | None:
    """The newest cluster.deploy of this deployment, preferring the one that recorded this manifest."""
    deploys = [(n, e) for n, e in entries if e.action == "cluster.deploy" and e.target.rsplit("/", 1)[-1] == name]
    if not deploys:
        return None
    same = [(n, e) for n, e in deploys if f"manifest sha256:{digest[:12]}" in e.after]
    number, entry = (same or deploys)[-1]
    return DeployRecord(number, entry.time, entry.actor, entry.reason, bool(same))


def _run_link(run: Any, verify_data: bool, checked: dict[tuple[str, str], DataCheck]) -> RunLink:
    datasets = []
    for ds in run.datasets:
        check = None
        if verify_data:
            key = (ds.source, ds.digest)
            if key not in checked:
                checked[key] = check_dataset(ds.source, ds.source_type, ds.digest, run.end_time or run.start_time)
            check = checked[key]
        datasets.append(DatasetLink(ds.name, ds.digest, ds.source_type, ds.source, ds.context, check))
    return RunLink(run.run_id, run.name, run.experiment_name, run.status, run.user, run.start_time, run.end_time,
                   run.git_commit, run.entry_point, run.tags.get("mlflow.source.type", ""), dict(run.params),
                   dict(run.metrics), datasets)


def _model_link(predictor: str, node: Any, registry: Any, pins: list, verify_data: bool,
                runs: dict[str, Any], checked: dict) -> ModelLink:
    uri = node.model_uri or ""
    base = ModelLink(predictor, node.name, uri)
    if uri.startswith("runs:/"):
        run_id = uri[len("runs:/"):].split("/", 1)[0]
        version = None
    elif uri.startswith("models:/"):
        try:
            version = resolve_version(registry, uri)
        except ConsoleError as exc:
            return ModelLink(predictor, node.name, uri, error=str(exc))
        run_id = version.run_id
        base = ModelLink(predictor, node.name, uri, version.name, version.version, list(version.aliases))
    else:
        return ModelLink(predictor, node.name, uri,
                         error=f"not a registry model ({uri.split('://')[0] + '://' if '://' in uri else uri}): "
                               "lineage stops at its URI")
    if not run_id:
        return replace(base, error="the version records no source run")
    try:
        if run_id not in runs:
            runs[run_id] = registry.get_run(run_id)
        run = runs[run_id]
    except ConsoleError as exc:
        return replace(base, error=f"run {run_id}: {exc}")
    label = f"{uri} = {base.model} v{base.version}" if version is not None else uri
    checks = [check_pin(p, label, run) for p in pins if p.applies_to(predictor, node.name)]
    return ModelLink(base.predictor, base.node, uri, base.model, base.version, base.aliases,
                     _run_link(run, verify_data, checked), checks)


def trace_deployment(cluster: Any, registry: Any, name: str, *, home: Path | None = None,
                     verify_data: bool = True) -> DeploymentLineage:
    """The lineage of one deployment. NotFound when the cluster has no such deployment; a model the
    registry cannot resolve stops its own branch (with the reason), not the whole trace."""
    from console.graph.manifest_io import load_manifest

    detail = cluster.get_deployment(name)
    digest = manifest_digest(detail.manifest)
    dep = load_manifest(detail.manifest, f"deployment {name}")
    problems = []
    try:
        pins = parse_pins(dep.annotations)
    except ConsoleError as exc:
        pins, problems = [], [str(exc)]
    deployed = None
    if home is not None:
        from console.governance.audit import AuditLog

        records = AuditLog(home).records()
        deployed = _deploy_record([(r.line, r.entry) for r in records if r.entry is not None], name, digest)
    runs: dict[str, Any] = {}
    checked: dict[tuple[str, str], DataCheck] = {}
    models = [_model_link(predictor.name, node, registry, pins, verify_data, runs, checked)
              for predictor, node in dep.nodes() if node.model_uri]
    return DeploymentLineage(
        deployment=name, namespace=detail.summary.namespace, cluster=getattr(cluster, "endpoint", ""),
        registry=getattr(registry, "endpoint", ""), manifest_sha256=digest, models=models, deployed=deployed,
        traced_at=time.time(), problems=problems)
