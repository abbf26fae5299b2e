"""The serving pipeline: candidates -> text scores + features -> ranker -> ranked, explained.

One :class:`Pipeline` holds a catalogue, the interactions seen so far and the three models.
Items are embedded once; a user's profile is embedded per request. Users with no history are
cold-start: they get the most popular items they have not seen, flagged as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shared.errors import VerticalsError

from .features import FEATURES, FeatureStats, co_taken, fit_stats, other_features
from .profiles import MAX_ITEMS, item_entries, positives_by_user, profile_text
from .ranker import Ranker
from .scoring import TextScorer, build_index, search_candidates

POPULARITY_FALLBACK = "no history yet: showing popular items"


@dataclass
class Pipeline:
    """Score and rank items for users. ``Pipeline(items, interactions, scorer, ranker)``."""

    items: pd.DataFrame
    interactions: pd.DataFrame
    scorer: TextScorer
    ranker: Ranker
    max_profile_items: int = MAX_ITEMS
    stats: FeatureStats = field(init=False)
    _item_vecs: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.stats = fit_stats(self.interactions, self.items, recent_items=self.max_profile_items)
        self.text = dict(zip(self.items["item_id"], self.items["text"]))
        self.title = dict(zip(self.items["item_id"], self.items["title"]))
        self.row = {item: i for i, item in enumerate(self.items["item_id"])}
        self.taken = positives_by_user(self.interactions)
        self.seen = self.interactions.groupby("user_id")["item_id"].agg(set).to_dict()
        self._entries = item_entries(self.items)
        self._index = None
        self._by_popularity: list[str] | None = None

    @property
    def item_vecs(self) -> np.ndarray:
        if self._item_vecs is None:
            self._item_vecs = self.scorer.embed(list(self.items["text"]))
        return self._item_vecs

    def profile(self, user: str) -> str:
        return profile_text([self._entries[i] for i in self.taken.get(user, [])],
                            self.max_profile_items)

    def known_item(self, item: str) -> None:
        if item not in self.row:
            raise VerticalsError(f"unknown item_id {item!r}: add it to the items file first")

    def features(self, users: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        """``(n, 7)`` matrix in :data:`.features.FEATURES` order for (user, item) pairs."""
        for item in set(item_ids):
            self.known_item(item)
        profiles = {u: self.profile(u) for u in sorted(set(users))}
        profile_vecs = self.scorer.embed(list(profiles.values()))
        user_row = {u: i for i, u in enumerate(profiles)}
        rows = [self.row[i] for i in item_ids]
        bi = np.einsum("ij,ij->i", profile_vecs[[user_row[u] for u in users]],
                       self.item_vecs[rows]) if len(users) else np.zeros(0)
        # subtle: cold users have an empty profile; their text scores are not meaningful
        cross = self.scorer.interest([profiles[u] for u in users], [self.text[i] for i in item_ids])
        return np.column_stack([bi, cross, other_features(self.stats, users, item_ids)])

    def score_pairs(self, users: Sequence[str], item_ids: Sequence[str]) -> pd.DataFrame:
        """Features, ranker score and its text/other split for each (user, item) pair."""
        # a ranker may use a subset of FEATURES (one fitted before a feature existed, or an ablation)
        x = self.features(users, item_ids)[:, [FEATURES.index(f) for f in self.ranker.features]]
        text_part, other_part = self.ranker.split(x)
        frame = pd.DataFrame(x, columns=self.ranker.features)
        frame.insert(0, "item_id", list(item_ids))
        frame.insert(0, "user_id", list(users))
        frame["score"] = self.ranker.predict(x)
        frame["text_part"], frame["other_part"] = text_part, other_part
        cold = np.array([not self.taken.get(u) for u in users], dtype=bool)
        frame.loc[cold, "score"] = frame.loc[cold, "popularity"]
        frame["cold_start"] = cold
        return frame

    def candidates(self, users: Sequence[str], n: int) -> list[list[str]]:
        """Up to ``n`` unseen items per user from three sources, a third each: the bi-encoder's
        nearest items, the items most often co-taken with the user's recent ones, then the most
        popular to fill up (popularity alone when cold).

        subtle: text search alone never proposes the blockbusters most users take next, so the
        ranker could not use its popularity feature on them; it then lost to plain popularity.
        """
        if self._index is None:
            self._index = build_index(list(self.items["item_id"]), self.item_vecs)
        warm = [u for u in users if self.taken.get(u)]
        vecs = self.scorer.embed([self.profile(u) for u in warm])
        share = -(-n // 3)
        found = search_candidates(self._index, vecs, share, [self.seen.get(u, set()) for u in warm])
        by_user = {u: [item for item, _ in hits] for u, hits in zip(warm, found)}
        ids = list(self.items["item_id"])
        out = []
        for user in users:
            merged = dict.fromkeys(by_user.get(user, []))
            seen = self.seen.get(user, set())
            near = co_taken(self.stats, user)
            if near is not None:
                picked = 0
                for row in np.argsort(-near, kind="stable"):
                    if picked == share or near[row] <= 0:
                        break
                    if ids[row] not in seen and ids[row] not in merged:
                        merged[ids[row]] = None
                        picked += 1
            for item in self.popular(user, n):
                if len(merged) >= n:
                    break
                merged.setdefault(item)
            out.append(list(merged))
        return out

    def popular(self, user: str, n: int) -> list[str]:
        """The ``n`` most taken items the user has not seen (ties by item_id)."""
        if self._by_popularity is None:
            self._by_popularity = sorted(self.row, key=lambda i: (-self.stats.popularity.get(i, 0.0),
                                                                  i))
        seen = self.seen.get(user, set())
        out = []
        for item in self._by_popularity:
            if item not in seen:
                out.append(item)
                if len(out) == n:
                    break
        return out

    def top_k(self, users: Sequence[str], k: int, n_candidates: int | None = None) -> pd.DataFrame:
        """The ``k`` best items per user after reranking ``n_candidates`` (default ``4k``)."""
        if k < 1:
            raise VerticalsError(f"top_k must be greater than 0, got {k}")
        lists = self.candidates(users, n_candidates or max(4 * k, 10))
        pair_users = [u for u, items in zip(users, lists) for _ in items]
        frame = self.score_pairs(pair_users, [i for items in lists for i in items])
        return rank(frame, k)

    def because(self, user: str, item: str, n: int = 2) -> list[str]:
        """Titles of the user's history items closest to ``item`` (what explains it)."""
        history = self.taken.get(user, [])
        if not history:
            return []
        sims = self.item_vecs[[self.row[h] for h in history]] @ self.item_vecs[self.row[item]]
        order = np.argsort(-sims, kind="stable")[:n]
        return [self.title[history[i]] for i in order]


def rank(frame: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """Sort each user's rows by score (ties by item_id), add ``rank`` from 1, keep the top ``k``.

    Example: user ``u`` with scores ``a: 0.1, b: 0.9`` -> ``b`` gets rank 1, ``a`` rank 2.
    """
    ordered = frame.sort_values(["user_id", "score", "item_id"], ascending=[True, False, True],
                                kind="stable")
    ordered = ordered.assign(rank=ordered.groupby("user_id").cumcount() + 1)
    if k is not None:
        ordered = ordered[ordered["rank"] <= k]
    return ordered.reset_index(drop=True)
