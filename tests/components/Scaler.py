"""A Seldon input transformer: standardise numeric features (module named like its class)."""

import logging

import numpy as np

logger = logging.getLogger(__name__)


class Scaler:
    def __init__(self, offset=0.0, factor=1.0):
        logger.info("Scaler offset=%s factor=%s", offset, factor)
        self.offset = offset
        self.factor = factor

    def transform_input(self, X, features_names, **kwargs):
        return (np.asarray(X, dtype=float) - self.offset) * self.factor

    def tags(self):
        return {"scaler": "v1"}
