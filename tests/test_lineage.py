"""Lineage on the demo workspace: deployment -> manifest -> model versions -> runs -> datasets, the data
re-verified now; a changed, a silently edited and a missing data file are each told apart."""

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from console.config import default_registry_uri
from console.governance.audit import AuditLog
from console.governance.data_digest import CHANGED, MATCHES, MISSING
from console.governance.lineage import manifest_digest, trace_deployment
from console.governance.lineage_outline import outline, render_text
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def demo_copy(seeded_home: Path, home: Path) -> Path:
    """A private copy of the session's demo home whose registry points its datasets at the copy's data,
    so a test may change data without touching what other tests read."""
    shutil.copytree(seeded_home, home, ignore=shutil.ignore_patterns("artifacts", "runtime", "audit"),
                    dirs_exist_ok=True)
    con = sqlite3.connect(home / "registry" / "mlflow.db")
    with con:
        con.execute("update datasets set dataset_source = replace(dataset_source, ?, ?)",
                    (str(seeded_home), str(home)))
    con.close()
    return home


def frozen_deployment(home: Path, manifest: str, name: str = "credit-risk", created_at: float = 0.0) -> None:
    """A deployment as a stopped local runtime leaves it on disk (no process started)."""
    runtime = home / "runtime"
    (runtime / "deployments").mkdir(parents=True, exist_ok=True)
    path = runtime / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {"deployments": {}, "rollouts": {}}
    state["deployments"][name] = {"phase": "Available", "url": "http://127.0.0.1:40100", "created_at": created_at,
                                  "predictors": [{"name": "main", "traffic": 100, "replicas": 1,
                                                  "ready_replicas": 1}]}
    path.write_text(json.dumps(state))
    (runtime / "deployments" / f"{name}.yaml").write_text(manifest)


def demo_manifest_text(home: Path) -> str:
    from console.graph.demo_graph import demo_manifest

    return yaml.safe_dump(demo_manifest(home), sort_keys=False)


def backends(home: Path):
    from backends.local.cluster import LocalCluster
    from backends.mlflow.registry import MlflowRegistry

    return LocalCluster(home), MlflowRegistry(default_registry_uri(home))


@pytest.fixture
def demo(seeded_home, tmp_path):
    home = demo_copy(seeded_home, tmp_path / "home")
    text = demo_manifest_text(home)
    frozen_deployment(home, text)
    AuditLog(home).append("cluster.deploy", "local/credit-risk", after=f"main 100; manifest "
                          f"sha256:{manifest_digest(text)[:12]}", reason="created", actor="ops@bastion")
    return home


def datasets_by_name(lineage):
    return {(m.node, d.name): d for m in lineage.models for d in (m.run.datasets if m.run else [])}


def test_lineage_of_the_demo_graph(demo):
    lineage = trace_deployment(*backends(demo), "credit-risk", home=demo)
    assert lineage.manifest_sha256 == manifest_digest((demo / "runtime/deployments/credit-risk.yaml").read_text())
    assert lineage.deployed.actor == "ops@bastion" and lineage.deployed.same_manifest and lineage.deployed.entry == 1
    champion, challenger = lineage.models
    assert (champion.predictor, champion.node, champion.model_uri) == ("main", "champion", "models:/credit-risk@champion")
    assert (champion.model, champion.version, champion.aliases) == ("credit-risk", "1", ["champion"])
    assert (challenger.version, challenger.aliases) == ("2", ["challenger"])
    run = champion.run
    assert run.name == "logistic-regression" and run.experiment == "credit-risk" and run.status == "FINISHED"
    assert run.params["C"] == "0.5" and 0.5 < run.metrics["roc_auc"] < 1
    assert run.entry_point == "backends/mlflow/demo_seed.py" and run.source_type == "LOCAL"
    assert len(run.git_commit) in (0, 40)  # the checkout's HEAD when seeded from a git checkout
    train = datasets_by_name(lineage)[("champion", "credit-risk-train")]
    assert train.context == "training" and train.source == str(demo / "data/credit-risk/train.parquet")
    assert len(train.digest) == 8 and train.check.status == MATCHES and train.check.recomputed == train.digest
    assert lineage.data_ok is True and lineage.data_summary() == "2 datasets: 2 match"
    text = "\n".join(render_text(outline(lineage)))
    assert text.startswith("✔ local/credit-risk — 2 datasets: 2 match")
    assert f"credit-risk-train digest {train.digest}: data matches (training)" in text
    assert "deployed " in text and "by ops@bastion (audit entry 1)" in text


def test_a_changed_data_file_is_detected(demo):
    import pandas as pd

    path = demo / "data/credit-risk/train.parquet"
    frame = pd.read_parquet(path)
    frame.loc[5, "income"] = frame.loc[5, "income"] + 1000  # one value, inside MLflow's digest window
    frame.to_parquet(path, index=False)
    lineage = trace_deployment(*backends(demo), "credit-risk", home=demo)
    train = datasets_by_name(lineage)[("champion", "credit-risk-train")]
    assert train.check.status == CHANGED and train.check.recomputed != train.digest
    assert f"the run logged {train.digest}" in train.check.message
    assert lineage.data_ok is False and lineage.data_summary() == "2 datasets: 1 changed, 1 match"
    text = "\n".join(render_text(outline(lineage)))
    assert text.startswith("✖ local/credit-risk")
    assert f"✖ credit-risk-train digest {train.digest}: DATA CHANGED (training)" in text


def test_an_edit_past_the_digest_window_is_flagged_by_the_file_time(demo):
    import pandas as pd

    path = demo / "data/credit-risk/train.parquet"
    frame = pd.read_parquet(path)
    assert len(frame) > 10_000
    frame.loc[len(frame) - 1, "income"] = -1.0
    frame.to_parquet(path, index=False)
    lineage = trace_deployment(*backends(demo), "credit-risk", home=demo)
    train = datasets_by_name(lineage)[("champion", "credit-risk-train")]
    assert train.check.status == MATCHES and train.check.modified_after_run
    assert "modified after the run" in train.check.message
    assert "! credit-risk-train digest " in "\n".join(render_text(outline(lineage)))


def test_a_missing_data_file_and_data_left_unchecked(demo):
    (demo / "data/credit-risk/eval.parquet").unlink()
    lineage = trace_deployment(*backends(demo), "credit-risk", home=demo)
    assert datasets_by_name(lineage)[("champion", "credit-risk-eval")].check.status == MISSING
    assert lineage.data_ok is False
    unchecked = trace_deployment(*backends(demo), "credit-risk", home=demo, verify_data=False)
    assert unchecked.data_ok is None and all(d.check is None for d in unchecked.datasets())


def test_unresolvable_models_stop_their_own_branch_only(demo):
    text = demo_manifest_text(demo).replace("models:/credit-risk@challenger", "models:/credit-risk@nobody")
    text = text.replace("models:/credit-risk@champion", "s3://bucket/models/champion")
    frozen_deployment(demo, text)
    lineage = trace_deployment(*backends(demo), "credit-risk", home=demo)
    s3, missing = lineage.models
    assert "not a registry model (s3://)" in s3.error and s3.run is None
    assert "has no alias @nobody" in missing.error
    assert not lineage.deployed.same_manifest  # the audit recorded another manifest
    assert "a different manifest" in "\n".join(render_text(outline(lineage)))


def test_cli_lineage_json_and_exit_codes(demo, capsys):
    from console.cli import main

    def cli(*args):
        code = main(["--home", str(demo), "lineage", *args])
        return code, capsys.readouterr()

    code, out = cli("credit-risk", "--json")
    assert code == 0, out.err
    data = json.loads(out.out)
    assert data["deployment"] == "credit-risk" and data["data_ok"] is True
    assert [m["version"] for m in data["models"]] == ["1", "2"]
    assert data["models"][0]["run"]["datasets"][0]["check"]["status"] == "matches"
    (demo / "data/credit-risk/train.parquet").write_bytes(b"not parquet any more")
    code, out = cli("credit-risk")
    assert code == 3 and "DATA CHANGED" in out.out and "no longer reads as parquet" in out.out
    (demo / "data/credit-risk/eval.parquet").unlink()
    code, out = cli("credit-risk")
    assert code == 3 and "DATA MISSING" in out.out
    code, out = cli("nothing-here")
    assert code == 1 and "no deployment 'nothing-here'" in out.err
    frozen_deployment(demo, demo_manifest_text(demo).replace("@challenger", "@nobody"))
    code, out = cli("credit-risk", "--no-verify-data")
    assert code == 1 and "main/challenger: model 'credit-risk' has no alias @nobody" in out.err


@pytest.fixture
def runtime_home(seeded_home, tmp_path):
    from tests.local_runtime import stop_runtime

    home = demo_copy(seeded_home, tmp_path / "home")
    yield home
    stop_runtime(home)


def test_end_to_end_deploy_then_lineage(runtime_home):
    """A real deploy of the demo graph (audited, served by the local runtime), then its lineage."""
    from console.graph.demo_graph import write_demo_graph

    home = runtime_home
    manifest = write_demo_graph(home)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "console.cli", "--home", str(home), *args],
                              capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=180)

    deployed = cli("deploy", str(manifest), "--reason", "first release")
    assert deployed.returncode == 0, deployed.stderr
    started = time.monotonic()
    out = cli("lineage", "credit-risk", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["deployed"]["reason"].startswith("first release") and data["deployed"]["same_manifest"]
    assert data["data_summary"] == "2 datasets: 2 match" and time.monotonic() - started < 120
