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
    ArtifactEntry,
    DeploymentSummary,
    Health,
    MetricPoint,
    ModelSignature,
    ModelVersion,
    Page,
    RegisteredModel,
    RolloutSummary,
    RunInfo,
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
        """All versions of a registered model, newest first, aliases filled in."""
        ...

    def get_model(self, name: str) -> RegisteredModel:
        """One registered model with its aliases and tags. NotFound names it."""
        ...

    def get_version(self, name: str, ref: str) -> ModelVersion:
        """A version by number ('3') or alias ('@champion' or 'champion')."""
        ...

    def get_run(self, run_id: str) -> RunInfo:
        """The run: params, latest metrics, tags, logged dataset inputs."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every logged value of one metric, by step."""
        ...

    def get_signature(self, name: str, version: str) -> ModelSignature | None:
        """The version's signature and input example; None when the model has none."""
        ...

    def list_artifacts(self, name: str, version: str) -> list[ArtifactEntry]:
        """The version's model files (`model/...`) and its run's own artifacts (`run/...`)."""
        ...

    # Changing calls. Callers go through console.registry_actions, which confirms the
    # readonly setting and writes the audit log; backends only do the change.

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point alias at version (moving it if it pointed elsewhere)."""
        ...

    def delete_alias(self, name: str, alias: str) -> None:
        ...

    def set_tag(self, name: str, key: str, value: str, version: str | None = None) -> None:
        """Tag the registered model, or one version when `version` is given."""
        ...

    def delete_tag(self, name: str, key: str, version: str | None = None) -> None:
        ...

    def set_description(self, name: str, description: str, version: str | None = None) -> None:
        """Edit the description of the model, or of one version."""
        ...


@runtime_checkable
class MetricsBackend(Backend, Protocol):
    """Live traffic metrics: Prometheus, or the local runtime's own scraped window."""
