"""RegistryBackend over MlflowClient, for any tracking URI (sqlite store or server)."""

from __future__ import annotations

import os
import sqlite3
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from backends.mlflow.errors import CREDENTIALS_HINT, translate
from console.secrets import mask_uri
from console.types import Health, HealthState, ModelVersion, Page, RegisteredModel


def quiet_mlflow_env() -> None:
    """Switch off MLflow's outbound calls and its long retry loops before it is imported."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    # The client's default is 7 retries with backoff: minutes before a down server shows as down.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def _sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    return None


def _ms(value: Any) -> float | None:
    return value / 1000.0 if value else None


class MlflowRegistry:
    """The model registry as MLflow sees it: registered models, versions, aliases, runs."""

    kind = "mlflow"

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @property
    def endpoint(self) -> str:
        return mask_uri(self.uri)

    @cached_property
    def client(self):
        """The MlflowClient, created on first use (importing mlflow costs about a second)."""
        quiet_mlflow_env()
        db = _sqlite_path(self.uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    # -- health ---------------------------------------------------------------------

    def health(self) -> Health:
        """Checked without importing mlflow: sqlite3 for a store file, HTTP for a server."""
        now = time.time()
        db = _sqlite_path(self.uri)
        try:
            if db is not None:
                return self._sqlite_health(db, now)
            if self.uri.startswith(("http://", "https://")):
                return self._http_health(now)
        except Exception as exc:  # health must never raise
            return Health(HealthState.DOWN, str(translate(exc, self.endpoint)), self.endpoint, now)
        return Health(HealthState.DEGRADED, "health not checked for this kind of tracking URI",
                      self.endpoint, now)

    def _sqlite_health(self, db: Path, now: float) -> Health:
        if not db.exists():
            existing = next(p for p in (db.parent, *db.parent.parents) if p.exists())
            if os.access(existing, os.W_OK):
                return Health(HealthState.UP, "empty store (created on first use)", self.endpoint, now)
            return Health(HealthState.DOWN, f"cannot create {db}: directory not writable",
                          self.endpoint, now)
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
            try:
                count = con.execute("select count(*) from registered_models").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error as exc:
            if "no such table" in str(exc):
                return Health(HealthState.UP, "store not initialised yet", self.endpoint, now)
            return Health(HealthState.DOWN, f"sqlite store unreadable: {exc}", self.endpoint, now)
        return Health(HealthState.UP, f"{count} registered model(s)", self.endpoint, now)

    def _http_health(self, now: float) -> Health:
        import httpx

        base = self.uri.rstrip("/")
        try:
            resp = httpx.get(f"{base}/health", timeout=3.0, headers=_auth_headers())
        except httpx.HTTPError as exc:
            return Health(HealthState.DOWN, f"unreachable: {exc.__class__.__name__}: {exc}",
                          self.endpoint, now)
        if resp.status_code in (401, 403):
            return Health(HealthState.DOWN, f"HTTP {resp.status_code}: {CREDENTIALS_HINT}",
                          self.endpoint, now)
        if resp.status_code != 200:
            return Health(HealthState.DEGRADED, f"/health answered HTTP {resp.status_code}",
                          self.endpoint, now)
        return Health(HealthState.UP, "server answers", self.endpoint, now)

    # -- reads ----------------------------------------------------------------------

    def list_models(
        self, filter_text: str = "", page_token: str | None = None, max_results: int = 100
    ) -> Page[RegisteredModel]:
        db = _sqlite_path(self.uri)
        if db is not None and not db.exists():
            return Page(items=[])  # an embedded store nobody wrote to yet: don't create it to read it
        text = filter_text.replace("'", "")
        flt = f"name ILIKE '%{text}%'" if text else None
        try:
            paged = self.client.search_registered_models(
                filter_string=flt, max_results=max_results, order_by=["name ASC"], page_token=page_token
            )
        except Exception as exc:
            raise translate(exc, self.endpoint, "registered models") from exc
        items = [
            RegisteredModel(
                name=rm.name,
                description=rm.description or "",
                aliases={a: str(v) for a, v in (rm.aliases or {}).items()},
                latest_version=max((str(v.version) for v in rm.latest_versions or []),
                                   key=int, default=None),
                tags=dict(rm.tags or {}),
                created_at=_ms(rm.creation_timestamp),
                updated_at=_ms(rm.last_updated_timestamp),
            )
            for rm in paged
        ]
        return Page(items=items, next_token=paged.token or None)

    def list_versions(self, name: str) -> list[ModelVersion]:
        try:
            rm = self.client.get_registered_model(name)
            versions = self.client.search_model_versions(f"name = '{name.replace(chr(39), '')}'")
        except Exception as exc:
            raise translate(exc, self.endpoint, f"model {name!r}") from exc
        # search_model_versions leaves aliases empty; the registered model has them.
        by_version: dict[str, list[str]] = {}
        for alias, version in (rm.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        out = [
            ModelVersion(
                name=v.name,
                version=str(v.version),
                status=str(v.status or ""),
                aliases=sorted(by_version.get(str(v.version), [])),
                run_id=v.run_id or "",
                source=v.source or "",
                description=v.description or "",
                tags=dict(v.tags or {}),
                created_at=_ms(v.creation_timestamp),
            )
            for v in versions
        ]
        return sorted(out, key=lambda mv: int(mv.version), reverse=True)


def _auth_headers() -> dict[str, str]:
    """MLflow's own credential variables, used for our direct HTTP checks too."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        import base64

        cred = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {cred}"}
    return {}
