"""The final ranker: logistic regression over text scores and other features, stored as JSON.

Saved as plain numbers (``ranker.json``: feature names, scaling, coefficients), never pickled,
so loading a ranker from a user's folder cannot run code. Its linear form also makes the score
breakdown exact: each feature's contribution to the logit is ``coef * standardised value``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shared.errors import VerticalsError

from .features import FEATURES, TEXT_FEATURES

FILE = "ranker.json"


@dataclass
class Ranker:
    """``P(take) = sigmoid(intercept + sum(coef * (x - mean) / scale))``."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.contributions(x).sum(axis=1) + self.intercept

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for an ``(n, len(features))`` matrix."""
        return 1.0 / (1.0 + np.exp(-self.logits(x)))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """``(n, n_features)`` additive logit contributions (the score breakdown)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise VerticalsError(f"ranker expects {len(self.features)} features "
                                 f"({', '.join(self.features)}), got shape {x.shape}")
        return (x - np.array(self.mean)) / np.array(self.scale) * np.array(self.coef)

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(text part, other part) of each logit; the intercept is the rest of it, the baseline:
        the logit of an average candidate (every feature at its training mean adds 0), so
        ``intercept + text + other == logits(x)``."""
        parts = self.contributions(x)
        text = np.array([f in TEXT_FEATURES for f in self.features])
        return parts[:, text].sum(axis=1), parts[:, ~text].sum(axis=1)

    def weight(self, feature: str) -> float:
        """The feature's coefficient; 0 for a feature this ranker does not use."""
        return self.coef[self.features.index(feature)] if feature in self.features else 0.0

    def save(self, folder: str | Path) -> None:
        (Path(folder) / FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> Ranker:
        path = Path(folder) / FILE
        if not path.exists():
            raise VerticalsError(f"{path}: no ranker here — train one with "
                                 "`verticals recommend train`")
        return cls(**json.loads(path.read_text()))


def fit_ranker(x: np.ndarray, y: Sequence[int], features: Sequence[str] = FEATURES,
               c: float = 1.0) -> Ranker:
    """Fit a standardised, L2-regularised logistic regression (scikit-learn's objective:
    ``c * log-loss + |w|^2 / 2``, intercept unpenalised) whose text features weigh at least 0;
    needs both labels in ``y``.

    subtle: more interest as the text models read it never lowers P(take). Unconstrained, the
    demo's ranker, fitted on a few dozen validation rows, gave the bi-encoder a negative weight,
    and the dashboard explained a top item by "text interest: -0.3". Where the data give them
    positive weights (the last MovieLens fits on record: cross-encoder 0.155-0.157) the bound is not
    reached and the fit is scikit-learn's.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape != (len(y), len(features)):
        raise VerticalsError(f"the ranker got features of shape {x.shape} for {len(y)} labels and "
                             f"{len(features)} feature names")
    if not np.isfinite(x).all():
        raise VerticalsError("the ranker got a missing or infinite feature value; check the items "
                             "and interactions files for empty fields")
    if set(y.tolist()) != {0.0, 1.0}:
        raise VerticalsError("the ranker needs both taken (1) and not-taken (0) examples, and no "
                             "other label, in the validation period — add interactions or widen the split")
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    z = (x - mean) / scale

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, logit = params[:-1], z @ params[:-1] + params[-1]
        residual = expit(logit) - y
        value = c * float((np.logaddexp(0.0, logit) - y * logit).sum()) + 0.5 * float(w @ w)
        return value, np.append(c * (z.T @ residual) + w, c * residual.sum())

    bounds = [(0.0, None) if f in TEXT_FEATURES else (None, None) for f in features] + [(None, None)]
    fit = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 1000, "gtol": 1e-8})
    if not fit.success:
        raise VerticalsError(f"the ranker's fit did not converge ({fit.message}); try more "
                             "validation data")
    return Ranker(list(features), mean.tolist(), scale.tolist(), fit.x[:-1].tolist(), float(fit.x[-1]))
