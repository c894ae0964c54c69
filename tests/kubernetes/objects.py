"""Kubernetes objects as Seldon's operator and the kubelet would leave them, for seeding the emulator."""

from __future__ import annotations

from typing import Any


def sdep(name: str, namespace: str = "models", predictors: list[dict[str, Any]] | None = None,
         status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A SeldonDeployment with one model predictor 'main' at 100% unless told otherwise."""
    preds = predictors or [predictor("main", 100)]
    obj: dict[str, Any] = {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
                           "metadata": {"name": name, "namespace": namespace},
                           "spec": {"predictors": preds}}
    if annotations:
        obj["metadata"]["annotations"] = dict(annotations)
    if status is not None:
        obj["status"] = status
    return obj


def predictor(name: str, traffic: int = 100, replicas: int = 1, image: str = "seldonio/sklearnserver:1.18.2",
              shadow: bool = False) -> dict[str, Any]:
    out = {"name": name, "traffic": traffic, "replicas": replicas,
           "componentSpecs": [{"spec": {"containers": [{"name": "classifier", "image": image}]}}],
           "graph": {"name": "classifier", "type": "MODEL", "children": []}}
    if shadow:
        out["shadow"] = True
    return out


def available(name: str, predictors: dict[str, int], url: str = "") -> dict[str, Any]:
    """The status Seldon's operator writes once every predictor's Deployment is available."""
    return {"state": "Available", "description": "",
            "address": {"url": url or f"http://{name}-default.models.svc.cluster.local:8000/api/v1.0/predictions"},
            "deploymentStatus": {f"{name}-{p}-0-classifier": {"availableReplicas": n, "replicas": n}
                                 for p, n in predictors.items()}}


def pod(deployment: str, predictor_name: str, index: int, namespace: str = "models", ready: bool = True,
        restarts: int = 0, waiting: str = "", engine: bool = True) -> dict[str, Any]:
    """A pod of one predictor, labelled as Seldon labels them, with the executor sidecar."""
    containers = [{"name": "classifier", "image": "seldonio/sklearnserver:1.18.2"}]
    if engine:
        containers.append({"name": "seldon-container-engine", "image": "seldonio/seldon-core-executor:1.18.2"})
    state: dict[str, Any] = {"running": {"startedAt": "2026-11-30T10:00:00Z"}}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": "back-off 5m0s restarting failed container"}}
    statuses = [{"name": c["name"], "ready": ready and not waiting, "restartCount": restarts if i == 0 else 0,
                 "state": state if i == 0 else {"running": {"startedAt": "2026-11-30T10:00:00Z"}},
                 **({"lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}} if restarts and i == 0 else {})}
                for i, c in enumerate(containers)]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{deployment}-{predictor_name}-0-classifier-7d9f8b-{index:05d}", "namespace": namespace,
                     "labels": {"seldon-deployment-id": deployment, "seldon-app": f"{deployment}-{predictor_name}",
                                "version": predictor_name, "app.kubernetes.io/managed-by": "seldon-core"}},
        "spec": {"containers": containers, "nodeName": "node-1"},
        "status": {"phase": "Running" if not waiting else "Running", "startTime": "2026-11-30T10:00:00Z",
                   "podIP": "10.0.0.1", "containerStatuses": statuses},
    }


def event(deployment: str, reason: str, message: str, namespace: str = "models", kind: str = "Normal",
          involved_kind: str = "SeldonDeployment", involved_name: str | None = None, index: int = 0,
          when: str = "2026-11-30T10:00:00Z") -> dict[str, Any]:
    name = involved_name or deployment
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{name}.{index:08x}", "namespace": namespace},
            "involvedObject": {"kind": involved_kind, "name": name, "namespace": namespace},
            "reason": reason, "message": message, "type": kind, "count": 1,
            "firstTimestamp": when, "lastTimestamp": when, "source": {"component": "seldon-controller-manager"}}
