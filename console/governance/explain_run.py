"""Explain one prediction of a registry model: load it, find its background data, decompose.

Shared by `mlconsole explain`, the explanation view and the Monitor's request explanations.
The background is the training dataset the version's run logged, unless a file is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec
from console.governance.explain import DEFAULT_SAMPLES, Explanation, explain
from console.governance.fairness import read_table
from console.governance.model_data import TRAINING, ModelHandle, load_model, require_dataset

_backgrounds: dict[tuple[str, float], Any] = {}  # (path, mtime) -> frame: a view explains many rows


def background_frame(path: Path, features: list[str] | None):
    """The background file's rows (cached by path and modification time)."""
    key = (str(path), path.stat().st_mtime if path.exists() else 0.0)
    frame = _backgrounds.get(key)
    if frame is None:
        frame = read_table(path, columns=features)
        _backgrounds.clear()  # one at a time: training sets can be large
        _backgrounds[key] = frame
    return frame


def explanation_of(registry: Any, uri: str, row: Mapping[str, Any], *, background: str | Path | None = None,
                   method: str = "auto", samples: int = DEFAULT_SAMPLES, seed: int = 0,
                   handle: ModelHandle | None = None) -> Explanation:
    """The explanation of the model at uri for `row`, against `background` (default: its training data)."""
    handle = handle or load_model(registry, uri)
    path = Path(background) if background else require_dataset(handle, TRAINING, "training", "--background")
    frame = background_frame(path, handle.features)
    features = handle.features or [c for c in frame.columns if c in row]
    if not features:
        raise InvalidSpec(f"{uri} has no signature naming its inputs, and the row shares no column "
                          f"with {path}")
    return explain(handle.predict, row, frame, features, raw_model=handle.raw_model(), method=method,
                   samples=samples, seed=seed, model_uri=uri, background_name=str(path))
