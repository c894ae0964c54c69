"""Choose backends from settings by name and import them lazily.

console/ never imports a backend at import time: startup stays fast, and a backend
whose library is missing or broken shows as down instead of stopping the console.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any

from console.config import Settings
from console.errors import BackendUnavailable
from console.ports import ClusterBackend, MetricsBackend, RegistryBackend
from console.types import Health, HealthState

CLUSTERS = {
    "local": "backends.local.cluster:LocalCluster",
    "kubernetes": "backends.kubernetes.cluster:KubernetesCluster",
}
REGISTRIES = {"mlflow": "backends.mlflow.registry:MlflowRegistry"}
METRICS = {
    "local": "backends.local.metrics:LocalMetrics",
    "prometheus": "backends.prometheus.metrics:PrometheusMetrics",
}


class UnloadableBackend:
    """Stands in for a backend whose module failed to import: always down, says why."""

    def __init__(self, kind: str, endpoint: str, reason: str) -> None:
        self.kind = kind
        self._endpoint = endpoint
        self.reason = reason

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def health(self) -> Health:
        return Health(HealthState.DOWN, self.reason, self._endpoint, time.time())

    def __getattr__(self, name: str) -> Any:
        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            raise BackendUnavailable(f"{self.kind} backend unavailable: {self.reason}")

        return refuse


def _load(spec: str, kind: str, endpoint: str, *args: Any) -> Any:
    module_name, _, class_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls(*args)
    except Exception as exc:  # a broken backend must not stop the console
        return UnloadableBackend(kind, endpoint, f"cannot load {module_name}: {exc}")


@dataclass
class Backends:
    """The three backends of one console session."""

    cluster: ClusterBackend
    registry: RegistryBackend
    metrics: MetricsBackend


def make_cluster(settings: Settings) -> ClusterBackend:
    if settings.cluster_kind == "kubernetes":
        return _load(CLUSTERS["kubernetes"], "kubernetes", settings.context or "",
                     settings.context, settings.namespace, settings.home, settings.registry)
    return _load(CLUSTERS["local"], "local", str(settings.home), settings.home, settings.registry)


def make_registry(settings: Settings) -> RegistryBackend:
    return _load(REGISTRIES["mlflow"], "mlflow", settings.registry, settings.registry)


def make_metrics(settings: Settings) -> MetricsBackend:
    if settings.metrics_kind == "prometheus":
        return _load(METRICS["prometheus"], "prometheus", settings.metrics or "", settings.metrics)
    return _load(METRICS["local"], "local", "embedded", settings.home)


def make_backends(settings: Settings) -> Backends:
    """Build (cheaply, without I/O) the backends the settings ask for."""
    return Backends(make_cluster(settings), make_registry(settings), make_metrics(settings))
