"""Why an item ranks for a user: the "because" clause of a recommendation, from the ranker
feature that raised its score most (:data:`REASONS`), naming the user's history items behind it
where it can.

Each function reads one :class:`.pipeline.Pipeline`: its ranker, item statistics, the users'
takes and the item vectors (``because(pipe, user, item, values)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .features import TEXT_FEATURES

if TYPE_CHECKING:
    from .pipeline import Pipeline

# a history item explains a pick when they are as close as the catalogue's closest 5% of pairs.
# subtle: at 10% a climbing book explained a folk-guitar pick; on the demo's first 60 users' top
# 10s, the cited items shared the pick's category 81% of the time (108 cited in 62 "you liked"),
# at 5% 90% (91 in 58), at 3% 94% (72 in 50)
SIMILAR_PAIRS = 0.05
# why an item ranks, by the feature that raised its score most: (feature above its mean, below);
# None where that side reads as no reason to take it, and the next feature that raised it speaks.
# subtle: a ranker that weighs recency down lifts items nobody took lately, and "because it has not
# been taken lately" reads as a reason to pass (84 of 150 rows of an audit's items-without-text run)
REASONS: dict[str, tuple[str, str | None]] = {
    "popularity": ("it is popular", "it is a less-known pick"),
    "recency": ("others took it recently", None),
    "category_overlap": ("it is in one of your categories", "it is outside your usual categories"),
    "co_taken": ("it is often taken with what you took", None)}
# why a user with no history sees an item: their pool is the most popular items (Pipeline.popular),
# whatever weight the ranker gives popularity (the demo's -0.29 never said "it is popular": rows had no reason)
COLD_REASON = "it is among the most popular items you have not seen"
# a pick nothing lifted above an average candidate (the dashboard says so in a sentence of its own)
NOTHING_STOOD_OUT = "no single feature lifted it above an average candidate"
# a pick its text lifted with no history item close enough to cite (Pipeline.similar_floor) and
# nothing else to say; subtle: it had had no "because", under a sentence saying what raised it
# reads as no reason to take it, above its text-interest bar
LIKE_YOURS = "it is like what you have taken"
# a pick that only what reads as no reason to take it lifted (REASONS' None): no "because" (the
# dashboard says so in a sentence of its own)
NO_REASON = ""
UNTAKEN = "no one has taken it yet"  # an item added after training, say: scored from its text
# a pick whose logit is below the baseline (an average candidate's, as the dashboard's chart shows it),
# whatever single feature raised it (an audit's Vegan-only user was told a salmon soup at 2.2% ranked
# "because it is popular", popularity having added 0.054 to its logit)
BELOW_AVERAGE = "it scores below an average candidate"
# a feature that raised the logit by less says nothing as a reason (the same +0.054)
MIN_LIFT = 0.1
MIN_TAKEN_WITH = 2  # users who took both, for "it is often taken with" a history item
TAKING_FEATURES = ("popularity", "recency", "co_taken")  # what others' takes say: nothing, for an item none took


def because(pipe: Pipeline, user: str, item: str, values: dict[str, float], n: int = 2) -> str:
    """Why ``item`` ranks for ``user``, from its ranker feature ``values``: the feature that
    raised its logit most, as a clause: ``"you liked “A” and “B”"``, ``"it is often taken
    with “C”"``, ``"it is popular"``... (:data:`REASONS`); when none raised it,
    :data:`NOTHING_STOOD_OUT`; when its text did with no history item to cite, :data:`LIKE_YOURS`;
    when only what reads as no reason to take it did (``"it has not been taken lately"``),
    :data:`NO_REASON`; below an average candidate all told, :data:`BELOW_AVERAGE`; a feature
    that raised it by under :data:`MIN_LIFT` is no reason; "no one has taken it yet" for an
    item nobody took, when none did or what lifted it was its takers (:data:`TAKING_FEATURES`:
    none, read as a lift). A user who has taken nothing yet gets :data:`COLD_REASON` (their pool
    is the most popular items) for an item others took, and "no one has taken it yet" for one a
    candidates file names that nobody took.

    History items are cited only when text interest raised the score and they are close to
    the item (:func:`similar_history`): an item the text models scored down, or one that
    nothing in the history resembles, is explained by what really lifted it.
    User activity is never the reason: it is the same for every item of the user. The
    history items cited are never ``item`` itself (a candidates file may name one the user took).
    """
    # subtle: a new item in a candidates file was "among the most popular items" for a new user,
    # and had no reason at all for the others (a review, on items added after training)
    untaken = not pipe.stats.take_share.get(item)
    if not pipe.taken.get(user):
        return UNTAKEN if untaken else COLD_REASON
    features = pipe.ranker.features
    x = np.array([[values[f] for f in features]])
    parts = dict(zip(features, pipe.ranker.contributions(x)[0]))
    high = dict(zip(features, x[0] > np.array(pipe.ranker.mean)))
    if sum(parts.values()) < 0:
        return UNTAKEN if untaken else BELOW_AVERAGE
    raised = {f: v for f, v in parts.items() if f in REASONS}
    raised["text"] = sum(v for f, v in parts.items() if f in TEXT_FEATURES)
    lifts = sorted((f for f, v in raised.items() if v >= MIN_LIFT), key=lambda f: -raised[f])
    for feature in lifts:
        if feature == "text":
            liked = similar_history(pipe, user, item, n)
            if liked:
                return "you liked " + " and ".join(f"“{t}”" for t in liked)
        elif untaken and feature in TAKING_FEATURES:
            # subtle: with popularity weighed down, a new item's 0 takers "lifted" it: "it is a
            # less-known pick" for an item scored below average on all the user would recognise
            return UNTAKEN
        elif feature == "co_taken" and high[feature]:
            if with_ := taken_with(pipe, user, item):  # none but the item itself: the next reason
                return f"it is often taken with “{with_}”"
        elif feature == "category_overlap" and high[feature]:
            return same_category(pipe, user, item)
        elif phrase := REASONS[feature][0 if high[feature] else 1]:
            return phrase
    if untaken:
        return UNTAKEN
    return LIKE_YOURS if "text" in lifts else NO_REASON if lifts else NOTHING_STOOD_OUT


def similar_history(pipe: Pipeline, user: str, item: str, n: int = 2) -> list[str]:
    """Titles of up to ``n`` different history items of the user closest to ``item``, closest first,
    among those at least :attr:`.pipeline.Pipeline.similar_floor` close to it; never ``item`` itself.

    subtle: a candidate the user already took was its own closest history item, and was
    explained by itself ("you liked “Ethiopian Yirgacheffe beans 250g”")."""
    # subtle: an item taken twice was cited twice ("you liked “Wool Hiking Socks” and “Wool Hiking Socks”")
    history = [h for h in dict.fromkeys(pipe.taken.get(user, [])) if h != item]
    if not history:
        return []
    sims = pipe.item_vecs[[pipe.row[h] for h in history]] @ pipe.item_vecs[pipe.row[item]]
    order = np.argsort(-sims, kind="stable")[:n]
    return [pipe.title[history[i]] for i in order if sims[i] >= pipe.similar_floor]


def same_category(pipe: Pipeline, user: str, item: str) -> str:
    """``"it is in Travel, like “Kyoto on Foot”"``: the item's category and the user's history
    item of that category closest to it (by the bi-encoder); the category alone when none is.

    subtle: the category clause named no history item, and it explained 101 of the demo's first
    150 recommendations; the issue asks for the history items behind each."""
    category = pipe.stats.item_category.get(item)
    same = [h for h in pipe.taken.get(user, []) if h != item and pipe.stats.item_category.get(h) == category]
    if not category or not same:
        return f"it is in {category}, one of your categories"
    sims = pipe.item_vecs[[pipe.row[h] for h in same]] @ pipe.item_vecs[pipe.row[item]]
    return f"it is in {category}, like “{pipe.title[same[int(np.argmax(sims))]]}”"


def taken_with(pipe: Pipeline, user: str, item: str) -> str:
    """The title of the user's recent take, other than ``item``, most often taken with it
    (co-taken) and by at least ``MIN_TAKEN_WITH`` users; ``""`` when none is.

    subtle: an item is taken with itself most of all (its cosine is 1), so a candidate the
    user already took was said to be "often taken with" itself. subtle: two items one user
    alone took have a cosine of 1 too: "often taken with" rested on one person."""
    stats, row = pipe.stats, pipe.stats.item_row[item]
    recent = [r for r in stats.recent[user] if r != row]
    if not recent:
        return ""
    near = stats.cosine[recent, row].toarray().ravel()
    # the cosine of the sets of takers, back to how many took both: |A & B| / sqrt(|A| |B|)
    both = np.rint(near * np.sqrt(stats.takers[recent] * stats.takers[row]))
    best = int(np.argmax(np.where(both >= MIN_TAKEN_WITH, near, 0.0)))
    return str(pipe.items["title"].iloc[recent[best]]) if both[best] >= MIN_TAKEN_WITH else ""
