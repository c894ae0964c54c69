"""Settings from flags > environment > config file > defaults, as one typed object.

Each value remembers where it came from, so `mlconsole config show` can say why a
setting has the value it has.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from console import paths
from console.errors import InvalidSpec
from console.secrets import mask_uri

THEMES = ("mlconsole-dark", "mlconsole-light")

# key -> (environment variable, type). Types: "path", "str", "bool".
_KEYS: dict[str, tuple[str, str]] = {
    "home": ("MLCONSOLE_HOME", "path"),
    "context": ("MLCONSOLE_CONTEXT", "str"),
    "namespace": ("MLCONSOLE_NAMESPACE", "str"),
    "registry": ("MLFLOW_TRACKING_URI", "str"),
    "metrics": ("MLCONSOLE_METRICS", "str"),
    "readonly": ("MLCONSOLE_READONLY", "bool"),
    "theme": ("MLCONSOLE_THEME", "str"),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """The effective settings of one console run."""

    home: Path
    registry: str
    context: str | None = None
    namespace: str | None = None
    metrics: str | None = None
    readonly: bool = False
    theme: str = "mlconsole-dark"
    no_color: bool = False
    config_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def cluster_kind(self) -> str:
        """'kubernetes' once a kubeconfig context is chosen, else the embedded 'local' runtime."""
        return "kubernetes" if self.context else "local"

    @property
    def metrics_kind(self) -> str:
        return "prometheus" if self.metrics else "local"

    @property
    def registry_is_embedded(self) -> bool:
        return self.registry == default_registry_uri(self.home)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some values changed (e.g. a context switched at runtime)."""
        sources = dict(self.sources)
        for key in changes:
            sources[key] = "runtime"
        return replace(self, sources=sources, **changes)

    def describe(self) -> list[tuple[str, str, str]]:
        """(key, shown value, source) rows, secrets masked, for `config show`."""
        rows = []
        for key in ("home", "registry", "context", "namespace", "metrics", "readonly", "theme"):
            value = getattr(self, key)
            if value is None:
                shown = {"context": "(none: embedded local runtime)",
                         "metrics": "(embedded: local runtime metrics)",
                         "namespace": "(context default)"}.get(key, "")
            elif isinstance(value, bool):
                shown = "true" if value else "false"
            else:
                shown = mask_uri(str(value))
            rows.append((key, shown, self.sources.get(key, "default")))
        rows.append(("no_color", "true" if self.no_color else "false",
                     "env NO_COLOR" if self.no_color else "default"))
        return rows


def default_registry_uri(home: Path) -> str:
    """The embedded registry: an MLflow sqlite store under home."""
    return f"sqlite:///{home / 'registry' / 'mlflow.db'}"


def _coerce(key: str, kind: str, raw: Any, origin: str) -> Any:
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InvalidSpec(f"{origin}: {key} must be true or false, not {raw!r}", location=origin)
    if not isinstance(raw, str):
        raise InvalidSpec(f"{origin}: {key} must be a string, not {type(raw).__name__}", location=origin)
    if kind == "path":
        return Path(raw).expanduser().resolve()
    return raw


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML config file; a missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidSpec(f"cannot read config file {path}: {exc.strerror}", location=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSpec(f"config file {path} is not valid TOML: {exc}",
                          hint="fix the file or point MLCONSOLE_CONFIG elsewhere",
                          location=str(path)) from exc
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise InvalidSpec(
            f"config file {path}: unknown key(s) {', '.join(unknown)}",
            hint=f"known keys are {', '.join(_KEYS)}",
            location=str(path),
        )
    return data


def load_settings(
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Merge flags > env > config file > defaults. Raises InvalidSpec on bad input."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None and v is not False}
    env = dict(os.environ if env is None else env)
    if config_path is None:
        override = env.get("MLCONSOLE_CONFIG")
        config_path = Path(override).expanduser() if override else paths.config_file()
    file_values = read_config_file(config_path)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, (var, kind) in _KEYS.items():
        if key in flags:
            values[key] = _coerce(key, kind, flags[key], f"--{key}")
            sources[key] = f"flag --{key}"
        elif env.get(var, "") != "":
            values[key] = _coerce(key, kind, env[var], f"env {var}")
            sources[key] = f"env {var}"
        elif key in file_values:
            values[key] = _coerce(key, kind, file_values[key], str(config_path))
            sources[key] = f"file {config_path}"

    if "home" not in values:
        values["home"] = paths.default_home()
        sources["home"] = "default (XDG data dir)"
    if "registry" not in values:
        values["registry"] = default_registry_uri(values["home"])
        sources["registry"] = "default (sqlite under home)"
    theme = values.get("theme", "mlconsole-dark")
    if theme not in THEMES:
        raise InvalidSpec(f"unknown theme {theme!r}", hint=f"choose one of {', '.join(THEMES)}",
                          location=sources.get("theme", ""))
    if values.get("metrics") and not str(values["metrics"]).startswith(("http://", "https://")):
        raise InvalidSpec(f"metrics URL {values['metrics']!r} must start with http:// or https://",
                          hint="give the Prometheus base URL, e.g. http://127.0.0.1:9090",
                          location=sources.get("metrics", ""))
    return Settings(
        no_color=bool(env.get("NO_COLOR")),
        config_file=config_path,
        sources=sources,
        **values,
    )
