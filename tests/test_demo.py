"""`mlconsole demo`: the synthetic datasets, what seeding registers, and the command's edges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from backends.mlflow.demo_seed import REPO_ROOT, DemoSummary
from console.config import default_registry_uri, load_settings
from console.data import demo_dataset as dd
from tests.conftest import subprocess_env
from tests.servers import free_port

QUALITY = ("accuracy", "roc_auc", "precision", "recall", "f1", "log_loss")
FAIRNESS = ("approval_rate_sex_F", "approval_rate_sex_M", "tpr_age_band_18-25", "tpr_age_band_66-75",
            "demographic_parity_diff_sex", "demographic_parity_diff_age_band")


def mlconsole(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True,
                          env=subprocess_env(**env), timeout=120)


def client_for(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


# -- the dataset ----------------------------------------------------------------------


def test_credit_risk_dataset_is_deterministic_and_realistic():
    import pandas as pd

    df = dd.make_credit_risk()
    pd.testing.assert_frame_equal(df, dd.make_credit_risk())
    assert not df.equals(dd.make_credit_risk(seed=8))
    assert len(df) >= 20_000 and df[dd.KEY].is_unique
    assert set(dd.FEATURES + dd.SENSITIVE + [dd.KEY, dd.LABEL]) == set(df.columns)
    assert not set(dd.SENSITIVE) & set(dd.FEATURES)
    for column in ("income", "credit_history_years", "employment_type"):
        assert 0.01 < df[column].isna().mean() < 0.1, column
    assert set(df["sex"]) == {"F", "M"} and set(df["age_band"]) == set(dd.AGE_BANDS)
    assert 0.15 < df[dd.LABEL].mean() < 0.25
    by_sex = df.groupby("sex")[dd.LABEL].mean()
    assert 0.005 < by_sex["F"] - by_sex["M"] < 0.08  # mild, not absent, not absurd


def test_written_splits_are_disjoint_and_complete(seeded_home):
    import pandas as pd

    train = pd.read_parquet(seeded_home / "data" / "credit-risk" / "train.parquet")
    evaluation = pd.read_parquet(seeded_home / "data" / "credit-risk" / "eval.parquet")
    assert len(train) + len(evaluation) == dd.CREDIT_ROWS and len(evaluation) == dd.CREDIT_ROWS // 5
    assert not set(train[dd.KEY]) & set(evaluation[dd.KEY])
    assert (seeded_home / "data" / "fraud" / "train.parquet").exists()


# -- what seeding registers (sqlite) --------------------------------------------------


def test_seeded_models_versions_and_aliases(seeded_home):
    client = client_for(default_registry_uri(seeded_home))
    credit = client.get_registered_model("credit-risk")
    assert {str(v.version) for v in client.search_model_versions("name = 'credit-risk'")} == {"1", "2", "3"}
    assert (str(credit.aliases["champion"]), str(credit.aliases["challenger"])) == ("1", "2")
    assert credit.description and credit.tags["owner"] and credit.tags["domain"] == "lending"
    assert "logistic" in client.get_model_version("credit-risk", "1").description.lower()
    fraud = client.get_registered_model("fraud-detector")
    assert len(client.search_model_versions("name = 'fraud-detector'")) == 2
    assert str(fraud.aliases["champion"]) == "2"
    # sqlite store: artifacts live under home, never in the current directory
    run = client.get_run(client.get_model_version("credit-risk", "1").run_id)
    assert run.info.artifact_uri.startswith((seeded_home / "registry").as_uri())


@pytest.mark.parametrize("version, family, history, steps", [
    ("1", "linear", "cv_roc_auc", 5),
    ("2", "gradient-boosted-trees", "eval_log_loss", 100),
    ("3", "bagged-trees", "eval_roc_auc", 10),
])
def test_each_run_has_params_metrics_history_datasets_and_signature(seeded_home, version, family,
                                                                     history, steps):
    from mlflow.models import Model

    uri = default_registry_uri(seeded_home)
    client = client_for(uri)
    mv = client.get_model_version("credit-risk", version)
    run = client.get_run(mv.run_id)
    assert {"decision_threshold", "random_state", "n_train_rows"} <= set(run.data.params)
    assert len(run.data.params) >= 7
    assert set(QUALITY + FAIRNESS) <= set(run.data.metrics)
    assert 0.7 < run.data.metrics["roc_auc"] < 0.9  # learnable, but noisy like real credit data
    points = client.get_metric_history(mv.run_id, history)
    assert [p.step for p in points] == sorted(p.step for p in points) and len(points) == steps
    tags = run.data.tags
    assert tags["model_family"] == family and tags["mlflow.note.content"]
    assert ("mlflow.source.git.commit" in tags) == (REPO_ROOT / ".git").exists()

    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"credit-risk-train", "credit-risk-eval"}
    for name, context in (("credit-risk-train", "training"), ("credit-risk-eval", "evaluation")):
        ds = inputs[name]
        assert ds.dataset.digest and [t.value for t in ds.tags] == [context]
        assert Path(json.loads(ds.dataset.source)["uri"]).exists()

    files = urlparse(client.get_model_version_download_uri(mv.name, mv.version)).path
    info = Model.load(files)
    assert [c.name for c in info.signature.inputs.inputs] == dd.FEATURES
    assert info.saved_input_example_info is not None


def test_champion_serves_probabilities_for_rows_with_missing_values(seeded_home):
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    uri = default_registry_uri(seeded_home)
    client = client_for(uri)
    mv = client.get_model_version_by_alias("credit-risk", "champion")
    model = mlflow.pyfunc.load_model(client.get_model_version_download_uri(mv.name, mv.version))
    rows = pd.read_parquet(seeded_home / "data" / "credit-risk" / "eval.parquet")[dd.FEATURES].head(200)
    assert rows.isna().any().any()
    proba = np.asarray(model.predict(rows))
    assert proba.shape == (200, 2) and np.allclose(proba.sum(axis=1), 1.0)


# -- the command ----------------------------------------------------------------------


@pytest.mark.mlflow_server
def test_demo_against_an_already_seeded_server_exits_0(seeded_server, tmp_path):
    client = client_for(seeded_server.url)
    aliases = client.get_registered_model("credit-risk").aliases  # strings over HTTP, ints on sqlite
    assert (str(aliases["champion"]), str(aliases["challenger"])) == ("1", "2")
    before = len(client.search_model_versions("name = 'credit-risk'"))
    out = mlconsole("--home", str(tmp_path), "demo", "--registry", seeded_server.url)
    assert out.returncode == 0, out.stderr
    assert "already holds the demo model 'credit-risk'" in out.stdout
    assert len(client.search_model_versions("name = 'credit-risk'")) == before  # nothing duplicated


def test_demo_refuses_under_readonly(tmp_path):
    out = mlconsole("--home", str(tmp_path), "--readonly", "demo")
    assert out.returncode == 1
    assert "refused" in out.stderr and "--readonly" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "registry").exists()


def test_demo_against_an_unreachable_registry_is_one_line(tmp_path):
    out = mlconsole("--home", str(tmp_path), "--registry", f"http://127.0.0.1:{free_port()}", "demo")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "unreachable" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_demo_seeds_then_writes_one_audit_entry(home, monkeypatch, capsys):
    """The command's own logic, with the (slow, separately tested) seeding stubbed out."""
    import backends.mlflow.demo_seed as demo_seed
    from console.cli import main
    from console.governance.audit import AuditLog

    summary = DemoSummary(versions={"credit-risk": ["1", "2", "3"]},
                          aliases={"credit-risk": {"champion": "1", "challenger": "2"}})
    calls = []
    monkeypatch.setattr(demo_seed, "seed_demo", lambda uri, h, progress: calls.append((uri, h)) or summary)
    import console.graph.demo_graph as demo_graph

    monkeypatch.setattr(demo_graph, "write_demo_graph", lambda h: h / "graphs" / "credit-risk.yaml")
    assert main(["--home", str(home), "demo"]) == 0
    assert calls == [(default_registry_uri(home), home)]
    [entry] = AuditLog(home).entries()
    assert (entry.action, entry.target) == ("registry.seed", "demo workspace")
    assert entry.after == "credit-risk v1-v3 (champion=v1, challenger=v2)"
    assert sorted(p.name for p in (home / "rollouts").iterdir()) == ["challenger-canary.yaml", "challenger-drill.yaml"]
    assert "toVersion: '2'" in (home / "rollouts" / "challenger-canary.yaml").read_text()
    assert "demo workspace ready" in capsys.readouterr().out


def test_first_run_seed_only_on_a_fresh_embedded_registry(home, tmp_path):
    from console.commands.demo_cmd import needs_first_run_seed

    fresh = load_settings({"home": str(home)}, env={})
    assert needs_first_run_seed(fresh, env={})
    assert not needs_first_run_seed(fresh, env={"MLCONSOLE_NO_DEMO": "1"})
    assert not needs_first_run_seed(load_settings({"home": str(home), "readonly": True}, env={}), env={})
    remote = load_settings({"home": str(home), "registry": "http://127.0.0.1:5000"}, env={})
    assert not needs_first_run_seed(remote, env={})
    db = home / "registry" / "mlflow.db"
    db.parent.mkdir(parents=True)
    db.touch()
    assert not needs_first_run_seed(fresh, env={})


def test_a_failed_first_run_seed_does_not_stop_the_console(home, monkeypatch, capsys):
    import backends.mlflow.demo_seed as demo_seed
    from console.commands.demo_cmd import first_run_seed

    def broken(uri, h, progress):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(demo_seed, "seed_demo", broken)
    first_run_seed(load_settings({"home": str(home)}, env={}))
    err = capsys.readouterr().err
    assert "demo seeding failed" in err and "disk on fire" in err and "mlconsole demo --force" in err


@pytest.mark.parametrize("extra, env, seeds", [
    ([], {}, True), (["--readonly"], {}, False), ([], {"MLCONSOLE_NO_DEMO": "1"}, False),
])
def test_console_start_seeds_first(home, monkeypatch, extra, env, seeds):
    import console.app
    import console.commands.demo_cmd as demo_cmd
    from console.cli import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    seeded, started = [], []
    monkeypatch.setattr(demo_cmd, "first_run_seed", lambda settings: seeded.append(settings.home))

    class App:  # stands in for the TUI: only the order of events matters here
        def __init__(self, settings):
            pass

        def run(self):
            started.append(bool(seeded))

    monkeypatch.setattr(console.app, "MLConsoleApp", App)
    assert main(["--home", str(home), *extra]) == 0
    assert seeded == ([home] if seeds else []) and started == [seeds]
