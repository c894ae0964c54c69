"""A Seldon model class: the older predict(X, feature_names) signature, custom metrics and tags."""

import numpy as np


class RiskModel:
    def __init__(self, weight=1.0, bias=0.0):
        self.weight = weight
        self.bias = bias
        self.loaded = False
        self.calls = 0

    def load(self):
        self.loaded = True

    def predict(self, X, feature_names):
        self.calls += 1
        z = self.weight * np.asarray(X, dtype=float).sum(axis=1) + self.bias
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def class_names(self):
        return ["p_good", "p_bad"]

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "risk_model_requests", "value": 1},
            {"type": "GAUGE", "key": "risk_model_calls", "value": self.calls},
        ]

    def tags(self):
        return {"model_version": "risk-1"}
