"""Where the executor gets models from: a port the registry backend fulfils.

The console never imports mlflow; the wiring hands the executor a ModelSource (for the
MLflow registry: backends.mlflow.model_loader.MlflowModelSource). Tests and benchmarks can
hand it any object with the same methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ModelSource(Protocol):
    """Loads models by URI (`models:/name@alias`, `models:/name/3`, ...) and caches them."""

    def load(self, model_uri: str) -> Callable[[Any], Any]:
        """A callable that takes a pandas DataFrame (or a numpy array) and returns predictions.

        Raises typed console errors: NotFound for an unknown model or alias,
        BackendUnavailable when the registry cannot be reached.
        """
        ...


def signature_columns(source: ModelSource, model_uri: str) -> list[str] | None:
    """The model's input column names when its source knows them (optional method)."""
    method = getattr(source, "signature_columns", None)
    return method(model_uri) if callable(method) else None


class StaticModelSource:
    """Models given in memory by URI: for tests, benchmarks and the builder's previews."""

    def __init__(self, models: dict[str, Callable[[Any], Any]],
                 columns: dict[str, list[str]] | None = None) -> None:
        self.models = dict(models)
        self.columns = dict(columns or {})

    def load(self, model_uri: str) -> Callable[[Any], Any]:
        """The callable registered under model_uri; NotFound otherwise."""
        from console.errors import NotFound

        try:
            return self.models[model_uri]
        except KeyError:
            raise NotFound(f"model {model_uri!r} is not known here",
                           hint=f"known: {', '.join(sorted(self.models)) or 'none'}", target=model_uri) from None

    def signature_columns(self, model_uri: str) -> list[str] | None:
        """The input columns registered for model_uri, if any."""
        return self.columns.get(model_uri)
