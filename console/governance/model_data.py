"""A registry model and the data behind it, as fairness, explanations and model cards need them.

Everything goes through the registry port: the model through its ModelSource (loaded once,
cached), the logged training and evaluation datasets through the version's run. Datasets
count only when their source is a readable local file (the demo's are).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import ConsoleError, InvalidSpec, NotFound
from console.types import DatasetInput, ModelVersion, RunInfo

TRAINING = ("training", "train")
EVALUATION = ("evaluation", "eval", "validation", "test")


@dataclass(frozen=True)
class ModelHandle:
    """A loaded model: its predict callable, its input columns (from the signature) and its version."""

    uri: str
    predict: Callable[[Any], Any]
    features: list[str] | None
    version: ModelVersion | None = None
    run: RunInfo | None = None

    def raw_model(self) -> Any:
        """The flavor's own object (e.g. a scikit-learn Pipeline) when the loader exposes it, else None."""
        pyfunc = getattr(self.predict, "model", None)
        getter = getattr(pyfunc, "get_raw_model", None)
        if getter is None:
            return None
        try:
            return getter()
        except Exception:  # a flavor without a raw model: the model-agnostic path still works
            return None


def model_uri(ref: str) -> str:
    """'credit-risk@champion' or 'credit-risk/3' as a models:/ URI; other URIs unchanged."""
    if "://" in ref or ref.startswith(("models:/", "runs:/", "/", ".")):
        return ref
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return f"models:/{name}@{alias}"
    return f"models:/{ref}"


def registry_version(registry: Any, uri: str) -> tuple[ModelVersion | None, RunInfo | None]:
    """The registry version and run behind a models:/ URI; (None, None) for other URIs."""
    from console.graph.validate import parse_model_uri

    parsed = parse_model_uri(uri)
    if parsed is None or registry is None:
        return None, None
    name, ref = parsed
    version = registry.get_version(name, ref)
    run = registry.get_run(version.run_id) if version.run_id else None
    return version, run


def load_model(registry: Any, uri: str, with_version: bool = True) -> ModelHandle:
    """The model at uri, loaded through the registry's ModelSource, with its version and run."""
    from console.graph.models import signature_columns

    if registry is None:
        raise NotFound("no registry to load models from", target=uri)
    version, run = registry_version(registry, uri) if with_version else (None, None)
    source = registry.model_source()
    predict = source.load(uri)
    return ModelHandle(uri=uri, predict=predict, features=signature_columns(source, uri), version=version,
                       run=run)


def local_file(dataset: DatasetInput) -> Path | None:
    """The dataset's source as a readable local file, or None."""
    from console.data.reference import local_path

    path = local_path(dataset.source)
    return path if path is not None and path.exists() else None


def logged_dataset(run: RunInfo | None, contexts: tuple[str, ...]) -> tuple[DatasetInput, Path] | None:
    """The first dataset the run logged in one of `contexts` (in that order) whose file is here."""
    if run is None:
        return None
    for context in contexts:
        for dataset in run.datasets:
            if dataset.context == context:
                path = local_file(dataset)
                if path is not None:
                    return dataset, path
    return None


def require_dataset(handle: ModelHandle, contexts: tuple[str, ...], what: str, flag: str) -> Path:
    """The logged dataset's path, or InvalidSpec saying why there is none and which flag to give."""
    found = logged_dataset(handle.run, contexts)
    if found is not None:
        return found[1]
    if handle.run is None:
        why = f"{handle.uri} has no training run in the registry"
    else:
        logged = ", ".join(f"{d.name} ({d.context or 'no context'}: {d.source or 'no source'})"
                           for d in handle.run.datasets) or "none"
        why = f"{handle.uri}'s run logged no {what} dataset with a local file (logged: {logged})"
    raise InvalidSpec(why, hint=f"give one with {flag} PATH")


def sample_values(path: Path, rows: int = 500) -> dict[str, list[Any]]:
    """Column -> the first `rows` values, for guessing which column is the label."""
    from console.governance.fairness import read_table

    frame = read_table(path).head(rows)
    return {str(c): frame[c].tolist() for c in frame.columns}


def safe(fn: Callable[[], Any], default: Any = None) -> Any:
    """fn(), or default when it raises a ConsoleError (optional sections of a card or a view)."""
    try:
        return fn()
    except ConsoleError:
        return default
