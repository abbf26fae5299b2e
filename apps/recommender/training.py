"""What the ranker learns from: the training recipe, the per-user time split, and the ranker's
training rows, each user's list drawn from what the pipeline's sources offer them as of their
validation period (:func:`validation_set`).

:meth:`.service.RecommenderService.train` tunes the text models on the early period and fits the
ranker on these rows; the service registers the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shared.errors import VerticalsError

from .data import is_timed
from .features import FEATURES
from .pipeline import SOURCE_DEPTH, Pipeline
from .ranker import Ranker
from .scoring import TextConfig, TextScorer

TIME_GROUPS = 8  # the ranker's users, by when they validate, each group with its own past
NEXT_TAKES = 3  # the ranker learns which items each user takes next: their first takes after the split


@dataclass
class TrainConfig:
    """A training run: text-model recipe, time-split fraction, registry prefix, the features
    the ranker combines, and how many candidates per user it learns to order."""

    prefix: str = "rec"
    val_fraction: float = 0.2
    text: TextConfig = field(default_factory=TextConfig)
    features: tuple[str, ...] = FEATURES
    candidates: int = 50
    # the ranker learns from at most this many (user, candidate) rows, each read by the
    # cross-encoder once (None: every user's lists); on MovieLens (607 users, as of each one's
    # last take) 300 users' lists gave nDCG@10 0.051 (two seeds), 60 users' 0.040-0.049 (four)
    ranker_rows: int | None = 15_000

    def __post_init__(self) -> None:
        if not 0.05 <= self.val_fraction <= 0.5:
            raise VerticalsError(f"--val-fraction must be in [0.05, 0.5], got {self.val_fraction}")
        if self.candidates < 1:
            raise VerticalsError(f"candidates must be at least 1, got {self.candidates}")
        if self.ranker_rows is not None and self.ranker_rows < 1:
            raise VerticalsError(f"--ranker-rows must be at least 1, got {self.ranker_rows}")
        unknown = set(self.features) - set(FEATURES)
        if unknown or not self.features:
            raise VerticalsError(f"ranker features must be a non-empty subset of "
                                 f"{', '.join(FEATURES)}; got {', '.join(sorted(unknown))}")


def time_split(interactions: pd.DataFrame, val_fraction: float) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """Each user's last ``val_fraction`` of interactions (by time) validates; the rest trains.
    A user with a single interaction (or all at one time) stays wholly in the early part.

    subtle: one global time cutoff left only ~24 of 607 MovieLens users with both earlier
    history and later takes, too few to fit the ranker on; a cutoff per user keeps every user
    with two or more interactions on both sides.
    """
    cutoffs = interactions.groupby("user_id")["timestamp"].transform("quantile", 1.0 - val_fraction)
    early = interactions["timestamp"] <= cutoffs
    return interactions[early], interactions[~early]


def validation_set(items: pd.DataFrame, interactions: pd.DataFrame, early: pd.DataFrame,
                   late: pd.DataFrame, scorer: TextScorer,
                   config: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The ranker's training rows (features, labels, each row's user): for users with early
    history who take something in the late period, a list drawn from what the pipeline's
    sources offer them as of their time group (:func:`pipelines_as_of`; ``SOURCE_DEPTH *
    config.candidates`` from each, as when serving): those of their first :data:`NEXT_TAKES`
    takes of the late period that are offered (labelled 1) and ``config.candidates`` other
    offered items (0), their later takes left out (:func:`training_list`); lists of
    at most ``config.ranker_rows`` rows in all, users drawn (seeded) when there are more. A
    user none of whose next takes is offered still gives a list: its negatives.

    subtle: what a user takes next, not everything they take later. Labelled by the whole
    late period (a fifth of each history: years for some MovieLens users) in lists mixed
    from the sources, the ranker learnt what lasts, popularity, and too little of what is
    near the user's latest takes; more users made it worse. On MovieLens leave-last-out (607
    users, quick text models, features as of each user's last take), 300 users' lists gave
    nDCG@10 0.041-0.045 before and 0.051 now (two seeds each), where co-taken alone gives
    0.048. A later take is left out: at the time the list stands for, it was neither taken
    nor passed over.

    subtle: the ranker must learn to order what it is given: the offer that the serving pool
    is picked from. Trained on taken items against random catalogue items, it learned
    "popular beats obscure" and could not order a list of popular candidates.
    """
    # only features and candidates are asked of it; every feature weighs, so all are computed
    reads_all = Ranker(list(FEATURES), [0.0] * len(FEATURES), [1.0] * len(FEATURES),
                       [1.0] * len(FEATURES), 0.0)
    later, nxt = next_takes(early, late)
    if not later:
        raise VerticalsError("no user with earlier history takes anything in the validation "
                             "period — add interactions or raise --val-fraction")
    groups = pipelines_as_of(items, interactions, early, late, sorted(later), scorer, reads_all)
    chosen = drawn_users([u for group, _ in groups for u in group], config)
    blocks = training_lists(groups, chosen, nxt, later, config)
    rows = [row for _, block in blocks for row in block]
    labels = np.array([int(item in nxt[user]) for user, item in rows])
    if not labels.sum():
        raise VerticalsError("no item taken after the time split is among the candidates of "
                             "users with earlier history — add data or raise --val-fraction")
    x = np.vstack([pipe.features([u for u, _ in block], [i for _, i in block]) for pipe, block in blocks
                   if block]).astype(np.float64)
    # the share of the chosen users whose offer holds one of their next takes
    recall = len({user for (user, _), label in zip(rows, labels) if label}) / len(chosen)
    info = {"offer_recall": recall, "time_groups": len(groups), "items": [i for _, i in rows]}
    return x, labels, np.array([u for u, _ in rows]), info


def next_takes(early: pd.DataFrame, late: pd.DataFrame) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For each user with early history who takes something in the late period: every item they
    take then, and their first :data:`NEXT_TAKES` takes (by time), as ``user -> items`` each."""
    with_history = set(early.loc[early["label"] == 1, "user_id"])
    taken_late = late[(late["label"] == 1) & late["user_id"].isin(with_history)]
    later = taken_late.groupby("user_id")["item_id"].agg(set).to_dict()
    first = taken_late.sort_values(["user_id", "timestamp"], kind="stable").groupby("user_id").head(NEXT_TAKES)
    return later, first.groupby("user_id")["item_id"].agg(set).to_dict()


def drawn_users(users: list[str], config: TrainConfig) -> set[str]:
    """The users whose lists the ranker learns from: all of ``users`` while their lists fit in
    ``config.ranker_rows`` rows, else as many as fit, drawn with the training seed."""
    limit = config.ranker_rows
    per_user = config.candidates + NEXT_TAKES  # the most rows one list can hold
    if limit is None or len(users) * per_user <= limit:
        return set(users)
    drawn = np.random.default_rng(config.text.seed).choice(len(users), size=max(1, limit // per_user),
                                                           replace=False)
    return {users[i] for i in drawn}


def training_lists(groups: list[tuple[list[str], Pipeline]], chosen: set[str], nxt: dict[str, set[str]],
                   later: dict[str, set[str]], config: TrainConfig) -> list[tuple[Pipeline, list[tuple[str, str]]]]:
    """Per time group: its pipeline and its ``chosen`` users' (user, item) rows, each user's
    list a :func:`training_list` of what the group's sources offer them (``SOURCE_DEPTH *
    config.candidates`` from each)."""
    rng = np.random.default_rng(config.text.seed)
    blocks = []
    for group, pipe in groups:
        mine = [u for u in group if u in chosen]
        offers = pipe.sources(mine, SOURCE_DEPTH * config.candidates) if mine else []
        blocks.append((pipe, [(user, item) for user, found in zip(mine, offers, strict=True)
                              for item in training_list(found, nxt[user], later[user], config.candidates, rng)]))
    return blocks


def training_list(found: tuple[list[str], list[str], list[str]], taken: set[str], later: set[str],
                  n: int, rng: np.random.Generator) -> list[str]:
    """One user's list for the ranker to learn from: of what the sources offer (``found``, as
    :meth:`.pipeline.Pipeline.sources` gives it), those of ``taken`` it holds (the positives) and
    ``n`` others drawn at random, ``later`` takes left out; in the sources' order.

    >>> training_list((["a", "b"], ["c", "a"], ["d", "e"]), {"c"}, {"c", "e"}, 2, np.random.default_rng(0))
    ['b', 'c', 'd']

    subtle: the pool a user is served is the best of the same offer by the ranker's score, so the
    ranker learns to order the whole offer, not a list mixed from the sources in fixed shares:
    there each source's own feature marked its items, and the share of each source set how often
    that feature came with a take (the bi-encoder's cosine read as a sign of *not* taking).
    """
    offer = list(dict.fromkeys(item for source in found for item in source))
    others = [j for j, item in enumerate(offer) if item not in later]
    drawn = set(rng.choice(others, size=min(n, len(others)), replace=False).tolist()) if others else set()
    return [item for j, item in enumerate(offer) if item in taken or j in drawn]


def pipelines_as_of(items: pd.DataFrame, interactions: pd.DataFrame, early: pd.DataFrame,
                    late: pd.DataFrame, users: list[str], scorer: TextScorer,
                    ranker: Ranker) -> list[tuple[list[str], Pipeline]]:
    """The users in :data:`TIME_GROUPS` groups by when their validation period starts, each
    group with a pipeline that sees them as they were then: their own early history, and
    item statistics from what everyone did before the group's first validation period
    (other users' validation periods included, when they came earlier). ``interactions``: all
    of them, ``early`` and ``late`` their :func:`time_split`.

    subtle: with the per-user split, one pipeline over every user's early history let a
    user who validates in 1997 be ranked with popularity, recency and co-taken counts from
    2018: the ranker learned from features it never has when serving. Without timestamps
    nothing says who came first (row numbers of a file sorted by user made one user's 17
    rows the first group's past): one group, everyone's early history.
    """
    if not is_timed(interactions):
        return [(list(users), Pipeline(items, early[early["user_id"].isin(set(users))],
                                       scorer, ranker, past=early))]
    starts = late[late["user_id"].isin(users)].groupby("user_id")["timestamp"].min()
    ordered = sorted(users, key=lambda u: (starts[u], u))
    groups: list[tuple[list[str], Pipeline]] = []
    for group in np.array_split(np.array(ordered, dtype=object), min(TIME_GROUPS, len(users))):
        group = list(group)
        own = early[early["user_id"].isin(set(group))]
        past = interactions[interactions["timestamp"] < starts[group[0]]]
        pipe = (groups[0][1].as_of(own, past) if groups else
                Pipeline(items, own, scorer, ranker, past=past))
        groups.append((group, pipe))
    return groups
