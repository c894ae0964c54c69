"""A Seldon model class that cannot start: its weights are missing (for crash-loop tests)."""


class CrashOnLoad:
    def __init__(self, path="/models/missing-weights.bin"):
        print(f"loading weights from {path}", flush=True)
        raise RuntimeError(f"cannot load model weights from {path}")

    def predict(self, X, feature_names):
        return X
