"""kubeconfig as kubectl reads it: several files in KUBECONFIG, contexts, namespaces, token and exec auth."""

from __future__ import annotations

import os
import sys

import yaml

from backends.kubernetes import kubeconfig
from backends.kubernetes.cluster import KubernetesCluster
from console.config import load_settings
from console.types import HealthState
from console.wiring import make_cluster
from tests.kubernetes import objects as o
from tests.kubernetes.emulator import SDEPS, EmulatorThread, write_kubeconfig


def test_several_files_merge_as_kubectl_merges_them(tmp_path, monkeypatch, home):
    server = EmulatorThread(token="team-token").start()
    try:
        server.seed(SDEPS, [o.sdep("iris", "team-a")])
        # file 1: the cluster and a user; file 2: the context using them, and the namespace
        clusters = tmp_path / "clusters.yaml"
        clusters.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "prod", "cluster": {"server": server.url}}],
            "users": [{"name": "alice", "user": {"token": "team-token"}}], "contexts": []}))
        contexts = tmp_path / "contexts.yaml"
        contexts.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "clusters": [], "users": [],
            "contexts": [{"name": "prod-team-a", "context": {"cluster": "prod", "user": "alice",
                                                              "namespace": "team-a"}}],
            "current-context": "prod-team-a"}))
        monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(clusters), str(contexts)]))
        names = {c.name: c for c in kubeconfig.list_contexts()}
        assert names["prod-team-a"].namespace == "team-a" and names["prod-team-a"].current
        cluster = KubernetesCluster("prod-team-a", None, home)
        assert cluster.namespace == "team-a"
        assert [d.name for d in cluster.list_deployments()] == ["iris"]
        assert all(r.headers.get("Authorization") == "Bearer team-token" for r in server.requests())
    finally:
        server.stop()


def test_exec_credentials_are_run_for_a_token(kube, tmp_path, monkeypatch, home):
    plugin = tmp_path / "token-plugin.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1',"
                      " 'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))\n")
    kube.call(lambda e: setattr(e, "token", "from-exec"))
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "interactiveMode": "Never"}}
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "exec.yaml", kube.url, "exec-ctx",
                                                          user=user)))
    kube.seed(SDEPS, [o.sdep("iris")])
    assert [d.name for d in KubernetesCluster("exec-ctx", None, home).list_deployments()] == ["iris"]


def test_a_missing_context_or_kubeconfig_is_down_with_a_reason(tmp_path, monkeypatch, home):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent.yaml"))
    health = KubernetesCluster("nowhere", None, home).health()
    assert health.state == HealthState.DOWN and "no kubeconfig found" in health.reason
    write_kubeconfig(tmp_path / "absent.yaml", "http://127.0.0.1:9")
    health = KubernetesCluster("nowhere", None, home).health()
    assert health.state == HealthState.DOWN and "kubeconfig problem" in health.reason


def test_settings_choose_context_and_namespace_and_switch_at_runtime(kube, home):
    kube.seed(SDEPS, [o.sdep("iris", "models"), o.sdep("wine", "staging")])
    settings = load_settings({"home": str(home), "context": "kmock-ctx"}, env={})
    cluster = make_cluster(settings)
    assert cluster.kind == "kubernetes" and cluster.endpoint == "kmock-ctx / models"
    assert [d.name for d in cluster.list_deployments()] == ["iris"]
    staging = make_cluster(settings.with_overrides(namespace="staging"))  # what :ns staging does
    assert [d.name for d in staging.list_deployments()] == ["wine"]
    everywhere = make_cluster(settings.with_overrides(namespace="all"))
    assert [d.name for d in everywhere.list_deployments()] == ["models/iris", "staging/wine"]


def test_in_cluster_reads_the_service_account_namespace(tmp_path, monkeypatch):
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "namespace").write_text("ml-serving\n")
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", account)
    assert kubeconfig.context_namespace(kubeconfig.IN_CLUSTER) == "ml-serving"
