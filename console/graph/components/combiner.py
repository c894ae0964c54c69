"""MLCONSOLE_COMBINER (and Seldon's AVERAGE_COMBINER): combine the children's outputs.

`method: average` (the default, and what AVERAGE_COMBINER does) is the element-wise mean of
the children's numeric outputs, which must share a shape; names come from the first child.
`method: majority` is a vote per row: a child with several output columns (probabilities,
scores) votes for its argmax column index, a child with one column votes for that value (a
class label). The output is one column, `class`; a tie goes to the class with the largest
summed score when the children give scores, else to the smallest label.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from console.errors import InvalidSpec
from console.graph.components.base import BuildContext, Component, RequestContext
from console.graph.payload import Payload
from console.graph.spec import Node

METHODS = ("average", "majority")


class Combiner(Component):
    """Average or majority vote over the children's outputs."""

    default_type = "COMBINER"

    def __init__(self, node: Node, build: BuildContext) -> None:
        self.node_name = node.name
        self.label = node.implementation or "MLCONSOLE_COMBINER"
        default = "average"
        self.method = str(node.param("method", default) or default).lower()
        if self.method not in METHODS:
            raise InvalidSpec(f"node {node.name!r}: method {self.method!r} is not one of {', '.join(METHODS)}",
                              location=node.path)

    def aggregate(self, msgs: list[Payload], ctx: RequestContext) -> Payload:
        import numpy as np

        arrays = []
        for i, msg in enumerate(msgs):
            if not msg.is_tabular():
                raise InvalidSpec(f"node {self.node_name!r}: child {i} answered {msg.kind}, not data to combine")
            arrays.append(msg.array())
        if self.method == "average":
            return self._average(arrays, msgs, np)
        return self._majority(arrays, msgs, np)

    def _average(self, arrays: list[Any], msgs: list[Payload], np: Any) -> Payload:
        shape = arrays[0].shape
        for i, a in enumerate(arrays):
            if not np.issubdtype(a.dtype, np.number):
                raise InvalidSpec(f"node {self.node_name!r}: child {i} output is not numeric; average needs numbers")
            if a.shape != shape:
                raise InvalidSpec(f"node {self.node_name!r}: child outputs have shapes {shape} and {a.shape} "
                                  f"(child {i}); average needs one shape")
        mean = np.mean(np.stack(arrays), axis=0)
        first = msgs[0]
        return Payload(first.kind, list(first.names), mean, first.meta)

    def _majority(self, arrays: list[Any], msgs: list[Payload], np: Any) -> Payload:
        rows = None
        votes: list[Any] = []
        scores: list[Any] = []
        for i, a in enumerate(arrays):
            a2 = a.reshape(-1, 1) if a.ndim == 1 else a
            if a2.ndim != 2:
                raise InvalidSpec(f"node {self.node_name!r}: child {i} output has shape {a.shape}; a vote needs rows")
            if rows is None:
                rows = a2.shape[0]
            elif a2.shape[0] != rows:
                raise InvalidSpec(f"node {self.node_name!r}: child {i} answered {a2.shape[0]} rows, child 0 {rows}")
            if a2.shape[1] > 1:
                if not np.issubdtype(a2.dtype, np.number):
                    raise InvalidSpec(f"node {self.node_name!r}: child {i} has several non-numeric columns to vote with")
                votes.append([int(j) for j in np.argmax(a2, axis=1)])
                scores.append(a2)
            else:
                votes.append(a2[:, 0].tolist())
        out = []
        for r in range(rows or 0):
            counts = Counter(v[r] for v in votes)
            top = max(counts.values())
            tied = [label for label, n in counts.items() if n == top]
            if len(tied) > 1 and scores and all(isinstance(t, int) for t in tied):
                total = {t: sum(float(s[r, t]) for s in scores if t < s.shape[1]) for t in tied}
                winner = max(sorted(tied), key=lambda t: total[t])
            else:
                winner = sorted(tied, key=lambda t: (str(type(t)), t))[0]
            out.append([winner])
        first = msgs[0]
        numeric = all(isinstance(row[0], (int, float)) and not isinstance(row[0], bool) for row in out)
        kind = first.kind if numeric else "ndarray"
        data = np.array(out) if kind == "tensor" else out
        return Payload(kind, ["class"], data, first.meta)
