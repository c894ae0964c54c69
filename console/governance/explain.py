"""Why a model scored one row as it did: each feature's contribution, against a background sample.

Two methods, both additive — the contributions sum to (prediction - baseline), where the
baseline is the model's mean output over the background rows the method used:

- linear-exact, for scikit-learn linear models (a coef_ over per-column preprocessing: a
  ColumnTransformer of imputers, scalers and one-hot/ordinal encoders, or none). In the
  model's link space (log-odds for a classifier, the output for a regressor), feature i
  contributes sum_j coef_j * (t_j(x) - mean_background t_j), over the transformed columns j
  that come from input column i. This is the exact interventional Shapley value of a model
  that is linear in independently transformed features; nothing is sampled.
- sampling-shap, for any model: the permutation estimator of Shapley values (Strumbelj and
  Kononenko 2014) with antithetic pairs. Each sample draws a background row z and a feature
  order; switching features from z to x one at a time along the order, each feature is
  credited the change it caused. Averaging over samples estimates the Shapley values; every
  sample's credits sum to f(x) - f(z), so the average sums exactly to f(x) - mean f(z).
  It explains the model's own output (for a classifier: the probability of the positive class,
  the last output column), all samples in one batched predict call.

Features are the model's signature inputs. numpy and pandas are imported inside the functions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.errors import InvalidSpec

METHODS = ("auto", "linear", "sampling")
# Orders sampled, in antithetic pairs, one pair per background row in turn: 1024 covers the 500 rows,
# and on the demo's boosted trees two seeds then differ by about 3% of the largest contribution.
DEFAULT_SAMPLES = 1024
DEFAULT_BACKGROUND = 500  # background rows kept from the training data
PER_COLUMN_STEPS = {"SimpleImputer", "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler",
                    "OneHotEncoder", "OrdinalEncoder"}


@dataclass(frozen=True)
class Contribution:
    """One feature's share of (prediction - baseline), and the row's value for it."""

    feature: str
    value: Any
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """A prediction decomposed: baseline + sum(contributions) = prediction (in `space`)."""

    model_uri: str
    method: str  # "linear-exact" or "sampling-shap"
    space: str  # "log-odds", "probability" or "output"
    prediction: float
    baseline: float
    contributions: list[Contribution] = field(default_factory=list)  # largest |contribution| first
    score: float | None = None  # the model's own output for the row (a classifier's probability)
    background_rows: int = 0
    samples: int = 0
    seconds: float = 0.0
    background: str = ""  # where the background rows came from

    @property
    def residual(self) -> float:
        """prediction - baseline - sum(contributions): 0 up to rounding for both methods."""
        return self.prediction - self.baseline - math.fsum(c.contribution for c in self.contributions)

    def top(self, count: int) -> list[Contribution]:
        return self.contributions[:count]


# -- rows ----------------------------------------------------------------------------------------


def parse_row(text: str) -> dict[str, Any]:
    """A row given as a JSON object ({"age": 41, ...}); InvalidSpec otherwise."""
    import json

    try:
        row = json.loads(text)
    except ValueError as exc:
        raise InvalidSpec(f"--row is not valid JSON: {exc}",
                          hint='e.g. --row \'{"age": 41, "income": 52000}\'') from None
    if not isinstance(row, dict) or not row:
        raise InvalidSpec("--row must be a JSON object of feature: value",
                          hint='e.g. {"age": 41, "income": 52000}')
    return row


def row_frame(row: Mapping[str, Any], features: Sequence[str], background):
    """The row as a one-row DataFrame of `features`, each column cast to the background's dtype."""
    import pandas as pd

    missing = [f for f in features if f not in row]
    if missing:
        raise InvalidSpec(f"the row lacks the model's input(s) {', '.join(missing)}",
                          hint=f"the model takes: {', '.join(features)}")
    frame = pd.DataFrame([{f: row[f] for f in features}])
    for column in features:
        if column in background.columns:
            try:
                frame[column] = frame[column].astype(background[column].dtype)
            except (TypeError, ValueError):  # e.g. a null in an integer column: keep it as given
                pass
    return frame


def background_sample(frame, features: Sequence[str], rows: int = DEFAULT_BACKGROUND, seed: int = 0):
    """At most `rows` rows of the model's features, drawn without replacement (fixed seed)."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise InvalidSpec(f"the background data lacks the model's input(s) {', '.join(missing)}",
                          hint="give the model's training data with --background")
    frame = frame[list(features)]
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed)
    if len(frame) == 0:
        raise InvalidSpec("the background data has no rows")
    return frame.reset_index(drop=True)


# -- linear models, exactly -------------------------------------------------------------------------


def _steps(transformer) -> list[Any]:
    return [s for _, s in transformer.steps] if hasattr(transformer, "steps") else [transformer]


def _block_owners(transformer, columns: list[str], width: int) -> list[str] | None:
    """For one ColumnTransformer block: the input column behind each output column, or None."""
    if transformer == "passthrough":
        return list(columns) if width == len(columns) else None
    steps = _steps(transformer)
    if any(type(s).__name__ not in PER_COLUMN_STEPS for s in steps if s != "passthrough"):
        return None
    if any(getattr(s, "add_indicator", False) for s in steps):
        return None  # indicator columns would need their own owners; rare enough to sample instead
    if len(columns) == 1:
        return [columns[0]] * width
    last = steps[-1]
    if type(last).__name__ == "OneHotEncoder":
        sizes = getattr(last, "_n_features_outs", None) or [len(c) for c in last.categories_]
        owners = [c for c, n in zip(columns, sizes, strict=True) for _ in range(n)]
        return owners if len(owners) == width else None
    return list(columns) if width == len(columns) else None


def _column_names(ct, columns) -> list[str]:
    names = list(getattr(ct, "feature_names_in_", []))
    if isinstance(columns, str):
        return [columns]
    out = []
    for c in columns:
        if isinstance(c, int | bool) and not isinstance(c, str) and names:
            out.append(str(names[int(c)]))
        else:
            out.append(str(c))
    return out


def linear_form(model) -> tuple[Any, list[str], Any, float, bool] | None:
    """(preprocessor or None, owner feature of each transformed column, coef, intercept, is_classifier)
    when the model is linear over per-column preprocessing; None otherwise."""
    import numpy as np

    steps = list(model.steps) if hasattr(model, "steps") else [("model", model)]
    estimator = steps[-1][1]
    coef = getattr(estimator, "coef_", None)
    if coef is None:
        return None
    coef = np.asarray(coef, dtype=float)
    if coef.ndim == 2:
        if coef.shape[0] != 1:
            return None  # multi-class: several link functions, sample instead
        coef = coef[0]
    intercept = float(np.ravel(getattr(estimator, "intercept_", 0.0))[0]) if np.size(
        getattr(estimator, "intercept_", 0.0)) else 0.0
    classifier = hasattr(estimator, "predict_proba") or hasattr(estimator, "classes_")
    middle = [s for _, s in steps[:-1] if s != "passthrough"]
    if not middle:
        names = list(getattr(estimator, "feature_names_in_", []))
        if len(names) != len(coef):
            return None
        return None, [str(n) for n in names], coef, intercept, classifier
    if len(middle) != 1 or type(middle[0]).__name__ != "ColumnTransformer":
        return None
    ct = middle[0]
    owners: list[str | None] = [None] * len(coef)
    for name, transformer, columns in ct.transformers_:
        block = ct.output_indices_.get(name)
        if block is None or block.stop == block.start or transformer == "drop":
            continue
        found = _block_owners(transformer, _column_names(ct, columns), block.stop - block.start)
        if found is None:
            return None
        owners[block.start:block.stop] = found
    if any(o is None for o in owners):
        return None
    return ct, owners, coef, intercept, classifier


def _dense(matrix):
    import numpy as np

    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)


def explain_linear(model, row, background, features: Sequence[str]
                   ) -> tuple[float, float, dict[str, float], str, float | None] | None:
    """(prediction, baseline, feature -> contribution, space, probability), or None when not linear."""
    form = linear_form(model)
    if form is None:
        return None
    prep, owners, coef, intercept, classifier = form
    x = _dense(prep.transform(row) if prep is not None else row[owners].to_numpy(dtype=float))[0]
    bg = _dense(prep.transform(background) if prep is not None else background[owners].to_numpy(dtype=float))
    centre = bg.mean(axis=0)
    parts = coef * (x - centre)
    out = {f: 0.0 for f in features}
    for owner, part in zip(owners, parts, strict=True):
        out[owner] = out.get(owner, 0.0) + float(part)
    prediction = float(x @ coef + intercept)
    baseline = float(centre @ coef + intercept)
    probability = 1.0 / (1.0 + math.exp(-prediction)) if classifier else None
    return prediction, baseline, out, "log-odds" if classifier else "output", probability


# -- any model, by sampling ----------------------------------------------------------------------


def _logit(p):
    import numpy as np

    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def explain_sampling(scores: Callable[[Any], Any], row, background, features: Sequence[str], *,
                     samples: int = DEFAULT_SAMPLES, seed: int = 0, link: str = "identity"
                     ) -> tuple[float, float, dict[str, float]]:
    """(prediction, baseline, feature -> contribution) by the antithetic permutation estimator.

    scores: DataFrame -> one number per row. link 'logit' explains log-odds instead of scores.
    """
    import numpy as np

    d = len(features)
    pairs = max(1, samples // 2)
    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(pairs):
        order = rng.permutation(d)
        orders += [order, order[::-1]]  # the reversed order cancels much of the first one's noise
    # Each background row in turn (shuffled), not drawn with replacement: less noise from the baseline.
    picks = np.repeat(np.resize(rng.permutation(len(background)), pairs), 2)
    n = len(orders)
    # Row k of a sample has its order's first k features taken from x, the rest from z.
    switched = np.zeros((n, d + 1, d), dtype=bool)
    for s, order in enumerate(orders):
        for k in range(1, d + 1):
            switched[s, k, order[:k]] = True
    switched = switched.reshape(n * (d + 1), d)
    batch = background.iloc[np.repeat(picks, d + 1)].reset_index(drop=True)
    for j, column in enumerate(features):
        value = row[column].iloc[0]
        mask = switched[:, j]
        batch[column] = batch[column].where(~mask, value) if _present(value) else \
            batch[column].mask(mask)
    values = np.asarray(scores(batch), dtype=float)
    if link == "logit":
        values = _logit(values)
    values = values.reshape(n, d + 1)
    steps = values[:, 1:] - values[:, :-1]
    total = np.zeros(d)
    for s, order in enumerate(orders):
        total[order] += steps[s]
    contributions = total / n
    parts = {f: float(c) for f, c in zip(features, contributions, strict=True)}
    return float(values[0, -1]), float(values[:, 0].mean()), parts


def _present(value: Any) -> bool:
    import pandas as pd

    return not (value is None or (not isinstance(value, str) and bool(pd.isna(value))))


# -- one entry point ---------------------------------------------------------------------------------


def explain(predict: Callable[[Any], Any], row: Mapping[str, Any], background, features: Sequence[str], *,
            raw_model: Any = None, method: str = "auto", samples: int = DEFAULT_SAMPLES, seed: int = 0,
            model_uri: str = "", background_name: str = "") -> Explanation:
    """Explain predict(row) against the background rows; `raw_model` enables the linear-exact method."""
    from console.governance.fairness import positive_scores

    if method not in METHODS:
        raise InvalidSpec(f"unknown explanation method {method!r}", hint=f"one of {', '.join(METHODS)}")
    if samples < 2:
        raise InvalidSpec(f"samples must be at least 2, not {samples}")
    started = time.perf_counter()
    features = list(features)
    # The background defines the baseline: the same rows whatever the sampling seed.
    background = background_sample(background, features)
    frame = row_frame(row, features, background)
    linear = None
    if method in ("auto", "linear") and raw_model is not None:
        linear = explain_linear(raw_model, frame, background, features)
    if method == "linear" and linear is None:
        raise InvalidSpec(f"{model_uri or 'the model'} is not a linear model over per-column preprocessing",
                          hint="use --method sampling (or auto)")
    score = float(positive_scores(predict(frame))[0])
    if linear is not None:
        prediction, baseline, parts, space, probability = linear
        name, used_samples = "linear-exact", 0
        score = probability if probability is not None else score
    else:
        prediction, baseline, parts = explain_sampling(lambda b: positive_scores(predict(b)), frame,
                                                       background, features, samples=samples, seed=seed)
        space = "probability" if _is_probability(score) else "output"
        name, used_samples = "sampling-shap", samples
    ordered = sorted(parts.items(), key=lambda kv: -abs(kv[1]))
    contributions = [Contribution(f, _plain(frame[f].iloc[0]), c) for f, c in ordered]
    return Explanation(model_uri=model_uri, method=name, space=space, prediction=prediction,
                       baseline=baseline, contributions=contributions, score=score,
                       background_rows=len(background), samples=used_samples,
                       seconds=time.perf_counter() - started, background=background_name)


def _is_probability(value: float) -> bool:
    return 0.0 <= value <= 1.0


def _plain(value: Any) -> Any:
    """A JSON-safe scalar for display (numpy numbers to Python, missing to None)."""
    if not _present(value):
        return None
    return value.item() if hasattr(value, "item") else value
