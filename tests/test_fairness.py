"""Fairness figures: our implementation against fairlearn's on the demo data, edge cases, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from console.cli import main
from console.errors import InvalidSpec
from console.governance.fairness import MISSING_GROUP, fairness_from_predictions, guess_roles

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def demo_predictions(seeded_home):
    """(eval frame, {version: 0/1 predictions at 0.5}) of every credit-risk version in the demo."""
    from backends.mlflow.registry import MlflowRegistry
    from console.config import default_registry_uri
    from console.governance.model_data import load_model

    registry = MlflowRegistry(default_registry_uri(seeded_home))
    frame = pd.read_parquet(seeded_home / "data" / "credit-risk" / "eval.parquet")
    out = {}
    for version in registry.list_versions("credit-risk"):
        handle = load_model(registry, f"models:/credit-risk/{version.version}")
        scores = np.asarray(handle.predict(frame[handle.features]))[:, -1]
        out[version.version] = (scores >= 0.5).astype(int)
    return frame, out


@pytest.mark.parametrize("attribute", ["sex", "age_band"])
def test_matches_fairlearn_on_the_demo(demo_predictions, attribute):
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    frame, predictions = demo_predictions
    assert len(predictions) == 3
    worst = 0.0
    for pred in predictions.values():
        y, groups = frame["default"].to_numpy(), frame[attribute]
        ours = fairness_from_predictions(y, pred, groups.to_numpy(dtype=object), sensitive=attribute,
                                         label="default")
        mf = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                  "fpr": false_positive_rate, "accuracy": accuracy_score, "count": count},
                         y_true=y, y_pred=pred, sensitive_features=groups)
        by_group = mf.by_group
        assert [g.group for g in ours.groups] == [str(g) for g in by_group.index]
        for g in ours.groups:
            theirs = by_group.loc[g.group]
            assert g.count == theirs["count"]
            for ours_value, key in ((g.selection_rate, "selection_rate"), (g.tpr, "tpr"), (g.fpr, "fpr"),
                                    (g.accuracy, "accuracy")):
                worst = max(worst, abs(ours_value - theirs[key]))
        for ours_value, key in ((ours.overall.selection_rate, "selection_rate"), (ours.overall.tpr, "tpr"),
                                (ours.overall.fpr, "fpr"), (ours.overall.accuracy, "accuracy")):
            worst = max(worst, abs(ours_value - mf.overall[key]))
        dp = demographic_parity_difference(y, pred, sensitive_features=groups)
        eo = equalized_odds_difference(y, pred, sensitive_features=groups)
        worst = max(worst, abs(ours.demographic_parity_difference - dp), abs(ours.equalized_odds_difference - eo))
        assert ours.demographic_parity_difference > 0  # the demo's disparity is mild, never absent
    assert worst <= TOLERANCE, worst


def test_rates_by_hand_and_undefined_rates_left_out():
    y = [1, 0, 1, 0, 0, 0, 1]
    pred = [1, 1, 0, 0, 1, 0, 1]
    groups = ["a", "a", "a", "a", "b", "b", None]
    report = fairness_from_predictions(y, pred, groups, sensitive="g", label="y")
    a, b, missing = report.groups
    assert (a.group, a.count, a.positives, a.selected) == ("a", 4, 2, 2)
    assert a.selection_rate == 0.5 and a.tpr == 0.5 and a.fpr == 0.5 and a.accuracy == 0.5
    assert b.group == "b" and b.tpr is None and b.fpr == 0.5  # no positives: TPR undefined, not 0
    assert missing.group == MISSING_GROUP and missing.fpr is None and missing.tpr == 1.0
    assert report.demographic_parity_difference == pytest.approx(1.0 - 0.5)
    assert report.equalized_odds_difference == pytest.approx(0.5)  # TPR 0.5..1.0; FPR 0.5..0.5


def test_labels_must_be_binary():
    with pytest.raises(InvalidSpec, match="'y' is not binary 0/1"):
        fairness_from_predictions([0, 2], [0, 1], ["a", "b"], sensitive="g", label="y")
    with pytest.raises(InvalidSpec, match="missing values"):
        fairness_from_predictions([0, float("nan")], [0, 1], ["a", "b"], sensitive="g", label="y")


def test_guess_roles_on_the_demo_columns():
    columns = {"age": [30, 40], "income": [1.0, 2.0], "applicant_id": [f"A{i}" for i in range(50)],
               "sex": ["F", "M"], "age_band": ["18-25", "26-35"], "default": [0, 1]}
    label, sensitive = guess_roles(columns, ["age", "income"], ["demographic_parity_diff_age_band", "roc_auc"])
    assert label == "default"
    assert sensitive == ["age_band", "sex"]  # the one the run's metrics name first; the id is no group


def cli(home, *args):
    """main() in-process; --registry given because loading a model leaves MLFLOW_TRACKING_URI set
    in this process's environment (mlflow.set_tracking_uri writes it), which a second main() would read."""
    from console.config import default_registry_uri

    return main(["--home", str(home), "--registry", default_registry_uri(home), *args])


def test_cli_json_and_table(seeded_home, capsys):
    data = seeded_home / "data" / "credit-risk" / "eval.parquet"
    code = cli(seeded_home, "fairness", "models:/credit-risk@champion", "--data", str(data),
                 "--label", "default", "--sensitive", "sex", "--json")
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    (report,) = out["reports"]
    assert report["sensitive"] == "sex" and [g["group"] for g in report["groups"]] == ["F", "M"]
    assert report["overall"]["count"] == 4800
    assert 0 < report["demographic_parity_difference"] < 0.2
    # Without --data/--label/--sensitive: the run's logged evaluation set, both attributes guessed.
    assert cli(seeded_home, "fairness", "credit-risk@champion") == 0
    text = capsys.readouterr().out
    assert "label 'default'" in text and "sensitive attribute: sex" in text and "sensitive attribute: age_band" in text
    assert "demographic parity difference" in text


@pytest.mark.parametrize("flag,value,role", [("--sensitive", "gender", "sensitive"), ("--label", "defaulted", "label")])
def test_cli_missing_column_names_it_and_the_columns_there_are(seeded_home, capsys, flag, value, role):
    data = seeded_home / "data" / "credit-risk" / "eval.parquet"
    args = {"--label": "default", "--sensitive": "sex", flag: value}
    code = cli(seeded_home, "fairness", "models:/credit-risk@champion", "--data", str(data),
               *[x for pair in args.items() for x in pair])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{role} column '{value}' is not in {data}" in err
    assert "its columns: " in err and "age_band" in err and "default" in err
