"""The ports: what the console needs from a cluster, a registry and a metrics store.

Backends in backends/ fulfil these protocols. Every method may raise one of the typed
errors re-exported here; none may raise a library's own exception. Constructors must
be cheap and do no I/O, so the console can build them at startup; `health()` must
return within a few seconds (it runs in a worker thread, never on the UI loop).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
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
    ClusterEvent,
    DeploymentDetail,
    DeploymentMetrics,
    DeploymentSummary,
    Health,
    MetricPoint,
    ModelSignature,
    ModelVersion,
    Page,
    RegisteredModel,
    ReplicaInfo,
    RolloutSummary,
    RunInfo,
    Series,
)

__all__ = [
    "AccessControlled",
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

    def get_deployment(self, name: str) -> DeploymentDetail:
        """One deployment: summary, manifest as deployed, replicas. NotFound names it."""
        ...

    def list_replicas(self, name: str) -> list[ReplicaInfo]:
        """The deployment's serving processes ("pods"), gateway first, then by predictor and index."""
        ...

    def logs(self, name: str, predictor: str | None = None, replica: int | None = None,
             tail: int = 200, previous: bool = False) -> list[str]:
        """The last `tail` log lines of the chosen replicas (all of them by default).

        With several replicas chosen, each line is prefixed with its replica ('main-0 | ...').
        predictor='gateway' reads the gateway's log. previous: the container that ran before the
        last restart (kubectl logs --previous).
        """
        ...

    def follow_logs(self, name: str, predictor: str | None = None, replica: int | None = None,
                    tail: int = 20, stop: threading.Event | None = None) -> Iterator[str]:
        """The last `tail` lines, then new lines as they are written, until `stop` is set.

        Blocking: consume it in a worker thread and set `stop` to end it (it notices within a
        fraction of a second, even while no line arrives).
        """
        ...

    def events(self, name: str | None = None) -> list[ClusterEvent]:
        """Recent events, oldest first; only one deployment's when name is given."""
        ...

    # Changing calls. Callers go through console.cluster_changes, which honours --readonly
    # and writes the audit log; backends only do the change.

    def diff(self, manifest_text: str) -> str:
        """A unified diff of what apply(manifest_text) would change; 'created' for a new one, '' if none."""
        ...

    def apply(self, manifest_text: str, search_paths: Sequence[str] = ()) -> DeploymentSummary:
        """Create or update the deployment a SeldonDeployment manifest describes.

        search_paths: directories from which the graph's Python components import.
        Raises InvalidSpec (with the located problems) for a manifest that cannot run.
        """
        ...

    def scale(self, name: str, predictor: str, replicas: int) -> DeploymentSummary:
        """Run `replicas` copies of one predictor's graph."""
        ...

    def restart(self, name: str, predictor: str | None = None) -> DeploymentSummary:
        """Replace the processes of one predictor (or all, and the gateway) by fresh ones."""
        ...

    def delete(self, name: str) -> None:
        """Stop the deployment's processes and forget it."""
        ...

    def set_traffic(self, name: str, weights: dict[str, int],
                    shadow: dict[str, bool] | None = None) -> DeploymentSummary:
        """Set predictors' traffic percentages (non-shadow ones sum to 100) and shadow flags."""
        ...

    # Rollouts. Callers go through console.rollout_changes (readonly guard + audit).

    def start_rollout(self, name: str, candidate_manifest: str, spec_text: str | None,
                      search_paths: Sequence[str] = ()) -> RolloutSummary:
        """Start a progressive delivery of a new version of deployment `name`.

        The candidate manifest's first predictor's graph runs as a new predictor (the spec's
        `candidate`, 0% at first or as the strategy says) beside the running stable one.
        spec_text: a rollout spec (YAML, console.rollout.spec); None for the default canary.
        The spec is stored as an annotation on the deployment so it travels with it.
        Conflict when a rollout of `name` is already running.
        """
        ...

    def rollout_status(self, name: str) -> dict:
        """The rollout's full state (console.rollout.state.RolloutState.to_dict()). NotFound if none."""
        ...

    def rollout_command(self, name: str, verb: str) -> RolloutSummary:
        """promote, promote_full, pause, resume, abort or retry; Conflict when the state refuses it."""
        ...


@runtime_checkable
class AccessControlled(Protocol):
    """Optional for a cluster backend whose server has its own access control (Kubernetes RBAC):
    screens show the actions it would refuse as disabled, with the reason, before a key is pressed."""

    def refusals(self) -> dict[str, str]:
        """Console action (deploy, scale, restart, traffic, rollout, delete, logs) -> why it would be
        refused, for the refused ones only. Cached briefly; never raises for a failed review."""
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

    def model_source(self):
        """A ModelSource (console.graph.models) loading this registry's `models:/` URIs, cached:
        what in-process graph executors ("Try it") load models through."""
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
    """Live traffic metrics: Prometheus, or the local runtime's own scraped window.

    Both answer the same semantic questions from the same Seldon-style metric names, so the
    Monitor view and the rollout gates never know which one they talk to.
    """

    def deployment_metrics(self, name: str, window_seconds: float = 300.0) -> DeploymentMetrics:
        """Rates, error rate and latency quantiles over the last window: overall, per predictor,
        per graph node; routing shares, outlier rate, custom metrics. NotFound if never seen."""
        ...

    def series(self, name: str, metric: str, window_seconds: float = 300.0, step_seconds: float = 5.0,
               by: str | None = "predictor") -> list[Series]:
        """`metric` (one of METRIC_NAMES) over the window as points every step, one line per
        predictor (by="predictor"), per node (by="node"), or overall (by=None)."""
        ...

    def query(self, promql: str) -> list[dict]:
        """Raw PromQL passthrough (Prometheus only): the result vector as plain dicts.
        Backends without PromQL raise ConsoleError saying so."""
        ...
