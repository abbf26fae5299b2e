"""Offline evaluation: ranking on a later period beside baselines, and TALLRec-style CTR AUC.

Ranking: every test user with earlier history gets a full-catalogue ranking (candidates, then
the ranker). Baselines are computed in the same run on the same users: popularity, untuned
MiniLM similarity between profile and item text, and co-taken alone (item-kNN over the user's
recent takes: the ranker's one collaborative feature, shown so its share of the gain is plain).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from shared import (
    Classifier,
    Embedder,
    get_embedder,
    get_registry,
    load_classifier,
    mrr,
    ndcg_at_k,
    recall_at_k,
    roc_auc,
)
from shared.errors import VerticalsError

from .features import co_taken
from .pipeline import Pipeline
from .profiles import ctr_profile
from .scoring import train_ctr_scorer
from .tallrec import CtrExample

MIN_TEST_USERS = 20  # fewer ranked test users: the figures are a rough guide, as train's val_auc under 20 positives


def few_test_users_warning(users: int, positives: int, k: int = 10) -> str:
    """A one-line note when the evaluation ranks too few users to trust, else ``""``:
    ``few_test_users_warning(14, 15)`` -> ``"these figures rest on 14 test user(s) with 15 taken
    item(s) (under 20 users): one hit moves hr@10 by 0.07 ..."``.

    subtle: 14 test users gave hr@10 1.0000, printed as plainly as a figure from thousands,
    where `train` warns under 20 held-out positives."""
    if users >= MIN_TEST_USERS:
        return ""
    return (f"these figures rest on {users} test user(s) with {positives} taken item(s) (under {MIN_TEST_USERS} "
            f"users): one hit moves hr@{k} by {1 / max(users, 1):.2f}, a rough guide only — add test "
            "interactions for a steadier measure")


def ranking_metrics(ranked: list[list[str]], relevant: list[set[str]], k: int = 10) -> dict:
    return {"ndcg@10": ndcg_at_k(ranked, relevant, k), "mrr": mrr(ranked, relevant, k),
            f"hr@{k}": recall_at_k(ranked, relevant, k)}


def test_targets(pipe: Pipeline, test: pd.DataFrame) -> tuple[list[str], list[set[str]]]:
    """Test users with earlier history and at least one positive, and their positive sets; not
    the items a user was already shown in training (never ranked for them again)."""
    taken = test[(test["label"] == 1) & test["user_id"].isin(pipe.taken)]
    seen = already_seen(pipe, taken)
    if len(taken) and seen.all():
        raise VerticalsError(f"all {len(taken)} positive test rows pair a user with an item the training "
                             "interactions already show them, and a user is never offered those again: "
                             "leave the test rows out of --train")
    taken = taken[~seen]
    if taken.empty:
        raise VerticalsError("the test file has no positive interaction for a user with training "
                             "history — nothing to evaluate")
    grouped = taken.groupby("user_id")["item_id"].agg(set)
    return list(grouped.index), list(grouped.values)


def minilm_rankings(pipe: Pipeline, users: list[str], n: int,
                    item_vectors: np.ndarray | None = None) -> list[list[str]]:
    """Untuned MiniLM: cosine between profile and item text, seen items skipped.
    ``item_vectors``: MiniLM's vectors of ``pipe.items["text"]``, when already computed."""
    model = get_embedder("minilm")
    items = model.encode(list(pipe.items["text"])) if item_vectors is None else item_vectors
    scores = model.encode([pipe.profile(u) for u in users]) @ items.T
    ids = list(pipe.items["item_id"])
    out = []
    for user, row in zip(users, scores):
        seen = pipe.seen.get(user, set())
        order = np.argsort(-row, kind="stable")
        out.append([ids[i] for i in order if ids[i] not in seen][:n])
    return out


def co_taken_rankings(pipe: Pipeline, users: list[str], n: int) -> list[list[str]]:
    """Items most co-taken with each user's recent takes, seen items skipped."""
    ids = list(pipe.items["item_id"])
    out = []
    for user in users:
        near, seen = co_taken(pipe.stats, user), pipe.seen.get(user, set())
        order = np.argsort(-near, kind="stable") if near is not None else []
        out.append([ids[i] for i in order[:n + len(seen)] if ids[i] not in seen][:n])
    return out


def auc_pairs(pipe: Pipeline, test: pd.DataFrame, users: list[str],
              seed: int = 0) -> tuple[list[str], list[str], list[int]]:
    """Labelled test pairs of warm users, plus one unseen random negative per positive."""
    rows = test[test["user_id"].isin(set(users))]
    pairs_u, pairs_i, labels = list(rows["user_id"]), list(rows["item_id"]), list(rows["label"])
    rng = np.random.default_rng(seed)
    pool, in_test = list(pipe.items["item_id"]), set(rows["item_id"])
    for user in rows.loc[rows["label"] == 1, "user_id"]:
        item = pool[int(rng.integers(len(pool)))]
        if item not in pipe.seen.get(user, set()) and item not in in_test:
            pairs_u.append(user), pairs_i.append(item), labels.append(0)
    return pairs_u, pairs_i, labels


def system_rankings(pipe: Pipeline, users: list[str], k: int = 10, n_candidates: int = 50,
                    item_vectors: np.ndarray | None = None) -> dict[str, list[list[str]]]:
    """Each system's top ``k`` per user: the model (``n_candidates`` reranked), popularity,
    untuned MiniLM (``item_vectors`` as for :func:`minilm_rankings`) and co-taken alone."""
    chunk = 32
    model = pd.concat([pipe.top_k(users[i:i + chunk], n_candidates, n_candidates)
                       for i in tqdm(range(0, len(users), chunk), desc="ranking test users",
                                     unit=f"{chunk} users", file=sys.stderr)])
    by_user = model.groupby("user_id")["item_id"].agg(list).to_dict()
    return {"model": [by_user.get(u, [])[:k] for u in users],
            "popularity": [pipe.popular(u, k) for u in users],
            "minilm": minilm_rankings(pipe, users, k, item_vectors),
            "co_taken": co_taken_rankings(pipe, users, k)}


def already_seen(pipe: Pipeline, rows: pd.DataFrame) -> np.ndarray:
    """Per row of ``rows``: whether the pipeline's interactions already pair its user and item."""
    return np.array([i in pipe.seen.get(u, ()) for u, i in zip(rows["user_id"], rows["item_id"], strict=True)],
                    dtype=bool)


def evaluate_ranking(pipe: Pipeline, test: pd.DataFrame, k: int = 10,
                     n_candidates: int = 50) -> dict:
    """Model vs popularity, untuned MiniLM and co-taken on the same users; AUC on labelled pairs."""
    users, relevant = test_targets(pipe, test)
    results = {name: ranking_metrics(ranked, relevant, k)
               for name, ranked in system_rankings(pipe, users, k, n_candidates).items()}
    pu, pi, labels = auc_pairs(pipe, test, users)
    if len(set(labels)) == 2:
        scored = pipe.score_pairs(pu, pi)
        results["model"]["auc"] = roc_auc(labels, scored["score"].tolist())
        for baseline in ("popularity", "co_taken"):
            if baseline in scored:  # a ranker fitted without the feature has no column for it
                results[baseline]["auc"] = roc_auc(labels, scored[baseline].tolist())
        minilm = get_embedder("minilm")
        sims = np.einsum("ij,ij->i", minilm.encode([pipe.profile(u) for u in pu]),
                         minilm.encode([pipe.text[i] for i in pi]))
        results["minilm"]["auc"] = roc_auc(labels, sims.tolist())
    # subtle: the plain output said nothing of what was ranked (an audit asked)
    results["ranked"] = (f"each test user's whole catalogue less what the training interactions show them; the model "
                         f"reranks its pool of {n_candidates} from it; auc: the test rows with labels, and a random "
                         "unseen item per taken one")
    results["users"] = len(users)
    results["positives"] = sum(len(r) for r in relevant)
    # test users with a positive who are not ranked (a review found them dropped without a word):
    # those who took nothing in training, and those shown or given every positive there already
    # (a repurchase; an audit found these called users without history)
    unranked = sorted(set(test.loc[test["label"] == 1, "user_id"]) - set(users))
    fresh = [u for u in unranked if u not in pipe.taken]
    seen = [u for u in unranked if u in pipe.taken]
    results["users_without_history"], results["users_without_history_first"] = len(fresh), fresh[:5]
    results["users_all_seen"], results["users_all_seen_first"] = len(seen), seen[:5]
    positives = test[test["label"] == 1]
    results["test_positives_seen_in_train"] = int(already_seen(pipe, positives).sum())  # not counted
    if warning := few_test_users_warning(len(users), results["positives"], k):
        results["warning"] = warning
    return results


# ---- TALLRec-style CTR ------------------------------------------------------------------------


def ctr_texts(examples: Sequence[CtrExample]) -> tuple[list[str], list[str], list[int]]:
    return ([ctr_profile(e.liked, e.disliked) for e in examples], [e.target for e in examples],
            [e.label for e in examples])


def minilm_ctr_auc(examples: Sequence[CtrExample]) -> float:
    """Untuned baseline: cosine between the liked titles and the target title."""
    model = get_embedder("minilm")
    liked = model.encode(["; ".join(e.liked) or "nothing" for e in examples])
    target = model.encode([e.target for e in examples])
    return roc_auc([e.label for e in examples], np.einsum("ij,ij->i", liked, target).tolist())


def ctr_features(examples: Sequence[CtrExample], embedder: Embedder,
                 priors: dict[str, tuple[float, float]] | None = None) -> np.ndarray:
    """Per example: how close the target is to the liked and to the disliked titles (mean, max,
    difference), the user's share of likes and the history sizes; with ``priors``
    (:func:`title_priors` of another interaction log) also the target's like share and
    popularity there (a title the log lacks: the average share, popularity 0).

    The share of likes is the user-activity feature of the ranker: a user who liked most of what
    they saw tends to like the next title too; the priors are its popularity feature.
    """
    titles = sorted({t for e in examples for t in (*e.liked, *e.disliked, e.target)})
    vectors = dict(zip(titles, embedder.encode(titles), strict=True))
    rows = []
    for e in examples:
        target = vectors[e.target]
        liked = [float(vectors[t] @ target) for t in e.liked] or [0.0]
        disliked = [float(vectors[t] @ target) for t in e.disliked] or [0.0]
        n_liked, n_disliked = len(e.liked), len(e.disliked)
        rows.append([np.mean(liked), max(liked), np.mean(disliked), max(disliked),
                     np.mean(liked) - np.mean(disliked), n_liked / max(1, n_liked + n_disliked),
                     np.log1p(n_liked), np.log1p(n_disliked)])
    if priors is not None:
        unknown = (float(np.mean([share for share, _ in priors.values()] or [0.0])), 0.0)
        rows = [row + list(priors.get(e.target.strip(), unknown))
                for row, e in zip(rows, examples, strict=True)]
    return np.asarray(rows, dtype=np.float64)


def _interest(scorer: Classifier, examples: Sequence[CtrExample]) -> np.ndarray:
    profiles, targets, _ = ctr_texts(examples)
    return scorer.predict_proba(profiles, pairs=targets)[:, scorer.labels.index("1")]


def _text_scores(train: Sequence[CtrExample], score: Sequence[CtrExample], name: str,
                 **options: object) -> tuple[np.ndarray, str]:
    """Fine-tune the cross-encoder on ``train``; its P(interest) for ``score`` and its version."""
    version = train_ctr_scorer(train, name, **options)
    return _interest(load_classifier(name, version), score), version


def _fold_scores(train: Sequence[CtrExample], score: Sequence[CtrExample], name: str,
                 **options: object) -> np.ndarray:
    """Like :func:`_text_scores` for a model only this run needs: it is removed from the
    registry once it has scored (each is a full copy of the base model).

    subtle: read without the classifier cache: the next run saves its fold model at the same
    path (``v1`` again), and a cache keyed by path would hand it this run's model.
    """
    version = train_ctr_scorer(train, name, **options)
    registry = get_registry()
    try:
        return _interest(Classifier(registry.path(name, version)), score)
    finally:
        registry.discard(name, version)


def answer_folds(labels: Sequence[int], seed: int = 0) -> np.ndarray:
    """Two folds stratified by answer: each answer's rows, in a seeded order, are dealt to fold
    0, 1, 0, ... (carrying on from the previous answer), so a fold holds both answers whenever
    each answer has two rows, and the folds differ in size by at most one:
    ``[1, 0, 1, 0, 0] -> [0, 1, 1, 0, 0]`` (the 0-answers go 1, 0, 0; the 1-answers 0, 1).
    """
    labels = np.asarray(labels)
    order = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=int)
    dealt = 0
    for answer in np.unique(labels):
        rows = order.permutation(np.flatnonzero(labels == answer))
        fold[rows] = (dealt + np.arange(len(rows))) % 2
        dealt += len(rows)
    return fold


def evaluate_ctr(train: Sequence[CtrExample], test: Sequence[CtrExample], name: str,
                 base: str = "minilm", epochs: int = 3, max_length: int = 256,
                 batch_size: int = 16,
                 priors: dict[str, tuple[float, float]] | None = None) -> dict:
    """Fine-tune the interest scorer on ``train`` and stack it with the ranker's features; AUC on
    ``test`` for the stack (``auc``), the text scorer alone, the features alone and untuned MiniLM.
    ``priors`` (see :func:`ctr_features`) add the targets' like share and popularity in another log.

    The stacker (logistic regression) learns on out-of-fold text scores: the cross-encoder is
    trained on each half of ``train`` (halves stratified by answer) and scores the other half,
    so the stacker never sees scores of examples the text model was trained on. Only the scorer
    trained on all of ``train`` stays registered (``model``); the two fold models are removed
    after use.
    """
    from sklearn.linear_model import LogisticRegression

    for role, examples in (("training", train), ("test", test)):
        if len({e.label for e in examples}) < 2:
            raise VerticalsError(f"the CTR {role} set needs both Yes and No answers")
    fewest = min(np.bincount([e.label for e in train], minlength=2))
    if fewest < 2:  # each half trains a text model, and training needs both answers
        raise VerticalsError(f"the CTR training set needs at least two Yes and two No answers "
                             f"(its folds each train a model), got {fewest} of one")
    options = {"base": base, "epochs": epochs, "max_length": max_length,
               "batch_size": batch_size, "patience": epochs}
    fold = answer_folds([e.label for e in train])
    halves = [[e for e, f in zip(train, fold, strict=True) if f == k] for k in (0, 1)]
    out_of_fold = np.empty(len(train))
    for k in (0, 1):
        out_of_fold[fold == k] = _fold_scores(halves[1 - k], halves[k], f"{name}-fold{k}",
                                              **options)
    text_test, version = _text_scores(train, test, name, **options)
    embedder = get_embedder("minilm")
    x_train, x_test = ctr_features(train, embedder, priors), ctr_features(test, embedder, priors)
    y_train, y_test = [e.label for e in train], [e.label for e in test]
    stack = LogisticRegression(max_iter=2000).fit(np.column_stack([out_of_fold, x_train]), y_train)
    features = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    return {
        "auc": roc_auc(y_test, stack.predict_proba(np.column_stack([text_test, x_test]))[:, 1].tolist()),
        "text_auc": roc_auc(y_test, text_test.tolist()),
        "features_auc": roc_auc(y_test, features.predict_proba(x_test)[:, 1].tolist()),
        "minilm_auc": minilm_ctr_auc(test), "model": f"{name}@{version}",
        "train": len(train), "test": len(test),
    } | ({} if priors is None else
         {"prior_coverage": float(np.mean([e.target.strip() in priors for e in test]))})
