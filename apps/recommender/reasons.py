"""Why an item ranks for a user: the "because" clause of a recommendation, from the ranker
feature that raised its score most (:data:`REASONS`), naming the user's history items behind it
where it can.

:class:`Reasons` is a part of :class:`.pipeline.Pipeline` (mixed into it): it reads the
pipeline's ranker, item statistics, the users' takes and the item vectors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .features import TEXT_FEATURES, FeatureStats
from .ranker import Ranker

# a history item explains a pick when they are as close as the catalogue's closest 5% of pairs.
# subtle: at 10% a climbing book explained a folk-guitar pick; on the demo's first 60 users' top
# 10s, the cited items shared the pick's category 81% of the time (108 cited in 62 "you liked"),
# at 5% 90% (91 in 58), at 3% 94% (72 in 50)
SIMILAR_PAIRS = 0.05
# why an item ranks, by the feature that raised its score most: (feature above its mean, below)
REASONS = {"popularity": ("it is popular", "it is a less-known pick"),
           "recency": ("others took it recently", "it has not been taken lately"),
           "category_overlap": ("it is in one of your categories", "it is outside your usual categories"),
           "co_taken": ("it is often taken with what you took", "it is seldom taken with what you took")}
# why a user with no history sees an item: their pool is the most popular items (Pipeline.popular),
# whatever weight the ranker gives popularity (the demo's -0.29 never said "it is popular": rows had no reason)
COLD_REASON = "it is among the most popular items you have not seen"


class Reasons:
    """The reasons of a :class:`.pipeline.Pipeline`: ``pipe.because(user, item, values)``."""

    # what they read, all set by the pipeline
    ranker: Ranker
    stats: FeatureStats
    items: pd.DataFrame
    item_vecs: np.ndarray
    taken: dict[str, list[str]]
    title: dict[str, str]
    row: dict[str, int]
    _similar_floor: float | None

    @property
    def similar_floor(self) -> float:
        """The cosine that the catalogue's closest :data:`SIMILAR_PAIRS` of item pairs reach (on
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

    def because(self, user: str, item: str, values: dict[str, float], n: int = 2) -> str:
        """Why ``item`` ranks for ``user``, from its ranker feature ``values``: the feature that
        raised its logit most, as a clause: ``"you liked “A” and “B”"``, ``"it is often taken
        with “C”"``, ``"it is popular"``... (:data:`REASONS`); ``""`` when none raised it. A user
        who has taken nothing yet always gets :data:`COLD_REASON`: their pool is the most popular items.

        History items are cited only when text interest raised the score and they are close to
        the item (:meth:`similar_history`): an item the text models scored down, or one that
        nothing in the history resembles, is explained by what really lifted it.
        User activity is never the reason: it is the same for every item of the user. The
        history items cited are never ``item`` itself (a candidates file may name one the user took).
        """
        if not self.taken.get(user):
            return COLD_REASON
        features = self.ranker.features
        x = np.array([[values[f] for f in features]])
        parts = dict(zip(features, self.ranker.contributions(x)[0]))
        high = dict(zip(features, x[0] > np.array(self.ranker.mean)))
        raised = {f: v for f, v in parts.items() if f in REASONS}
        raised["text"] = sum(v for f, v in parts.items() if f in TEXT_FEATURES)
        for feature in sorted((f for f, v in raised.items() if v > 0), key=lambda f: -raised[f]):
            if feature == "text":
                liked = self.similar_history(user, item, n)
                if liked:
                    return "you liked " + " and ".join(f"“{t}”" for t in liked)
            elif feature == "co_taken" and high[feature]:
                if with_ := self.taken_with(user, item):  # none but the item itself: the next reason
                    return f"it is often taken with “{with_}”"
            elif feature == "category_overlap" and high[feature]:
                return self.same_category(user, item)
            else:
                return REASONS[feature][0 if high[feature] else 1]
        return ""

    def similar_history(self, user: str, item: str, n: int = 2) -> list[str]:
        """Titles of up to ``n`` of the user's history items closest to ``item``, closest first,
        among those at least :attr:`similar_floor` close to it; never ``item`` itself.

        subtle: a candidate the user already took was its own closest history item, and was
        explained by itself ("you liked “Ethiopian Yirgacheffe beans 250g”")."""
        history = [h for h in self.taken.get(user, []) if h != item]
        if not history:
            return []
        sims = self.item_vecs[[self.row[h] for h in history]] @ self.item_vecs[self.row[item]]
        order = np.argsort(-sims, kind="stable")[:n]
        return [self.title[history[i]] for i in order if sims[i] >= self.similar_floor]

    def same_category(self, user: str, item: str) -> str:
        """``"it is in Travel, like “Kyoto on Foot”"``: the item's category and the user's history
        item of that category closest to it (by the bi-encoder); the category alone when none is.

        subtle: the category clause named no history item, and it explained 101 of the demo's first
        150 recommendations; the issue asks for the history items behind each."""
        category = self.stats.item_category.get(item)
        same = [h for h in self.taken.get(user, []) if h != item and self.stats.item_category.get(h) == category]
        if not category or not same:
            return f"it is in {category}, one of your categories"
        sims = self.item_vecs[[self.row[h] for h in same]] @ self.item_vecs[self.row[item]]
        return f"it is in {category}, like “{self.title[same[int(np.argmax(sims))]]}”"

    def taken_with(self, user: str, item: str) -> str:
        """The title of the user's recent take, other than ``item``, most often taken with it
        (co-taken); ``""`` when no other recent take was ever taken with it.

        subtle: an item is taken with itself most of all (its cosine is 1), so a candidate the
        user already took was said to be "often taken with" itself."""
        recent = [r for r in self.stats.recent[user] if r != self.stats.item_row[item]]
        if not recent:
            return ""
        near = self.stats.cosine[recent, self.stats.item_row[item]].toarray().ravel()
        # none of the others ever taken with it (its score was its own): nothing to name
        return str(self.items["title"].iloc[recent[int(np.argmax(near))]]) if near.max() > 0 else ""
