"""Deterministic synthetic tabular data for the demo workspace: credit risk and card fraud.

Nothing here is real data. The generators draw from fixed seeds so every machine gets
the same rows, and the labels come from a plausible logistic model of the features plus
noise, so trained models score like real ones (ROC AUC well short of 1) and fairness
metrics see a mild, realistic disparity: women and young applicants earn less on
average here, and income drives default risk.

numpy and pandas are imported inside the functions: `import console.cli` must stay light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

KEY = "applicant_id"
LABEL = "default"
NUMERIC = [
    "age", "income", "loan_amount", "loan_term_months", "credit_history_years",
    "debt_to_income", "num_open_accounts", "num_late_payments",
]
CATEGORICAL = ["employment_type", "home_ownership", "loan_purpose", "region"]
FEATURES = NUMERIC + CATEGORICAL
# Kept out of FEATURES on purpose: the models never see them, the fairness metrics do.
SENSITIVE = ["sex", "age_band"]
AGE_BANDS = ["18-25", "26-35", "36-50", "51-65", "66-75"]

FRAUD_KEY = "transaction_id"
FRAUD_LABEL = "is_fraud"
FRAUD_NUMERIC = ["amount", "hour", "distance_from_home_km", "num_tx_last_24h",
                 "account_age_days", "card_present"]
FRAUD_CATEGORICAL = ["merchant_category", "channel"]
FRAUD_FEATURES = FRAUD_NUMERIC + FRAUD_CATEGORICAL

CREDIT_ROWS, FRAUD_ROWS, SEED = 24_000, 8_000, 7
EVAL_FRACTION = 0.2


def _sigmoid(x):
    import numpy as np

    return 1.0 / (1.0 + np.exp(-x))


def _calibrated_intercept(logit_wo_intercept, base_rate: float) -> float:
    """Bisect the intercept so the mean default probability hits base_rate (deterministic)."""
    lo, hi = -15.0, 15.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(logit_wo_intercept + mid).mean() < base_rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _with_missing(rng, values, fraction: float):
    """A copy of values with about `fraction` of the entries blanked (NaN / None)."""
    import numpy as np

    mask = rng.random(len(values)) < fraction
    out = values.astype(object) if values.dtype.kind in "OUS" else values.astype(float)
    out[mask] = None if out.dtype == object else np.nan
    return out


def make_credit_risk(n_rows: int = CREDIT_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Loan applications with a binary `default` label; the same rows for the same arguments."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = n_rows
    sex = rng.choice(["F", "M"], size=n, p=[0.47, 0.53])
    age = np.clip(np.round(18 + rng.gamma(shape=3.2, scale=6.5, size=n)), 18, 75).astype(np.int64)
    age_band = pd.cut(age, bins=[17, 25, 35, 50, 65, 75], labels=AGE_BANDS).astype(str)

    # Women hold contract jobs more often here: a second, indirect route to disparity.
    working = np.where(
        sex == "F",
        rng.choice(["salaried", "self-employed", "contract", "unemployed"], size=n, p=[0.6, 0.11, 0.22, 0.07]),
        rng.choice(["salaried", "self-employed", "contract", "unemployed"], size=n, p=[0.7, 0.15, 0.1, 0.05]),
    )
    employment = np.where(
        age >= 63, rng.choice(["retired", "salaried", "self-employed"], size=n, p=[0.7, 0.2, 0.1]), working)
    # Income peaks mid-career; the gender gap (about 14%) is the source of the disparity.
    career = -((age - 48) / 18.0) ** 2
    emp_effect = pd.Series(employment).map({"salaried": 0.0, "self-employed": 0.1, "contract": -0.15,
                                            "unemployed": -0.9, "retired": -0.35}).to_numpy()
    log_income = 10.75 + 0.35 * career + emp_effect - 0.15 * (sex == "F") + rng.normal(0, 0.42, n)
    income = np.round(np.exp(log_income), -2)

    home = np.where(age < 27, rng.choice(["rent", "other", "mortgage"], size=n, p=[0.75, 0.15, 0.10]),
                    rng.choice(["rent", "mortgage", "own", "other"], size=n, p=[0.33, 0.42, 0.22, 0.03]))
    purpose = rng.choice(["debt_consolidation", "home_improvement", "car", "education", "medical",
                          "small_business", "other"], size=n,
                         p=[0.34, 0.16, 0.18, 0.08, 0.07, 0.07, 0.10])
    region = rng.choice(["north", "south", "east", "west", "central"], size=n,
                        p=[0.22, 0.24, 0.18, 0.2, 0.16])
    loan_amount = np.clip(np.round(income * rng.lognormal(-1.4, 0.55, n), -1), 500, 60_000)
    term = np.where(loan_amount > 15_000, rng.choice([36, 48, 60], size=n, p=[0.3, 0.3, 0.4]),
                    rng.choice([12, 24, 36, 48], size=n, p=[0.25, 0.35, 0.3, 0.1])).astype(np.int64)
    history = np.round(np.minimum(age - 18, rng.gamma(2.2, 4.0, n)), 1)
    dti = np.round(np.clip(rng.beta(2.2, 6.0, n) + 0.05 * (loan_amount / income), 0.0, 0.95), 3)
    accounts = (rng.poisson(2.5, n) + (history > 5) + (history > 12)).astype(np.int64)
    late = rng.poisson(0.25 + 0.9 * dti + 0.3 * (employment == "unemployed"), n).astype(np.int64)

    z = lambda v: (v - v.mean()) / v.std()  # noqa: E731 — local standardiser
    # Mostly additive, with the thresholds and interactions real credit data has, so
    # tree ensembles have something to find that a linear model misses.
    logit = (
        0.3 * z(dti) + 1.3 * (dti > 0.45) + 0.25 * late + 1.0 * (late >= 3)
        - 0.45 * z(log_income) + 0.2 * z(loan_amount / income) + 0.8 * (loan_amount > 0.6 * income)
        - 0.3 * z(np.log1p(history)) + 0.8 * ((age < 26) & (history < 2)) + 0.05 * (term >= 48)
        + 0.9 * ((employment == "self-employed") & (purpose == "small_business"))
        + 0.6 * ((dti > 0.35) & (log_income < 10.2))
        + pd.Series(employment).map({"salaried": 0.0, "self-employed": 0.3, "contract": 0.25,
                                     "unemployed": 0.9, "retired": 0.1}).to_numpy()
        + pd.Series(purpose).map({"small_business": 0.45, "education": 0.2, "medical": 0.25}
                                 ).fillna(0.0).to_numpy()
        + 0.2 * (home == "rent") - 0.15 * (home == "own") + 0.1 * (region == "south")
        + rng.normal(0, 0.6, n)  # what no feature explains
    )
    logit = logit + _calibrated_intercept(logit, base_rate=0.2)
    default = (rng.random(n) < _sigmoid(logit)).astype(np.int64)

    return pd.DataFrame({
        KEY: [f"APP-{i:06d}" for i in range(1, n + 1)],
        "age": age,
        "income": _with_missing(rng, income, 0.03),
        "loan_amount": loan_amount,
        "loan_term_months": term,
        "credit_history_years": _with_missing(rng, history, 0.04),
        "debt_to_income": dti,
        "num_open_accounts": accounts,
        "num_late_payments": late,
        "employment_type": pd.array(_with_missing(rng, employment, 0.025), dtype="str"),
        "home_ownership": pd.array(home, dtype="str"),
        "loan_purpose": pd.array(purpose, dtype="str"),
        "region": pd.array(region, dtype="str"),
        "sex": pd.array(sex, dtype="str"),
        "age_band": pd.array(age_band, dtype="str"),
        LABEL: default,
    })


def make_fraud(n_rows: int = FRAUD_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Card transactions with a rare `is_fraud` label (about 4%), for the second demo model."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed + 1000)
    n = n_rows
    category = rng.choice(["grocery", "fuel", "electronics", "travel", "restaurants", "online_services",
                           "jewelry"], size=n, p=[0.3, 0.14, 0.1, 0.08, 0.2, 0.14, 0.04])
    channel = rng.choice(["pos", "online", "atm"], size=n, p=[0.55, 0.38, 0.07])
    card_present = ((channel != "online") & (rng.random(n) < 0.97)).astype(np.int64)
    amount = np.round(rng.lognormal(3.4, 1.1, n), 2)
    hour = rng.choice(24, size=n, p=_hour_profile()).astype(np.int64)
    distance = np.round(rng.lognormal(1.6, 1.2, n), 1)
    tx_24h = rng.poisson(2.0, n).astype(np.int64)
    account_age = rng.integers(5, 4000, n).astype(np.int64)

    logit = (
        0.9 * (np.log(amount) - 3.4) + 0.8 * (channel == "online") - 0.7 * card_present
        + 0.6 * np.log1p(distance / 20) + 0.25 * tx_24h + 0.7 * ((hour < 5) | (hour > 22))
        + 0.9 * np.isin(category, ["electronics", "jewelry"]) - 0.9 * (account_age > 365)
        + rng.normal(0, 0.8, n)
    )
    logit = logit + _calibrated_intercept(logit, base_rate=0.04)
    return pd.DataFrame({
        FRAUD_KEY: [f"TX-{i:07d}" for i in range(1, n + 1)],
        "amount": amount,
        "hour": hour,
        "distance_from_home_km": distance,
        "num_tx_last_24h": tx_24h,
        "account_age_days": account_age,
        "card_present": card_present,
        "merchant_category": pd.array(category, dtype="str"),
        "channel": pd.array(channel, dtype="str"),
        FRAUD_LABEL: (rng.random(n) < _sigmoid(logit)).astype(np.int64),
    })


def _hour_profile():
    import numpy as np

    weights = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 4, 4.2, 4.5,
                        5, 4.8, 4.5, 4.4, 4.6, 5, 5.2, 4.8, 4, 3, 2, 1.4])
    return weights / weights.sum()


def split(df: pd.DataFrame, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fixed shuffled train/evaluation split (80/20)."""
    import numpy as np

    order = np.random.default_rng(seed + 1).permutation(len(df))
    cut = int(round(len(df) * (1 - EVAL_FRACTION)))
    train, evaluation = df.iloc[np.sort(order[:cut])], df.iloc[np.sort(order[cut:])]
    return train.reset_index(drop=True), evaluation.reset_index(drop=True)


def write_demo_datasets(home: Path) -> dict[str, Path]:
    """Write both datasets' train/eval splits as Parquet under home/data; name -> path."""
    out: dict[str, Path] = {}
    for folder, frame in (("credit-risk", make_credit_risk()), ("fraud", make_fraud())):
        target = home / "data" / folder
        target.mkdir(parents=True, exist_ok=True)
        train, evaluation = split(frame)
        for part, df in (("train", train), ("eval", evaluation)):
            path = target / f"{part}.parquet"
            df.to_parquet(path, index=False)
            out[f"{folder}-{part}"] = path
    return out
