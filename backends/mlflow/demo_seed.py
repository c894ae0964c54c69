"""Seed an MLflow registry with the demo workspace: real runs, datasets, models and aliases.

Trains small scikit-learn models on the synthetic data of console.data.demo_dataset and
logs them the way a careful team would (params, metrics with history, fairness rates,
dataset inputs, signature, input example), so every registry view has honest content.
Everything is seeded (fixed random_state), so two seedings give the same numbers.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from backends.mlflow.registry import _sqlite_path, quiet_mlflow_env

CREDIT_MODEL, FRAUD_MODEL = "credit-risk", "fraud-detector"
EXPERIMENTS = {CREDIT_MODEL: "credit-risk", FRAUD_MODEL: "fraud-detection"}
RANDOM_STATE = 7
THRESHOLD = 0.5  # p(positive) at or above which an application is declined / a payment flagged
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DemoSummary:
    """What seed_demo registered: versions per model, aliases, dataset files, time taken."""

    versions: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    datasets: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def models(self) -> list[str]:
        return list(self.versions)

    def describe(self) -> str:
        """e.g. 'credit-risk v1-v3 (champion=v1, challenger=v2), fraud-detector v1-v2 (champion=v2)'."""
        parts = []
        for name, versions in self.versions.items():
            span = f"v{versions[0]}-v{versions[-1]}" if len(versions) > 1 else f"v{versions[0]}"
            aliases = ", ".join(f"{a}=v{v}" for a, v in self.aliases.get(name, {}).items())
            parts.append(f"{name} {span}" + (f" ({aliases})" if aliases else ""))
        return ", ".join(parts)


@dataclass
class _Trained:
    """One fitted candidate, ready to log: the pipeline and what the run should record."""

    run_name: str
    family: str
    note: str
    pipeline: Any
    params: dict[str, Any]
    history: list[tuple[str, int, float]]  # (metric key, step, value)


def demo_exists(tracking_uri: str) -> bool:
    """True when the registry already holds the demo's `credit-risk` model."""
    db = _sqlite_path(tracking_uri)
    if db is not None and not db.exists():
        return False  # don't create an embedded store just to look into it
    quiet_mlflow_env()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return bool(client.search_registered_models(filter_string=f"name = '{CREDIT_MODEL}'"))


def seed_demo(tracking_uri: str, home: Path, progress: Callable[[str], None] = print) -> DemoSummary:
    """Write the demo datasets under home and register the demo models in tracking_uri."""
    started = time.monotonic()
    quiet_mlflow_env()
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    from console.data import demo_dataset as dd

    progress(f"writing demo datasets under {home / 'data'}")
    paths = dd.write_demo_datasets(home)
    db = _sqlite_path(tracking_uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        progress(f"preparing the registry store {db}")
    import pandas as pd
    from threadpoolctl import threadpool_limits

    summary = DemoSummary(datasets=paths)
    with _tracking_at(tracking_uri) as client, warnings.catch_warnings():
        # MLflow's hints (integer columns, ambiguous dataset source) are about data we control.
        warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
        commit = _git_commit()
        credit = {part: pd.read_parquet(paths[f"credit-risk-{part}"]) for part in ("train", "eval")}
        fraud = {part: pd.read_parquet(paths[f"fraud-{part}"]) for part in ("train", "eval")}
        specs = [
            (CREDIT_MODEL, "credit-risk", credit, dd.NUMERIC, dd.CATEGORICAL, dd.LABEL, dd.SENSITIVE,
             [_logistic, _boosting, _forest]),
            (FRAUD_MODEL, "fraud", fraud, dd.FRAUD_NUMERIC, dd.FRAUD_CATEGORICAL, dd.FRAUD_LABEL, [],
             # Few positives (about 4%): smaller, slower-learning trees generalise better.
             [_logistic, partial(_boosting, learning_rate=0.05, max_leaf_nodes=4, min_samples_leaf=150)]),
        ]
        schemas: dict[str, object] = {}
        for model, dataset, frames, numeric, categorical, label, sensitive, trainers in specs:
            exp_id = _experiment(client, EXPERIMENTS[model], home, tracking_uri)
            features, versions = numeric + categorical, []
            for train in trainers:
                t0 = time.monotonic()
                with threadpool_limits(1):  # OpenMP on busy cores can run 50x slower; one thread is steady
                    trained = train(frames["train"][features], frames["train"][label],
                                    frames["eval"][features], frames["eval"][label], numeric, categorical)
                version, metrics = _log_run(client, exp_id, model, dataset, trained, frames, paths,
                                            features, label, sensitive, commit, schemas)
                versions.append(version)
                progress(f"{model} v{version}: {trained.run_name}  roc_auc {metrics['roc_auc']:.3f}  "
                         f"({time.monotonic() - t0:.1f} s)")
            summary.versions[model] = versions
            summary.aliases[model] = _describe_model(client, model, versions)
    summary.seconds = time.monotonic() - started
    progress(f"registered {summary.describe()} in {summary.seconds:.1f} s")
    return summary


@contextmanager
def _tracking_at(uri: str) -> Iterator[Any]:
    """Point mlflow's fluent API at uri for the block, quietly, then put everything back."""
    import mlflow
    from mlflow.tracking import _tracking_service as ts
    from mlflow.tracking._model_registry import utils as reg
    from mlflow.utils.autologging_utils.logging_and_warnings import (
        MlflowEventsAndWarningsBehaviorGlobally as EventsAndWarnings,
    )

    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved = (ts.utils._tracking_uri, reg._registry_uri)
    # mlflow prints "Successfully registered…", "Created version…" straight to stderr: our
    # progress lines say it better, and a failure still raises. This is mlflow's own
    # reference-counted switch, so its inner uses cannot turn the messages back on.
    try:
        with EventsAndWarnings(disable_event_logs=True, disable_warnings=False, reroute_warnings=False):
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        ts.utils._tracking_uri, reg._registry_uri = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _experiment(client, name: str, home: Path, tracking_uri: str) -> str:
    """The experiment's id, created on first use; a sqlite store keeps its artifacts under home."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        if existing.lifecycle_stage == "deleted":
            client.restore_experiment(existing.experiment_id)
        return existing.experiment_id
    location = None
    if _sqlite_path(tracking_uri) is not None:
        # Without this MLflow writes artifacts to ./mlruns of whatever directory we run in.
        location = (home / "registry" / "artifacts" / name).as_uri()
    # An HTTP server keeps its own default artifact root.
    return client.create_experiment(name, artifact_location=location,
                                    tags={"mlflow.note.content": f"Demo workspace: {name} models."})


def _git_commit() -> str:
    """HEAD of this project's checkout, or '' when it is not a git checkout."""
    if not (REPO_ROOT / ".git").exists():
        return ""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else ""


# -- training -------------------------------------------------------------------------


def _preprocess(numeric: list[str], categorical: list[str], *, for_trees: bool):
    """Impute + scale + one-hot for linear models; ordinal codes for trees, which split on NaN natively."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if for_trees:
        cat = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan)
        num = "passthrough"
    else:
        cat = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                            OneHotEncoder(handle_unknown="ignore"))
        num = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    return ColumnTransformer([("num", num, numeric), ("cat", cat, categorical)])


def _picked(estimator, keys: list[str]) -> dict[str, Any]:
    params = estimator.get_params()
    return {k: params[k] for k in keys}


def _logistic(X, y, X_eval, y_eval, numeric, categorical) -> _Trained:
    """Logistic regression; its history is the 5-fold cross-validated ROC AUC, step = fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline

    # newton-cholesky: exact and fast when rows far outnumber the one-hot columns.
    clf = LogisticRegression(C=0.5, solver="newton-cholesky", max_iter=200)
    pipe = Pipeline([("prep", _preprocess(numeric, categorical, for_trees=False)), ("model", clf)])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=RANDOM_STATE)
    scores = cross_val_score(pipe, X, y, cv=folds, scoring="roc_auc")
    pipe.fit(X, y)
    return _Trained("logistic-regression", "linear",
                    "Logistic regression on median-imputed, standardised numerics and one-hot "
                    "categoricals. Interpretable baseline; coefficients read as log-odds.",
                    pipe, {**_picked(clf, ["C", "solver", "max_iter"]), "cv_folds": 5},
                    [("cv_roc_auc", i, float(s)) for i, s in enumerate(scores, 1)])


def _boosting(X, y, X_eval, y_eval, numeric, categorical, **hyper) -> _Trained:
    """Histogram gradient boosting; its history is the train/eval log-loss per boosting iteration."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss
    from sklearn.pipeline import Pipeline

    hyper = {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 7, "min_samples_leaf": 100,
             "l2_regularization": 1.0, **hyper}
    is_cat = [False] * len(numeric) + [True] * len(categorical)
    clf = HistGradientBoostingClassifier(**hyper, categorical_features=is_cat, early_stopping=False,
                                         random_state=RANDOM_STATE)
    pipe = Pipeline([("prep", _preprocess(numeric, categorical, for_trees=True)), ("model", clf)])
    pipe.fit(X, y)
    prep = pipe[:-1]
    history = []
    # The train curve on a fixed slice as large as the eval split: same noise level, half the time.
    n = len(X_eval)
    for key, frame, target in (("train_log_loss", X.iloc[:n], y.iloc[:n]), ("eval_log_loss", X_eval, y_eval)):
        staged = clf.staged_predict_proba(prep.transform(frame))
        history += [(key, i, float(log_loss(target, p))) for i, p in enumerate(staged, 1)]
    return _Trained("gradient-boosting", "gradient-boosted-trees",
                    "Histogram gradient boosting with native categorical splits and missing-value "
                    f"handling; {hyper['max_iter']} iterations of trees with at most "
                    f"{hyper['max_leaf_nodes']} leaves, L2-regularised.",
                    pipe, _picked(clf, list(hyper)), history)


def _forest(X, y, X_eval, y_eval, numeric, categorical) -> _Trained:
    """Random forest grown 10 trees at a time; its history is eval ROC AUC / log-loss by tree count."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import Pipeline

    prep = _preprocess(numeric, categorical, for_trees=True).fit(X, y)
    Xt, Xe = prep.transform(X), prep.transform(X_eval)
    clf = RandomForestClassifier(n_estimators=10, max_depth=10, min_samples_leaf=20, max_features="sqrt",
                                 warm_start=True, n_jobs=2, random_state=RANDOM_STATE)
    history = []
    for trees in range(10, 101, 10):
        clf.set_params(n_estimators=trees).fit(Xt, y)
        p = clf.predict_proba(Xe)[:, 1]
        history += [("eval_roc_auc", trees, float(roc_auc_score(y_eval, p))),
                    ("eval_log_loss", trees, float(log_loss(y_eval, p)))]
    clf.set_params(warm_start=False)
    pipe = Pipeline([("prep", prep), ("model", clf)])
    return _Trained("random-forest", "bagged-trees",
                    "Random forest of 100 depth-limited trees on ordinal-coded categoricals; "
                    "a variance-reduction alternative to boosting.",
                    pipe, _picked(clf, ["n_estimators", "max_depth", "min_samples_leaf", "max_features"]),
                    history)


def _evaluate(y, proba, groups) -> dict[str, float]:
    """Quality at THRESHOLD, and per-group approval / true- / false-positive rates."""
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y)
    pred = (proba >= THRESHOLD).astype(int)
    out = {
        "accuracy": m.accuracy_score(y, pred), "roc_auc": m.roc_auc_score(y, proba),
        "average_precision": m.average_precision_score(y, proba),
        "precision": m.precision_score(y, pred, zero_division=0), "recall": m.recall_score(y, pred),
        "f1": m.f1_score(y, pred), "log_loss": m.log_loss(y, proba),
    }
    for attr in groups.columns:
        approval, tpr = {}, {}
        for group, idx in sorted(groups.groupby(attr).indices.items()):
            yg, pg = y[idx], pred[idx]
            approval[group] = 1.0 - pg.mean()  # approved = predicted not to default
            tpr[group] = pg[yg == 1].mean() if (yg == 1).any() else 0.0
            out[f"approval_rate_{attr}_{group}"] = approval[group]
            out[f"tpr_{attr}_{group}"] = tpr[group]
            out[f"fpr_{attr}_{group}"] = pg[yg == 0].mean() if (yg == 0).any() else 0.0
        out[f"demographic_parity_diff_{attr}"] = max(approval.values()) - min(approval.values())
        out[f"equal_opportunity_diff_{attr}"] = max(tpr.values()) - min(tpr.values())
    return {k: round(float(v), 6) for k, v in out.items()}


def _confusion(y, proba) -> dict[str, Any]:
    """Counts at THRESHOLD, labelled, for a human reading the artifact."""
    import numpy as np

    y, pred = np.asarray(y), (proba >= THRESHOLD).astype(int)
    return {"threshold": THRESHOLD, "true_negative": int(((y == 0) & (pred == 0)).sum()),
            "false_positive": int(((y == 0) & (pred == 1)).sum()),
            "false_negative": int(((y == 1) & (pred == 0)).sum()),
            "true_positive": int(((y == 1) & (pred == 1)).sum())}


# -- logging --------------------------------------------------------------------------


def _log_run(client, exp_id: str, model: str, dataset: str, trained: _Trained, frames, paths,
             features: list[str], label: str, sensitive: list[str], commit: str,
             schemas: dict[str, object]) -> tuple[str, dict]:
    """One MLflow run for a trained candidate, its model registered as a new version of `model`."""
    import mlflow
    import mlflow.sklearn
    from mlflow.entities import Metric
    from mlflow.models import infer_signature

    train, evaluation = frames["train"], frames["eval"]
    proba = trained.pipeline.predict_proba(evaluation[features])[:, 1]
    metrics = _evaluate(evaluation[label], proba, evaluation[sensitive])
    tags = {"mlflow.note.content": trained.note, "model_family": trained.family,
            "mlflow.source.name": "backends/mlflow/demo_seed.py", "mlflow.source.type": "LOCAL",
            "mlconsole.demo": "true"}
    if commit:
        tags["mlflow.source.git.commit"] = commit
    params = {**trained.params, "decision_threshold": THRESHOLD, "random_state": RANDOM_STATE,
              "n_features": len(features), "n_train_rows": len(train), "n_eval_rows": len(evaluation)}
    with mlflow.start_run(experiment_id=exp_id, run_name=trained.run_name, tags=tags) as run:
        run_id = run.info.run_id
        if not commit and "mlflow.source.git.commit" in client.get_run(run_id).data.tags:
            # mlflow guesses a commit from the entry script's repo; only ours is true here.
            client.delete_tag(run_id, "mlflow.source.git.commit")
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        now = int(time.time() * 1000)
        history = [Metric(k, v, now, step) for k, step, v in trained.history]
        for start in range(0, len(history), 1000):  # the REST API takes at most 1000 per batch
            client.log_batch(run_id, metrics=history[start:start + 1000])
        for part, context in (("train", "training"), ("eval", "evaluation")):
            path = paths[f"{dataset}-{part}"]
            ds = mlflow.data.from_pandas(frames[part], source=str(path), name=f"{dataset}-{part}",
                                         targets=label)
            # Each candidate logs the same frames: MLflow infers a dataset's schema value by value
            # (about half a second per frame), so infer it once and hand it to the later datasets.
            if f"{dataset}-{part}" in schemas:
                ds.__dict__["schema"] = schemas[f"{dataset}-{part}"]  # the cached_property's slot
            else:
                schemas[f"{dataset}-{part}"] = ds.schema
            mlflow.log_input(ds, context=context)
        # Run-level artifacts (MLflow 3 keeps the model itself under the logged model).
        mlflow.log_dict(_confusion(evaluation[label], proba), "evaluation/confusion_matrix.json")
        mlflow.log_dict(metrics, "evaluation/metrics.json")
        sample = train[features].head(2000)
        # The served output is p(class 1) and p(class 0) per row (predict_proba): a score, not a label.
        signature = infer_signature(sample, trained.pipeline.predict_proba(sample))
        info = mlflow.sklearn.log_model(
            trained.pipeline, name="model", signature=signature,
            input_example=train[features].dropna().head(3), registered_model_name=model,
            pyfunc_predict_fn="predict_proba", pip_requirements=_requirements(),
            skops_trusted_types=_trusted_types(trained.pipeline),
        )
    version = str(info.registered_model_version)
    client.update_model_version(model, version, description=f"{trained.run_name}: {trained.note} "
                                f"Eval ROC AUC {metrics['roc_auc']:.3f}, log-loss {metrics['log_loss']:.3f}.")
    client.set_model_version_tag(model, version, "model_family", trained.family)
    return version, metrics


# skops, MLflow's safe default format, loads only types it knows or is told to trust. These
# are the ones our pipelines hold, reviewed: a model needing anything else fails loudly.
SKOPS_REVIEWED = {
    "numpy.dtype",  # OrdinalEncoder's output dtype
    "sklearn.tree._tree.Tree",  # random forest trees
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "functools.partial", "sklearn.utils.validation.check_array",  # HGB's categorical preprocessor
}


def _trusted_types(pipeline) -> list[str]:
    """The reviewed types this pipeline needs trusted on load (MLflow records them in MLmodel)."""
    import skops.io

    needed = set(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    if needed - SKOPS_REVIEWED:
        raise RuntimeError(f"model holds unreviewed types {sorted(needed - SKOPS_REVIEWED)}")
    return sorted(needed)


def _requirements() -> list[str]:
    """Pinned from the running interpreter; spares MLflow a slow requirement-inference subprocess."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in
            ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")]


MODEL_CARDS = {
    CREDIT_MODEL: ("Probability that a consumer-loan applicant defaults within 12 months. Trained on "
                   "synthetic applications; sex and age_band are kept out of the features and used "
                   "only to report per-group approval and error rates.",
                   {"owner": "risk-analytics", "domain": "lending", "data_classification": "synthetic"},
                   {"champion": 0, "challenger": 1}),
    FRAUD_MODEL: ("Probability that a card transaction is fraudulent (about 4% are). Trained on "
                  "synthetic transactions.",
                  {"owner": "payments-security", "domain": "payments", "data_classification": "synthetic"},
                  {"champion": 1}),
}


def _describe_model(client, model: str, versions: list[str]) -> dict[str, str]:
    """Description, tags and aliases of a demo model; aliases point at this seeding's versions."""
    description, tags, aliases = MODEL_CARDS[model]
    client.update_registered_model(model, description=description)
    for key, value in tags.items():
        client.set_registered_model_tag(model, key, value)
    out = {}
    for alias, index in aliases.items():
        client.set_registered_model_alias(model, alias, versions[index])
        out[alias] = versions[index]
    return out
