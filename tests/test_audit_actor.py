"""Who the audit log says acted: OS user@host, plus the Kubernetes identity where the cluster has one."""

from console.cluster_changes import ClusterChanges
from console.governance.audit import AuditLog, default_actor
from console.governance.identity import cluster_identity
from console.types import DeploymentSummary, PredictorSummary

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: prod, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: alice-oidc, user: {token: not-a-real-token}}]
contexts: [{name: prod-admin, context: {cluster: prod, user: alice-oidc, namespace: ml}}]
current-context: prod-admin
"""


class KubeCluster:
    kind = "kubernetes"
    endpoint = "prod-admin / ml"
    namespace = "ml"
    context = "prod-admin"

    def get_deployment(self, name):
        summary = DeploymentSummary(name, "ml", "Available", [PredictorSummary("main", 100, replicas=1)])
        return type("Detail", (), {"summary": summary})()

    def scale(self, name, predictor, replicas):
        return DeploymentSummary(name, "ml", "Available", [PredictorSummary("main", 100, replicas=replicas)])


def test_local_runtime_has_no_cluster_identity():
    assert cluster_identity(type("Local", (), {"kind": "local"})()) == ""


def test_identity_from_the_kubeconfig_context(settings, tmp_path, monkeypatch):
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    assert cluster_identity(KubeCluster()) == "alice-oidc via context prod-admin"
    ClusterChanges(settings, KubeCluster()).scale("credit-risk", "main", 3, reason="load test")
    (entry,) = AuditLog(settings.home).entries()
    assert entry.actor == f"{default_actor()} (k8s alice-oidc via context prod-admin)"
    assert entry.target == "ml/credit-risk" and entry.after == "main replicas 3"
    assert "not-a-real-token" not in AuditLog(settings.home).path.read_text()


def test_a_backend_that_knows_its_identity_says_it(settings):
    cluster = KubeCluster()
    cluster.identity = lambda: "system:serviceaccount:ml:mlconsole"
    assert cluster_identity(cluster) == "system:serviceaccount:ml:mlconsole"
    cluster.identity = lambda: 1 / 0  # a failing lookup falls back to the kubeconfig, never fails the audit
    assert cluster_identity(cluster).endswith("context prod-admin")
