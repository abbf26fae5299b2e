"""The final ranker: logistic regression over text scores and other features, stored as JSON.

Saved as plain numbers (``ranker.json``: feature names, scaling, coefficients), never pickled,
so loading a ranker from a user's folder cannot run code. Its linear form also makes the score
breakdown exact: each feature's contribution to the logit is ``coef * standardised value``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shared import roc_auc
from shared.errors import VerticalsError

from .features import FEATURES, TEXT_FEATURES

log = logging.getLogger(__name__)

FILE = "ranker.json"
MIN_VAL_POSITIVES = 20  # fewer taken items on the held-out rows: val_auc is only a rough guide
WEAK_AUC = 0.6  # a cross-encoder ranking the pairs held out from its training worse than this is near chance


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


def held_out_users(users: np.ndarray, labels: np.ndarray, share: float,
                   seed: int = 0) -> list[str]:
    """About ``share`` of the users of the rows, drawn (seeded) apart among users with a taken
    row and the others, so that both sides keep positives; empty when fewer than two users
    take anything. ``(["a", "a", "b", "c", "d", "e"], [1, 0, 1, 0, 0, 1], 0.2) -> ["e"]``
    (one of the three takers; 0.2 of the two others rounds to none).
    """
    rng = np.random.default_rng(seed)
    takers = sorted(set(users[labels == 1].tolist()))
    others = sorted(set(users.tolist()) - set(takers))
    n_takers = min(len(takers) - 1, max(1, round(share * len(takers)))) if len(takers) > 1 else 0
    held = [*rng.choice(takers, size=n_takers, replace=False).tolist(),
            *rng.choice(others, size=round(share * len(others)), replace=False).tolist()]
    return sorted(held)


def few_positives_warning(positives: int, users: int) -> str:
    """A one-line note when the ranker's validation is too small to trust, else ``""``:
    ``few_positives_warning(3, 4)`` -> ``"val_auc rests on 3 taken item(s) of 4 held-out ..."``."""
    if positives >= MIN_VAL_POSITIVES:
        return ""
    return (f"val_auc rests on {positives} taken item(s) of {users} held-out user(s) (under "
            f"{MIN_VAL_POSITIVES}): a rough guide only — add interactions or raise --val-fraction "
            "for a steadier measure")


def beside_chance(auc: float) -> str:
    """How an AUC compares with chance (0.5), as it prints to two decimals:
    ``beside_chance(0.0)`` -> ``"worse than chance"``, ``0.5`` -> ``"no better than chance"``,
    ``0.55`` -> ``"little better than chance"``.

    subtle: a tiny log's cross-encoder was said to rank "little better than chance (AUC 0.00 ...)"."""
    shown = round(auc, 2)
    return f"{'worse than' if shown < 0.5 else 'no better than' if shown == 0.5 else 'little better than'} chance"


def weak_ranker_warning(val_auc: float | None) -> str:
    """A one-line note when the ranker ranks its held-out users' next takes no better than
    chance, else ``""``: ``weak_ranker_warning(0.32)`` -> ``"the ranker ranks ... worse than chance
    (val_auc 0.32; 0.5 is chance) — ..."``."""
    if val_auc is None or round(val_auc, 2) > 0.5:
        return ""
    return (f"the ranker ranks its held-out users' next takes {beside_chance(val_auc)} (val_auc {val_auc:.2f}; "
            "0.5 is chance) — add interactions and train again before serving it")


def unweighted_text_note(coef: dict[str, float]) -> str:
    """``""``, or what it means that the ranker gives one of the two text scores no weight (both:
    :func:`text_warnings`). subtle: an audit's cross-encoder caught 1 of 81 taken pairs and
    weighed 0; `train` printed nothing of it, and the dashboard a 0 bar on every item."""
    zero = [f for f in TEXT_FEATURES if f in coef and not coef[f]]
    if len(zero) != 1:
        return ""
    model, does = {"cross_score": ("cross-encoder", "scoring never runs it"),
                   "bi_score": ("bi-encoder", "it only finds candidates")}[zero[0]]
    return (f"the ranker gives the {model}'s score no weight: on the validation period it added nothing to the "
            f"other features, so {does} (its part is always 0)")


def text_warnings(coef: dict[str, float], cross_metrics: dict) -> list[str]:
    """What the text models' share of a fitted ranker tells a user, in one line each.

    subtle: on a shop's own small data the ranker gave both text scores weight 0, and only the
    dashboard said so: a new item then reached users by category and popularity alone."""
    notes = []
    text = [f for f in TEXT_FEATURES if f in coef]
    if text and not any(coef[f] for f in text):
        notes.append("the ranker gives the text scores no weight: on the validation period they added nothing "
                     "to the other features, so a new item reaches users by its category and popularity alone "
                     "— add interactions and train again")
    auc = cross_metrics.get("auc")
    # subtle: printed below val_auc_cross_score (0.6450) as "its held-out pairs ... (AUC 0.50)",
    # two AUCs on two sets and nothing said which was which: name both sets
    if auc is not None and auc < WEAK_AUC:
        notes.append(f"the cross-encoder ranks the pairs held out from its own training {beside_chance(auc)} "
                     f"(AUC {auc:.2f} on those; 0.5 is chance; val_auc_cross_score is its score's AUC on the "
                     "ranker's held-out users) — add interactions or --epochs")
    return notes


def held_out_metrics(x: np.ndarray, y: np.ndarray, held: np.ndarray,
                     features: Sequence[str]) -> dict:
    """AUC on the rows of held-out users (``held``, a row mask) of a ranker fitted on the other
    rows, and of each single feature for comparison; ``val_auc`` is None when either side lacks
    a label (too few users take anything later).

    subtle: the served ranker is then refitted on every row; measuring that one on its own
    training rows would flatter it, so this is the AUC of the same recipe on unseen users.
    """
    test = {"val_rows": int(held.sum()), "val_positives": int(y[held].sum())}
    if len(set(y[~held].tolist())) < 2 or len(set(y[held].tolist())) < 2:
        log.warning("too few users take anything later to hold some out: no val_auc")
        return {"val_auc": None} | test
    ranker = fit_ranker(x[~held], y[~held], features)
    metrics = {"val_auc": roc_auc(y[held].tolist(), ranker.predict(x[held]).tolist())} | test
    for i, name in enumerate(features):
        metrics[f"val_auc_{name}"] = roc_auc(y[held].tolist(), x[held, i].tolist())
    return metrics
