"""SeldonDeployments over HTTP against kmock: list, get, create, apply, patch, delete, and every refusal."""

from __future__ import annotations

import copy

import pytest
import yaml

from backends.kubernetes.cluster import KubernetesCluster
from console.errors import BackendUnavailable, Conflict, Forbidden, InvalidSpec, NotFound
from console.graph.demo_graph import demo_manifest
from console.types import HealthState
from tests.kubernetes import objects as o
from tests.kubernetes.conftest import CONTEXT, assert_valid_sdep
from tests.kubernetes.emulator import PODS, SDEPS, EmulatorThread, write_kubeconfig
from tests.seldon_fixtures import EXAMPLES


def demo_text(home) -> str:
    return yaml.safe_dump(demo_manifest(home), sort_keys=False)


def test_lists_seldondeployments_with_status_and_ready_pods(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris", status=o.available("iris", {"main": 2})), o.sdep("wine")])
    kube.seed(PODS, [o.pod("iris", "main", 0), o.pod("iris", "main", 1, ready=False)])
    found = {d.name: d for d in cluster.list_deployments()}
    assert set(found) == {"iris", "wine"}
    iris = found["iris"]
    assert iris.phase == "Available" and iris.namespace == "models"
    assert iris.url == "http://iris-default.models.svc.cluster.local:8000"  # the base, as the local runtime's
    assert [(p.name, p.traffic, p.ready_replicas) for p in iris.predictors] == [("main", 100, 1)]
    assert found["wine"].phase == "Unknown" and "operator" in found["wine"].message
    assert iris.created_at is not None


def test_get_deployment_reads_the_object_fresh_with_its_pods(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris", annotations={"mlconsole.io/rollout-state": "{}", "team": "risk"})])
    kube.seed(PODS, [o.pod("iris", "main", 0), o.pod("other", "main", 0)])
    detail = cluster.get_deployment("iris")
    assert [r.name for r in detail.replicas] == ["iris-main-0-classifier-7d9f8b-00000"]
    assert detail.replicas[0].kind == "pod" and detail.replicas[0].ready
    manifest = yaml.safe_load(detail.manifest)
    assert manifest["metadata"]["annotations"] == {"team": "risk"}  # rollout bookkeeping is not the manifest
    assert "status" not in manifest and "resourceVersion" not in manifest["metadata"]
    with pytest.raises(NotFound, match="no SeldonDeployment 'nope' in namespace models"):
        cluster.get_deployment("nope")


def test_create_then_server_side_apply_with_a_diff_preview(kube, cluster, home, seldon_schema):
    text = demo_text(home)
    assert cluster.diff(text) == "created"
    summary = cluster.apply(text)
    assert summary.name == "credit-risk" and summary.namespace == "models"
    stored = kube.get(SDEPS, "models", "credit-risk")
    assert stored["metadata"]["resourceVersion"] and stored["metadata"]["uid"]
    assert_valid_sdep(stored, seldon_schema)
    assert cluster.diff(text) == ""  # applied as is: nothing to change

    changed = demo_manifest(home)
    changed["spec"]["predictors"][0]["replicas"] = 3
    changed["metadata"]["annotations"] = {"team": "risk"}  # the description annotation is dropped
    diff = cluster.diff(yaml.safe_dump(changed))
    assert "-    replicas: 1" in diff and "+    replicas: 3" in diff and "+    team: risk" in diff
    cluster.apply(yaml.safe_dump(changed))
    stored = kube.get(SDEPS, "models", "credit-risk")
    assert stored["spec"]["predictors"][0]["replicas"] == 3
    patches = kube.requests("PATCH")
    assert patches[-1].headers["Content-Type"].startswith("application/apply-patch+yaml")
    assert patches[-1].params["fieldManager"] == "mlconsole" and patches[-1].params["force"] == "true"


def test_a_server_without_server_side_apply_gets_a_merge_patch_that_removes_dropped_fields(tmp_path, monkeypatch,
                                                                                          home):
    server = EmulatorThread(ssa=False).start()
    try:
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kc")))
        cluster = KubernetesCluster(CONTEXT, None, home)
        first = demo_manifest(home)
        first["spec"]["annotations"] = {"seldon.io/engine-separate-pod": "true"}
        cluster.apply(yaml.safe_dump(first))
        second = demo_manifest(home)
        second["spec"]["predictors"][0]["replicas"] = 2
        cluster.apply(yaml.safe_dump(second))
        stored = server.get(SDEPS, "models", "credit-risk")
        assert stored["spec"]["predictors"][0]["replicas"] == 2
        assert "annotations" not in stored["spec"]  # dropped from the manifest: removed (null in the patch)
        types = [r.headers.get("Content-Type", "") for r in server.requests("PATCH")]
        assert types[0].startswith("application/apply-patch+yaml")  # refused with 415
        assert types[1].startswith("application/merge-patch+json")
    finally:
        server.stop()


def test_every_seldon_example_applies_and_stays_valid_for_the_crd(kube, cluster, seldon_schema):
    for path in EXAMPLES:
        cluster.apply(path.read_text())
    stored = kube.call(lambda e: [copy.deepcopy(v.raw) for (r, _, _), v in e.objects.items()
                                  if r == SDEPS and not v.deleted])
    assert len(stored) >= len(EXAMPLES) - 1  # two examples may share a name
    for obj in stored:
        assert_valid_sdep(obj, seldon_schema)


def test_scale_traffic_and_restart_patch_the_predictors(kube, cluster, seldon_schema):
    kube.seed(SDEPS, [o.sdep("ab", predictors=[o.predictor("a", 50), o.predictor("b", 50)])])
    assert cluster.scale("ab", "b", 4).predictors[1].replicas == 4
    summary = cluster.set_traffic("ab", {"a": 80, "b": 20})
    assert [(p.name, p.traffic) for p in summary.predictors] == [("a", 80), ("b", 20)]
    summary = cluster.set_traffic("ab", {"a": 100}, {"b": True})
    assert [(p.name, p.shadow) for p in summary.predictors] == [("a", False), ("b", True)]
    cluster.restart("ab", "a")
    stored = kube.get(SDEPS, "models", "ab")
    a, b = stored["spec"]["predictors"]
    assert "mlconsole.io/restartedAt" in a["componentSpecs"][0]["metadata"]["annotations"]
    assert "metadata" not in b["componentSpecs"][0]
    assert_valid_sdep(stored, seldon_schema)
    with pytest.raises(InvalidSpec, match="adds up to 70"):
        cluster.set_traffic("ab", {"a": 70}, {"b": False})
    with pytest.raises(NotFound, match="no predictor 'c'"):
        cluster.scale("ab", "c", 1)


def test_delete_removes_the_object(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris")])
    cluster.delete("iris")
    assert kube.get(SDEPS, "models", "iris") is None
    with pytest.raises(NotFound):
        cluster.delete("iris")


def test_a_stale_resource_version_is_a_conflict_and_the_change_is_retried(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris")])
    raced = []

    def change(obj):
        if not raced:  # someone else changes the object between our read and our patch
            raced.append(1)
            kube.set_status(SDEPS, "models", "iris", {"state": "Available"})
        obj["spec"]["predictors"][0]["replicas"] = 5

    cluster.modify("iris", change, "test")
    assert kube.get(SDEPS, "models", "iris")["spec"]["predictors"][0]["replicas"] == 5
    statuses = kube.requests("PATCH")
    assert len(statuses) == 2  # the first was refused with 409, the second went through

    def always_raced(obj):
        kube.set_status(SDEPS, "models", "iris", {"state": "Creating"})
        obj["spec"]["predictors"][0]["replicas"] = 6

    with pytest.raises(Conflict, match="409"):
        cluster.modify("iris", always_raced, "test")


def test_creating_what_exists_is_a_conflict_for_a_plain_create(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris")])
    with pytest.raises(Conflict):
        cluster.api.request("POST", "/apis/machinelearning.seldon.io/v1/namespaces/models/seldondeployments",
                            "SeldonDeployment iris", body=o.sdep("iris"))


def test_missing_seldon_crd_says_what_to_install(tmp_path, monkeypatch, home):
    server = EmulatorThread(seldon=False).start()
    try:
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kc")))
        cluster = KubernetesCluster(CONTEXT, None, home)
        health = cluster.health()
        assert health.state == HealthState.DEGRADED and "Seldon Core is not installed" in health.reason
        with pytest.raises(NotFound) as info:
            cluster.list_deployments()
        assert "CRD (machinelearning.seldon.io/v1) is missing" in info.value.message
        assert "helm install seldon-core" in info.value.hint
        with pytest.raises(NotFound, match="not installed"):
            cluster.apply(demo_text(home))
    finally:
        server.stop()


def test_rbac_refusals_are_reviewed_and_a_403_is_forbidden(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris")])
    kube.deny("delete", "seldondeployments", "role model-viewer")
    kube.deny("get", "pods/log")
    refusals = cluster.refusals()
    assert set(refusals) == {"delete", "logs"}
    assert "may not delete seldondeployments.machinelearning.seldon.io in namespace models" in refusals["delete"]
    assert "role model-viewer" in refusals["delete"]
    with pytest.raises(Forbidden) as info:
        cluster.delete("iris")
    assert "403" in info.value.message and "RBAC" in info.value.hint


def test_access_reviews_are_valid_core_objects():
    import kubernetes_validate

    from backends.kubernetes.access import ACTIONS, review_body

    for needs in ACTIONS.values():
        for permission in needs:
            kubernetes_validate.validate(review_body(permission, "models"), "1.30", strict=True)


def test_bad_credentials_are_a_401_with_what_to_do(tmp_path, monkeypatch, home):
    server = EmulatorThread(token="the-right-one").start()
    try:
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kc", user={"token": "stale"})))
        with pytest.raises(Forbidden, match="rejected our credentials") as info:
            KubernetesCluster(CONTEXT, None, home).list_deployments()
        assert "refresh the token" in info.value.hint
    finally:
        server.stop()


def test_a_cluster_that_goes_away_is_down_not_a_crash(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris")])
    assert cluster.list_deployments()
    assert cluster.list_deployments()  # second read: the watches start
    kube.stop()
    assert cluster.health().state == HealthState.DOWN
    with pytest.raises(BackendUnavailable, match="unreachable"):
        # the broken watch is noticed: reads list again, and fail typed
        for _ in range(200):
            cluster.get_deployment("iris")


def test_all_namespaces_qualifies_names(kube, home):
    kube.seed(SDEPS, [o.sdep("iris", "team-a"), o.sdep("iris", "team-b"), o.sdep("wine", "team-b")])
    everywhere = KubernetesCluster(CONTEXT, "all", home)
    names = [d.name for d in everywhere.list_deployments()]
    assert names == ["team-a/iris", "team-b/iris", "team-b/wine"]
    assert everywhere.get_deployment("team-b/iris").summary.namespace == "team-b"
    assert everywhere.get_deployment("wine").summary.name == "team-b/wine"
    with pytest.raises(InvalidSpec, match="several namespaces"):
        everywhere.get_deployment("iris")
    one = KubernetesCluster(CONTEXT, "team-a", home)
    assert [d.name for d in one.list_deployments()] == ["iris"]


def test_a_server_that_does_not_answer_times_out_typed(tmp_path, monkeypatch, home):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel; nothing ever answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", url)))
        cluster = KubernetesCluster(CONTEXT, None, home)
        with pytest.raises(BackendUnavailable, match="did not answer in time") as info:
            cluster.api.request("GET", "/apis/machinelearning.seldon.io/v1", "discovery", timeout=0.3)
        assert "VPN" in info.value.hint
    finally:
        silent.close()
