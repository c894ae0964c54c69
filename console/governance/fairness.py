"""Group fairness of a binary classifier: per-group rates and the two disparity figures.

Definitions follow fairlearn's (tests check our numbers against it on the demo data):
- selection rate: share of rows predicted positive (score >= threshold);
- TPR: predicted positive among label-positive rows; FPR: predicted positive among label-negative;
- demographic-parity difference: max - min selection rate over the groups;
- equalized-odds difference: the larger of the TPR spread and the FPR spread over the groups.
A rate a group cannot have (no positive labels for its TPR, no negatives for its FPR) is None
and left out of the spreads rather than counted as 0, which would invent a disparity.

The computation is plain numpy over arrays; `evaluate` adds the model call and the column
checks. numpy and pandas are imported inside the functions (startup stays light).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.errors import InvalidSpec

MISSING_GROUP = "(missing)"


@dataclass(frozen=True)
class GroupRates:
    """One group's counts and rates at the decision threshold."""

    group: str
    count: int
    positives: int  # rows whose label is positive
    selected: int  # rows predicted positive
    selection_rate: float
    tpr: float | None
    fpr: float | None
    accuracy: float


@dataclass(frozen=True)
class FairnessReport:
    """Per-group rates for one sensitive attribute, and its disparity figures."""

    sensitive: str
    label: str
    threshold: float
    overall: GroupRates
    groups: list[GroupRates] = field(default_factory=list)
    demographic_parity_difference: float = 0.0
    equalized_odds_difference: float | None = None
    model_uri: str = ""
    data: str = ""

    @property
    def rows(self) -> int:
        return self.overall.count


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _spread(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) - min(known) if known else None


def _group_rates(name: str, y, pred) -> GroupRates:
    positives = int(y.sum())
    negatives = int(len(y) - positives)
    selected = int(pred.sum())
    true_pos = int((pred & y).sum())
    false_pos = int((pred & ~y).sum())
    correct = int((pred == y).sum())
    return GroupRates(group=name, count=int(len(y)), positives=positives, selected=selected,
                      selection_rate=selected / len(y) if len(y) else 0.0,
                      tpr=_rate(true_pos, positives), fpr=_rate(false_pos, negatives),
                      accuracy=correct / len(y) if len(y) else 0.0)


def _group_names(values) -> list[str]:
    """Group labels as text; None/NaN become MISSING_GROUP so they are a group, not a crash."""
    import pandas as pd

    out = []
    for v in values:
        if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
            out.append(MISSING_GROUP)
        else:
            out.append(str(v))
    return out


def binary_labels(values, column: str):
    """Labels as a bool array (1/True positive); InvalidSpec naming the values when not binary."""
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    try:
        numbers = arr.astype(float)
    except (TypeError, ValueError):
        seen = sorted({str(v) for v in arr[:1000]})[:5]
        raise InvalidSpec(f"label column {column!r} is not binary 0/1: values like {', '.join(seen)}",
                          hint="give a label column holding 0/1 or true/false") from None
    if np.isnan(numbers).any():
        raise InvalidSpec(f"label column {column!r} has {int(np.isnan(numbers).sum())} missing values",
                          hint="drop unlabelled rows first")
    extra = sorted(set(np.unique(numbers)) - {0.0, 1.0})
    if extra:
        raise InvalidSpec(f"label column {column!r} is not binary 0/1: it also holds {extra[:5]}",
                          hint="give a label column holding 0/1 or true/false")
    return numbers == 1.0


def fairness_from_predictions(y_true, y_pred, groups, *, sensitive: str, label: str = "",
                              threshold: float = 0.5) -> FairnessReport:
    """The report from labels, 0/1 (or bool) predictions and each row's group."""
    import numpy as np

    y = binary_labels(y_true, label or "label")
    pred = np.asarray(y_pred).astype(bool)
    names = np.asarray(_group_names(groups), dtype=object)
    if not (len(y) == len(pred) == len(names)):
        raise InvalidSpec(f"fairness needs as many predictions and groups as labels: {len(y)} labels, "
                          f"{len(pred)} predictions, {len(names)} groups")
    if len(y) == 0:
        raise InvalidSpec("fairness needs at least one row")
    order = sorted(set(names), key=lambda g: (g == MISSING_GROUP, g))  # the missing group last
    per_group = [_group_rates(g, y[names == g], pred[names == g]) for g in order]
    tpr_spread = _spread([g.tpr for g in per_group])
    fpr_spread = _spread([g.fpr for g in per_group])
    odds = None if tpr_spread is None and fpr_spread is None else max(tpr_spread or 0.0, fpr_spread or 0.0)
    return FairnessReport(
        sensitive=sensitive, label=label, threshold=threshold, overall=_group_rates("all", y, pred),
        groups=per_group, demographic_parity_difference=_spread([g.selection_rate for g in per_group]) or 0.0,
        equalized_odds_difference=odds)


def positive_scores(output) -> Any:
    """A model's output as one score per row: a 2-D output's last column (p of the positive class)."""
    import numpy as np

    if hasattr(output, "to_numpy"):
        output = output.to_numpy()
    arr = np.asarray(output)
    if arr.ndim == 2:
        arr = arr[:, -1]
    return arr.astype(float).reshape(-1)


def check_columns(columns: Sequence[str], wanted: Sequence[tuple[str, str]], where: str) -> None:
    """InvalidSpec naming the first missing (role, column), and the columns there are."""
    for role, column in wanted:
        if column not in columns:
            listed = ", ".join(columns[:40]) + (" …" if len(columns) > 40 else "")
            raise InvalidSpec(f"{role} column {column!r} is not in {where}",
                              hint=f"its columns: {listed}", target=column)


def evaluate(predict: Callable[[Any], Any], frame, *, label: str, sensitive: Sequence[str],
             features: Sequence[str] | None = None, threshold: float = 0.5, model_uri: str = "",
             data: str = "") -> list[FairnessReport]:
    """Predict on frame's features once, then one report per sensitive attribute."""
    columns = [str(c) for c in frame.columns]
    check_columns(columns, [("label", label), *(("sensitive", s) for s in sensitive)], data or "the data")
    if features is None:
        features = [c for c in columns if c != label and c not in sensitive]
    missing = [f for f in features if f not in columns]
    if missing:
        raise InvalidSpec(f"the model's input columns {missing[:8]} are not in {data or 'the data'}",
                          hint=f"its columns: {', '.join(columns[:40])}")
    if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
        raise InvalidSpec(f"threshold {threshold!r} must be between 0 and 1")
    scores = positive_scores(predict(frame[list(features)]))
    if len(scores) != len(frame):
        raise InvalidSpec(f"the model answered {len(scores)} scores for {len(frame)} rows")
    pred = scores >= threshold
    reports = []
    for attr in sensitive:
        report = fairness_from_predictions(frame[label].to_numpy(), pred, frame[attr].to_numpy(dtype=object),
                                           sensitive=attr, label=label, threshold=threshold)
        reports.append(_with_source(report, model_uri, data))
    return reports


def _with_source(report: FairnessReport, model_uri: str, data: str) -> FairnessReport:
    from dataclasses import replace

    return replace(report, model_uri=model_uri, data=data)


def read_table(path: str | Path, columns: Sequence[str] | None = None):
    """A Parquet or CSV file as a pandas DataFrame (only `columns` when given and all present)."""
    import pandas as pd

    file = Path(path)
    if not file.exists():
        raise InvalidSpec(f"no such data file: {file}")
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq", ".parq") or file.is_dir():
            import pyarrow.parquet as pq

            names = pq.read_schema(file).names if file.is_file() else None
            wanted = list(columns) if columns and names and set(columns) <= set(names) else None
            return pd.read_parquet(file, columns=wanted)
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(file, sep="\t" if suffix == ".tsv" else ",")
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(file, lines=True)
    except (OSError, ValueError) as exc:
        raise InvalidSpec(f"cannot read {file}: {exc}") from None
    raise InvalidSpec(f"{file}: not a Parquet, CSV or JSON-lines file", hint="use .parquet, .csv or .jsonl")


# -- which columns are the label and the sensitive attributes -----------------------------------


def guess_roles(columns: dict[str, Any], inputs: Sequence[str], metric_names: Sequence[str] = ()
                ) -> tuple[str | None, list[str]]:
    """(label, sensitive attributes) of an evaluation table the model's run logged, guessed.

    columns: name -> a sample of its values. The label is the binary 0/1 column that is not a
    model input; sensitive attributes are the other non-input, low-cardinality columns, those
    the run's metric names mention (e.g. demographic_parity_diff_sex) first.
    """
    outside = [c for c in columns if c not in set(inputs)]
    label = None
    for name in outside:
        values = {v for v in columns[name] if v is not None and v == v}
        if values and values <= {0, 1}:  # True == 1 and 0.0 == 0 in a set
            label = name
            break
    mentioned = [c for c in outside if any(m.endswith(f"_{c}") or f"_{c}_" in m for m in metric_names)]
    others = []
    for name in outside:
        if name == label or name in mentioned:
            continue
        distinct = {str(v) for v in columns[name]}
        if 1 < len(distinct) <= 20:  # an id or a free-text column is no group
            others.append(name)
    return label, [c for c in mentioned if c != label] + others


# -- live traffic: disparity of each predictor's logged requests --------------------------------------


@dataclass(frozen=True)
class Disparity:
    """Demographic-parity difference of one predictor's logged requests (no labels there).

    value is None when fewer than two groups were seen (no gap to measure); rows counts the
    rows that carried the sensitive attribute and a prediction.
    """

    value: float | None
    rows: int
    selection_rates: dict[str, float] = field(default_factory=dict)
    note: str = ""


def disparity_by_predictor(rows: Sequence[Mapping[str, Any]], *, sensitive: str, prediction: str,
                           threshold: float, candidate: str, stable: str) -> dict[str, Disparity]:
    """{candidate, stable, "" (the whole deployment): Disparity} from logged request rows.

    rows: mappings with `predictor`, `shadow`, the sensitive column and the prediction column, as
    console.data.request_log.read_requests expands them. The candidate's rows are its own, shadow
    (mirrored) or not; the stable's and the deployment's are the served (non-shadow) ones.
    """
    buckets: dict[str, dict[str, list[int]]] = {candidate: {}, stable: {}, "": {}}
    for row in rows:
        group, score = row.get(sensitive), row.get(prediction)
        if group is None or score is None or isinstance(score, bool | str):
            continue
        try:
            positive = float(score) >= threshold
        except (TypeError, ValueError):
            continue
        name, mirrored = row.get("predictor"), bool(row.get("shadow"))
        targets = [candidate] if name == candidate else []
        if not mirrored:
            targets += [""] + ([stable] if name == stable else [])
        for target in targets:
            counts = buckets[target].setdefault(str(group), [0, 0])
            counts[0] += 1
            counts[1] += int(positive)
    out = {}
    for target, groups in buckets.items():
        rates = {g: pos / n for g, (n, pos) in sorted(groups.items()) if n}
        total = sum(n for n, _ in groups.values())
        if len(rates) < 2:
            seen = ", ".join(rates) or "none"
            out[target] = Disparity(None, total, rates, f"fewer than two groups of {sensitive} seen ({seen})")
        else:
            out[target] = Disparity(max(rates.values()) - min(rates.values()), total, rates)
    return out
