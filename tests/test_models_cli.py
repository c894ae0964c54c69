"""`mlconsole models ...` as a subprocess against the real MLflow server, checked field by field."""

import json
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from console.governance.audit import AuditLog
from tests.conftest import subprocess_env


def mlconsole(*args, home):
    return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env=subprocess_env(), timeout=120)


@pytest.fixture
def client(seeded_server):
    return MlflowClient(seeded_server.url, registry_uri=seeded_server.url)


def test_models_list_json_matches_mlflow(seeded_server, client, home):
    out = mlconsole("--registry", seeded_server.url, "models", "list", "--json", home=home)
    assert out.returncode == 0, out.stderr
    listed = {m["name"]: m for m in json.loads(out.stdout)["models"]}
    truth = {m.name: m for m in client.search_registered_models()}
    assert set(listed) == set(truth)
    for name, model in truth.items():
        assert listed[name]["description"] == (model.description or "")
        assert listed[name]["aliases"] == {a: str(v) for a, v in model.aliases.items()}
        assert listed[name]["tags"] == dict(model.tags)


def test_models_list_pages(seeded_server, home):
    out = mlconsole("--registry", seeded_server.url, "models", "list", "--max", "1", "--json", home=home)
    data = json.loads(out.stdout)
    assert len(data["models"]) == 1 and data["next_page_token"]
    out = mlconsole("--registry", seeded_server.url, "models", "list", "--max", "1", "--all", "--json",
                    home=home)
    assert len(json.loads(out.stdout)["models"]) >= 2


def test_models_show_version_by_alias(seeded_server, client, home):
    out = mlconsole("--registry", seeded_server.url, "models", "show", "credit-risk@champion", "--json",
                    home=home)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    truth = client.get_model_version_by_alias("credit-risk", "champion")
    assert data["version"]["version"] == str(truth.version)
    assert "champion" in data["version"]["aliases"]
    run = client.get_run(truth.run_id)
    assert data["run"]["run_id"] == truth.run_id
    assert data["run"]["params"] == dict(run.data.params)
    assert data["run"]["metrics"] == pytest.approx(dict(run.data.metrics))
    assert {d["digest"] for d in data["run"]["datasets"]} == {
        d.dataset.digest for d in run.inputs.dataset_inputs}
    assert data["signature"]["inputs"]


def test_models_show_model_lists_versions(seeded_server, client, home):
    out = mlconsole("--registry", seeded_server.url, "models", "show", "credit-risk", "--json", home=home)
    data = json.loads(out.stdout)
    versions = client.search_model_versions("name = 'credit-risk'")
    assert {v["version"] for v in data["versions"]} == {str(v.version) for v in versions}


def test_models_alias_moves_alias_and_audits(seeded_server, client, home):
    before = str(client.get_model_version_by_alias("fraud-detector", "champion").version)
    out = mlconsole("--registry", seeded_server.url, "models", "alias", "fraud-detector", before, "canary",
                    "--reason", "cli test", home=home)
    assert out.returncode == 0, out.stderr
    assert str(client.get_model_version_by_alias("fraud-detector", "canary").version) == before
    (entry,) = AuditLog(home).entries()
    assert entry.action == "registry.alias.set" and entry.target == "fraud-detector@canary"
    assert entry.after == f"v{before}" and "cli test" in entry.reason
    assert seeded_server.url in entry.reason  # which registry, for a remote one
    client.delete_registered_model_alias("fraud-detector", "canary")


def test_models_alias_refused_under_readonly(seeded_server, client, home):
    out = mlconsole("--readonly", "--registry", seeded_server.url, "models", "alias", "fraud-detector", "1",
                    "nope", home=home)
    assert out.returncode == 1 and "--readonly" in out.stderr
    assert "nope" not in client.get_registered_model("fraud-detector").aliases
    assert AuditLog(home).entries() == []


@pytest.mark.parametrize("ref, message", [
    ("ghost-model", "ghost-model"), ("credit-risk@ghost", "@ghost"), ("credit-risk/x", "bad model reference"),
])
def test_models_show_errors(seeded_server, home, ref, message):
    out = mlconsole("--registry", seeded_server.url, "models", "show", ref, home=home)
    assert out.returncode in (1, 2) and message in out.stderr and "Traceback" not in out.stderr


def test_models_list_on_the_embedded_sqlite_store(seeded_home, tmp_path):
    out = mlconsole("models", "list", "--json", home=seeded_home)
    assert out.returncode == 0, out.stderr
    names = {m["name"] for m in json.loads(out.stdout)["models"]}
    assert {"credit-risk", "fraud-detector"} <= names
