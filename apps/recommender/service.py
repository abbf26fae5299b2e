"""The recommender's logic behind the CLI and the dashboard (no UI code here).

``RecommenderService(items, interactions)`` trains the three models (bi-encoder, cross-encoder,
ranker), recommends for one user with a score breakdown, and runs batch scoring jobs.
Models live in the registry as ``<prefix>-biencoder``, ``<prefix>-interest`` and
``<prefix>-ranker``; the ranker's card pins the exact text-model versions it was fitted on.
Your models use the prefix ``rec`` by default; the demo's use ``demo``, so ``recommend demo``
never replaces what ``recommend train`` registered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from shared import Registry, file_digest, fingerprint, get_registry
from shared.errors import VerticalsError
from shared.finetune import check_layers

from .batch import COLUMNS, EXPLAINED, BatchPlan, BatchResult, check_output, plan_chunks, run_batch
from .data import is_timed, read_candidates, read_interactions, read_items
from .features import FEATURES
from .pipeline import POPULARITY_FALLBACK, SOURCE_DEPTH, Pipeline, cold_start_note, rank, training_list
from .profiles import positives_by_user, sequential_examples
from .ranker import Ranker, few_positives_warning, fit_ranker, held_out_metrics, held_out_users, text_warnings
from .scoring import TextConfig, TextScorer, random_negatives, train_text_models

log = logging.getLogger(__name__)
DEMO_PREFIX = "demo"
HELD_OUT_USERS = 0.2  # share of the ranker's users whose rows only measure it (val_auc)
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


@dataclass
class Recommendation:
    """One ranked item with its score breakdown and why it ranks:
    ``baseline + text_part + other_part == logit(score)``; ``parts`` splits the last two by
    feature (each ``coef * standardised value``; empty for a user with no history, scored by the
    items' share of takers, not by the features) and ``because`` is a clause (``"it is
    popular"``, ``"you liked “A”"``: :meth:`.pipeline.Pipeline.because`)."""

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


def code_digest() -> str:
    """A digest of this package's source: the demo's scores are made again after a change of
    the code that ranks and explains them (the models are retrained only for a new recipe)."""
    return fingerprint([file_digest(p) for p in sorted(Path(__file__).parent.glob("*.py"))])


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
        return self.fit_ranker(bi, cross, config)

    def fit_ranker(self, bi: str, cross: str, config: TrainConfig | None = None) -> dict:
        """Fit and register the ranker on the late period over pinned text models
        (``"rec-biencoder@v1"``, ``"rec-interest@v1"``); ``train`` ends with this."""
        config = config or TrainConfig(prefix=self.prefix)
        early, late = time_split(self.interactions, config.val_fraction)
        # this service's registry, which need not be the settings' one (a Ray worker's is passed)
        scorer = TextScorer(self.registry.resolve(bi), self.registry.resolve(cross))
        x, y, users, candidates = self._validation_set(early, late, scorer, config)
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
                                         *text_warnings(card["params"]["coef"], cross_metrics)] if w)
        if warning:  # printed by `recommend train` / `recommend demo` from the result below
            card["warning"] = warning
        name = self.names()["ranker"]
        version = self.registry.save(name, ranker.save, card)
        self._pipeline = None
        return {"biencoder": bi, "interest": cross, "ranker": f"{name}@{version}", **card["metrics"]} | (
            {"warning": warning} if warning else {})

    def _validation_set(self, early: pd.DataFrame, late: pd.DataFrame, scorer: TextScorer,
                        config: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      dict]:
        """The ranker's training rows (features, labels, each row's user): for users with early
        history who take something in the late period, a list drawn from what the pipeline's
        sources offer them as of their time group (:meth:`_pipelines_as_of`; ``SOURCE_DEPTH *
        config.candidates`` from each, as when serving): those of their first :data:`NEXT_TAKES`
        takes of the late period that are offered (labelled 1) and ``config.candidates`` other
        offered items (0), their later takes left out (:func:`.pipeline.training_list`); lists of
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
        with_history = set(early.loc[early["label"] == 1, "user_id"])
        taken_late = late[(late["label"] == 1) & late["user_id"].isin(with_history)]
        later = taken_late.groupby("user_id")["item_id"].agg(set).to_dict()
        first = taken_late.sort_values(["user_id", "timestamp"], kind="stable").groupby("user_id").head(NEXT_TAKES)
        nxt = first.groupby("user_id")["item_id"].agg(set).to_dict()
        users = sorted(later)
        if not users:
            raise VerticalsError("no user with earlier history takes anything in the validation "
                                 "period — add interactions or raise --val-fraction")
        groups = self._pipelines_as_of(early, late, users, scorer, reads_all)
        users = [u for group, _ in groups for u in group]
        chosen = set(users)
        limit = config.ranker_rows
        per_user = config.candidates + NEXT_TAKES  # the most rows one list can hold
        if limit is not None and len(users) * per_user > limit:
            drawn = np.random.default_rng(config.text.seed).choice(len(users), size=max(1, limit // per_user),
                                                                   replace=False)
            chosen = {users[i] for i in drawn}
        rng = np.random.default_rng(config.text.seed)
        blocks = []  # per time group: its pipeline and its users' (user, item) rows
        for group, pipe in groups:
            mine = [u for u in group if u in chosen]
            offers = pipe.sources(mine, SOURCE_DEPTH * config.candidates) if mine else []
            blocks.append((pipe, [(user, item) for user, found in zip(mine, offers, strict=True)
                                  for item in training_list(found, nxt[user], later[user], config.candidates, rng)]))
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

    def _pipelines_as_of(self, early: pd.DataFrame, late: pd.DataFrame, users: list[str],
                         scorer: TextScorer, ranker: Ranker) -> list[tuple[list[str], Pipeline]]:
        """The users in :data:`TIME_GROUPS` groups by when their validation period starts, each
        group with a pipeline that sees them as they were then: their own early history, and
        item statistics from what everyone did before the group's first validation period
        (other users' validation periods included, when they came earlier).

        subtle: with the per-user split, one pipeline over every user's early history let a
        user who validates in 1997 be ranked with popularity, recency and co-taken counts from
        2018: the ranker learned from features it never has when serving. Without timestamps
        nothing says who came first (row numbers of a file sorted by user made one user's 17
        rows the first group's past): one group, everyone's early history.
        """
        if not is_timed(self.interactions):
            return [(list(users), Pipeline(self.items, early[early["user_id"].isin(set(users))],
                                           scorer, ranker, past=early))]
        starts = late[late["user_id"].isin(users)].groupby("user_id")["timestamp"].min()
        ordered = sorted(users, key=lambda u: (starts[u], u))
        groups: list[tuple[list[str], Pipeline]] = []
        for group in np.array_split(np.array(ordered, dtype=object), min(TIME_GROUPS, len(users))):
            group = list(group)
            own = early[early["user_id"].isin(set(group))]
            past = self.interactions[self.interactions["timestamp"] < starts[group[0]]]
            pipe = (groups[0][1].as_of(own, past) if groups else
                    Pipeline(self.items, own, scorer, ranker, past=past))
            groups.append((group, pipe))
        return groups

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
        return sorted(self.interactions["user_id"].unique())

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
        """A user's interactions, newest first, with titles (empty for a new user)."""
        rows = self.interactions[self.interactions["user_id"] == user]
        rows = rows.merge(self.items[["item_id", "title", "category"]], on="item_id")
        rows = rows.sort_values("timestamp", ascending=False, kind="stable")
        rows["when"] = pd.to_datetime(rows["timestamp"], unit="s").dt.strftime("%Y-%m-%d") \
            if is_timed(self.interactions) else ""  # row numbers are no dates
        return rows[["when", "item_id", "title", "category", "label"]].reset_index(drop=True)

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
                because=pipe.because(user, r.item_id, values)))
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
        for option, path in (("--items", self.items_path), ("--interactions", self.interactions_path),
                             ("--candidates", candidates)):
            if path is not None and out.resolve() == Path(path).resolve():  # --overwrite would destroy it
                raise VerticalsError(f"{out} is the {option} file: choose another --out")
        check_output(out, overwrite)
        if (candidates is None) == (top_k is None):
            raise VerticalsError("pass exactly one of --candidates FILE or --top-k K")
        check_top_k(top_k, pool)
        pairs = read_candidates(candidates, self.items) if candidates else None
        # subtle: every file is read (and checked) before the work folder exists: a bad
        # interactions file, first read by a chunk, left a folder the next run took for a job's
        taken = positives_by_user(self.interactions)
        users = pairs["user_id"] if pairs is not None else self.users()
        models = self.models()
        inputs = fingerprint([file_digest(self.items_path), file_digest(self.interactions_path),
                              file_digest(candidates) if candidates else None])
        task = ChunkScorer(str(self.items_path.resolve()),
                           str(self.interactions_path.resolve()),
                           str(Path(candidates).resolve()) if candidates else None, top_k,
                           self.prefix, str(self.registry.root.resolve()), models, inputs, pool, explain)
        key = fingerprint([inputs, top_k, chunk_size, models, str(out.resolve())]
                          + ([pool] if pool is not None else [])  # a job from before --pool resumes
                          + (["explain"] if explain else []))
        plan = BatchPlan(out, key, plan_chunks(users, chunk_size))
        result = run_batch(plan, task, engine=engine, overwrite=overwrite, fail_after=fail_after)
        cold = set(users) - set(taken)
        result.cold_start, result.cold_start_ids = len(cold), sorted(cold)
        if cold:  # the one notice (the CLI and the nightly job both show this log line)
            log.warning("%s", cold_start_note(cold))
        if top_k is not None and result.rows < top_k * len(set(users)):
            log.warning("--top-k %d is more than some users could get: %d rows for %d users (the catalogue "
                        "holds %d items, less what each was already shown)", top_k, result.rows, len(set(users)),
                        len(self.items))
        if pairs is not None:  # a top-k never offers what the user took; a candidates file is scored as given
            took = {user: set(items) for user, items in taken.items()}
            again = sum(item in took.get(user, ()) for user, item in zip(pairs["user_id"], pairs["item_id"],
                                                                         strict=True))
            if again:
                log.warning("%d of %d candidate pairs are items their user already took: scored and "
                            "ranked like the rest (drop them from %s to leave them out)",
                            again, len(pairs), candidates)
        return result


@dataclass(frozen=True)
class ChunkScorer:
    """Scores one chunk of users; plain fields only, so Ray can ship it to workers."""

    items: str
    interactions: str
    candidates: str | None
    top_k: int | None
    prefix: str
    registry: str
    models: str  # RecommenderService.models(): in the cache key, so a retrain is never stale
    inputs: str  # the files' content digest: part of the cache key, so edited files are reread
    pool: int | None = None  # candidates reranked per user for a top-k (None: the pipeline's default)
    explain: bool = False  # add EXPLAINED: the score's breakdown and the clause the dashboard shows

    def __call__(self, users: list[str]) -> pd.DataFrame:
        service = _service(self.items, self.interactions, self.prefix, self.registry, self.models,
                           self.inputs)
        pipe = service.pipeline()
        if self.top_k is not None:
            frame = pipe.top_k(users, self.top_k, self.pool)
        else:
            pairs = _candidate_pairs(str(self.candidates), self.items, self.inputs)
            pairs = pairs[pairs["user_id"].isin(set(users))]
            frame = rank(pipe.score_pairs(list(pairs["user_id"]), list(pairs["item_id"])))
        if not self.explain:
            return frame[COLUMNS]
        features = list(pipe.ranker.features)
        frame["because"] = [pipe.because(r.user_id, r.item_id, dict(zip(features, values)))
                            for r, values in zip(frame.itertuples(), frame[features].to_numpy().tolist())]
        frame = frame.rename(columns={"text_part": "text_interest", "other_part": "other_features"})
        # a user with no history is scored by the item's share of takers, not by the ranker: no parts
        frame.loc[frame["cold_start"], ["baseline", "text_interest", "other_features"]] = np.nan
        return frame[COLUMNS + EXPLAINED]


# subtle: these caches outlive one job (the nightly scheduler is one long process), so their
# keys carry the files' content digest, not only their paths: tomorrow's job must read
# tomorrow's files. One service is kept: a process scores one job at a time, and an older
# job's loaded models would only hold memory.
@lru_cache(maxsize=1)
def _service(items: str, interactions: str, prefix: str, registry: str, models: str,
             inputs: str) -> RecommenderService:
    return RecommenderService(items, interactions, prefix, Registry(registry))


@lru_cache(maxsize=2)
def _candidate_pairs(path: str, items_path: str, inputs: str) -> pd.DataFrame:
    return read_candidates(path, read_items(items_path))


def score_unless_current(service: RecommenderService, out: Path, top_k: int,
                         pool: int | None = None) -> tuple[int, bool]:
    """Score every user's top-k into ``out`` unless it holds them already: a stamp beside it
    (``.json``) names the models, files, k, pool and code the scores were made with, and any
    change scores again (a run stopped halfway resumes). Returns (rows, scored now).

    subtle: the nightly job skipped any file of the day, so a second `schedule --once` with
    another --top-k, or after a retrain, left the first run's scores in place."""
    from shared import atomic_write_text

    inputs = fingerprint([file_digest(service.items_path), file_digest(service.interactions_path)])
    stamp = out.with_suffix(".json")
    job = {"models": service.models(), "inputs": inputs, "top_k": top_k, "code": code_digest()} | \
        ({"pool": pool} if pool is not None else {})
    if out.exists() and stamp.exists() and json.loads(stamp.read_text()) == job:
        return len(pd.read_parquet(out, columns=["rank"])), False
    rows = service.score(out, top_k=top_k, pool=pool, overwrite=True).rows
    atomic_write_text(stamp, json.dumps(job))
    return rows, True
