"""Backends' health and listings on the embedded defaults, and wiring by name."""

import json
import socket
import sqlite3

import pytest

from backends.local.cluster import LocalCluster
from backends.local.metrics import LocalMetrics
from backends.mlflow.registry import MlflowRegistry
from backends.prometheus.metrics import PrometheusMetrics
from console.config import load_settings
from console.errors import InvalidSpec
from console.ports import ClusterBackend, MetricsBackend, RegistryBackend
from console.types import HealthState
from console.wiring import UnloadableBackend, _load, make_backends


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wiring_builds_the_embedded_defaults(settings):
    b = make_backends(settings)
    assert isinstance(b.cluster, LocalCluster) and isinstance(b.cluster, ClusterBackend)
    assert isinstance(b.registry, MlflowRegistry) and isinstance(b.registry, RegistryBackend)
    assert isinstance(b.metrics, LocalMetrics) and isinstance(b.metrics, MetricsBackend)


def test_wiring_picks_prometheus_and_kubernetes_by_settings(home):
    s = load_settings({"home": str(home), "metrics": "http://127.0.0.1:1", "context": "kind-x"}, env={})
    b = make_backends(s)
    assert b.metrics.kind == "prometheus" and b.cluster.kind == "kubernetes"


def test_a_backend_that_cannot_load_is_down_not_fatal():
    b = _load("backends.nope:Nothing", "nope", "somewhere")
    assert isinstance(b, UnloadableBackend)
    assert b.health().state == HealthState.DOWN and "cannot load" in b.health().reason
    with pytest.raises(Exception, match="unavailable"):
        b.list_deployments()


def test_local_cluster_empty_home(home):
    c = LocalCluster(home)
    assert c.list_deployments() == [] and c.list_rollouts() == []
    assert c.health().state == HealthState.UP


def test_local_cluster_reads_state(home):
    (home / "runtime").mkdir()
    (home / "runtime" / "state.json").write_text(json.dumps({"deployments": {"demo": {
        "phase": "Available", "url": "http://127.0.0.1:9000",
        "predictors": [{"name": "main", "traffic": 90}, {"name": "canary", "traffic": 10}]}},
        "rollouts": {"demo": {"strategy": "canary", "phase": "Paused", "step": 2}}}))
    c = LocalCluster(home)
    (d,) = c.list_deployments()
    assert d.phase == "Available" and d.traffic_label == "main 90 / canary 10"
    (r,) = c.list_rollouts()
    assert r.is_running and r.strategy == "canary"
    # deployments exist but no supervisor is alive: degraded, with the reason
    assert c.health().state == HealthState.DEGRADED


def test_damaged_state_is_a_clear_error(home):
    (home / "runtime").mkdir()
    (home / "runtime" / "state.json").write_text("{oops")
    c = LocalCluster(home)
    with pytest.raises(InvalidSpec, match="damaged"):
        c.list_deployments()
    assert c.health().state == HealthState.DOWN


def test_mlflow_sqlite_health_without_importing_mlflow(home):
    r = MlflowRegistry(f"sqlite:///{home}/registry/mlflow.db")
    h = r.health()
    assert h.state == HealthState.UP and "empty store" in h.reason
    assert r.list_models().items == []  # no store file is created just to read it
    assert not (home / "registry" / "mlflow.db").exists()


def test_mlflow_sqlite_health_counts_models(home):
    db = home / "registry" / "mlflow.db"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.execute("create table registered_models (name text)")
    con.execute("insert into registered_models values ('a'), ('b')")
    con.commit()
    con.close()
    assert MlflowRegistry(f"sqlite:///{db}").health().reason == "2 registered model(s)"


def test_unreachable_servers_are_down_with_reason():
    port = free_port()
    h = MlflowRegistry(f"http://127.0.0.1:{port}").health()
    assert h.state == HealthState.DOWN and "unreachable" in h.reason
    h = PrometheusMetrics(f"http://127.0.0.1:{port}").health()
    assert h.state == HealthState.DOWN and "unreachable" in h.reason


def test_endpoints_mask_credentials():
    assert "pw" not in MlflowRegistry("http://u:pw@127.0.0.1:1").endpoint
    assert "pw" not in PrometheusMetrics("http://u:pw@127.0.0.1:1").endpoint


def test_kubernetes_backend_with_a_missing_context_is_down(tmp_path, monkeypatch):
    from backends.kubernetes.cluster import KubernetesCluster

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    h = KubernetesCluster("nowhere").health()
    assert h.state == HealthState.DOWN and "kubeconfig" in h.reason
