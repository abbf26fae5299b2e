"""The "because" clause (reasons.because) on the trained tiny pipeline, with rankers set by hand."""

from __future__ import annotations

import copy

from apps.recommender import reasons
from apps.recommender.features import FEATURES
from apps.recommender.ranker import Ranker
from apps.recommender.service import RecommenderService

AVERAGE = dict.fromkeys(FEATURES, 0.5)  # every feature at the hand-set rankers' mean: adds nothing


def ranker(**coef: float) -> Ranker:
    """A ranker over every feature, mean 0.5 and scale 1, weighing only the features named."""
    return Ranker(list(FEATURES), [0.5] * len(FEATURES), [1.0] * len(FEATURES),
                  [coef.get(f, 0.0) for f in FEATURES], 0.0)


def test_an_item_taken_twice_is_cited_once(service: RecommenderService) -> None:
    """A user who took an item twice was told "you liked “Wool Hiking Socks” and “Wool Hiking Socks”"."""
    pipe = copy.copy(service.pipeline())
    user = sorted(u for u in pipe.taken if len(set(pipe.taken[u])) >= 2)[0]
    unseen = [i for i in pipe.items["item_id"] if i not in pipe.seen[user]]
    close = next(i for i in unseen if len(reasons.similar_history(pipe, user, i)) == 2)
    once = reasons.similar_history(pipe, user, close)
    pipe.ranker = ranker(bi_score=1.0, cross_score=1.0)
    lifted = AVERAGE | {"bi_score": 0.9, "cross_score": 0.9}
    nearest = next(h for h in pipe.taken[user] if pipe.title[h] == once[0])
    pipe.taken = {**pipe.taken, user: [nearest, *pipe.taken[user], nearest]}  # the closest one twice
    assert reasons.similar_history(pipe, user, close) == once
    assert reasons.because(pipe, user, close, lifted) == f"you liked “{once[0]}” and “{once[1]}”"
    pipe.taken = {**pipe.taken, user: [nearest, nearest]}  # one item, taken twice: named once
    assert reasons.similar_history(pipe, user, close) == [once[0]]
    assert reasons.because(pipe, user, close, lifted) == f"you liked “{once[0]}”"


def test_what_reads_as_no_reason_to_take_it_is_never_the_because(service: RecommenderService) -> None:
    """A ranker that weighs recency down lifts items nobody took lately: "because it has not been
    taken lately" read as a reason to pass. The next feature that raised it speaks, or none."""
    pipe = copy.copy(service.pipeline())
    user = sorted(pipe.taken)[0]
    item = next(i for i in pipe.items["item_id"] if i not in pipe.seen[user] and pipe.stats.take_share.get(i))
    pipe.ranker = ranker(recency=-1.0, co_taken=-1.0, popularity=0.5)
    stale = AVERAGE | {"recency": 0.1}  # recency below its mean, weighed down: it raised the score most
    assert reasons.because(pipe, user, item, stale | {"popularity": 0.8}) == "it is popular"
    assert reasons.because(pipe, user, item, stale | {"co_taken": 0.2}) == reasons.NO_REASON
    assert reasons.because(pipe, user, item, stale) == reasons.NO_REASON
    assert reasons.because(pipe, user, item, AVERAGE) == reasons.NOTHING_STOOD_OUT, "nothing raised it"
    # the readable sides still speak: recency above its mean weighed up, a less-known pick
    pipe.ranker = ranker(recency=1.0, popularity=-1.0)
    assert reasons.because(pipe, user, item, AVERAGE | {"recency": 0.9}) == "others took it recently"
    assert reasons.because(pipe, user, item, AVERAGE | {"popularity": 0.1}) == "it is a less-known pick"


def test_text_interest_with_no_history_item_to_cite_still_says_why(service: RecommenderService) -> None:
    """An item its text lifted, with no history item close enough to cite, had no "because", and
    the dashboard said what raised it reads as no reason to take it, above its text-interest bar."""
    pipe = copy.copy(service.pipeline())
    user = sorted(pipe.taken)[0]
    far = next(i for i in pipe.items["item_id"] if i not in pipe.seen[user]
               and not reasons.similar_history(pipe, user, i))
    pipe.ranker = ranker(bi_score=1.0, cross_score=1.0, recency=-1.0)
    lifted = AVERAGE | {"bi_score": 0.9, "cross_score": 0.9}
    assert reasons.because(pipe, user, far, lifted) == reasons.LIKE_YOURS
    assert reasons.because(pipe, user, far, lifted | {"recency": 0.1}) == reasons.LIKE_YOURS  # not "not lately"


def test_often_taken_with_rests_on_more_than_one_person() -> None:
    """Two items one user alone took have a co-taken cosine of 1: U017 was told a kayaking book
    was "often taken with" a history item one other reader had taken beside it."""
    from types import SimpleNamespace

    import pandas as pd

    from apps.recommender.features import fit_stats

    items = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["A", "B", "C"], "category": ["x", "x", "y"]})
    took = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c"), ("u3", "a"), ("u3", "c")]
    interactions = pd.DataFrame({"user_id": [u for u, _ in took], "item_id": [i for _, i in took],
                                 "label": 1, "timestamp": range(len(took))})
    pipe = SimpleNamespace(stats=fit_stats(interactions, items), items=items)
    assert list(pipe.stats.takers) == [3, 1, 2]
    assert reasons.taken_with(pipe, "u1", "c") == "A"  # u2 and u3 took both
    assert reasons.taken_with(pipe, "u2", "b") == ""  # u1 alone took a and b
