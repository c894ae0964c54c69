"""A MODEL node served from the registry: any MLflow pyfunc, loaded once through the ModelSource."""

from __future__ import annotations

from typing import Any

from console.errors import InvalidSpec
from console.graph.components.base import BuildContext, Component, RequestContext
from console.graph.models import signature_columns
from console.graph.payload import Payload, payload_from_result
from console.graph.spec import Node


class MlflowModel(Component):
    """Calls the model with a DataFrame whose columns are the request's names.

    Like Seldon's MLFLOW_SERVER (`pd.DataFrame(X, columns=names)`), but when the model's
    signature names its inputs, only those columns go in and in that order, so a request
    may carry extra fields (an id, an enrichment's columns) without tripping the schema.
    """

    default_type = "MODEL"

    def __init__(self, node: Node, build: BuildContext) -> None:
        if build.model_source is None:
            raise InvalidSpec(f"node {node.name!r} needs a model source to load {node.model_uri}",
                              location=node.path)
        self.node_name = node.name
        self.uri = node.model_uri or ""
        self.label = self.uri
        self.model = build.model_source.load(self.uri)
        self.columns = signature_columns(build.model_source, self.uri)
        self._plans: dict[tuple[str, ...], list[int] | None] = {}

    def predict(self, msg: Payload, ctx: RequestContext) -> Payload:
        return payload_from_result(self.model(self._input(msg)), msg)

    # -- input --------------------------------------------------------------------------

    def _plan(self, names: list[str]) -> list[int] | None:
        """Indexes of the signature's columns within names (None: take the rows as they are)."""
        key = tuple(names)
        plan = self._plans.get(key, False)
        if plan is not False:
            return plan
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidSpec(f"node {self.node_name!r}: data.names repeats {', '.join(dupes)}")
        if not self.columns or list(names) == self.columns:
            plan = None
        else:
            missing = [c for c in self.columns if c not in names]
            if missing:
                raise InvalidSpec(f"node {self.node_name!r}: model {self.uri} needs columns the request "
                                  f"lacks: {', '.join(missing)}", hint=f"it takes: {', '.join(self.columns)}")
            plan = [names.index(c) for c in self.columns]
        if len(self._plans) < 64:  # a handful of request shapes in practice; never unbounded
            self._plans[key] = plan
        return plan

    def _input(self, msg: Payload) -> Any:
        import pandas as pd

        if msg.kind == "jsonData":
            return self._frame_from_json(msg.data)
        if not msg.is_tabular():
            raise InvalidSpec(f"node {self.node_name!r}: model {self.uri} takes data (ndarray or tensor) "
                              f"or jsonData, not {msg.kind}")
        if not msg.names:
            if self.columns and msg.kind == "ndarray":
                rows = msg.rows()
                if rows and len(rows[0]) == len(self.columns):
                    return pd.DataFrame(rows, columns=self.columns)
            return msg.array()  # tensor models (images, embeddings) take arrays
        plan = self._plan(msg.names)
        rows = msg.rows()
        if plan is None:
            return pd.DataFrame(rows, columns=msg.names)
        return pd.DataFrame([[row[i] for i in plan] for row in rows], columns=self.columns)

    def _frame_from_json(self, data: Any) -> Any:
        """jsonData in MLflow's own scoring shapes: dataframe_split, dataframe_records, records."""
        import pandas as pd

        try:
            if isinstance(data, dict) and isinstance(data.get("dataframe_split"), dict):
                split = data["dataframe_split"]
                return pd.DataFrame(split.get("data"), columns=split.get("columns"))
            if isinstance(data, dict) and "dataframe_records" in data:
                return pd.DataFrame.from_records(data["dataframe_records"])
            if isinstance(data, list) and all(isinstance(r, dict) for r in data):
                return pd.DataFrame.from_records(data)
            if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
                return pd.DataFrame(data)
        except (TypeError, ValueError) as exc:
            raise InvalidSpec(f"node {self.node_name!r}: jsonData is not a table: {exc}") from exc
        raise InvalidSpec(f"node {self.node_name!r}: jsonData for model {self.uri} must be a table",
                          hint='send {"dataframe_split": {"columns": [...], "data": [[...]]}}, '
                               '{"dataframe_records": [...]}, a list of records, or {column: [values]}')
