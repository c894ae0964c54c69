"""Rollouts on Kubernetes: spec and state in annotations, the controller ticked with the time passed in."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from backends.kubernetes.rollouts import _persist, load_state
from backends.prometheus.metrics import PrometheusMetrics
from console.errors import Conflict, InvalidSpec, NotFound
from console.governance.audit import AuditLog
from tests.kubernetes import objects as o
from tests.kubernetes.conftest import assert_valid_sdep
from tests.kubernetes.emulator import DEPLOYMENTS, SDEPS

GATELESS = """
strategy: canary
stable: main
candidate: canary
analysis_interval: 10s
steps:
  - setWeight: 20
  - pause: {duration: 30s}
  - setWeight: 60
  - pause: {duration: 30s}
  - setWeight: 100
"""

GATED = """
strategy: canary
stable: main
candidate: canary
analysis_interval: 10s
steps:
  - setWeight: 20
  - pause: {duration: 60s}
  - setWeight: 100
gates:
  - {metric: error_rate, op: "<", threshold: 0.05, window: 30s}
"""


def candidate_manifest(image: str = "seldonio/sklearnserver:1.18.2-v2") -> str:
    """The new version; no replicas of its own, so it gets as many as the stable predictor has."""
    new = o.predictor("v2", 100, image=image)
    del new["replicas"]
    return yaml.safe_dump(o.sdep("iris", predictors=[new]))


def traffic(obj: dict) -> dict[str, int]:
    return {p["name"]: p.get("traffic", 0) for p in obj["spec"]["predictors"]}


def history(kube) -> list[dict[str, int]]:
    """The predictors' weights in each stored version of iris, repeats collapsed."""
    out: list[dict[str, int]] = []
    for version in kube.versions(SDEPS, "models", "iris"):
        if version is not None and (not out or traffic(version) != out[-1]):
            out.append(traffic(version))
    return out


@pytest.fixture
def iris(kube):
    kube.seed(SDEPS, [o.sdep("iris", predictors=[o.predictor("main", 100, replicas=2)])])
    return kube


def test_a_gateless_canary_moves_the_weights_step_by_step_and_promotes(iris, cluster, seldon_schema):
    summary = cluster.start_rollout("iris", candidate_manifest(), GATELESS)
    assert (summary.phase, summary.canary_weight) == ("Progressing", 0)
    stored = iris.get(SDEPS, "models", "iris")
    annotations = stored["metadata"]["annotations"]
    assert "setWeight: 20" in annotations["mlconsole.io/rollout"]
    assert json.loads(annotations["mlconsole.io/rollout-state"])["phase"] == "Progressing"
    candidate = stored["spec"]["predictors"][1]
    assert candidate["name"] == "canary" and candidate["replicas"] == 2  # as many as stable
    assert candidate["componentSpecs"][0]["spec"]["containers"][0]["image"].endswith("-v2")
    assert_valid_sdep(stored, seldon_schema)

    controller = cluster.rollout_controller()
    t0 = time.time()
    for offset in (1, 2, 40, 41, 80):  # the controller's clock: pauses of 30 s pass in no time
        controller.run_once(now=t0 + offset)
    assert cluster.rollout_status("iris")["local"]["finishing"]["promoted"] is True
    controller.run_once(now=t0 + 81)  # no operator reports on this object: the promotion completes
    final = iris.get(SDEPS, "models", "iris")
    assert history(iris) == [{"main": 100}, {"main": 100, "canary": 0}, {"main": 80, "canary": 20},
                             {"main": 40, "canary": 60}, {"main": 0, "canary": 100}, {"main": 100}]
    (main,) = final["spec"]["predictors"]
    assert main["componentSpecs"][0]["spec"]["containers"][0]["image"].endswith("-v2")  # stable runs v2
    assert main["replicas"] == 2
    assert_valid_sdep(final, seldon_schema)
    status = cluster.rollout_status("iris")
    assert status["phase"] == "Completed" and not status["local"].get("finishing")
    (listed,) = cluster.list_rollouts()
    assert (listed.deployment, listed.phase, listed.is_running) == ("iris", "Completed", False)
    reasons = [e.reason for e in cluster.events("iris")]
    assert reasons[0] == "RolloutStarted" and "RolloutPaused" in reasons and reasons[-1] == "RolloutPromoted"
    actions = [e.action for e in AuditLog(cluster.home).entries()]
    assert "rollout.set_weight" in actions and "rollout.complete" in actions


def test_a_gate_without_metrics_pauses_inconclusive_and_never_promotes_blind(iris, cluster):
    cluster.start_rollout("iris", candidate_manifest(), GATED)
    controller = cluster.rollout_controller(PrometheusMetrics("http://127.0.0.1:9", timeout=1.0))
    t0 = time.time()
    controller.run_once(now=t0 + 1)
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 80, "canary": 20}
    controller.run_once(now=t0 + 12)  # analysis due: Prometheus unreachable, no figures
    status = cluster.rollout_status("iris")
    assert status["phase"] == "Inconclusive"
    assert status["measurements"][-1]["passed"] is None
    for offset in (80, 200):
        controller.run_once(now=t0 + offset)
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 80, "canary": 20}
    assert cluster.rollout_status("iris")["phase"] == "Inconclusive"
    assert any(e.kind == "Warning" and e.reason == "RolloutInconclusive" for e in cluster.events("iris"))

    assert cluster.rollout_command("iris", "abort").phase == "Aborted"
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 100}
    with pytest.raises(Conflict, match="already Aborted"):
        cluster.rollout_command("iris", "abort")
    retried = cluster.rollout_command("iris", "retry")  # the candidate comes back from the notes
    assert retried.phase == "Progressing"
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 100, "canary": 0}


def test_commands_pause_resume_promote_full(iris, cluster):
    cluster.start_rollout("iris", candidate_manifest(), GATELESS)
    controller = cluster.rollout_controller()
    controller.run_once(now=time.time() + 1)
    assert cluster.rollout_command("iris", "pause").phase == "Paused"
    with pytest.raises(Conflict, match="already paused"):
        cluster.rollout_command("iris", "pause")
    assert cluster.rollout_command("iris", "resume").phase == "Progressing"
    with pytest.raises(Conflict, match="already Progressing"):
        cluster.start_rollout("iris", candidate_manifest(), GATELESS)
    assert cluster.rollout_command("iris", "promote-full").phase == "Completed"
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 0, "canary": 100}  # finishing
    with pytest.raises(Conflict, match="still finishing"):
        cluster.start_rollout("iris", candidate_manifest(), GATELESS)
    with pytest.raises(InvalidSpec):
        cluster.rollout_command("iris", "jump")


def test_promotion_waits_for_seldon_to_roll_the_stable_predictor_out(iris, cluster):
    iris.set_status(SDEPS, "models", "iris", o.available("iris", {"main": 2}))
    name = "iris-main-0-classifier"

    def deployment(generation: int, observed: int, updated: int) -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "models", "generation": generation,
                             "labels": {"seldon-deployment-id": "iris"}},
                "spec": {"replicas": 2},
                "status": {"observedGeneration": observed, "replicas": 2 + (updated < 2),
                           "updatedReplicas": updated, "availableReplicas": 2}}

    def operator(generation: int, observed: int, updated: int) -> None:  # what Seldon's operator does
        iris.call(lambda e: e.objects[DEPLOYMENTS, "models", name].patch(deployment(generation, observed, updated)))

    iris.seed(DEPLOYMENTS, [deployment(1, 1, 2)])
    cluster.start_rollout("iris", candidate_manifest(), GATELESS)
    cluster.rollout_command("iris", "promote-full")
    controller = cluster.rollout_controller()
    t0 = time.time()

    def waiting(offset: float) -> str:
        controller.run_once(now=t0 + offset)
        return cluster.rollout_status("iris")["local"].get("finishing", {}).get("waiting", "done")

    assert waiting(1) == f"waiting for Seldon to update {name}"  # it still runs the old template
    operator(2, 1, 0)
    assert waiting(2) == f"waiting for {name} to roll out (0/2 updated)"
    operator(2, 2, 1)
    assert waiting(3) == f"waiting for {name} to roll out (1/2 updated)"
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 0, "canary": 100}  # the candidate serves
    operator(2, 2, 2)
    assert waiting(4) == "done"
    assert traffic(iris.get(SDEPS, "models", "iris")) == {"main": 100}


def test_two_drivers_cannot_both_write_the_same_tick(iris, cluster):
    cluster.start_rollout("iris", candidate_manifest(), GATELESS)
    live = cluster.read("iris")
    state, notes = load_state(live)
    iris.set_status(SDEPS, "models", "iris", {"state": "Available"})  # another writer got there first
    with pytest.raises(Conflict):
        _persist(cluster, live, live, state, notes)


def test_start_refuses_what_cannot_roll_out(iris, cluster, kube):
    with pytest.raises(InvalidSpec, match="stable predictor 'blue'"):
        cluster.start_rollout("iris", candidate_manifest(), GATELESS.replace("stable: main", "stable: blue"))
    with pytest.raises(InvalidSpec, match="fault injection"):
        cluster.start_rollout("iris", candidate_manifest(), GATELESS + "fault_rate: 0.5\n")
    with pytest.raises(NotFound, match="no rollout"):
        cluster.rollout_status("iris")
    with pytest.raises(NotFound):
        cluster.start_rollout("nope", candidate_manifest(), None)
    kube.seed(SDEPS, [o.sdep("ab", predictors=[o.predictor("a", 50), o.predictor("b", 50)])])
    with pytest.raises(InvalidSpec, match="also take traffic"):
        cluster.start_rollout("ab", candidate_manifest(), GATELESS.replace("stable: main", "stable: a"))
