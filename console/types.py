"""Plain dataclasses that cross the ports between console/ and backends/."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class HealthState(StrEnum):
    """How a backend is doing, as the status bar shows it."""

    CHECKING = "checking"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class Health:
    """A backend's health: its state, why, and where it lives (secrets masked)."""

    state: HealthState
    reason: str = ""
    endpoint: str = ""
    checked_at: float | None = None

    @property
    def is_up(self) -> bool:
        return self.state in (HealthState.UP, HealthState.DEGRADED)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a long listing; `next_token` is None on the last page."""

    items: list[T]
    next_token: str | None = None


# --- cluster -------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictorSummary:
    """One predictor of a deployment with its share of traffic."""

    name: str
    traffic: int = 0
    shadow: bool = False
    replicas: int = 1
    ready_replicas: int = 0


@dataclass(frozen=True)
class DeploymentSummary:
    """A deployed inference graph (a SeldonDeployment, or its local equivalent)."""

    name: str
    namespace: str = ""
    phase: str = "Unknown"
    predictors: list[PredictorSummary] = field(default_factory=list)
    url: str = ""
    created_at: float | None = None
    message: str = ""

    @property
    def traffic_label(self) -> str:
        """e.g. 'main 90 / canary 10 / shadow (mirror)'."""
        parts = []
        for p in self.predictors:
            parts.append(f"{p.name} (shadow)" if p.shadow else f"{p.name} {p.traffic}")
        return " / ".join(parts)


@dataclass(frozen=True)
class RolloutSummary:
    """A progressive delivery in flight or finished."""

    deployment: str
    strategy: str
    phase: str
    step: str = ""
    canary_weight: int = 0
    namespace: str = ""
    message: str = ""

    @property
    def is_running(self) -> bool:
        return self.phase in ("Progressing", "Paused", "Analyzing", "Inconclusive")


@dataclass(frozen=True)
class ReplicaInfo:
    """One serving process of a deployment (its "pod"): a predictor's graph-server replica, or the gateway."""

    deployment: str
    predictor: str  # "" for the gateway
    index: int = 0
    pid: int | None = None
    port: int | None = None
    phase: str = "Pending"  # Pending, Running, CrashLoopBackOff, Terminated, Unknown
    ready: bool = False
    restarts: int = 0
    started_at: float | None = None
    last_exit_code: int | None = None
    message: str = ""  # why it is not Running; the last lines of its log when it crashed
    kind: str = "graph-server"  # or "gateway", or "pod" on Kubernetes
    log_path: str = ""
    pod: str = ""  # on Kubernetes: the pod's own name, which `name` then is

    @property
    def name(self) -> str:
        """e.g. 'credit-risk-main-0', 'credit-risk-gateway' (a Kubernetes pod: its own name)."""
        if self.pod:
            return self.pod
        if self.kind == "gateway":
            return f"{self.deployment}-gateway"
        return f"{self.deployment}-{self.predictor}-{self.index}"

    def age(self, now: float) -> float | None:
        """Seconds since this process (its current incarnation) started."""
        return None if self.started_at is None else max(0.0, now - self.started_at)


@dataclass(frozen=True)
class DeploymentDetail:
    """One deployment in full: its summary, the manifest as deployed, and its processes."""

    summary: DeploymentSummary
    manifest: str  # SeldonDeployment YAML, as the cluster holds it now
    replicas: list[ReplicaInfo] = field(default_factory=list)
    gateway: ReplicaInfo | None = None
    updated_at: float | None = None
    registry: str = ""

    def replicas_of(self, predictor: str) -> list[ReplicaInfo]:
        """The graph-server replicas of one predictor, by index."""
        return sorted((r for r in self.replicas if r.predictor == predictor), key=lambda r: r.index)


@dataclass(frozen=True)
class ClusterEvent:
    """Something the cluster did or saw, as `kubectl get events` shows it."""

    time: float
    deployment: str
    kind: str  # Normal or Warning
    reason: str  # Deployed, Updated, Scaled, Restarted, Started, Crashed, BackOff, Ready, ...
    message: str
    object: str = ""  # the process it concerns, e.g. 'main-0' or 'gateway'


# --- metrics -------------------------------------------------------------------------

METRIC_NAMES = ("request_rate", "error_rate", "latency_p50", "latency_p95", "latency_p99")
"""The semantic metrics every MetricsBackend answers: requests/s, errors as a fraction of
requests (0..1), latency quantiles in seconds."""


@dataclass(frozen=True)
class TrafficFigures:
    """One scope's traffic over a window: the whole deployment, one predictor, or one graph node.

    None means no data (nothing scraped yet, or no requests in the window): never a guess.
    """

    scope: str  # "deployment", "predictor" or "node"
    name: str  # the predictor's or node's name ("" for the deployment)
    request_rate: float | None = None  # requests per second
    error_rate: float | None = None  # failed / all requests, 0..1
    latency_p50: float | None = None  # seconds
    latency_p95: float | None = None
    latency_p99: float | None = None
    predictor: str = ""  # for a node: the predictor it belongs to

    def value(self, metric: str) -> float | None:
        """One of METRIC_NAMES by name."""
        return getattr(self, metric)


@dataclass(frozen=True)
class DeploymentMetrics:
    """Everything the Monitor view shows for one deployment, over one window."""

    deployment: str
    window_seconds: float
    at: float  # when the figures were computed (unix time)
    overall: TrafficFigures
    predictors: list[TrafficFigures] = field(default_factory=list)
    nodes: list[TrafficFigures] = field(default_factory=list)
    # router node -> child index (as text) -> share of its decisions, 0..1
    routing: dict[str, dict[str, float]] = field(default_factory=dict)
    outlier_rate: float | None = None  # flagged rows / rows seen by outlier detectors, 0..1
    custom: dict[str, float] = field(default_factory=dict)  # components' own metrics, latest values


@dataclass(frozen=True)
class Series:
    """A range series: one line of a chart."""

    metric: str  # one of METRIC_NAMES
    label: str  # what the line is: "all", a predictor's name, or a node's name
    points: list[tuple[float, float]] = field(default_factory=list)  # (unix time, value)


# --- registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredModel:
    """An MLflow registered model."""

    name: str
    description: str = ""
    aliases: dict[str, str] = field(default_factory=dict)
    latest_version: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float | None = None
    updated_at: float | None = None


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model."""

    name: str
    version: str
    status: str = ""
    aliases: list[str] = field(default_factory=list)
    run_id: str = ""
    source: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float | None = None


@dataclass(frozen=True)
class DatasetInput:
    """A dataset logged as an input of a run (mlflow.log_input)."""

    name: str
    digest: str = ""
    source_type: str = ""
    source: str = ""
    schema: str = ""
    profile: str = ""
    context: str = ""  # the mlflow.data.context tag: training, evaluation, ...


@dataclass(frozen=True)
class MetricPoint:
    """One logged value of a metric."""

    step: int
    value: float
    timestamp: float | None = None


@dataclass(frozen=True)
class RunInfo:
    """The training run behind a model version."""

    run_id: str
    experiment_id: str = ""
    experiment_name: str = ""
    name: str = ""
    status: str = ""
    user: str = ""
    start_time: float | None = None
    end_time: float | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[DatasetInput] = field(default_factory=list)
    artifact_uri: str = ""

    @property
    def git_commit(self) -> str:
        return self.tags.get("mlflow.source.git.commit", "")

    @property
    def entry_point(self) -> str:
        return self.tags.get("mlflow.source.name", "")


@dataclass(frozen=True)
class SignatureField:
    """One named input or output column of a model signature."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and returns, from its MLmodel file, plus its input example."""

    inputs: list[SignatureField] = field(default_factory=list)
    outputs: list[SignatureField] = field(default_factory=list)
    params: list[SignatureField] = field(default_factory=list)
    input_example: str = ""  # JSON text, as MLflow stored it
    flavors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArtifactEntry:
    """A file or folder among a run's artifacts."""

    path: str
    is_dir: bool = False
    size: int | None = None


# --- governance ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One line of the tamper-evident audit log."""

    time: str
    actor: str
    action: str
    target: str
    before: str = ""
    after: str = ""
    reason: str = ""
    prev_hash: str = ""
    hash: str = ""
