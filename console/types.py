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
        return self.phase in ("Progressing", "Paused", "Analyzing")


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
