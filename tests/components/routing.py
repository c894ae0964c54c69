"""A Seldon router that sends small first features left and large ones right, and learns nothing
but remembers the feedback it was given (so tests can see what Seldon would have sent it)."""


class ThresholdRouter:
    def __init__(self, threshold=0.0):
        self.threshold = threshold
        self.feedback = []

    def route(self, features, feature_names):
        return 0 if float(features[0][0]) < self.threshold else 1

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        self.feedback.append((reward, routing))
        return []


class MaxCombiner:
    def aggregate(self, features_list, feature_names_list):
        import numpy as np

        return np.max(np.stack([np.asarray(f, dtype=float) for f in features_list]), axis=0)


class RawEcho:
    """Uses Seldon's raw interface: whole messages in and out."""

    def predict_raw(self, msg):
        rows = msg["data"]["ndarray"]
        return {"data": {"names": ["n"], "ndarray": [[len(r)] for r in rows]},
                "meta": {"tags": {"raw": True}}}


class Broken:
    def predict(self, X, features_names, **kwargs):
        raise RuntimeError("model file is corrupt")
