"""MLCONSOLE_OUTLIER_DETECTOR: flag rows unlike a reference dataset; the data passes unchanged.

In Seldon terms a TRANSFORMER that only tags: `meta.tags.outlier` is a list of booleans and
`meta.tags.outlier_score` a list of scores, one per row. Parameters: `reference` — a Parquet
file the detector is fitted on; `features` (JSON list, default: the reference's numeric
columns); `method` — `zscore` (default: the largest |x - mean| / std over the features,
outlier above `threshold`, default 4.0) or `isolation_forest` (scikit-learn, fitted once on
the reference; score = -score_samples, outlier when the forest predicts -1; `contamination`
default "auto", `seed` default 0). Missing or non-numeric values are skipped by the z-score
and replaced by the reference mean for the forest. Fitted detectors are cached per file.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec, NotFound
from console.graph.components.base import BuildContext, RequestContext, Transformer, json_param, number_param
from console.graph.payload import Payload
from console.graph.spec import Node

METHODS = ("zscore", "isolation_forest")
_fitted: dict[tuple[Any, ...], Any] = {}
_fit_lock = threading.Lock()


def _reference_stats(path: Path, features: list[str] | None) -> tuple[list[str], list[float], list[float], Any]:
    """(features, means, stds, the feature matrix) of the reference Parquet file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if features is None:
        features = [f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
        if not features:
            raise InvalidSpec(f"reference {path} has no numeric columns to fit on")
    missing = [f for f in features if f not in schema.names]
    if missing:
        raise InvalidSpec(f"reference {path} has no column {', '.join(map(repr, missing))}",
                          hint=f"its columns: {', '.join(schema.names)}")
    table = pq.read_table(path, columns=features)
    try:
        matrix = np.column_stack([table.column(f).to_numpy(zero_copy_only=False).astype(float) for f in features])
    except (TypeError, ValueError) as exc:
        raise InvalidSpec(f"reference {path}: features must be numeric ({exc})") from exc
    means = np.nanmean(matrix, axis=0)
    stds = np.nanstd(matrix, axis=0)
    return features, [float(m) for m in means], [float(s) if s > 0 else 1.0 for s in stds], matrix


def _fit(path: Path, features: list[str] | None, method: str, contamination: Any, seed: int) -> dict[str, Any]:
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise NotFound(f"reference {path} not found: {exc.strerror}", target=str(path)) from exc
    key = (str(path.resolve()), tuple(features or ()), method, str(contamination), seed,
           stat.st_mtime_ns, stat.st_size)
    with _fit_lock:
        found = _fitted.get(key)
        if found is not None:
            return found
        try:
            names, means, stds, matrix = _reference_stats(path, features)
        except (InvalidSpec, NotFound):
            raise
        except Exception as exc:
            raise InvalidSpec(f"cannot read reference {path}: {type(exc).__name__}: {exc}") from exc
        fitted: dict[str, Any] = {"features": names, "means": means, "stds": stds, "forest": None}
        if method == "isolation_forest":
            import numpy as np
            from sklearn.ensemble import IsolationForest

            filled = np.where(np.isnan(matrix), np.array(means), matrix)
            fitted["forest"] = IsolationForest(contamination=contamination, random_state=seed).fit(filled)
        _fitted[key] = fitted
        return fitted


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


class OutlierDetector(Transformer):
    """Tags each row as outlier or not against a fitted reference; passes data through."""

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.node_name = node.name
        reference = str(node.param("reference", "") or "")
        if not reference:
            raise InvalidSpec(f"node {node.name!r} needs parameter `reference` (a Parquet file)", location=node.path)
        self.method = str(node.param("method", "zscore") or "zscore").lower()
        if self.method not in METHODS:
            raise InvalidSpec(f"node {node.name!r}: method {self.method!r} is not one of {', '.join(METHODS)}",
                              location=node.path)
        self.threshold = number_param(node, "threshold", 4.0, low=0.0)
        contamination: Any = node.param("contamination", "auto")
        if contamination != "auto":
            contamination = number_param(node, "contamination", 0.1, low=0.0, high=0.5)
        seed = build.rng_seed(node)
        self.label = node.implementation or "MLCONSOLE_OUTLIER_DETECTOR"
        fitted = _fit(Path(reference).expanduser(), json_param(node, "features", None, list), self.method,
                      contamination, 0 if seed is None else seed % 2**32)
        self.features: list[str] = fitted["features"]
        self.means: list[float] = fitted["means"]
        self.stds: list[float] = fitted["stds"]
        self.forest = fitted["forest"]
        self._plans: dict[tuple[str, ...], list[int]] = {}

    def _positions(self, names: list[str]) -> list[int]:
        plan = self._plans.get(tuple(names))
        if plan is None:
            missing = [f for f in self.features if f not in names]
            if missing:
                raise InvalidSpec(f"node {self.node_name!r}: the request lacks feature(s) {', '.join(missing)}",
                                  hint=f"it checks: {', '.join(self.features)}")
            plan = [names.index(f) for f in self.features]
            if len(self._plans) < 64:
                self._plans[tuple(names)] = plan
        return plan

    def transform(self, msg: Payload, ctx: RequestContext) -> Payload:
        if not msg.is_tabular() or not msg.names:
            raise InvalidSpec(f"node {self.node_name!r} checks data rows by name: send data with names")
        at = self._positions(msg.names)
        rows = msg.rows()
        if self.forest is not None:
            flags, scores = self._forest(rows, at)
        else:
            flags, scores = [], []
            stats = list(zip(at, self.means, self.stds, strict=True))
            for row in rows:
                worst = 0.0
                for i, mean, std in stats:
                    x = _number(row[i])
                    if x is not None:
                        z = abs(x - mean) / std
                        if z > worst:
                            worst = z
                scores.append(round(worst, 6))
                flags.append(worst > self.threshold)
        ctx.tags["outlier"] = flags
        ctx.tags["outlier_score"] = scores
        return msg

    def _forest(self, rows: list[list[Any]], at: list[int]) -> tuple[list[bool], list[float]]:
        import numpy as np

        matrix = np.array([[_number(row[i]) if _number(row[i]) is not None else mean
                            for i, mean in zip(at, self.means, strict=True)] for row in rows], dtype=float)
        scores = -self.forest.score_samples(matrix)
        flags = self.forest.predict(matrix) == -1
        return [bool(f) for f in flags], [round(float(s), 6) for s in scores]
