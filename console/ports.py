"""The ports: what the console needs from a cluster, a registry and a metrics store.

Backends in backends/ fulfil these protocols. Every method may raise one of the typed
errors re-exported here; none may raise a library's own exception. Constructors must
be cheap and do no I/O, so the console can build them at startup; `health()` must
return within a few seconds (it runs in a worker thread, never on the UI loop).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from console.errors import (
    BackendUnavailable,
    Conflict,
    ConsoleError,
    Forbidden,
    InvalidSpec,
    NotFound,
    ReadOnly,
)
from console.types import (
    DeploymentSummary,
    Health,
    ModelVersion,
    Page,
    RegisteredModel,
    RolloutSummary,
)

__all__ = [
    "Backend",
    "BackendUnavailable",
    "ClusterBackend",
    "Conflict",
    "ConsoleError",
    "Forbidden",
    "InvalidSpec",
    "MetricsBackend",
    "NotFound",
    "ReadOnly",
    "RegistryBackend",
]


@runtime_checkable
class Backend(Protocol):
    """What every backend offers: a kind, a display endpoint and a health check."""

    kind: str
    """Short technology name: 'local', 'kubernetes', 'mlflow', 'prometheus'."""

    @property
    def endpoint(self) -> str:
        """Where it lives, for display. Secrets masked."""
        ...

    def health(self) -> Health:
        """Up, degraded or down, with the reason. Bounded in time; never raises."""
        ...


@runtime_checkable
class ClusterBackend(Backend, Protocol):
    """Where inference graphs run: the embedded local runtime or Kubernetes + Seldon Core."""

    def list_deployments(self) -> list[DeploymentSummary]:
        """Deployments in the current namespace (or all, where the backend has one)."""
        ...

    def list_rollouts(self) -> list[RolloutSummary]:
        """Rollouts known to this cluster, running or finished."""
        ...


@runtime_checkable
class RegistryBackend(Backend, Protocol):
    """The model registry (MLflow)."""

    def list_models(
        self, filter_text: str = "", page_token: str | None = None, max_results: int = 100
    ) -> Page[RegisteredModel]:
        """Registered models whose name contains filter_text, one page at a time."""
        ...

    def list_versions(self, name: str) -> list[ModelVersion]:
        """All versions of a registered model, newest first."""
        ...


@runtime_checkable
class MetricsBackend(Backend, Protocol):
    """Live traffic metrics: Prometheus, or the local runtime's own scraped window."""
