"""ClusterBackend on Kubernetes with Seldon Core, via the official client (lazy import)."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

from backends.kubernetes.errors import SELDON_HINT, translate
from console.errors import ConsoleError, NotFound
from console.types import DeploymentSummary, Health, HealthState, PredictorSummary, RolloutSummary

GROUP, VERSION, PLURAL = "machinelearning.seldon.io", "v1", "seldondeployments"
ROLLOUT_ANNOTATION = "mlconsole.io/rollout-state"
TIMEOUT = 5.0


class KubernetesCluster:
    """SeldonDeployments in one kubeconfig context and namespace."""

    kind = "kubernetes"

    def __init__(self, context: str, namespace: str | None = None) -> None:
        self.context = context
        self._namespace = namespace

    @property
    def endpoint(self) -> str:
        return f"{self.context}/{self._namespace or '(default ns)'}"

    @cached_property
    def _api(self):
        from kubernetes import client, config

        api_client = config.new_client_from_config(context=self.context)
        if self._namespace is None:
            contexts, active = config.list_kube_config_contexts()
            ctx = next((c for c in contexts if c["name"] == self.context), active)
            self._namespace = (ctx.get("context") or {}).get("namespace") or "default"
        return client.CustomObjectsApi(api_client)

    @property
    def namespace(self) -> str:
        self._api  # noqa: B018 - resolving the client also resolves the context's namespace
        return self._namespace or "default"

    def _list(self, limit: int | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"_request_timeout": TIMEOUT}
        if limit:
            kwargs["limit"] = limit
        try:
            body = self._api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, **kwargs)
        except Exception as exc:
            err = translate(exc, self.endpoint, "seldondeployments")
            if isinstance(err, NotFound):
                raise NotFound("SeldonDeployment CRD not found in this cluster", hint=SELDON_HINT) from exc
            raise err from exc
        return list((body or {}).get("items", []))

    def health(self) -> Health:
        now = time.time()
        try:
            self._list(limit=1)
        except NotFound as exc:
            return Health(HealthState.DEGRADED, str(exc), self.endpoint, now)
        except ConsoleError as exc:
            return Health(HealthState.DOWN, str(exc), self.endpoint, now)
        except Exception as exc:  # health must never raise
            return Health(HealthState.DOWN, str(translate(exc, self.endpoint)), self.endpoint, now)
        return Health(HealthState.UP, "Seldon Core CRD present", self.endpoint, now)

    def list_deployments(self) -> list[DeploymentSummary]:
        return [_summary(item) for item in self._list()]

    def list_rollouts(self) -> list[RolloutSummary]:
        import json

        out = []
        for item in self._list():
            meta = item.get("metadata", {})
            raw = (meta.get("annotations") or {}).get(ROLLOUT_ANNOTATION)
            if not raw:
                continue
            try:
                state = json.loads(raw)
            except ValueError:
                continue
            out.append(RolloutSummary(
                deployment=meta.get("name", "?"), strategy=state.get("strategy", "?"),
                phase=state.get("phase", "Unknown"), step=str(state.get("step", "")),
                canary_weight=int(state.get("canary_weight", 0)),
                namespace=meta.get("namespace", ""), message=state.get("message", ""),
            ))
        return out


def _summary(item: dict[str, Any]) -> DeploymentSummary:
    meta, spec, status = item.get("metadata", {}), item.get("spec", {}), item.get("status") or {}
    replicas_status = status.get("deploymentStatus") or {}
    preds = []
    for p in spec.get("predictors", []):
        ready = sum(int(v.get("availableReplicas", 0)) for k, v in replicas_status.items()
                    if p.get("name", "") in k)
        preds.append(PredictorSummary(
            name=p.get("name", "?"), traffic=int(p.get("traffic", 0) or 0), shadow=bool(p.get("shadow")),
            replicas=int(p.get("replicas", 1) or 1), ready_replicas=ready,
        ))
    address = (status.get("address") or {}).get("url", "")
    return DeploymentSummary(
        name=meta.get("name", "?"), namespace=meta.get("namespace", ""), phase=status.get("state", "Unknown"),
        predictors=preds, url=address, message=status.get("description", ""),
    )
