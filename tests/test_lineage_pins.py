"""Declarative data versions: a graph pins the training-data digest of its models; deploy refuses,
naming both digests, when the registry says a model was trained on other data."""

import json

import pytest
import yaml

from console.cluster_changes import ClusterChanges
from console.config import default_registry_uri, load_settings
from console.errors import InvalidSpec
from console.governance.audit import AuditLog
from console.governance.data_pins import (
    PIN_ANNOTATION,
    DataPin,
    PinnedDataMismatch,
    check_pin,
    parse_pins,
)
from console.types import DatasetInput, DeploymentSummary, RunInfo
from tests.test_lineage import demo_copy

TRAIN = DatasetInput("credit-risk-train", "8a1ca594", "local", "/d/train.parquet", context="training")
EVAL = DatasetInput("credit-risk-eval", "4bb4fa22", "local", "/d/eval.parquet", context="evaluation")
RUN = RunInfo("r1" * 16, datasets=[TRAIN, EVAL])


def test_parse_pins_both_forms():
    pins = parse_pins({PIN_ANNOTATION: json.dumps({"champion": "8A1CA594", "main/challenger":
                                                   {"credit-risk-train": "8a1ca594", "credit-risk-eval": "x"}})})
    assert pins == [DataPin("champion", "", "8a1ca594"), DataPin("main/challenger", "credit-risk-train", "8a1ca594"),
                    DataPin("main/challenger", "credit-risk-eval", "x")]
    assert pins[1].applies_to("main", "challenger") and not pins[1].applies_to("canary", "challenger")
    assert parse_pins({}) == [] and parse_pins({"other": "x"}) == []


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", '{"champion": 3}', '{"champion": ""}'])
def test_malformed_pins_are_invalid(value):
    with pytest.raises(InvalidSpec, match=PIN_ANNOTATION):
        parse_pins({PIN_ANNOTATION: value})


def test_check_pin_against_a_run():
    assert check_pin(DataPin("champion", "", "8a1ca594"), "m", RUN).ok  # training data only, eval not compared
    bad = check_pin(DataPin("champion", "", "deadbeef"), "models:/credit-risk@champion = credit-risk v1", RUN)
    assert not bad.ok and "trained on credit-risk-train with digest 8a1ca594; the graph pins deadbeef" in bad.message
    assert check_pin(DataPin("champion", "credit-risk-eval", "4bb4fa22"), "m", RUN).ok
    missing = check_pin(DataPin("champion", "other", "4bb4fa22"), "m", RUN)
    assert not missing.ok and "no dataset named 'other'" in missing.message


# -- against the demo registry ----------------------------------------------------------------------


class RecordingCluster:
    """A cluster that records what it was asked to apply (no processes)."""

    kind = "local"
    endpoint = "test"

    def __init__(self):
        self.applied = []

    def list_rollouts(self):
        return []

    def diff(self, text):
        return "created"

    def get_deployment(self, name):
        from console.errors import NotFound

        raise NotFound(name)

    def apply(self, text, search_paths=()):
        self.applied.append(text)
        return DeploymentSummary(yaml.safe_load(text)["metadata"]["name"], phase="Available")


@pytest.fixture(scope="module")
def demo_home(seeded_home, tmp_path_factory):
    return demo_copy(seeded_home, tmp_path_factory.mktemp("pins") / "home")


def train_digest(home):
    from backends.mlflow.registry import MlflowRegistry

    registry = MlflowRegistry(default_registry_uri(home))
    run = registry.get_run(registry.get_version("credit-risk", "@champion").run_id)
    return next(d.digest for d in run.datasets if d.name == "credit-risk-train")


def pinned_manifest(home, pins):
    from console.graph.demo_graph import demo_manifest

    manifest = demo_manifest(home)
    manifest["metadata"]["annotations"][PIN_ANNOTATION] = json.dumps(pins)
    return yaml.safe_dump(manifest, sort_keys=False)


def test_deploy_refuses_a_model_trained_on_other_data(demo_home, tmp_path):
    home = tmp_path / "audit-home"
    settings = load_settings({"home": str(home), "registry": default_registry_uri(demo_home)}, env={})
    cluster = RecordingCluster()
    text = pinned_manifest(demo_home, {"champion": {"credit-risk-train": "0badc0de"}})
    with pytest.raises(PinnedDataMismatch) as refused:
        ClusterChanges(settings, cluster).deploy(text)
    actual = train_digest(demo_home)
    message = str(refused.value)
    assert message.startswith("deploy credit-risk refused: champion (models:/credit-risk@champion = credit-risk v1")
    assert f"was trained on credit-risk-train with digest {actual}; the graph pins 0badc0de" in message
    assert refused.value.pinned == "0badc0de" and refused.value.actual == f"credit-risk-train {actual}"
    assert cluster.applied == [] and AuditLog(home).entries() == []


def test_deploy_goes_ahead_when_the_registry_agrees(demo_home, tmp_path):
    home = tmp_path / "audit-home"
    settings = load_settings({"home": str(home), "registry": default_registry_uri(demo_home)}, env={})
    cluster = RecordingCluster()
    digest = train_digest(demo_home)
    result = ClusterChanges(settings, cluster).deploy(pinned_manifest(demo_home, {"champion": digest,
                                                                                  "challenger": digest}))
    assert result.verb == "created" and len(cluster.applied) == 1
    assert [e.action for e in AuditLog(home).entries()] == ["cluster.deploy"]


def test_deploy_refuses_pins_it_cannot_check(demo_home, tmp_path):
    settings = load_settings({"home": str(tmp_path), "registry": "http://127.0.0.1:9"}, env={})
    cluster = RecordingCluster()
    with pytest.raises(PinnedDataMismatch, match="cannot check its pinned training data"):
        ClusterChanges(settings, cluster).deploy(pinned_manifest(demo_home, {"champion": "8a1ca594"}))
    with pytest.raises(InvalidSpec, match="node 'nobody'"):
        ClusterChanges(settings, cluster).deploy(pinned_manifest(demo_home, {"nobody": "8a1ca594"}))
    assert cluster.applied == []


def test_cli_deploy_and_validate_name_both_digests(demo_home, tmp_path, capsys):
    from console.cli import main

    path = tmp_path / "pinned.yaml"
    path.write_text(pinned_manifest(demo_home, {"challenger": "0badc0de"}))
    flags = ["--home", str(tmp_path / "h"), "--registry", default_registry_uri(demo_home)]
    assert main([*flags, "deploy", str(path)]) == 1
    err = capsys.readouterr().err
    assert "challenger (models:/credit-risk@challenger = credit-risk v2, run " in err
    assert f"was trained on credit-risk-train with digest {train_digest(demo_home)}; the graph pins 0badc0de" in err
    assert "not deployed: 1 error" in err and not (tmp_path / "h" / "runtime").exists()
    assert main([*flags, "graph", "validate", str(path)]) == 1
    assert "pinned.yaml:9: error: metadata.annotations.mlconsole.io/training-data: challenger" in \
        capsys.readouterr().out
    # Offline only the annotation's form can be checked: validation passes; deploy would still ask.
    assert main([*flags, "graph", "validate", "--offline", "--no-imports", str(path)]) == 0
