"""A deployment's lineage as an outline: the same tree for `mlconsole lineage` and the Lineage view.

Each node has a label, a status that colours it (ok, bad, warn, or none) and children; long
lists (params, metrics) start collapsed. Glyphs carry the status too, for NO_COLOR terminals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from console.governance.data_digest import CHANGED, MATCHES, MISSING
from console.governance.lineage import DatasetLink, DeploymentLineage, ModelLink, RunLink

OK, BAD, WARN = "ok", "bad", "warn"
GLYPHS = {OK: "✔ ", BAD: "✖ ", WARN: "! "}


@dataclass
class OutlineNode:
    """One line of the lineage tree."""

    label: str
    status: str = ""
    children: list[OutlineNode] = field(default_factory=list)
    collapsed: bool = False
    kind: str = ""  # deployment, manifest, predictor, model, run, dataset, ... (for styling and tests)

    def add(self, label: str, status: str = "", *, collapsed: bool = False, kind: str = "") -> OutlineNode:
        child = OutlineNode(label, status, collapsed=collapsed, kind=kind)
        self.children.append(child)
        return child

    @property
    def text(self) -> str:
        """The label with its status glyph."""
        return GLYPHS.get(self.status, "") + self.label


def utc(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def number(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def outline(lineage: DeploymentLineage) -> OutlineNode:
    """The lineage tree, rooted at the deployment."""
    verdict = lineage.data_ok
    where = f"{lineage.namespace}/{lineage.deployment}" if lineage.namespace else lineage.deployment
    root = OutlineNode(f"{where} — {lineage.data_summary()}",
                       {True: OK, False: BAD}.get(verdict, ""), kind="deployment")
    manifest = root.add(f"manifest sha256:{lineage.manifest_sha256[:16]}", kind="manifest")
    deployed = lineage.deployed
    if deployed is None:
        manifest.add("no deploy of it in the audit log (deployed by other means, or before auditing)", WARN,
                     kind="deployed")
    else:
        note = "" if deployed.same_manifest else " — a different manifest: it changed since (e.g. by a rollout)"
        manifest.add(f"deployed {deployed.time.replace('T', ' ')[:19]}Z by {deployed.actor} "
                     f"(audit entry {deployed.entry}){note}", "" if deployed.same_manifest else WARN, kind="deployed")
    for problem in lineage.problems:
        root.add(problem, BAD, kind="problem")
    predictors: dict[str, OutlineNode] = {}
    for model in lineage.models:
        if model.predictor not in predictors:
            predictors[model.predictor] = root.add(f"predictor {model.predictor}", kind="predictor")
        _model(predictors[model.predictor], model)
    if not lineage.models:
        root.add("no model nodes with a modelUri: nothing to trace", WARN, kind="model")
    return root


def _model(parent: OutlineNode, model: ModelLink) -> None:
    if model.version:
        aliases = f" (@{', @'.join(model.aliases)})" if model.aliases else ""
        label = f"{model.node}: {model.model_uri} → {model.model} v{model.version}{aliases}"
    else:
        label = f"{model.node}: {model.model_uri}"
    node = parent.add(label, BAD if model.error else _worst(model), kind="model")
    if model.error:
        node.add(model.error, BAD, kind="error")
    if model.run is not None:
        _run(node, model.run)
    for pin in model.pins:
        node.add(f"pinned {pin.pin.describe()}: {'as pinned' if pin.ok else pin.message}", OK if pin.ok else BAD,
                 kind="pin")


def _worst(model: ModelLink) -> str:
    statuses = [_dataset_status(ds) for ds in (model.run.datasets if model.run else [])]
    statuses += [OK if p.ok else BAD for p in model.pins]
    return BAD if BAD in statuses else (WARN if WARN in statuses else "")


def _run(parent: OutlineNode, run: RunLink) -> None:
    title = " · ".join(x for x in (run.name, f"experiment {run.experiment}" if run.experiment else "", run.status)
                       if x)
    node = parent.add(f"run {run.run_id[:12]} {title}".rstrip(), kind="run")
    node.add(f"started {utc(run.start_time)}" + (f" by {run.user}" if run.user else ""), kind="run-time")
    code = run.entry_point or "entry point not recorded"
    commit = f" @ git {run.git_commit[:12]}" if run.git_commit else " (no git commit recorded)"
    node.add(f"code {code}{commit}", "" if run.git_commit else WARN, kind="code")
    params = node.add(f"params ({len(run.params)})", collapsed=True, kind="params")
    for key in sorted(run.params):
        params.add(f"{key} = {run.params[key]}", kind="param")
    metrics = node.add(f"metrics ({len(run.metrics)})", collapsed=True, kind="metrics")
    for key in sorted(run.metrics):
        metrics.add(f"{key} = {number(run.metrics[key])}", kind="metric")
    data = node.add(f"data ({len(run.datasets)})", kind="data")
    if not run.datasets:
        data.add("the run logged no datasets (mlflow.log_input)", WARN, kind="dataset")
    for ds in run.datasets:
        _dataset(data, ds)


def _dataset_status(ds: DatasetLink) -> str:
    if ds.check is None:
        return ""
    if ds.check.status == MATCHES:
        return WARN if ds.check.modified_after_run else OK
    return BAD if ds.check.status in (CHANGED, MISSING) else ""


def _dataset(parent: OutlineNode, ds: DatasetLink) -> None:
    context = f" ({ds.context})" if ds.context else ""
    verdict = {MATCHES: "data matches", CHANGED: "DATA CHANGED", MISSING: "DATA MISSING"}.get(
        ds.check.status if ds.check else "", "not checked" if ds.check is None else ds.check.status)
    node = parent.add(f"{ds.name} digest {ds.digest}: {verdict}{context}", _dataset_status(ds), kind="dataset")
    node.add(f"source {ds.source or '?'}" + (f" ({ds.source_type})" if ds.source_type else ""), kind="source")
    if ds.check is not None:
        node.add(ds.check.message, _dataset_status(ds), kind="check")


def render_text(root: OutlineNode) -> list[str]:
    """The outline as text lines with tree branches; collapsed lists print on one line."""
    lines = [root.text]

    def walk(node: OutlineNode, prefix: str) -> None:
        for index, child in enumerate(node.children):
            last = index == len(node.children) - 1
            branch, below = ("└─ ", "   ") if last else ("├─ ", "│  ")
            if child.collapsed and child.children:
                inline = ", ".join(c.label.replace(" = ", "=") for c in child.children)
                lines.append(f"{prefix}{branch}{child.text}: {inline}")
                continue
            lines.append(f"{prefix}{branch}{child.text}")
            walk(child, prefix + below)

    walk(root, "")
    return lines
