"""Model cards: one Markdown page of evidence about a model version, gathered from what records it.

Sections: intended use (the registered model's and the version's descriptions), training data
with digests (recomputed now where the file is here), metrics and parameters of the training
run, a fairness table computed now on the logged evaluation data, lineage (version -> run ->
code -> data), and the deployment and rollout history from the audit log.

`gather_card` reads (registry port, audit log, optionally the cluster); `render_card` only
formats a CardInputs, so it is tested without I/O.

History: an audit entry belongs to the model when its target is the model itself (NAME,
NAME@ALIAS, NAME/VERSION), or a deployment whose graph uses the model (known from the cluster
when reachable), or when its text mentions `models:/NAME`. Deployments named after their model
(the demo's credit-risk) count too, since their entries name only the deployment.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.governance.fairness import FairnessReport
from console.types import AuditEntry, ModelSignature, ModelVersion, RegisteredModel, RunInfo

FAIRNESS_METRIC_PREFIXES = ("approval_rate_", "tpr_", "fpr_", "demographic_parity_diff_",
                            "equal_opportunity_diff_", "equalized_odds_diff_")

clock = time.time  # the card's 'Generated' time; tests pin it


@dataclass(frozen=True)
class DatasetRow:
    """A logged dataset and, where it could be recomputed, whether its digest still matches."""

    name: str
    context: str
    digest: str
    source: str
    rows: str = ""
    check: str = ""  # matches, changed, missing, not-local, unreadable; "" when not checked
    check_detail: str = ""  # the check's sentence


@dataclass(frozen=True)
class CardInputs:
    """Everything a card shows; gather_card fills it, render_card formats it."""

    model: RegisteredModel
    version: ModelVersion
    registry: str = ""
    run: RunInfo | None = None
    signature: ModelSignature | None = None
    datasets: list[DatasetRow] = field(default_factory=list)
    fairness: list[FairnessReport] = field(default_factory=list)
    fairness_note: str = ""  # why there is no fairness table, or what it was computed on
    history: list[AuditEntry] = field(default_factory=list)
    audit_status: str = ""
    deployments: list[str] = field(default_factory=list)
    generated_at: float = 0.0
    generator: str = ""


# -- gathering ---------------------------------------------------------------------------------


def resolve_ref(registry: Any, ref: str) -> tuple[RegisteredModel, ModelVersion]:
    """NAME, NAME@ALIAS or NAME/VERSION -> (model, version); a bare NAME means @champion, else the latest."""
    if "@" in ref:
        name, _, alias = ref.partition("@")
        version_ref = f"@{alias}"
    elif "/" in ref:
        name, _, version_ref = ref.rpartition("/")
    else:
        name, version_ref = ref, ""
    model = registry.get_model(name)
    if not version_ref:
        version_ref = "@champion" if "champion" in model.aliases else (model.latest_version or "1")
    return model, registry.get_version(name, version_ref)


def _dataset_rows(run: RunInfo | None, verify: bool) -> list[DatasetRow]:
    import json

    out = []
    for d in (run.datasets if run else []):
        try:
            rows = f"{json.loads(d.profile).get('num_rows', ''):,}"
        except (ValueError, AttributeError, TypeError):
            rows = ""
        status, detail = _check(d, run) if verify else ("", "")
        out.append(DatasetRow(d.name, d.context, d.digest, d.source, rows, status, detail))
    return out


def _check(dataset, run: RunInfo) -> tuple[str, str]:
    """(status, sentence) of the lineage module's digest check, when it is there to ask."""
    try:
        from console.governance.data_digest import check_dataset
    except ImportError:
        return "", ""
    try:
        found = check_dataset(dataset.source, dataset.source_type, dataset.digest,
                              run.end_time or run.start_time)
    except Exception as exc:  # a card still says what it could not check
        return "unreadable", f"not checked: {type(exc).__name__}: {exc}"
    return found.status, found.message


def deployments_using(cluster: Any, model: str) -> list[str]:
    """Deployments whose graph has a models:/MODEL node (empty when the cluster cannot say)."""
    if cluster is None:
        return []
    try:
        summaries = cluster.list_deployments()
    except ConsoleError:
        return []
    out = []
    for summary in summaries:
        try:
            manifest = cluster.get_deployment(summary.name).manifest
        except ConsoleError:
            continue
        if re.search(rf"models:/{re.escape(model)}([@/\s\"']|$)", manifest):
            out.append(summary.name)
    return out


def belongs(entry: AuditEntry, model: str, deployments: Sequence[str]) -> bool:
    """Whether an audit entry is part of the model's history (see the module docstring)."""
    target = entry.target
    if target == model or target.startswith((f"{model}@", f"{model}/")):
        return True
    last = target.rsplit("/", 1)[-1]
    if last in deployments or last == model:
        return True
    text = " ".join((entry.before, entry.after, entry.reason))
    return re.search(rf"models:/{re.escape(model)}([@/\s]|$)", text) is not None


def gather_card(registry: Any, ref: str, *, home: Path | None = None, cluster: Any = None,
                fairness: bool = True, verify_data: bool = True) -> CardInputs:
    """Read what the card shows: registry (model, version, run, signature), fairness, audit log."""
    from console import __version__

    model, version = resolve_ref(registry, ref)
    run = registry.get_run(version.run_id) if version.run_id else None
    try:
        signature = registry.get_signature(model.name, version.version)
    except ConsoleError:
        signature = None
    reports: list[FairnessReport] = []
    note = "not computed (--no-fairness)"
    if fairness:
        from console.governance.fairness_run import fairness_of

        try:
            reports = fairness_of(registry, f"models:/{model.name}/{version.version}")
            note = ""
        except ConsoleError as exc:
            note = f"not computed: {exc}"
    history: list[AuditEntry] = []
    status = "no audit log"
    deployments = deployments_using(cluster, model.name)
    if home is not None:
        from console.governance.audit import AuditLog

        log = AuditLog(home)
        entries = [r.entry for r in log.records() if r.entry is not None]
        history = [e for e in entries if belongs(e, model.name, deployments)]
        ok, message = log.verify()
        status = f"{'verified' if ok else 'NOT VERIFIED'}: {message}"
    return CardInputs(model=model, version=version, registry=getattr(registry, "endpoint", ""), run=run,
                      signature=signature, datasets=_dataset_rows(run, verify_data), fairness=reports,
                      fairness_note=note, history=history, audit_status=status, deployments=deployments,
                      generated_at=clock(), generator=f"mlconsole {__version__}")


# -- rendering ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _when(seconds: float | None) -> str:
    if not seconds:
        return "unknown"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _fairness_section(card: CardInputs) -> list[str]:
    lines = ["## Fairness", ""]
    if not card.fairness:
        lines.append(f"Fairness was {card.fairness_note or 'not computed'}.")
    else:
        first = card.fairness[0]
        lines.append(f"Computed when this card was generated, on `{first.data}` ({first.rows:,} rows), "
                     f"label `{first.label}`; a prediction is positive when the score is at least "
                     f"{first.threshold:g}. Selection rate is the share predicted positive; the "
                     "demographic-parity difference is the largest gap in selection rate between groups, "
                     "the equalized-odds difference the larger of the gaps in true- and false-positive rate.")
        for report in card.fairness:
            lines += ["", f"### {report.sensitive}", ""]
            lines += _table(["Group", "Rows", "Positives", "Selection rate", "TPR", "FPR", "Accuracy"],
                            [(g.group, f"{g.count:,}", f"{g.positives:,}", _rate(g.selection_rate),
                              _rate(g.tpr), _rate(g.fpr), _rate(g.accuracy))
                             for g in [*report.groups, report.overall]])
            lines += ["", f"Demographic-parity difference **{report.demographic_parity_difference:.4f}**, "
                          f"equalized-odds difference **{_rate(report.equalized_odds_difference)}**."]
    logged = {k: v for k, v in (card.run.metrics if card.run else {}).items()
              if k.startswith(FAIRNESS_METRIC_PREFIXES)}
    if logged:
        lines += ["", "Logged by the training run:", ""]
        lines += _table(["Metric", "Value"], [(k, f"{v:.4g}") for k, v in sorted(logged.items())])
    return lines


def _lineage_section(card: CardInputs) -> list[str]:
    v, run = card.version, card.run
    lines = ["## Lineage", "", f"- Model version: `models:/{v.name}/{v.version}`, stored at `{v.source}`"]
    if run is None:
        return [*lines, "- Training run: none recorded"]
    lines += [f"- Training run: `{run.run_id}` ({run.name or 'unnamed'}) in experiment "
              f"{run.experiment_name or run.experiment_id}, status {run.status or 'unknown'}, "
              f"{_when(run.start_time)} to {_when(run.end_time)}",
              f"- Code: git commit `{run.git_commit or 'not recorded'}`, entry point "
              f"`{run.entry_point or 'not recorded'}`",
              f"- Trained by: {run.user or 'unknown'}"]
    for d in card.datasets:
        check = f" — {d.check_detail}" if d.check_detail else ""
        lines.append(f"- Data ({d.context or 'input'}): {d.name} @ `{d.digest}` from `{d.source}`{check}")
    if card.signature is not None and card.signature.inputs:
        inputs = ", ".join(f"{f.name}: {f.type}" for f in card.signature.inputs)
        lines.append(f"- Inputs (signature): {inputs}")
    if card.deployments:
        lines.append(f"- Deployed in: {', '.join(card.deployments)}")
    return lines


def _history_section(card: CardInputs) -> list[str]:
    lines = ["## Deployment and rollout history", ""]
    if card.history:
        lines += _table(["Time (UTC)", "Actor", "Action", "Target", "Before", "After", "Reason"],
                        [(e.time, e.actor, e.action, e.target, e.before, e.after, e.reason)
                         for e in card.history])
    else:
        lines.append("No audit-log entry concerns this model yet.")
    lines += ["", f"Audit log: {card.audit_status}."]
    return lines


def render_card(card: CardInputs) -> str:
    """The card as Markdown."""
    m, v, run = card.model, card.version, card.run
    aliases = " ".join(f"@{a}" for a in v.aliases)
    lines = [f"# Model card: {m.name} v{v.version}" + (f" ({aliases})" if aliases else ""), ""]
    facts = [("Model", m.name), ("Version", v.version), ("Aliases", aliases or "none"), ("Status", v.status),
             ("Registered", _when(v.created_at)), ("Model URI", f"models:/{m.name}/{v.version}"),
             ("Registry", card.registry),
             ("Tags", ", ".join(f"{k}={val}" for k, val in sorted(m.tags.items()))),
             ("Version tags", ", ".join(f"{k}={val}" for k, val in sorted(v.tags.items())))]
    lines += _table(["", ""], [(k, val) for k, val in facts if val])
    lines += ["", "## Intended use", "", m.description or "_The registered model has no description._"]
    if v.description:
        lines += ["", f"This version: {v.description}"]
    lines += ["", "## Training data", ""]
    if card.datasets:
        lines += _table(["Dataset", "Context", "Rows", "Digest", "Source", "Digest now"],
                        [(d.name, d.context, d.rows, d.digest, d.source, d.check or "not checked")
                         for d in card.datasets])
    else:
        lines.append("The training run logged no dataset.")
    lines += ["", "## Metrics", ""]
    quality = {k: val for k, val in (run.metrics if run else {}).items()
               if not k.startswith(FAIRNESS_METRIC_PREFIXES)}
    if quality:
        lines += _table(["Metric", "Value"], [(k, f"{val:.4g}") for k, val in sorted(quality.items())])
    else:
        lines.append("No metrics were logged.")
    if run and run.params:
        lines += ["", "### Parameters", ""]
        lines += _table(["Parameter", "Value"], sorted(run.params.items()))
    lines += ["", *_fairness_section(card), "", *_lineage_section(card), "", *_history_section(card), ""]
    lines.append(f"_Generated {_when(card.generated_at)} by {card.generator or 'mlconsole'}._")
    return "\n".join(lines) + "\n"
