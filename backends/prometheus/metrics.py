"""MetricsBackend over the Prometheus HTTP API (httpx)."""

from __future__ import annotations

import os
import time

from console.secrets import mask_uri
from console.types import Health, HealthState

TOKEN_ENV = "MLCONSOLE_PROMETHEUS_TOKEN"
USER_ENV = "MLCONSOLE_PROMETHEUS_USERNAME"
PASSWORD_ENV = "MLCONSOLE_PROMETHEUS_PASSWORD"


def auth_from_env():
    """Bearer token or basic auth from the environment; never displayed or logged."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user and password:
        return {}, (user, password)
    return {}, None


class PrometheusMetrics:
    """Live traffic from a Prometheus server scraping Seldon-style metrics."""

    kind = "prometheus"

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    @property
    def endpoint(self) -> str:
        return mask_uri(self.url)

    def health(self) -> Health:
        import httpx

        now = time.time()
        headers, auth = auth_from_env()
        try:
            resp = httpx.get(f"{self.url}/-/ready", timeout=3.0, headers=headers, auth=auth)
        except httpx.HTTPError as exc:
            return Health(HealthState.DOWN, f"unreachable: {exc.__class__.__name__}: {exc}",
                          self.endpoint, now)
        if resp.status_code in (401, 403):
            return Health(HealthState.DOWN,
                          f"HTTP {resp.status_code}: set {TOKEN_ENV} or {USER_ENV}/{PASSWORD_ENV}",
                          self.endpoint, now)
        if resp.status_code != 200:
            return Health(HealthState.DEGRADED, f"/-/ready answered HTTP {resp.status_code}",
                          self.endpoint, now)
        return Health(HealthState.UP, "ready", self.endpoint, now)
