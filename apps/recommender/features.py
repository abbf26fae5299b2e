"""Non-text features for the final ranker: popularity, recency, category overlap, user activity
and co-taken (people who took the user's recent items also took this one).

All pure: statistics are computed once from past interactions (:func:`fit_stats`), then
:func:`other_features` turns (user, item) pairs into a matrix. Values lie in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

TEXT_FEATURES = ("bi_score", "cross_score")
OTHER_FEATURES = ("popularity", "recency", "category_overlap", "user_activity", "co_taken")
FEATURES = TEXT_FEATURES + OTHER_FEATURES
# what the ranker knows of the user (the rest describes the item): a user who took nothing yet
# is given the training mean of these, i.e. seen as the average user (cold start)
USER_FEATURES = TEXT_FEATURES + ("category_overlap", "user_activity", "co_taken")
# what each feature is called where people read it (the dashboard's "Why" chart: 17 characters
# fit beside its bars at 800px); the two text ones make up the "text interest" column
# as the dashboard names them: the two text parts of "text interest" by their models (as "text:
# interest", the cross-encoder's 0.18 read as the table's 1.33, the sum of both)
FEATURE_NAMES = {"bi_score": "text: bi-encoder", "cross_score": "text: cross-encoder", "popularity": "popularity",
                 "recency": "taken recently", "category_overlap": "your categories",
                 "user_activity": "your activity", "co_taken": "taken with yours"}
DAY = 86_400


@dataclass
class FeatureStats:
    """What the features need to know about the past, fitted by :func:`fit_stats`."""

    popularity: dict[str, float] = field(default_factory=dict)
    take_share: dict[str, float] = field(default_factory=dict)  # share of the users who took the item
    last_taken: dict[str, int] = field(default_factory=dict)
    user_categories: dict[str, dict[str, float]] = field(default_factory=dict)
    user_activity: dict[str, float] = field(default_factory=dict)
    item_category: dict[str, str] = field(default_factory=dict)
    now: int = 0
    half_life_days: float = 30.0
    item_row: dict[str, int] = field(default_factory=dict)
    cosine: sparse.csr_matrix | None = None  # item x item cosine of "taken by the same users"
    recent: dict[str, list[int]] = field(default_factory=dict)  # user -> rows of recent takes
    takers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per row: users who took it
    _columns: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def item_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Per catalogue row (``item_row`` order): popularity, recency and a category code; and
        the category names the codes index. Computed once."""
        if self._columns is None:
            ids = sorted(self.item_row, key=self.item_row.__getitem__)
            last = np.array([self.last_taken.get(i, np.nan) for i in ids], dtype=np.float64)
            names, codes = np.unique([self.item_category.get(i, "") for i in ids], return_inverse=True)
            self._columns = (np.array([self.popularity.get(i, 0.0) for i in ids], dtype=np.float64),
                             np.where(np.isnan(last), 0.0, recency_weight(self.now - last, self.half_life_days)),
                             codes, [str(n) for n in names])
        return self._columns


def log_scale(counts: dict[str, int]) -> dict[str, float]:
    """``{"a": 0, "b": 1, "c": 3} -> {"a": 0.0, "b": 0.5, "c": 1.0}`` (log1p over the max)."""
    top = math.log1p(max(counts.values(), default=0))
    return {k: (math.log1p(v) / top if top else 0.0) for k, v in counts.items()}


def recency_weight(age_seconds: float | np.ndarray, half_life_days: float) -> float | np.ndarray:
    """Exponential decay: ``recency_weight(0, 30) -> 1.0``, ``recency_weight(30 * DAY, 30) -> 0.5``
    (element-wise for an array of ages; a negative age counts as 0)."""
    return 0.5 ** (np.maximum(age_seconds, 0.0) / (half_life_days * DAY))


def category_shares(categories: Sequence[str]) -> dict[str, float]:
    """``["a", "a", "b", ""] -> {"a": 2/3, "b": 1/3}`` (blank categories ignored)."""
    named = [c for c in categories if c]
    return {c: named.count(c) / len(named) for c in sorted(set(named))}


def co_taken_cosine(taken: pd.DataFrame, item_row: dict[str, int]) -> sparse.csr_matrix:
    """Item x item cosine of the sets of users who took each item (item-kNN).

    Items ``a`` and ``b`` taken by users ``{u, v}`` and ``{v}``: ``1 / sqrt(2 * 1) = 0.71``.
    """
    pairs = taken[["user_id", "item_id"]].drop_duplicates()
    users = {u: i for i, u in enumerate(pairs["user_id"].unique())}
    took = sparse.csr_matrix((np.ones(len(pairs)), ([users[u] for u in pairs["user_id"]],
                                                    [item_row[i] for i in pairs["item_id"]])),
                             shape=(len(users), len(item_row)))
    norm = sparse.diags(1.0 / np.sqrt(np.maximum(np.asarray(took.sum(axis=0)).ravel(), 1.0)))
    return (norm @ (took.T @ took) @ norm).tocsr()


def fit_stats(interactions: pd.DataFrame, items: pd.DataFrame, now: int | None = None,
              half_life_days: float = 30.0, recent_items: int = 6,
              users: pd.DataFrame | None = None) -> FeatureStats:
    """Statistics of past interactions; ``now`` defaults to the latest timestamp seen.

    ``recent_items``: how many of a user's latest takes the co-taken feature compares with.
    ``users``: the rows that describe the users (their categories, activity and recent takes);
    by default ``interactions``. The ranker's training passes a group of users' own histories
    here and only what happened before the group's validation period as ``interactions``, so
    the item statistics (popularity, recency, co-taken) it learns from never include the future.
    """
    users = interactions if users is None else users
    taken = interactions[interactions["label"] == 1]
    own_taken = users[users["label"] == 1]
    item_category = dict(zip(items["item_id"], items["category"]))
    taken_cats = own_taken.assign(category=own_taken["item_id"].map(item_category).fillna(""))
    item_row = {item: i for i, item in enumerate(items["item_id"])}
    latest = own_taken.sort_values(["user_id", "timestamp"], ascending=[True, False],
                                   kind="stable")
    activity = users["user_id"].value_counts().to_dict()
    if users is not interactions:  # the scale is set by everyone in view, as when serving
        activity = interactions["user_id"].value_counts().to_dict() | activity
    if now is None:  # nothing is taken in an empty past, so its "now" is never read
        now = int(interactions["timestamp"].max()) if len(interactions) else 0
    takers = taken.drop_duplicates(["user_id", "item_id"])["item_id"].value_counts()  # users who took each
    return FeatureStats(
        popularity=log_scale(taken["item_id"].value_counts().to_dict()),
        take_share=(takers / max(interactions["user_id"].nunique(), 1)).to_dict(),
        last_taken=taken.groupby("item_id")["timestamp"].max().astype(int).to_dict(),
        user_categories={u: category_shares(list(c)) for u, c in
                         taken_cats.groupby("user_id")["category"]},
        user_activity=log_scale(activity),
        item_category=item_category,
        now=now,
        half_life_days=half_life_days,
        item_row=item_row,
        cosine=co_taken_cosine(taken, item_row),
        recent={u: [item_row[i] for i in rows[:recent_items]] for u, rows in
                latest.groupby("user_id", sort=False)["item_id"]},
        takers=takers.reindex(list(item_row), fill_value=0).to_numpy(),
    )


def co_taken(stats: FeatureStats, user: str) -> np.ndarray | None:
    """Per catalogue row: mean cosine to the user's recent takes (None for a user with none)."""
    rows = stats.recent.get(user)
    if not rows or stats.cosine is None:
        return None
    return np.asarray(stats.cosine[rows].mean(axis=0)).ravel()


def other_features(stats: FeatureStats, users: Sequence[str],
                   item_ids: Sequence[str]) -> np.ndarray:
    """``(n, 5)`` float32 matrix in :data:`OTHER_FEATURES` order for each (user, item) pair.

    Unknown users and new items get zeros where nothing is known (cold start).
    """
    return features_at_rows(stats, users, np.array([stats.item_row.get(i, -1) for i in item_ids], dtype=np.int64))


def features_at_rows(stats: FeatureStats, users: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """:func:`other_features` for catalogue ``rows`` (``stats.item_row``; -1: an unknown item).
    Array maths per distinct user, so a user's whole catalogue (what the top-k pool is picked
    from) costs a few milliseconds."""
    out = np.zeros((len(rows), len(OTHER_FEATURES)), dtype=np.float32)
    if not len(rows):
        return out
    popularity, recency, category, names = stats.item_columns()
    known = rows >= 0
    out[known, 0], out[known, 1] = popularity[rows[known]], recency[rows[known]]
    which, people = pd.factorize(np.asarray(list(users), dtype=object))
    order = np.argsort(which, kind="stable")
    for user, at in zip(people, np.split(order, np.cumsum(np.bincount(which))[:-1]), strict=True):
        at_known = at[known[at]]
        shares = stats.user_categories.get(user, {})
        if shares:
            out[at_known, 2] = np.array([shares.get(name, 0.0) for name in names])[category[rows[at_known]]]
        out[at, 3] = stats.user_activity.get(user, 0.0)
        near = co_taken(stats, user)
        if near is not None:
            out[at_known, 4] = near[rows[at_known]]
    return out


def title_priors(items: pd.DataFrame, interactions: pd.DataFrame,
                 weight: float = 5.0) -> dict[str, tuple[float, float]]:
    """Per item title, from a log of shown/taken interactions: (like share, popularity).

    The like share is shrunk toward the log's overall share by ``weight`` pseudo-interactions,
    so a title seen twice does not claim 0 or 1: taken 3 of 4 times in a log where 50% are
    taken gives ``(3 + 0.5 * 5) / (4 + 5) = 0.61``. Popularity is :func:`log_scale` of the
    takes. Titles are stripped; items sharing a title count as one.
    """
    title = dict(zip(items["item_id"], items["title"].astype(str).str.strip()))
    known = interactions[interactions["item_id"].isin(title)]
    overall = float(known["label"].mean()) if len(known) else 0.0
    counts = known.groupby(known["item_id"].map(title))["label"].agg(["sum", "count"])
    popularity = log_scale(counts["sum"].astype(int).to_dict())
    return {name: (float((taken + overall * weight) / (seen + weight)), popularity[name])
            for name, (taken, seen) in counts.iterrows()}
