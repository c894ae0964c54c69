"""Explanations: exact coefficients for linear models, additivity, sampling against brute force, the CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from console.cli import main
from console.errors import InvalidSpec
from console.governance.explain import explain, explain_sampling, linear_form

EXACT = 1e-9


def test_plain_logistic_regression_contributions_are_coef_times_distance_to_the_mean():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] - 2 * X["b"] + rng.normal(size=300) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    row = {"a": 0.5, "b": -1.0, "c": 2.0}
    result = explain(model.predict_proba, row, X, ["a", "b", "c"], raw_model=model)
    assert result.method == "linear-exact" and result.space == "log-odds"
    by_name = {c.feature: c.contribution for c in result.contributions}
    for j, name in enumerate(["a", "b", "c"]):
        assert by_name[name] == pytest.approx(model.coef_[0][j] * (row[name] - X[name].mean()), abs=EXACT)
    assert result.prediction == pytest.approx(model.decision_function(pd.DataFrame([row]))[0], abs=EXACT)
    assert result.baseline == pytest.approx(model.decision_function(X).mean(), abs=EXACT)
    assert abs(result.residual) < EXACT
    assert [c.feature for c in result.contributions][0] == "b"  # largest |contribution| first


def test_non_linear_models_are_not_taken_for_linear():
    from sklearn.ensemble import RandomForestClassifier

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, [0, 1, 0, 1])
    assert linear_form(forest) is None
    with pytest.raises(InvalidSpec, match="not a linear model"):
        explain(forest.predict_proba, {"a": 1.0, "b": 0.0}, X, ["a", "b"], raw_model=forest, method="linear")


def _exact_shapley(f, x: dict, z: dict, features: list[str]) -> dict[str, float]:
    """Shapley values of f at x against one background row z, by enumerating every coalition."""
    d = len(features)
    out = {}
    for name in features:
        others = [f_ for f_ in features if f_ != name]
        total = 0.0
        for size in range(d):
            for coalition in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                with_i = {k: (x[k] if k in coalition or k == name else z[k]) for k in features}
                without = {k: (x[k] if k in coalition else z[k]) for k in features}
                total += weight * (f(with_i) - f(without))
        out[name] = total
    return out


def test_sampling_converges_to_brute_force_shapley_and_is_additive():
    features = ["a", "b", "c", "d"]

    def f_row(r):  # interactions, so the order of switching matters
        return r["a"] * r["b"] + math.sin(r["c"]) * r["d"] + 0.5 * r["a"]

    def scores(frame):
        return np.array([f_row(r) for r in frame.to_dict("records")])

    x = {"a": 1.0, "b": 2.0, "c": 0.3, "d": -1.0}
    z = {"a": -1.0, "b": 0.5, "c": 2.0, "d": 1.5}
    background = pd.DataFrame([z])
    prediction, baseline, parts = explain_sampling(scores, pd.DataFrame([x]), background, features,
                                                   samples=2000, seed=3)
    truth = _exact_shapley(f_row, x, z, features)
    assert prediction == pytest.approx(f_row(x)) and baseline == pytest.approx(f_row(z))
    for name in features:
        assert parts[name] == pytest.approx(truth[name], abs=0.05)
    assert sum(parts.values()) == pytest.approx(prediction - baseline, abs=EXACT)


@pytest.fixture(scope="module")
def demo(seeded_home):
    """(registry, eval frame, train frame) of the seeded demo."""
    from backends.mlflow.registry import MlflowRegistry
    from console.config import default_registry_uri

    registry = MlflowRegistry(default_registry_uri(seeded_home))
    data = seeded_home / "data" / "credit-risk"
    return registry, pd.read_parquet(data / "eval.parquet"), pd.read_parquet(data / "train.parquet")


def test_demo_champion_is_explained_exactly(demo):
    from console.governance.explain_run import explanation_of
    from console.governance.model_data import load_model

    registry, evaluation, train = demo
    handle = load_model(registry, "models:/credit-risk@champion")
    pipeline = handle.raw_model()
    features = handle.features
    row = evaluation.iloc[4].to_dict()  # has a missing value or not: either way imputed as in training
    result = explanation_of(registry, handle.uri, row, handle=handle)
    assert result.method == "linear-exact" and result.space == "log-odds"
    assert abs(result.residual) < EXACT
    # The model's own probability is the sigmoid of the explained log-odds.
    score = np.asarray(handle.predict(pd.DataFrame([row])[features]))[0, -1]
    assert result.score == pytest.approx(score, abs=EXACT)
    assert 1 / (1 + math.exp(-result.prediction)) == pytest.approx(score, abs=EXACT)
    # Independently: for a model additive in its inputs, feature i's value is the mean change of the
    # decision function when i alone is switched from each background row to the row's value.
    from console.governance.explain import background_sample, row_frame

    background = background_sample(train, features)
    frame = row_frame(row, features, background)
    base = pipeline.decision_function(background)
    by_name = {c.feature: c.contribution for c in result.contributions}
    for name in features:
        switched = background.copy()
        switched[name] = frame[name].iloc[0]
        assert by_name[name] == pytest.approx(float(np.mean(pipeline.decision_function(switched) - base)), abs=1e-9)


def test_sampling_on_a_linear_model_agrees_with_the_exact_method(demo):
    """Against one background row, the permutation estimator is exact for an additive model: the
    two methods must give the same numbers in log-odds space."""
    from console.governance.explain import background_sample, explain_linear, row_frame
    from console.governance.model_data import load_model

    registry, evaluation, train = demo
    handle = load_model(registry, "models:/credit-risk@champion")
    features = handle.features
    background = background_sample(train, features).head(1)
    frame = row_frame(evaluation.iloc[10].to_dict(), features, background)
    _, _, exact, _, _ = explain_linear(handle.raw_model(), frame, background, features)
    _, _, sampled = explain_sampling(lambda b: np.asarray(handle.predict(b))[:, -1], frame, background,
                                     features, samples=8, link="logit")
    for name in features:
        assert sampled[name] == pytest.approx(exact[name], abs=1e-6)  # 1e-6: the logit of a rounded probability


def test_demo_challenger_is_sampled_and_additive(demo):
    from console.governance.explain_run import explanation_of

    registry, evaluation, _ = demo
    row = evaluation.iloc[0].to_dict()
    result = explanation_of(registry, "models:/credit-risk@challenger", row)
    assert result.method == "sampling-shap" and result.space == "probability" and result.samples == 1024
    assert abs(result.residual) < EXACT
    assert result.prediction == pytest.approx(result.score, abs=EXACT)
    again = explanation_of(registry, "models:/credit-risk@challenger", row)
    assert [c.contribution for c in again.contributions] == [c.contribution for c in result.contributions]
    assert "sex" not in {c.feature for c in result.contributions}  # only the model's inputs


def cli(home, *args):
    from console.config import default_registry_uri

    return main(["--home", str(home), "--registry", default_registry_uri(home), *args])


def test_cli_json_and_errors(seeded_home, demo, capsys):
    _, evaluation, _ = demo
    row = json.dumps(evaluation.iloc[0].to_dict(), default=str)
    assert cli(seeded_home, "explain", "credit-risk@champion", "--row", row, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "linear-exact" and abs(out["residual"]) < EXACT and len(out["contributions"]) == 12
    assert cli(seeded_home, "explain", "credit-risk@champion", "--row", row, "--top", "3") == 0
    text = capsys.readouterr().out
    assert "linear-exact, in log-odds space" in text and "(9 more," in text
    assert cli(seeded_home, "explain", "credit-risk@champion", "--row", '{"age": 41}') == 1
    err = capsys.readouterr().err
    assert "the row lacks the model's input(s) income" in err and "the model takes: age, income" in err
    assert cli(seeded_home, "explain", "credit-risk@champion", "--row", "[1, 2]") == 1
    assert "--row must be a JSON object" in capsys.readouterr().err
