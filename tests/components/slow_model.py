"""RiskModel that takes `delay_ms` longer per call: a version that is measurably slower, for A/B tests."""

import time

from tests.components.risk_model import RiskModel


class SlowRiskModel(RiskModel):
    def __init__(self, weight=1.0, bias=0.0, delay_ms=0.0):
        super().__init__(weight, bias)
        self.delay = float(delay_ms) / 1000.0

    def predict(self, X, feature_names):
        time.sleep(self.delay)
        return super().predict(X, feature_names)
