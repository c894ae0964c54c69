"""Load MLflow pyfunc models from the registry, for the in-process graph executor.

`load_pyfunc` points mlflow at the tracking/registry URI for the one call and puts the
previous URIs back (mlflow keeps them as process globals, hence the lock). Failures become
the console's typed errors. `MlflowModelSource` is the executor's ModelSource: it loads
each URI once, keeps it, and lets threads share the result.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from backends.mlflow.errors import translate
from backends.mlflow.registry import quiet_mlflow_env
from console.errors import BackendUnavailable, ConsoleError, InvalidSpec, NotFound
from console.secrets import mask_uri

SOURCES_HINT = ("in-process, models load from the registry (models:/name@alias, models:/name/3), "
                "from runs:/RUN_ID/PATH, or from a local MLflow model directory")
_uri_lock = threading.Lock()


def load_pyfunc(tracking_uri: str, model_uri: str) -> Any:
    """The pyfunc model at model_uri (`models:/name@alias`, `models:/name/3`, `runs:/...`, a path)."""
    quiet_mlflow_env()
    import mlflow
    import mlflow.pyfunc

    endpoint = mask_uri(tracking_uri)
    with _uri_lock:
        # set_tracking_uri also writes MLFLOW_TRACKING_URI into os.environ, and restoring "the previous
        # URI" would then leave mlflow's own default (./mlflow.db) there for every later settings load.
        saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        try:
            mlflow.set_tracking_uri(tracking_uri)
            mlflow.set_registry_uri(tracking_uri)
            return mlflow.pyfunc.load_model(_underlying(model_uri))
        except ConsoleError:
            raise
        except Exception as exc:
            raise _load_error(exc, model_uri, endpoint) from exc
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _underlying(model_uri: str) -> str:
    """Where a models:/ URI's files live; other URIs as they are.

    Loading through models:/ makes MLflow write a `registered_model_meta` file into the model's
    directory after "downloading" it, and with a local artifact store that directory is the
    registry's own store: reading a model would change the registry. Loading from the underlying
    location reads the same files and writes nothing.
    """
    if not model_uri.startswith("models:/"):
        return model_uri
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

    return ModelsArtifactRepository.get_underlying_uri(model_uri)


def _load_error(exc: Exception, model_uri: str, endpoint: str) -> ConsoleError:
    """What went wrong loading model_uri, as a typed error that says where models can come from."""
    error = translate(exc, endpoint, f"model {model_uri}")
    in_registry = model_uri.startswith(("models:/", "runs:/"))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(error, NotFound) or "not found" in error.message.lower() or "does not exist" in text.lower():
        if in_registry:
            return NotFound(f"model {model_uri} not found in registry {endpoint}",
                            hint="check the name, version or alias (`mlconsole models show NAME`)", target=model_uri)
        return NotFound(f"model {model_uri} not found", hint=SOURCES_HINT, target=model_uri)
    if not in_registry and isinstance(error, BackendUnavailable):
        return BackendUnavailable(f"cannot load model {model_uri}: {text}", hint=SOURCES_HINT, target=model_uri)
    return error


def _input_columns(model: Any) -> list[str] | None:
    """The signature's input column names, when it has a column-based one."""
    try:
        schema = model.metadata.get_input_schema()
    except Exception:  # a model without metadata still serves
        return None
    if schema is None or not getattr(schema, "has_input_names", lambda: False)() or schema.is_tensor_spec():
        return None
    return list(schema.input_names())


def _float_columns(model: Any) -> list[str]:
    """Signature columns typed float or double: JSON writes 29400 for 29400.0, and MLflow's
    schema enforcement refuses to widen int64 to float64 on its own."""
    try:
        schema = model.metadata.get_input_schema()
        if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
            return []
        return [name for name, kind in schema.input_types_dict().items()
                if str(getattr(kind, "name", kind)).lower() in ("double", "float")]
    except Exception:  # no usable schema: nothing to widen
        return []


def _schema_problem(exc: BaseException) -> str:
    """The useful sentence of an MLflow schema error (its first line repeats the whole frame)."""
    text = str(exc)
    if "Error:" in text:
        text = text.rsplit("Error:", 1)[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "input rejected"


class LoadedModel:
    """A loaded pyfunc as the executor calls it: predict(frame), input schema errors typed."""

    def __init__(self, uri: str, model: Any) -> None:
        self.uri = uri
        self.model = model
        self.columns = _input_columns(model)
        self.float_columns = _float_columns(model)

    def __call__(self, data: Any) -> Any:
        if self.float_columns and hasattr(data, "columns"):
            ints = [c for c in self.float_columns if c in data.columns and data[c].dtype.kind in "iu"]
            if ints:
                data = data.astype({c: "float64" for c in ints})
        try:
            return self.model.predict(data)
        except Exception as exc:
            if type(exc).__name__ == "MlflowException":
                # Schema enforcement: the input does not fit the signature. Say so plainly.
                raise InvalidSpec(f"model {self.uri} rejected its input: {_schema_problem(exc)}",
                                  target=self.uri) from exc
            raise


class MlflowModelSource:
    """The executor's ModelSource over an MLflow registry: each model loads once, then is shared."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._models: dict[str, LoadedModel] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _loaded(self, model_uri: str) -> LoadedModel:
        found = self._models.get(model_uri)
        if found is not None:
            return found
        with self._lock:
            lock = self._locks.setdefault(model_uri, threading.Lock())
        with lock:  # one load per URI, even when several threads ask at once
            found = self._models.get(model_uri)
            if found is None:
                found = LoadedModel(model_uri, load_pyfunc(self.tracking_uri, model_uri))
                self._models[model_uri] = found
        return found

    def load(self, model_uri: str) -> Callable[[Any], Any]:
        """The model's predict, as a callable taking a pandas DataFrame or numpy array."""
        return self._loaded(model_uri)

    def signature_columns(self, model_uri: str) -> list[str] | None:
        """The model's input column names from its signature, when it names them."""
        return self._loaded(model_uri).columns
