"""The serving pipeline: candidates -> text scores + features -> ranker -> ranked, explained.

One :class:`Pipeline` holds a catalogue, the interactions seen so far and the three models.
Items are embedded once; a user's profile is embedded per request. Users with no history are
cold-start: they are offered the most popular items they have not seen, each scored by the share
of users who took it (:meth:`Pipeline.score_pairs`), and flagged as such. Why an item ranks is
:mod:`.reasons`, a part of the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from math import ceil

import numpy as np
import pandas as pd

from shared import VectorIndex
from shared.errors import VerticalsError, first_few

from .calibration import calibrated_order
from .features import (
    FEATURES,
    TEXT_FEATURES,
    USER_FEATURES,
    FeatureStats,
    co_taken,
    features_at_rows,
    fit_stats,
    other_features,
)
from .profiles import MAX_ITEMS, item_entries, positives_by_user, profile_text
from .ranker import Ranker
from .reasons import SIMILAR_PAIRS
from .scoring import TextScorer, build_index, search_candidates

COLD_START = ("each item scored by the share of users who took it (text interest and the ranker's "
              "other features count once they take something)")
# cold start is "nothing taken yet" (no row with label 1): a user shown items but taking none is one
POPULARITY_FALLBACK = f"No items taken yet, so these are the most popular items you have not seen, {COLD_START}."
NEW_ITEM_SHARE = 0.1  # room in each user's pool, beyond the n candidates, for never-seen items
SOURCE_DEPTH = 5  # each candidate source offers this many times the pool for the ranker to pick from
BALANCE = 0.5  # how far a top-k list keeps the proportions of the user's categories (.calibration)


def cold_start_note(users: Sequence[str], shown: int = 5) -> str:
    """One line naming the users who have taken nothing yet: ``["U9", "U7"] -> "2 user(s) with no
    taken items (U7, U9): each item scored ..."``; past ``shown`` names it adds ``", and 3 more"``."""
    names = sorted(set(users))
    return f"{len(names)} user(s) with no taken items ({first_few(names, shown=shown)}): {COLD_START}"


@dataclass
class Pipeline:
    """Score and rank items for users (why each ranks: :func:`.reasons.because`).
    ``Pipeline(items, interactions, scorer, ranker)``."""

    items: pd.DataFrame
    interactions: pd.DataFrame
    scorer: TextScorer
    ranker: Ranker
    max_profile_items: int = MAX_ITEMS
    balance: float = BALANCE  # 0: ranked by score alone (.calibration)
    # what the item statistics (popularity, recency, co-taken) are fitted on; default interactions
    past: InitVar[pd.DataFrame | None] = None
    stats: FeatureStats = field(init=False)
    _item_vecs: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self, past: pd.DataFrame | None) -> None:
        past = self.interactions if past is None else past
        self.stats = fit_stats(past, self.items, recent_items=self.max_profile_items,
                               users=self.interactions)
        self.text = dict(zip(self.items["item_id"], self.items["text"]))
        self.title = dict(zip(self.items["item_id"], self.items["title"]))
        self.ids = list(self.items["item_id"])
        self.row = {item: i for i, item in enumerate(self.ids)}
        self._by_id = np.argsort(np.argsort(np.array(self.ids, dtype=object), kind="stable"))
        self.taken = positives_by_user(self.interactions)
        self.seen = self.interactions.groupby("user_id")["item_id"].agg(set).to_dict()
        self._entries = item_entries(self.items)
        touched = set(past["item_id"]) | set(self.interactions["item_id"])
        self.new_items = [i for i in self.items["item_id"] if i not in touched]
        self._index = None
        self._by_popularity: list[str] | None = None
        self._similar_floor: float | None = None

    @property
    def similar_floor(self) -> float:
        """The cosine that the catalogue's closest :data:`.reasons.SIMILAR_PAIRS` of item pairs reach (on
        up to 1,000 items, drawn seeded), computed once.

        subtle: not a fixed number: each fine-tuned bi-encoder spreads cosines its own way (on
        the demo, two books of one shelf have a median of 0.63, of two shelves 0.46).
        """
        if self._similar_floor is None:
            rows = np.random.default_rng(0).choice(len(self.items), min(len(self.items), 1000),
                                                   replace=False)
            sims = self.item_vecs[rows] @ self.item_vecs[rows].T
            self._similar_floor = float(np.quantile(sims[np.triu_indices(len(rows), 1)],
                                                    1 - SIMILAR_PAIRS))
        return self._similar_floor

    def as_of(self, interactions: pd.DataFrame, past: pd.DataFrame) -> Pipeline:
        """The same catalogue and models for the users of ``interactions`` (their whole history),
        with item statistics from ``past`` only; item vectors and index are shared, not redone."""
        other = Pipeline(self.items, interactions, self.scorer, self.ranker,
                         self.max_profile_items, self.balance, past=past)
        other._item_vecs, other._index = self.item_vecs, self.index
        return other

    @property
    def item_vecs(self) -> np.ndarray:
        if self._item_vecs is None:
            self._item_vecs = self.scorer.embed_catalogue(list(self.items["text"]))
        return self._item_vecs

    @property
    def index(self) -> VectorIndex:
        """The FAISS index of the item vectors (built once)."""
        if self._index is None:
            self._index = build_index(list(self.items["item_id"]), self.item_vecs)
        return self._index

    def profile(self, user: str) -> str:
        return profile_text([self._entries[i] for i in self.taken.get(user, [])],
                            self.max_profile_items)

    def known_item(self, item: str) -> None:
        if item not in self.row:
            raise VerticalsError(f"unknown item_id {item!r}: add it to the items file first")

    def features(self, users: Sequence[str], item_ids: Sequence[str],
                 vectors: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """``(n, 7)`` matrix in :data:`.features.FEATURES` order for (user, item) pairs.

        A user with no history has no profile for the text models to read: their text columns
        are NaN (:meth:`score_pairs` makes them neutral), and no model time is spent on them.
        ``vectors``: :meth:`profile_vectors` of the users, when already embedded (:meth:`top_k`).
        """
        for item in set(item_ids):
            self.known_item(item)
        warm = np.array([bool(self.taken.get(u)) for u in users], dtype=bool)
        text = np.full((len(users), len(TEXT_FEATURES)), np.nan)
        if warm.any():
            text[warm] = self._text_scores([u for u, w in zip(users, warm) if w],
                                           [i for i, w in zip(item_ids, warm) if w], vectors)
        return np.column_stack([text, other_features(self.stats, users, item_ids)])

    def _text_scores(self, users: Sequence[str], item_ids: Sequence[str],
                     vectors: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """``(n, 2)``: bi-encoder cosine and cross-encoder P(interest) of each pair (NaN where the
        ranker gives the cross-encoder no weight)."""
        profiles = {u: self.profile(u) for u in sorted(set(users))}
        if vectors is None:
            vectors = self.profile_vectors(list(profiles))
        rows = [self.row[i] for i in item_ids]
        bi = np.einsum("ij,ij->i", np.stack([vectors[u] for u in users]), self.item_vecs[rows])
        # subtle: the cross-encoder is most of the cost (the demo's top-10 job took 55 s with a
        # whole-pair one, 7 s without); a ranker that gives it no weight never runs it (NaN: score_pairs makes
        # it neutral)
        cross = np.full(len(users), np.nan)
        if self.ranker.weight("cross_score"):  # a user's pairs scored together, apart from other users'
            pairs_of: dict[str, list[int]] = {}
            for j, user in enumerate(users):
                pairs_of.setdefault(user, []).append(j)
            for user, at in pairs_of.items():
                cross[at] = self.scorer.interest([profiles[user]] * len(at), [self.text[item_ids[j]] for j in at])
        return np.column_stack([bi, cross])

    def score_pairs(self, users: Sequence[str], item_ids: Sequence[str],
                    vectors: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
        """Features, ranker score and its breakdown for each (user, item) pair:
        ``baseline + text_part + other_part == logit(score)``. ``vectors``: as for
        :meth:`features`.

        subtle: a user with no history (``cold_start``) gets each item's share of takers, the
        P(take) of a user we know nothing about, with the ranker's baseline and the rest of the
        logit as ``other_part``: a popular item is not shown as a sure thing (popularity itself,
        1.0 for the top item, was once the score here), and the most taken comes first. The
        ranker, scoring them as its average user (its user features at their mean), learnt its
        weights among users with history: the demo's popularity weight is negative there, so a
        new user's list ran against popularity and its first item changed with k.
        """
        cold = np.array([not self.taken.get(u) for u in users], dtype=bool)
        x = self.ranker_inputs(self.features(users, item_ids, vectors), cold)
        text_part, other_part = self.ranker.split(x)
        frame = pd.DataFrame(x, columns=self.ranker.features)
        frame.insert(0, "item_id", list(item_ids))
        frame.insert(0, "user_id", list(users))
        frame["score"] = self.ranker.predict(x)
        frame["baseline"] = self.ranker.intercept
        frame["text_part"], frame["other_part"] = text_part, other_part
        if cold.any():
            share = np.clip([self.stats.take_share.get(i, 0.0) for i in frame.loc[cold, "item_id"]], 1e-6, 1 - 1e-6)
            frame.loc[cold, "score"] = share
            frame.loc[cold, "text_part"] = 0.0
            frame.loc[cold, "other_part"] = np.log(share / (1 - share)) - self.ranker.intercept
        frame["cold_start"] = cold
        return frame

    def ranker_inputs(self, x: np.ndarray, cold: np.ndarray) -> np.ndarray:
        """The ranker's columns of a :data:`.features.FEATURES` matrix, with what is not known
        at the ranker's training mean, where it adds exactly 0: the user features of ``cold``
        rows (see :meth:`score_pairs`) and NaN (a text score that was not computed)."""
        # a ranker may use a subset of FEATURES (one fitted before a feature existed, or an ablation)
        x = x[:, [FEATURES.index(f) for f in self.ranker.features]]
        unknown = [c for c, f in enumerate(self.ranker.features) if f in USER_FEATURES]
        x[np.ix_(cold, unknown)] = np.array(self.ranker.mean)[unknown]
        np.copyto(x, np.array(self.ranker.mean), where=np.isnan(x))
        return x

    def prior_logits(self, user: str, vector: np.ndarray | None = None,
                     rows: np.ndarray | None = None) -> np.ndarray:
        """The ranker's logit for ``user`` and each catalogue row in ``rows`` (default: all, in
        catalogue order) with the cross-encoder's score left at its training mean, where it
        adds 0: every feature but the one expensive one, from array maths. ``vector``: the
        user's :meth:`profile_vectors` entry (None for a user with no history)."""
        rows = np.arange(len(self.ids)) if rows is None else np.asarray(rows, dtype=np.int64)
        x = np.full((len(rows), len(FEATURES)), np.nan)
        if vector is not None:
            x[:, FEATURES.index("bi_score")] = self.item_vecs[rows] @ vector
        x[:, len(TEXT_FEATURES):] = features_at_rows(self.stats, [user] * len(rows), rows)
        return self.ranker.logits(self.ranker_inputs(x, np.full(len(rows), vector is None)))

    def by_prior(self, user: str, item_ids: Sequence[str], vector: np.ndarray | None = None) -> list[str]:
        """``item_ids`` best first by :meth:`prior_logits`, ties by item_id as in :func:`rank`."""
        rows = np.array([self.row[i] for i in item_ids], dtype=np.int64)
        logits = self.prior_logits(user, vector, rows)
        return [item_ids[j] for j in np.lexsort((self._by_id[rows], -logits))]

    def candidates(self, users: Sequence[str], n: int,
                   vectors: dict[str, np.ndarray] | None = None) -> list[list[str]]:
        """Up to ``n`` unseen items per user: the best by :meth:`prior_logits` (the ranker with
        the cross-encoder left out) of what the three :meth:`sources` offer, ``SOURCE_DEPTH * n``
        each (the bi-encoder's nearest through FAISS, co-taken, popular); the most popular for a
        user with no history; and beyond those ``n``, up to ``ceil(n * NEW_ITEM_SHARE)`` items
        nobody took yet (:meth:`new_candidates`). ``vectors``: :meth:`profile_vectors` of
        ``users``, when already computed.

        subtle: the ranker is linear, so the pool is picked by its own score less one term, the
        cross-encoder's, which can lift an item only so far (its training lists are drawn from
        the same offer: :func:`.training.training_list`). Mixed from the sources in fixed shares instead, a
        MovieLens top-10 held 55-71% of what ranking the whole catalogue gives; picked this
        way, 96.7-98.0% on 100 users (``benchmarks/recommender.py``). The sources bound the cost:
        the FAISS search, not a pass over the catalogue, finds the bi-encoder's share.

        subtle: not for a user with no history. The ranker then reads only popularity and
        recency, far from the lists it was fitted on, and it may weigh either below 0 (the
        tests' small ranker: -0.45 and -0.42; MovieLens recency: -0.25): over the tests' whole
        catalogue, a new user's first picks were items nobody ever took.
        """
        if vectors is None:  # once: profile encoding is the slow part
            vectors = self.profile_vectors(users)
        extra = self.new_candidates(users, ceil(n * NEW_ITEM_SHARE), vectors)
        out = []
        for user, found, new in zip(users, self.sources(users, SOURCE_DEPTH * n, vectors), extra):
            bi, co, popular = found  # a user with no history has the popular list alone
            best = (self.by_prior(user, list(dict.fromkeys(bi + co + popular)), vectors[user])[:n]
                    if user in vectors else popular[:n])
            out.append(list(dict.fromkeys(best + new)))
        return out

    def profile_vectors(self, users: Sequence[str]) -> dict[str, np.ndarray]:
        """``user -> bi-encoder vector of their profile``, for the ``users`` with history.

        subtle: each profile is embedded alone. Batched with the chunk's other profiles, its
        padding and the batch's shape moved its vector by ~1e-7, and with it the 6th decimal of
        51 of an audit's 500 scores between ``--chunk-size 1`` and 200 (so the file's bytes);
        the cross-encoder, likewise, scores each user's pairs apart (:meth:`_text_scores`)."""
        warm = list(dict.fromkeys(u for u in users if self.taken.get(u)))
        return {u: self.scorer.embed([self.profile(u)])[0] for u in warm}

    def new_candidates(self, users: Sequence[str], n: int,
                       vectors: dict[str, np.ndarray] | None = None) -> list[list[str]]:
        """Per user, up to ``n`` items nobody has interacted with yet, nearest to the user's
        profile first (none for a user with no history: there is no text to match).

        subtle: a new item has no popularity or co-taken and rarely makes the bi-encoder's share
        of the pool on a catalogue of older items, so "scored from its text at once" never
        reached a top-k; these go into the pool beside it. The cost is at most ``n`` more pairs
        for the cross-encoder per user (``ceil(10%)`` of the pool from :meth:`candidates`).
        ``vectors``: :meth:`profile_vectors` of ``users``, when already computed.
        """
        warm = [u for u in users if self.taken.get(u)]
        if not self.new_items or not warm or n < 1:
            return [[] for _ in users]
        vectors = self.profile_vectors(warm) if vectors is None else vectors
        new = self.item_vecs[[self.row[i] for i in self.new_items]]
        sims = np.stack([vectors[u] for u in warm]) @ new.T
        nearest = {u: [self.new_items[j] for j in np.argsort(-row, kind="stable")[:n]]
                   for u, row in zip(warm, sims)}
        return [nearest.get(u, []) for u in users]

    def sources(self, users: Sequence[str], n: int, vectors: dict[str, np.ndarray] | None = None
                ) -> list[tuple[list[str], list[str], list[str]]]:
        """Per user, up to ``n`` unseen items from each source, best first: (bi-encoder,
        co-taken, popular). Cold users have only the popular list. ``vectors``:
        :meth:`profile_vectors` of ``users``, when already computed."""
        warm = [u for u in users if self.taken.get(u)]
        vectors = self.profile_vectors(warm) if vectors is None else vectors
        found = search_candidates(self.index, np.stack([vectors[u] for u in warm]), n,
                                  [self.seen.get(u, set()) for u in warm]) if warm else []
        by_user = {u: [item for item, _ in hits] for u, hits in zip(warm, found)}
        ids, out = self.ids, []
        for user in users:
            seen, near, co = self.seen.get(user, set()), co_taken(self.stats, user), []
            if near is not None:
                for row in np.argsort(-near, kind="stable"):
                    if len(co) == n or near[row] <= 0:
                        break
                    if ids[row] not in seen:
                        co.append(ids[row])
            out.append((by_user.get(user, []), co, self.popular(user, n)))
        return out

    def popular(self, user: str, n: int) -> list[str]:
        """The ``n`` items the most users took that the user has not seen (ties by item_id)."""
        if self._by_popularity is None:
            self._by_popularity = sorted(self.row, key=lambda i: (-self.stats.take_share.get(i, 0.0), i))
        seen = self.seen.get(user, set())
        out = []
        for item in self._by_popularity:
            if item not in seen:
                out.append(item)
                if len(out) == n:
                    break
        return out

    def top_k(self, users: Sequence[str], k: int, n_candidates: int | None = None) -> pd.DataFrame:
        """The ``k`` best items per user after reranking ``n_candidates`` (default ``4k``), in the
        proportions of the user's tastes (:meth:`balanced`); for a user with no history, the ``k``
        most popular they have not seen, most taken first.

        subtle: reranked from a pool of the 4k most popular, a new user's demo top 10 were the
        17th-52nd most taken items, none of the top five (the ranker weighs popularity -0.29 for
        users it knows), while each row said "among the most popular items you have not seen".
        """
        if k < 1:
            raise VerticalsError(f"top_k must be greater than 0, got {k}")
        vectors = self.profile_vectors(users)  # once, for the candidates and the text scores
        lists = self.candidates(users, n_candidates or max(4 * k, 10), vectors)
        lists = [items if user in vectors else items[:k] for user, items in zip(users, lists, strict=True)]
        pair_users = [u for u, items in zip(users, lists) for _ in items]
        frame = self.score_pairs(pair_users, [i for items in lists for i in items], vectors)
        return self.balanced(rank(frame), k)

    def balanced(self, ranked: pd.DataFrame, k: int) -> pd.DataFrame:
        """Each user's first ``k`` of :func:`rank`'s rows, chosen in the proportions of the
        categories they took (:func:`.calibration.calibrated_order`, ``self.balance``), ``rank``
        renumbered in that order. A user with no categories keeps the order by score."""
        picked = []
        for user, rows in ranked.groupby("user_id", sort=False):
            cats = [self.stats.item_category.get(i, "") for i in rows["item_id"]]
            order = calibrated_order(rows["score"].to_numpy(), cats, self.stats.user_categories.get(user, {}),
                                     self.balance, k)
            picked.append(rows.iloc[order].assign(rank=np.arange(1, len(order) + 1)))
        return pd.concat(picked).reset_index(drop=True) if picked else ranked.iloc[:0]


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
