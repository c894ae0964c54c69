"""Fairness of a registry model on a file: find the data, the label and the sensitive columns, evaluate.

Shared by `mlconsole fairness`, the registry's version detail and the model card. Without a
file, the evaluation dataset the version's run logged is used; without a label or sensitive
attributes, they are guessed from that data (console.governance.fairness.guess_roles) and the
guess is reported in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec
from console.governance.fairness import FairnessReport, check_columns, evaluate, guess_roles, read_table
from console.governance.model_data import EVALUATION, ModelHandle, load_model, require_dataset, sample_values


def fairness_of(registry: Any, uri: str, *, data: str | Path | None = None, label: str | None = None,
                sensitive: Sequence[str] = (), threshold: float = 0.5,
                handle: ModelHandle | None = None) -> list[FairnessReport]:
    """One FairnessReport per sensitive attribute of the model at uri on `data` (or its logged eval set)."""
    handle = handle or load_model(registry, uri)
    path = Path(data) if data else require_dataset(handle, EVALUATION, "evaluation", "--data")
    if not label or not sensitive:
        guessed_label, guessed_sensitive = guess_roles(sample_values(path), handle.features or [],
                                                       list((handle.run.metrics if handle.run else {}) or {}))
        label = label or guessed_label
        sensitive = list(sensitive) or guessed_sensitive
        if not label:
            raise InvalidSpec(f"no 0/1 label column found in {path}", hint="name it with --label COL")
        if not sensitive:
            raise InvalidSpec(f"no sensitive attribute column found in {path}",
                              hint="name one with --sensitive COL")
    frame = read_table(path, columns=[*(handle.features or []), label, *sensitive])
    check_columns([str(c) for c in frame.columns], [("label", label), *(("sensitive", s) for s in sensitive)],
                  str(path))
    return evaluate(handle.predict, frame, label=label, sensitive=list(sensitive), features=handle.features,
                    threshold=threshold, model_uri=uri, data=str(path))
