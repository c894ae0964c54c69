"""Drift between two selections of a DataSession: training data against live traffic, say.

Each side is a repeatable reservoir sample (SAMPLE_ROWS at most, drawn by DuckDB out of
core); the statistics are console.data.drift's, the same as `mlconsole data drift` and the
Monitor view's Drift tab. Only the columns both sides have are compared: a request log has
meta columns (ts, id, ...) and a training set its label and keys, which are not features
that can drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.data.drift import PSI_THRESHOLD, SAMPLE_ROWS, FeatureDrift, FeatureHistogram
from console.data.session import DataSession, Selection
from console.errors import InvalidSpec

IGNORED = {"ts", "id", "predictor", "shadow", "code", "latency_ms"}  # request-log meta columns


@dataclass(frozen=True)
class Comparison:
    """Per-feature drift of `current` against `reference`, with both samples kept for histograms."""

    reference: str
    current: str
    results: list[FeatureDrift]
    reference_sample: Any  # pyarrow Table
    current_sample: Any
    psi_threshold: float = PSI_THRESHOLD

    @property
    def drifted(self) -> list[str]:
        return [r.feature for r in self.results if r.drifted]

    def histogram(self, feature: str, bins: int = 12) -> FeatureHistogram:
        from console.data.drift import histogram

        return histogram(self.reference_sample, self.current_sample, feature, bins=bins)


def shared_features(session: DataSession, reference: Selection, current: Selection) -> list[str]:
    """Columns of both sides, in the reference's order, request-log meta columns left out."""
    ref = session.get(reference.table)
    cur = {c.name for c in session.get(current.table).columns}
    return [c.name for c in ref.columns if c.name in cur and c.name not in IGNORED and c.kind != "other"]


def compare(session: DataSession, reference: Selection, current: Selection, *, sample_rows: int = SAMPLE_ROWS,
            psi_threshold: float = PSI_THRESHOLD,
            progress: Callable[[str], None] | None = None) -> Comparison:
    """Sample both sides and compute the drift of every shared feature (InvalidSpec if none)."""
    from console.data.drift import compute_drift

    say = progress or (lambda _text: None)
    features = shared_features(session, reference, current)
    ref_name, cur_name = session.get(reference.table).spec, session.get(current.table).spec
    if not features:
        raise InvalidSpec(f"{ref_name} and {cur_name} have no column in common to compare")
    say(f"sampling {ref_name}")
    ref_sample = session.sample(reference, sample_rows)
    say(f"sampling {cur_name}")
    cur_sample = session.sample(current, sample_rows)
    if ref_sample.num_rows == 0 or cur_sample.num_rows == 0:
        empty = ref_name if ref_sample.num_rows == 0 else cur_name
        raise InvalidSpec(f"{empty}: no rows to compare")
    say(f"comparing {len(features)} features")
    results = compute_drift(ref_sample.select(features), cur_sample.select(features), features=features,
                            psi_threshold=psi_threshold)
    return Comparison(_side(reference, ref_sample.num_rows), _side(current, cur_sample.num_rows),
                      results, ref_sample, cur_sample, psi_threshold)


def _side(selection: Selection, rows: int) -> str:
    scope = f" where {selection.where}" if selection.where.strip() else ""
    return f"{selection.table}{scope} ({rows:,} rows)"
