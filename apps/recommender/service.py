"""The recommender's logic behind the CLI and the dashboard (no UI code here).

``RecommenderService(items, interactions)`` trains the three models (bi-encoder, cross-encoder,
ranker), recommends for one user with a score breakdown, and runs batch scoring jobs.
Models live in the registry as ``<prefix>-biencoder``, ``<prefix>-interest`` and
``<prefix>-ranker``; the ranker's card pins the exact text-model versions it was fitted on.
Your models use the prefix ``rec`` by default; the demo's use ``demo``, so ``recommend demo``
never replaces what ``recommend train`` registered.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shared import Registry, file_digest, fingerprint, get_registry
from shared.errors import VerticalsError, first_few
from shared.finetune import check_layers

from .batch import BatchPlan, BatchResult, check_output, plan_chunks, run_batch
from .data import is_timed, natural_key, read_candidates, read_interactions, read_items
from .features import FEATURE_NAMES, FEATURES
from .jobs import ChunkScorer, job_key
from .pipeline import POPULARITY_FALLBACK, Pipeline, cold_start_note
from .profiles import positives_by_user, sequential_examples
from .ranker import (
    Ranker,
    few_positives_warning,
    fit_ranker,
    held_out_metrics,
    held_out_users,
    text_warnings,
    unweighted_text_note,
    weak_ranker_warning,
)
from .reasons import because
from .scoring import TextScorer, random_negatives, train_text_models
from .training import NEXT_TAKES, TrainConfig, time_split, validation_set

log = logging.getLogger(__name__)
DEMO_PREFIX = "demo"
HELD_OUT_USERS = 0.2  # share of the ranker's users whose rows only measure it (val_auc)


@dataclass
class Recommendation:
    """One ranked item with its score breakdown and why it ranks:
    ``baseline + text_part + other_part == logit(score)``; ``parts`` splits the last two by
    feature (each ``coef * standardised value``; empty for a user with no history, scored by the
    items' share of takers, not by the features) and ``because`` is a clause (``"it is
    popular"``, ``"you liked “A”"``: :func:`.reasons.because`)."""

    item_id: str
    title: str
    category: str
    score: float
    baseline: float
    text_part: float
    other_part: float
    features: dict[str, float]
    parts: dict[str, float]
    because: str


def check_top_k(top_k: int | None, pool: int | None = None) -> None:
    """A top-k of at least 1, and a pool only beside a top-k and at least as big (one line)."""
    if top_k is not None and top_k < 1:
        raise VerticalsError(f"--top-k must be greater than 0, got {top_k}")
    if pool is not None and (top_k is None or pool < top_k):
        raise VerticalsError(f"--pool must come with --top-k and be at least it, got --pool {pool}"
                             + (f" --top-k {top_k}" if top_k is not None else " with --candidates"))


class RecommenderService:
    """``RecommenderService("items.csv", "interactions.csv").recommend("U001")``."""

    def __init__(self, items: str | Path, interactions: str | Path, prefix: str = "rec",
                 registry: Registry | None = None) -> None:
        self.items_path, self.interactions_path = Path(items), Path(interactions)
        self.prefix = prefix
        self._registry = registry
        self._items: pd.DataFrame | None = None
        self._interactions: pd.DataFrame | None = None
        self._pipeline: Pipeline | None = None
        self._takers: set[str] | None = None

    @property
    def registry(self) -> Registry:
        return self._registry or get_registry()

    @property
    def items(self) -> pd.DataFrame:
        if self._items is None:
            self._items = read_items(self.items_path)
        return self._items

    @property
    def interactions(self) -> pd.DataFrame:
        if self._interactions is None:
            self._interactions = read_interactions(self.interactions_path, self.items)
        return self._interactions

    def names(self) -> dict[str, str]:
        return {k: f"{self.prefix}-{k}" for k in ("biencoder", "interest", "ranker")}

    def is_trained(self) -> bool:
        return self.registry.current(self.names()["ranker"]) is not None

    # ---- training ------------------------------------------------------------------------

    def train(self, config: TrainConfig | None = None) -> dict:
        """Tune the text models on the early period, fit the ranker on the late one; register."""
        config = config or TrainConfig(prefix=self.prefix)
        check_layers(config.text.base, config.text.cross_layers, "--cross-layers")  # before minutes of training
        early, _ = time_split(self.interactions, config.val_fraction)
        examples = sequential_examples(early, self.items)
        seen = early.groupby("user_id")["item_id"].agg(set).to_dict()
        negatives = random_negatives(examples, list(self.items["item_id"]),
                                     config.text.random_negatives, seen, config.text.seed)
        text = dict(zip(self.items["item_id"], self.items["text"]))
        names = self.names()
        bi, cross = train_text_models(examples, negatives, text,
                                      (names["biencoder"], names["interest"]), config.text)
        try:
            result = self.fit_ranker(bi, cross, config)
        except BaseException:
            for ref in (bi, cross):  # pinned by no ranker, never to serve: not left to fill the disk
                self.registry.discard(*ref.split("@"))
            raise
        # subtle: promoted last, with the ranker that pins them saved: a `train` killed during the
        # cross-encoder's minutes had left a new bi-encoder current, with no ONNX form beside it
        for ref in (bi, cross):
            self.registry.promote(*ref.split("@"))
        return result

    def fit_ranker(self, bi: str, cross: str, config: TrainConfig | None = None) -> dict:
        """Fit and register the ranker on the late period over pinned text models
        (``"rec-biencoder@v1"``, ``"rec-interest@v1"``); ``train`` ends with this, then promotes
        the text models it pins."""
        config = config or TrainConfig(prefix=self.prefix)
        early, late = time_split(self.interactions, config.val_fraction)
        # this service's registry, which need not be the settings' one (a Ray worker's is passed)
        scorer = TextScorer(self.registry.resolve(bi), self.registry.resolve(cross))
        x, y, users, candidates = validation_set(self.items, self.interactions, early, late, scorer, config)
        x = x[:, [FEATURES.index(f) for f in config.features]]
        held = held_out_users(users, y, HELD_OUT_USERS, config.text.seed)
        metrics = held_out_metrics(x, y, np.isin(users, held), config.features)
        ranker = fit_ranker(x, y, config.features)  # serving uses every row
        card = {"kind": "ranker", "base": "logistic-regression", "labels": ["0", "1"],
                "data_fingerprint": fingerprint([file_digest(self.items_path),
                                                 file_digest(self.interactions_path)]),
                "params": {"biencoder": bi, "cross_encoder": cross, "split": "per-user time",
                           "val_fraction": config.val_fraction, "next_takes": NEXT_TAKES,
                           "feature_time_groups": candidates["time_groups"],
                           "features": ranker.features,
                           "coef": dict(zip(ranker.features, ranker.coef)),
                           "val_auc_users": held, "recipe": asdict(config)},
                "metrics": metrics | {"val_users": len(held),
                                      "val_offer_recall": candidates["offer_recall"]}}
        cross_metrics = self.registry.card(cross).get("metrics", {})
        warning = " · ".join(w for w in [few_positives_warning(metrics["val_positives"], len(held)),
                                         weak_ranker_warning(metrics["val_auc"]),
                                         *text_warnings(card["params"]["coef"], cross_metrics)] if w)
        if warning:  # printed by `recommend train` / `recommend demo` from the result below
            card["warning"] = warning
        name = self.names()["ranker"]
        version = self.registry.save(name, ranker.save, card)
        self._pipeline = None
        coef = card["params"]["coef"]  # by size: what the ranker leans on (per standard deviation)
        weights = {FEATURE_NAMES.get(f, f): round(coef[f], 2) for f in sorted(coef, key=lambda f: -abs(coef[f]))}
        note = unweighted_text_note(coef)
        return {"biencoder": bi, "interest": cross, "ranker": f"{name}@{version}", **card["metrics"],
                "weights": weights} | ({"note": note} if note else {}) | ({"warning": warning} if warning else {})

    # ---- serving -------------------------------------------------------------------------

    def ranker_card(self) -> dict:
        name = self.names()["ranker"]
        if self.registry.current(name) is None:
            fix = ("run `verticals recommend demo`" if self.prefix == DEMO_PREFIX else
                   f"run `verticals recommend train --items I.csv --interactions X.csv --prefix "
                   f"{self.prefix}`, or to use the demo's models (`verticals recommend demo` "
                   f"registers them under the prefix `{DEMO_PREFIX}`) pass `--prefix {DEMO_PREFIX}`")
            raise VerticalsError(f"no trained recommender ({name!r} is not in the registry) — {fix}")
        return self.registry.card(name)

    def pipeline(self) -> Pipeline:
        """The serving pipeline on the models the current ranker pins (built once)."""
        if self._pipeline is None:
            card = self.ranker_card()
            ranker = Ranker.load(self.registry.path(self.names()["ranker"]))
            scorer = TextScorer(self.registry.resolve(card["params"]["biencoder"]),
                                self.registry.resolve(card["params"]["cross_encoder"]))
            self._pipeline = Pipeline(self.items, self.interactions, scorer, ranker)
        return self._pipeline

    def users(self) -> list[str]:
        """The users in the interactions, numbers in their order: ``["2", "10", "U9", "U10"]``."""
        # subtle: sorted as text, the dashboard's picker read '1', '10', '11', ..., '2'
        return sorted(self.interactions["user_id"].unique(), key=natural_key)

    def has_history(self, user: str) -> bool:
        """Whether the user took anything yet (else recommendations are cold-start).

        subtle: the users who took something are found once, with the data: the dashboard
        asks for every user on each rerun (4.4 s per rerun at MovieLens size when each call
        filtered the interactions).
        """
        if self._takers is None:
            self._takers = set(self.interactions.loc[self.interactions["label"] == 1, "user_id"])
        return user in self._takers

    def history(self, user: str) -> pd.DataFrame:
        """A user's interactions, newest first, with titles (empty for a new user); a ``when``
        column (the day) only when the interactions have timestamps."""
        rows = self.interactions[self.interactions["user_id"] == user]
        rows = rows.merge(self.items[["item_id", "title", "category"]], on="item_id")
        rows = rows.sort_values("timestamp", ascending=False, kind="stable")
        columns = ["item_id", "title", "category", "label"]
        if not is_timed(self.interactions):  # row numbers are no dates: no column (it showed blank)
            return rows[columns].reset_index(drop=True)
        rows["when"] = pd.to_datetime(rows["timestamp"], unit="s").dt.strftime("%Y-%m-%d")
        return rows[["when", *columns]].reset_index(drop=True)

    def recommend(self, user: str, n: int = 10) -> tuple[list[Recommendation], str]:
        """Top-``n`` for ``user`` and a note (non-empty for a user with no history)."""
        pipe = self.pipeline()
        frame = pipe.top_k([user], n)
        note = POPULARITY_FALLBACK if not pipe.taken.get(user) else ""
        features = list(pipe.ranker.features)
        parts = pipe.ranker.contributions(frame[features].to_numpy())
        recs = []
        for r, row_parts in zip(frame.itertuples(), parts):
            values = {f: float(getattr(r, f)) for f in features}
            recs.append(Recommendation(
                item_id=r.item_id, title=pipe.title[r.item_id],
                category=str(self.items.loc[pipe.row[r.item_id], "category"]),
                score=float(r.score), baseline=float(r.baseline), text_part=float(r.text_part),
                other_part=float(r.other_part), features=values,
                parts={} if note else dict(zip(features, row_parts.tolist())),
                because=because(pipe, user, r.item_id, values)))
        return recs, note

    def cards(self) -> list[dict]:
        """The ranker's card and the cards of the text models it pins."""
        card = self.ranker_card()
        out = [card]
        for pinned in (card["params"]["biencoder"], card["params"]["cross_encoder"]):
            out.append(self.registry.card(pinned))
        return out

    def models(self) -> str:
        """Which models serve, for cache and resume keys: each ``name@version`` with the time
        it was created (``"rec-ranker@v2 2025-05-01T02:00:00Z; rec-biencoder@v1 ...; ..."``).

        subtle: versions restart at v1 in a new home, so ``name@version`` alone could match the
        parts of a crashed job (kept beside an output outside the home) scored by other models.
        """
        return "; ".join(f"{c['name']}@{c['version']} {c.get('created')}" for c in self.cards())

    # ---- batch ---------------------------------------------------------------------------

    def score(self, out: str | Path, candidates: str | Path | None = None,
              top_k: int | None = None, engine: str = "local", chunk_size: int = 200,
              overwrite: bool = False, fail_after: int | None = None,
              pool: int | None = None, explain: bool = False) -> BatchResult:
        """Write ``user_id,item_id,score,rank`` for a candidates file or each user's top-k,
        reranked from ``pool`` candidates per user (default ``4 * top_k``: see
        :meth:`.pipeline.Pipeline.top_k`; a bigger pool finds more of what ranking the whole
        catalogue would, at a cost linear in its size); with ``explain``, each score's breakdown
        and reason too (:data:`.batch.EXPLAINED`)."""
        out = Path(out)
        self._check_score_options(out, candidates, top_k, pool, overwrite)
        pairs = read_candidates(candidates, self.items) if candidates else None
        # subtle: every file is read (and checked) before the work folder exists: a bad
        # interactions file, first read by a chunk, left a folder the next run took for a job's
        taken = positives_by_user(self.interactions)
        if not taken:  # subtle: every item then scored the same share, 0, and ranked in catalogue order
            raise VerticalsError(f"{self.interactions_path}: no row has label 1, so no user has taken anything and "
                                 "every item would score the same — pass interactions with the items users took "
                                 "(label 1)")
        users = pairs["user_id"] if pairs is not None else self.users()
        task = self._chunk_scorer(candidates, top_k, pool, explain)
        plan = BatchPlan(out, job_key(task, chunk_size, out), plan_chunks(users, chunk_size))
        result = run_batch(plan, task, engine=engine, overwrite=overwrite, fail_after=fail_after)
        self._note_cold_start(result, users, taken)
        if top_k is not None:
            self._note_short_users(result, users, top_k, len(self.items))
        if pairs is not None:  # a top-k never offers what the user took; a candidates file is scored as given
            self._warn_taken_candidates(pairs, taken, candidates)
        return result

    def _check_score_options(self, out: Path, candidates: str | Path | None, top_k: int | None,
                             pool: int | None, overwrite: bool) -> None:
        """:meth:`score`'s options, each bad one a one-line error: ``out`` is none of the input
        files and a new ``.parquet`` or ``.csv`` (:func:`.batch.check_output`), exactly one of
        ``candidates`` and ``top_k``, and a ``pool`` that fits (:func:`check_top_k`)."""
        for option, path in (("--items", self.items_path), ("--interactions", self.interactions_path),
                             ("--candidates", candidates)):
            if path is not None and out.resolve() == Path(path).resolve():  # --overwrite would destroy it
                raise VerticalsError(f"{out} is the {option} file: choose another --out")
        check_output(out, overwrite)
        if (candidates is None) == (top_k is None):
            raise VerticalsError("pass exactly one of --candidates FILE or --top-k K")
        check_top_k(top_k, pool)

    def _chunk_scorer(self, candidates: str | Path | None, top_k: int | None, pool: int | None,
                      explain: bool) -> ChunkScorer:
        """A scoring job's task: the files, as absolute paths, with their content digest, and the
        models that serve (:meth:`models`)."""
        models = self.models()
        inputs = fingerprint([file_digest(self.items_path), file_digest(self.interactions_path),
                              file_digest(candidates) if candidates else None])
        return ChunkScorer(str(self.items_path.resolve()),
                           str(self.interactions_path.resolve()),
                           str(Path(candidates).resolve()) if candidates else None, top_k,
                           self.prefix, str(self.registry.root.resolve()), models, inputs, pool, explain)

    @staticmethod
    def _note_cold_start(result: BatchResult, users: pd.Series | list[str], taken: dict[str, list[str]]) -> None:
        """Count and name in ``result`` the ``users`` who have taken nothing yet, and log the one
        line about them."""
        cold = set(users) - set(taken)
        result.cold_start, result.cold_start_ids = len(cold), sorted(cold)
        if cold:  # the one notice (the CLI and the nightly job both show this log line)
            log.warning("%s", cold_start_note(cold))

    @staticmethod
    def _note_short_users(result: BatchResult, users: list[str], top_k: int, catalogue: int) -> None:
        """Name in ``result`` the ``users`` given fewer than ``top_k`` rows, and log one line naming
        the first few with their count.

        subtle: it said only "155 rows for 32 users", and a user already shown every item got no
        row without being named."""
        got = result.rows_by_user
        result.short_ids = [u for u in users if got.get(u, 0) < top_k]
        if result.short_ids:
            named = [f"{u}: {got.get(u, 0)}" for u in result.short_ids[:3]]
            log.warning("--top-k %d is more than some users could get: %d rows for %d users; %d user(s) got fewer "
                        "(%s) — the catalogue holds %d items, less what each was already shown", top_k, result.rows,
                        len(users), len(result.short_ids), first_few(named, len(result.short_ids)), catalogue)

    @staticmethod
    def _warn_taken_candidates(pairs: pd.DataFrame, taken: dict[str, list[str]],
                               candidates: str | Path | None) -> None:
        """Log how many candidate ``pairs`` name an item their user already took (scored as given)."""
        took = {user: set(items) for user, items in taken.items()}
        again = sum(item in took.get(user, ()) for user, item in zip(pairs["user_id"], pairs["item_id"],
                                                                     strict=True))
        if again:
            log.warning("%d of %d candidate pairs are items their user already took: scored and "
                        "ranked like the rest (drop them from %s to leave them out)",
                        again, len(pairs), candidates)
