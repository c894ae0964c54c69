"""Pods by Seldon's labels, events, logs (tail, previous, follow) and describe, against kmock."""

from __future__ import annotations

import threading

import pytest
import yaml

from backends.kubernetes.events import event_body
from console.errors import Forbidden, NotFound
from console.secrets import mask_manifest
from tests.kubernetes import objects as o
from tests.kubernetes.conftest import wait_for
from tests.kubernetes.emulator import EVENTS, PODS, SDEPS

POD = "iris-main-0-classifier-7d9f8b-{:05d}"


@pytest.fixture
def iris(kube):
    kube.seed(SDEPS, [o.sdep("iris", predictors=[o.predictor("main", 100, 2)])])
    kube.seed(PODS, [o.pod("iris", "main", 0), o.pod("iris", "main", 1, ready=False, restarts=4,
                                                     waiting="CrashLoopBackOff")])
    return kube


def test_pods_show_phase_restarts_and_why(iris, cluster):
    pods = cluster.list_replicas("iris")
    assert [(p.name, p.predictor, p.index) for p in pods] == [(POD.format(0), "main", 0), (POD.format(1), "main", 1)]
    ok, crashing = pods
    assert ok.phase == "Running" and ok.ready and ok.restarts == 0 and ok.started_at
    assert crashing.phase == "CrashLoopBackOff" and not crashing.ready and crashing.restarts == 4
    assert crashing.last_exit_code == 1 and "back-off" in crashing.message
    with pytest.raises(NotFound):
        cluster.list_replicas("nope")


def test_logs_tail_previous_and_the_gateway(iris, cluster):
    iris.write_log("models", POD.format(0), "classifier", *(f"line {i}" for i in range(10)))
    iris.write_log("models", POD.format(0), "seldon-container-engine", "POST /api/v1.0/predictions 200")
    iris.write_log("models", POD.format(1), "classifier", "Traceback: model file missing", previous=True)
    assert cluster.logs("iris", "main", 0, tail=3) == ["line 7", "line 8", "line 9"]
    both = cluster.logs("iris", "main", tail=2)
    assert f"{POD.format(0)}/classifier | line 9" in both
    # the crashing container's current log is empty: its previous container's last lines say why
    crashed = cluster.logs("iris", "main", 1)
    assert crashed[0] == "Traceback: model file missing" and "restarted 4 time(s)" in crashed[1]
    assert cluster.logs("iris", "main", 1, previous=True) == ["Traceback: model file missing"]
    assert cluster.logs("iris", "gateway", 0) == ["POST /api/v1.0/predictions 200"]
    with pytest.raises(NotFound, match="no predictor 'other'"):
        cluster.logs("iris", "other")
    sent = [r for r in iris.requests("GET") if str(r.url.path).endswith("/log")]
    assert {"container": "classifier", "tailLines": "3"}.items() <= sent[0].params.items()


def test_follow_logs_streams_new_lines_until_stopped(iris, cluster):
    iris.write_log("models", POD.format(0), "classifier", "started")
    stop = threading.Event()
    got: list[str] = []
    follower = cluster.follow_logs("iris", "main", 0, tail=5, stop=stop)
    reader = threading.Thread(target=lambda: got.extend(follower), daemon=True)
    reader.start()
    wait_for(lambda: got == ["started"])
    iris.write_log("models", POD.format(0), "classifier", "request 1", "request 2")
    wait_for(lambda: got == ["started", "request 1", "request 2"])
    stop.set()
    reader.join(5)
    assert not reader.is_alive()
    follow = [r for r in iris.requests("GET") if r.params.get("follow") == "true"]
    assert follow and follow[0].params["tailLines"] == "5"


def test_events_of_the_deployment_and_its_pods_oldest_first(iris, cluster):
    iris.seed(EVENTS, [
        o.event("iris", "Updated", "updated predictor main", when="2026-11-30T10:02:00Z", index=1),
        o.event("iris", "BackOff", "Back-off restarting failed container", kind="Warning", involved_kind="Pod",
                involved_name=POD.format(1), when="2026-11-30T10:03:00Z", index=2),
        o.event("iris", "Created", "created deployment", when="2026-11-30T10:01:00Z", index=3),
        o.event("other", "Created", "not ours", involved_kind="Pod", involved_name="other-xyz", index=4),
    ])
    events = cluster.events("iris")
    assert [e.reason for e in events] == ["Created", "Updated", "BackOff"]
    assert events[-1].kind == "Warning" and events[-1].object == f"pod/{POD.format(1)}"
    assert [e.deployment for e in cluster.events()] == ["iris", "iris", "iris"]  # only Seldon's deployments


def test_our_events_are_valid_core_events(kube, cluster):
    import kubernetes_validate

    obj = kube.seed(SDEPS, [o.sdep("iris")]) and kube.get(SDEPS, "models", "iris")
    body = event_body(obj, "Normal", "RolloutProgressing", "step 1: main 90 / canary 10")
    kubernetes_validate.validate(body, "1.30", strict=True)
    cluster.emit_event(obj, "Normal", "RolloutProgressing", "step 1: main 90 / canary 10")
    assert [e.reason for e in cluster.events("iris")] == ["RolloutProgressing"]


def test_describe_masks_secrets(kube, cluster):
    secret = o.sdep("iris")
    secret["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["env"] = [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "debug"}]
    kube.seed(SDEPS, [secret])
    manifest = yaml.safe_load(cluster.get_deployment("iris").manifest)
    shown = yaml.safe_dump(mask_manifest(manifest))
    assert "hunter2" not in shown and "debug" in shown


def test_pods_hidden_by_rbac_fall_back_to_the_operators_status(kube, cluster):
    kube.seed(SDEPS, [o.sdep("iris", status=o.available("iris", {"main": 1}))])
    kube.deny("list", "pods")
    (iris,) = cluster.list_deployments()
    assert iris.predictors[0].ready_replicas == 1  # from status.deploymentStatus
    with pytest.raises(Forbidden, match="RBAC hides the pods"):
        cluster.list_replicas("iris")
