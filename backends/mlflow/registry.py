"""RegistryBackend over MlflowClient, for any tracking URI (sqlite store or server)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from backends.mlflow.errors import CREDENTIALS_HINT, translate
from console.errors import BackendUnavailable, ConsoleError, Forbidden, InvalidSpec, NotFound
from console.secrets import mask_uri
from console.types import (
    ArtifactEntry,
    DatasetInput,
    Health,
    HealthState,
    MetricPoint,
    ModelSignature,
    ModelVersion,
    Page,
    RegisteredModel,
    RunInfo,
    SignatureField,
)


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


def _quote(text: str) -> str:
    """Escape a value for MLflow's filter language (single-quoted strings)."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _fields(schema: Any) -> list[SignatureField]:
    if schema is None:
        return []
    out = []
    for item in schema.to_dict():
        kind = item.get("type", "")
        if kind == "tensor":
            spec = item.get("tensor-spec", {})
            kind = f"tensor {spec.get('dtype', '?')} {tuple(spec.get('shape', ()))}"
        out.append(SignatureField(item.get("name", ""), kind, bool(item.get("required", True))))
    return out


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

    @cached_property
    def models(self):
        """A ModelSource loading `models:/` URIs from this registry as pyfunc, each once."""
        from backends.mlflow.model_loader import MlflowModelSource

        return MlflowModelSource(self.uri)

    def model_source(self):
        """What graph executors load models through (one cache per console)."""
        return self.models

    def _call(self, what: str, fn, *args, **kwargs):
        """Run a client call, turning every failure into a typed port error."""
        try:
            return fn(*args, **kwargs)
        except ConsoleError:
            raise
        except Exception as exc:
            raise translate(exc, self.endpoint, what) from exc

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

    # -- models and versions --------------------------------------------------------

    def _store_absent(self) -> bool:
        db = _sqlite_path(self.uri)
        return db is not None and not db.exists()

    def list_models(
        self, filter_text: str = "", page_token: str | None = None, max_results: int = 100
    ) -> Page[RegisteredModel]:
        if self._store_absent():
            return Page(items=[])  # an embedded store nobody wrote to yet: don't create it to read it
        # Server-side search keeps thousands of models responsive: only one page travels.
        flt = f"name ILIKE '%{_quote(filter_text)}%'" if filter_text else None
        if self.uri.startswith(("http://", "https://")):
            return self._rest_list_models(flt, page_token, max_results)
        paged = self._call("registered models", self.client.search_registered_models,
                           filter_string=flt, max_results=max_results, order_by=["name ASC"],
                           page_token=page_token)
        return Page(items=[_model(rm) for rm in paged], next_token=paged.token or None)

    def _rest_list_models(self, flt: str | None, page_token: str | None,
                          max_results: int) -> Page[RegisteredModel]:
        """The first page straight from MLflow's REST API: importing mlflow costs over a second,
        which is most of the time to a first page on a server."""
        import httpx

        params: dict[str, Any] = {"max_results": max_results, "order_by": "name ASC"}
        if flt:
            params["filter"] = flt
        if page_token:
            params["page_token"] = page_token
        url = f"{self.uri.rstrip('/')}/api/2.0/mlflow/registered-models/search"
        try:
            resp = httpx.get(url, params=params, headers=_auth_headers(), timeout=10.0)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"registry {self.endpoint} is unreachable: {type(exc).__name__}",
                                     hint="start the MLflow server or check --registry / MLFLOW_TRACKING_URI",
                                     target="registered models") from exc
        if resp.status_code in (401, 403):
            raise Forbidden(f"registry {self.endpoint} refused access ({resp.status_code})",
                            hint=CREDENTIALS_HINT, target="registered models")
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200:
            message = body.get("message") or resp.text[:200]
            raise BackendUnavailable(f"registry {self.endpoint} answered HTTP {resp.status_code}: {message}",
                                     target="registered models")
        return Page(items=[_model_from_json(m) for m in body.get("registered_models", [])],
                    next_token=body.get("next_page_token") or None)

    def get_model(self, name: str) -> RegisteredModel:
        if self._store_absent():
            raise NotFound(f"registered model {name!r} not found: the registry is empty",
                           hint="run `mlconsole demo` to seed one", target=name)
        rm = self._call(f"registered model {name!r}", self.client.get_registered_model, name)
        return _model(rm)

    def list_versions(self, name: str) -> list[ModelVersion]:
        model = self.get_model(name)  # NotFound names the model; also gives the aliases
        versions = self._call(f"versions of {name!r}", self.client.search_model_versions,
                              f"name = '{_quote(name)}'", max_results=10_000)
        out = [_version(v, model.aliases) for v in versions]
        return sorted(out, key=lambda mv: int(mv.version), reverse=True)

    def get_version(self, name: str, ref: str) -> ModelVersion:
        model = self.get_model(name)
        ref = ref.strip()
        if ref.startswith("@") or not ref.isdigit():
            alias = ref.lstrip("@")
            if alias not in model.aliases:
                known = ", ".join(f"@{a}" for a in sorted(model.aliases)) or "none"
                raise NotFound(f"model {name!r} has no alias @{alias}", hint=f"its aliases: {known}",
                               target=f"{name}@{alias}")
            ref = model.aliases[alias]
        v = self._call(f"version {ref} of {name!r}", self.client.get_model_version, name, ref)
        return _version(v, model.aliases)

    # -- runs -------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        if not run_id:
            raise NotFound("this version has no source run", target="run")
        run = self._call(f"run {run_id}", self.client.get_run, run_id)
        experiment_name = ""
        try:
            experiment_name = self.client.get_experiment(run.info.experiment_id).name
        except Exception:  # the run is still useful without its experiment's name
            pass
        datasets = []
        for di in (run.inputs.dataset_inputs if run.inputs else []) or []:
            d = di.dataset
            tags = {t.key: t.value for t in di.tags or []}
            datasets.append(DatasetInput(
                name=d.name, digest=d.digest, source_type=d.source_type, source=_source_text(d.source),
                schema=d.schema or "", profile=d.profile or "", context=tags.get("mlflow.data.context", ""),
            ))
        tags = dict(run.data.tags)
        return RunInfo(
            run_id=run.info.run_id, experiment_id=run.info.experiment_id, experiment_name=experiment_name,
            name=run.info.run_name or "", status=run.info.status, user=tags.get("mlflow.user", ""),
            start_time=_ms(run.info.start_time), end_time=_ms(run.info.end_time),
            params=dict(run.data.params), metrics=dict(run.data.metrics), tags=tags, datasets=datasets,
            artifact_uri=run.info.artifact_uri or "",
        )

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        points = self._call(f"metric {key!r} of run {run_id}", self.client.get_metric_history, run_id, key)
        return sorted((MetricPoint(p.step, p.value, _ms(p.timestamp)) for p in points),
                      key=lambda p: (p.step, p.timestamp or 0))

    # -- model files ------------------------------------------------------------------

    def _model_uri(self, name: str, version: str) -> str:
        return self._call(f"{name}/{version}", self.client.get_model_version_download_uri, name, version)

    def get_signature(self, name: str, version: str) -> ModelSignature | None:
        import mlflow.artifacts
        from mlflow.models import Model

        base = self._model_uri(name, version)
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=f"{base}/MLmodel",
                                                        tracking_uri=self.uri)
        except Exception as exc:
            raise translate(exc, self.endpoint, f"MLmodel of {name}/{version}") from exc
        model = Model.load(local)
        example = ""
        info = model.saved_input_example_info or {}
        if info.get("artifact_path"):
            try:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{base}/{info['artifact_path']}", tracking_uri=self.uri)
                example = Path(path).read_text(encoding="utf-8")
            except Exception:  # the signature is still worth showing without its example
                example = ""
        sig = model.signature
        if sig is None and not example:
            return None
        return ModelSignature(
            inputs=_fields(sig.inputs if sig else None), outputs=_fields(sig.outputs if sig else None),
            params=[SignatureField(p.name, str(p.dtype), False) for p in (sig.params or [])] if sig else [],
            input_example=example, flavors=sorted(model.flavors),
        )

    def list_artifacts(self, name: str, version: str) -> list[ArtifactEntry]:
        import mlflow.artifacts

        mv = self.get_version(name, version)
        base = self._model_uri(name, version)
        out: list[ArtifactEntry] = []
        try:
            for f in mlflow.artifacts.list_artifacts(artifact_uri=base, tracking_uri=self.uri):
                out.append(ArtifactEntry(f"model/{f.path.rsplit('/', 1)[-1]}", f.is_dir, f.file_size))
        except Exception as exc:
            raise translate(exc, self.endpoint, f"artifacts of {name}/{version}") from exc
        if mv.run_id:
            for f in self._call("run artifacts", self.client.list_artifacts, mv.run_id):
                out.append(ArtifactEntry(f"run/{f.path}", f.is_dir, f.file_size))
        return out

    # -- changes ----------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> None:
        if not alias or alias.startswith("@") or not alias.replace("_", "").replace("-", "").isalnum():
            raise InvalidSpec(f"alias {alias!r} is not valid",
                              hint="use letters, digits, '-' or '_' (no leading @)", target=alias)
        if alias.lower() == "latest" or (alias[0].lower() == "v" and alias[1:].isdigit()):
            raise InvalidSpec(f"alias {alias!r} is reserved by MLflow", hint="choose another name")
        self._call(f"alias @{alias} of {name!r}", self.client.set_registered_model_alias, name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self._call(f"alias @{alias} of {name!r}", self.client.delete_registered_model_alias, name, alias)

    def set_tag(self, name: str, key: str, value: str, version: str | None = None) -> None:
        if not key.strip():
            raise InvalidSpec("a tag needs a key", hint="type key=value")
        if version:
            self._call(f"tag {key} on {name}/{version}", self.client.set_model_version_tag,
                       name, version, key, value)
        else:
            self._call(f"tag {key} on {name}", self.client.set_registered_model_tag, name, key, value)

    def delete_tag(self, name: str, key: str, version: str | None = None) -> None:
        if version:
            self._call(f"tag {key} on {name}/{version}", self.client.delete_model_version_tag,
                       name, version, key)
        else:
            self._call(f"tag {key} on {name}", self.client.delete_registered_model_tag, name, key)

    def set_description(self, name: str, description: str, version: str | None = None) -> None:
        if version:
            self._call(f"description of {name}/{version}", self.client.update_model_version,
                       name, version, description=description)
        else:
            self._call(f"description of {name}", self.client.update_registered_model,
                       name, description=description)


def _model(rm: Any) -> RegisteredModel:
    return RegisteredModel(
        name=rm.name,
        description=rm.description or "",
        # Alias versions are ints from a local store and strings over HTTP: normalise.
        aliases={a: str(v) for a, v in (rm.aliases or {}).items()},
        latest_version=max((str(v.version) for v in rm.latest_versions or []), key=int, default=None),
        tags=dict(rm.tags or {}),
        created_at=_ms(rm.creation_timestamp),
        updated_at=_ms(rm.last_updated_timestamp),
    )


def _model_from_json(m: dict[str, Any]) -> RegisteredModel:
    """A registered model as MLflow's REST API writes it (tags and aliases as lists)."""
    return RegisteredModel(
        name=m.get("name", ""),
        description=m.get("description") or "",
        aliases={a["alias"]: str(a["version"]) for a in m.get("aliases", []) if "alias" in a},
        latest_version=max((str(v.get("version")) for v in m.get("latest_versions", []) if v.get("version")),
                           key=int, default=None),
        tags={t["key"]: t.get("value", "") for t in m.get("tags", []) if "key" in t},
        created_at=_ms(int(m["creation_timestamp"])) if m.get("creation_timestamp") else None,
        updated_at=_ms(int(m["last_updated_timestamp"])) if m.get("last_updated_timestamp") else None,
    )


def _version(v: Any, aliases: dict[str, str]) -> ModelVersion:
    # search_model_versions leaves aliases empty; the registered model has them.
    mine = sorted(a for a, ver in aliases.items() if ver == str(v.version))
    return ModelVersion(
        name=v.name, version=str(v.version), status=str(v.status or ""), aliases=mine,
        run_id=v.run_id or "", source=v.source or "", description=v.description or "",
        tags=dict(v.tags or {}), created_at=_ms(v.creation_timestamp),
    )


def _source_text(source: str) -> str:
    """MLflow stores a dataset's source as JSON ({"uri": ...}); show the location itself."""
    try:
        data = json.loads(source)
    except (TypeError, ValueError):
        return source or ""
    if isinstance(data, dict):
        for key in ("uri", "url", "path", "table_name"):
            if data.get(key):
                return str(data[key])
    return source


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
