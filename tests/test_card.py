"""Model cards on the demo: every section, the fairness table as computed, the model's audit history."""

from __future__ import annotations

import re

import pytest

from console.cli import main
from console.config import default_registry_uri
from console.governance.audit import AuditLog
from console.governance.card import CardInputs, belongs, render_card
from console.types import AuditEntry, ModelVersion, RegisteredModel


@pytest.fixture
def card_home(home, seeded_home):
    """A home of its own (audit log) reading the session's seeded registry."""
    log = AuditLog(home)
    log.append("cluster.deploy", "local/credit-risk", after="main 100; manifest sha256:0123456789ab",
               reason="created", actor="ana@ops")
    log.append("registry.alias.set", "credit-risk@champion", before="v1", after="v2",
               reason="rollout of credit-risk", actor="mlconsole-supervisor (rollout controller)")
    log.append("rollout.start", "local/credit-risk", before="no rollout", after="Progressing 0/5: main 100 / canary 0",
               reason="canary rollout of canary started by ana@ops", actor="ana@ops")
    log.append("cluster.deploy", "local/fraud-detector", after="main 100", reason="created", actor="ana@ops")
    return home


def test_card_of_the_demo_champion(card_home, seeded_home, tmp_path, capsys):
    from backends.mlflow.registry import MlflowRegistry
    from console.governance.fairness_run import fairness_of

    out = tmp_path / "card.md"
    code = main(["--home", str(card_home), "--registry", default_registry_uri(seeded_home),
                 "card", "credit-risk@champion", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    text = out.read_text()
    headings = re.findall(r"^##? (.+)$", text, flags=re.M)
    assert headings == ["Model card: credit-risk v1 (@champion)", "Intended use", "Training data", "Metrics",
                        "Fairness", "Lineage", "Deployment and rollout history"]
    assert "Probability that a consumer-loan applicant defaults within 12 months" in text
    assert "| credit-risk-train | training | 19,200 |" in text and "| matches |" in text
    assert re.search(r"^\| roc_auc \| 0\.\d{2,4} \|$", text, flags=re.M)
    # The fairness table is what `fairness_of` computes on the logged evaluation set.
    registry = MlflowRegistry(default_registry_uri(seeded_home))
    reports = {r.sensitive: r for r in fairness_of(registry, "models:/credit-risk/1")}
    for attribute in ("sex", "age_band"):
        report = reports[attribute]
        assert f"### {attribute}" in text
        assert f"Demographic-parity difference **{report.demographic_parity_difference:.4f}**" in text
        female_or_first = report.groups[0]
        assert f"| {female_or_first.group} | {female_or_first.count:,} |" in text
    # Lineage: the run, its code and data digests.
    assert re.search(r"- Training run: `[0-9a-f]{32}` \(logistic-regression\) in experiment credit-risk", text)
    assert "entry point `backends/mlflow/demo_seed.py`" in text
    assert re.search(r"- Data \(training\): credit-risk-train @ `[0-9a-f]{8}`", text)
    # History: the model's entries (alias, its deployment's deploy and rollout), not the fraud model's.
    history = text.split("## Deployment and rollout history", 1)[1]
    assert "registry.alias.set | credit-risk@champion | v1 | v2" in history
    assert history.count("| local/credit-risk |") == 2 and "fraud-detector" not in history
    assert "Audit log: verified: 4 entries, chain intact." in history


def test_card_to_stdout_without_fairness_and_a_missing_model(card_home, seeded_home, capsys):
    args = ["--home", str(card_home), "--registry", default_registry_uri(seeded_home)]
    assert main([*args, "card", "credit-risk/2", "--no-fairness", "--no-verify-data"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Model card: credit-risk v2 (@challenger)")
    assert "Fairness was not computed (--no-fairness)." in text and "| not checked |" in text
    assert main([*args, "card", "no-such-model"]) == 1
    assert "'no-such-model'" in capsys.readouterr().err


def test_render_escapes_cells_and_says_what_is_missing():
    card = CardInputs(model=RegisteredModel("m"), version=ModelVersion("m", "3", description="a | b"),
                      history=[AuditEntry("2026-11-30T10:00:00.000Z", "x", "registry.tag.set", "m/3",
                                          after="k=a|b")], audit_status="verified: 1 entries, chain intact")
    text = render_card(card)
    assert "_The registered model has no description._" in text
    assert "The training run logged no dataset." in text and "No metrics were logged." in text
    assert "- Training run: none recorded" in text
    assert "k=a\\|b" in text  # a pipe in a value cannot break the table


@pytest.mark.parametrize("target,text,expected", [
    ("credit-risk", "", True), ("credit-risk@champion", "", True), ("credit-risk/3", "", True),
    ("local/credit-risk", "", True), ("local/other", "", False), ("local/other", "uses models:/credit-risk@x", True),
    ("credit-risk-v2", "", False),
])
def test_which_entries_belong_to_a_model(target, text, expected):
    entry = AuditEntry("t", "a", "cluster.deploy", target, reason=text)
    assert belongs(entry, "credit-risk", []) is expected
