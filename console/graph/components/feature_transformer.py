"""MLCONSOLE_FEATURE_TRANSFORMER: scale, one-hot encode, rename and select columns by name.

Parameters (JSON): `scale` {column: [mean, std]} replaces x by (x - mean) / std; `one_hot`
{column: [categories]} replaces the column by one 0/1 column per category, named
"column=category" (an unknown category sets none); `rename` {old: new}; `columns` [names]
keeps those columns, in that order, from the result. Steps run in that order, so `columns`
can pick one-hot outputs and drop the raw ones. Works on plain rows: no pandas per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.errors import InvalidSpec
from console.graph.components.base import BuildContext, RequestContext, Transformer, json_param
from console.graph.payload import Payload
from console.graph.spec import Node

Getter = Callable[[list[Any]], Any]


def _scaled(i: int, mean: float, std: float) -> Getter:
    def get(row: list[Any]) -> Any:
        value = row[i]
        return None if value is None else (value - mean) / std
    return get


def _indicator(i: int, category: Any) -> Getter:
    return lambda row: 1.0 if row[i] == category else 0.0


def _take(i: int) -> Getter:
    return lambda row: row[i]


class FeatureTransformer(Transformer):
    """Column selection, scaling and one-hot encoding from the node's parameters."""

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.node_name = node.name
        self.label = node.implementation or "MLCONSOLE_FEATURE_TRANSFORMER"
        self.columns = json_param(node, "columns", None, list)
        self.scale = json_param(node, "scale", {}, dict) or {}
        self.one_hot = json_param(node, "one_hot", {}, dict) or {}
        self.rename = json_param(node, "rename", {}, dict) or {}
        for col, pair in self.scale.items():
            ok = isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
            if not ok or pair[1] == 0:
                raise InvalidSpec(f"node {node.name!r}: scale[{col!r}] must be [mean, std] with std != 0, got {pair!r}",
                                  location=node.path)
        for col, cats in self.one_hot.items():
            if not isinstance(cats, list) or not cats:
                raise InvalidSpec(f"node {node.name!r}: one_hot[{col!r}] must be a non-empty list of categories",
                                  location=node.path)
        if self.columns is not None and not all(isinstance(c, str) for c in self.columns):
            raise InvalidSpec(f"node {node.name!r}: columns must be a list of column names", location=node.path)
        self.identity = not (self.columns or self.scale or self.one_hot or self.rename)
        self._plans: dict[tuple[str, ...], tuple[list[str], list[Getter]]] = {}

    def _plan(self, names: list[str]) -> tuple[list[str], list[Getter]]:
        """Output names and one getter per output column, compiled once per input shape."""
        key = tuple(names)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        where = {n: i for i, n in enumerate(names)}
        for col in (*self.scale, *self.one_hot):
            if col not in where:
                raise InvalidSpec(f"node {self.node_name!r}: column {col!r} is not in the request "
                                  f"(it has {', '.join(names) or 'no names'})")
        out_names: list[str] = []
        getters: list[Getter] = []
        for i, name in enumerate(names):
            if name in self.one_hot:
                for cat in self.one_hot[name]:
                    out_names.append(f"{name}={cat}")
                    getters.append(_indicator(i, cat))
                continue
            out_names.append(self.rename.get(name, name))
            if name in self.scale:
                mean, std = self.scale[name]
                getters.append(_scaled(i, float(mean), float(std)))
            else:
                getters.append(_take(i))
        if self.columns is not None:
            position = {n: i for i, n in enumerate(out_names)}
            missing = [c for c in self.columns if c not in position]
            if missing:
                raise InvalidSpec(f"node {self.node_name!r}: columns {', '.join(map(repr, missing))} are not in "
                                  f"the data (it has {', '.join(out_names) or 'no names'})")
            getters = [getters[position[c]] for c in self.columns]
            out_names = list(self.columns)
        plan = (out_names, getters)
        if len(self._plans) < 64:
            self._plans[key] = plan
        return plan

    def transform(self, msg: Payload, ctx: RequestContext) -> Payload:
        if self.identity:
            return msg
        if not msg.is_tabular():
            raise InvalidSpec(f"node {self.node_name!r} transforms data with names, not {msg.kind}")
        if not msg.names:
            raise InvalidSpec(f"node {self.node_name!r} needs data.names to find its columns")
        names, getters = self._plan(msg.names)
        rows = msg.rows()
        try:
            out = [[get(row) for get in getters] for row in rows]
        except TypeError:
            raise self._which_value(rows, msg.names) from None
        if msg.kind == "tensor":
            import numpy as np

            try:
                return Payload("tensor", names, np.array(out, dtype=float), msg.meta)
            except (TypeError, ValueError):
                return Payload("ndarray", names, out, msg.meta)
        return Payload("ndarray", names, out, msg.meta)

    def _which_value(self, rows: list[list[Any]], names: list[str]) -> InvalidSpec:
        """Name the row and column whose value could not be scaled."""
        for r, row in enumerate(rows):
            for col in self.scale:
                value = row[names.index(col)]
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    return InvalidSpec(f"node {self.node_name!r}: row {r} column {col!r} is {value!r}, "
                                       "not a number it can scale")
        return InvalidSpec(f"node {self.node_name!r}: a value could not be transformed")
