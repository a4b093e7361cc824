"""Purchase probabilities for recommendations, fitted on the validation window."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression


class IsotonicCalibrator:
    """Monotone map from the model's log-softmax over the catalogue to P(bought in the window).

    The input is the log-softmax rather than the raw score because it means the same thing
    (the model's share of the customer's next purchase) for every fit of the network, so a
    calibrator fitted for the evaluated model also serves the model refit on all data.
    """

    def __init__(self) -> None:
        self._isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        self.fitted = False

    def fit(self, log_softmax: np.ndarray, outcome: np.ndarray) -> IsotonicCalibrator:
        log_softmax = np.asarray(log_softmax, dtype="float64")
        outcome = np.asarray(outcome, dtype="float64")
        if log_softmax.size == 0:
            raise ValueError("no validation recommendations to calibrate on")
        self._isotonic.fit(log_softmax, outcome)
        self.fitted = True
        return self

    def predict(self, log_softmax: np.ndarray) -> np.ndarray:
        if not self.fitted:
            raise ValueError("the calibrator has not been fitted")
        return np.clip(self._isotonic.predict(np.asarray(log_softmax, dtype="float64")), 0.0, 1.0)


def label_recommendations(ranked: pd.DataFrame, held_out: pd.DataFrame) -> np.ndarray:
    """1.0 where the recommended (customer, product) was bought in the window, else 0.0."""
    bought = pd.MultiIndex.from_frame(held_out[["customer_unique_id", "product_id"]])
    return pd.MultiIndex.from_frame(ranked[["customer_unique_id", "product_id"]]).isin(bought).astype("float64")
