"""Offline evaluation: ranking on a later period beside baselines, and TALLRec-style CTR AUC.

Ranking: every test user with earlier history gets a full-catalogue ranking (bi-encoder
search for candidates, then the ranker). Baselines are computed in the same run on the same
users: popularity, and untuned MiniLM similarity between profile and item text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shared import Embedder, load_classifier, mrr, ndcg_at_k, roc_auc, train_cross_encoder
from shared.errors import VerticalsError

from .data import CtrExample
from .pipeline import Pipeline
from .profiles import ctr_profile


def hit_rate(ranked: Sequence[Sequence[str]], relevant: Sequence[set[str]], k: int) -> float:
    """Share of users with at least one relevant item in their top ``k``.

    ``hit_rate([["a", "b"], ["c"]], [{"b"}, {"x"}], 2) -> 0.5``
    """
    if not ranked:
        return 0.0
    return float(np.mean([bool(set(r[:k]) & rel) for r, rel in zip(ranked, relevant)]))


def ranking_metrics(ranked: list[list[str]], relevant: list[set[str]], k: int = 10) -> dict:
    return {"ndcg@10": ndcg_at_k(ranked, relevant, k), "mrr": mrr(ranked, relevant, k),
            f"hr@{k}": hit_rate(ranked, relevant, k)}


def test_targets(pipe: Pipeline, test: pd.DataFrame) -> tuple[list[str], list[set[str]]]:
    """Test users with earlier history and at least one positive, and their positive sets."""
    taken = test[(test["label"] == 1) & test["user_id"].isin(pipe.taken)]
    if taken.empty:
        raise VerticalsError("the test file has no positive interaction for a user with training "
                             "history — nothing to evaluate")
    grouped = taken.groupby("user_id")["item_id"].agg(set)
    return list(grouped.index), list(grouped.values)


def minilm_rankings(pipe: Pipeline, users: list[str], n: int) -> list[list[str]]:
    """Untuned MiniLM: cosine between profile and item text, seen items skipped."""
    model = Embedder("minilm")
    items = model.encode(list(pipe.items["text"]))
    scores = model.encode([pipe.profile(u) for u in users]) @ items.T
    ids = list(pipe.items["item_id"])
    out = []
    for user, row in zip(users, scores):
        seen = pipe.seen.get(user, set())
        order = np.argsort(-row, kind="stable")
        out.append([ids[i] for i in order if ids[i] not in seen][:n])
    return out


def auc_pairs(pipe: Pipeline, test: pd.DataFrame, users: list[str],
              seed: int = 0) -> tuple[list[str], list[str], list[int]]:
    """Labelled test pairs of warm users, plus one unseen random negative per positive."""
    rows = test[test["user_id"].isin(set(users))]
    pairs_u, pairs_i, labels = list(rows["user_id"]), list(rows["item_id"]), list(rows["label"])
    rng = np.random.default_rng(seed)
    pool = list(pipe.items["item_id"])
    for user in rows.loc[rows["label"] == 1, "user_id"]:
        item = pool[int(rng.integers(len(pool)))]
        if item not in pipe.seen.get(user, set()) and item not in set(rows["item_id"]):
            pairs_u.append(user), pairs_i.append(item), labels.append(0)
    return pairs_u, pairs_i, labels


def evaluate_ranking(pipe: Pipeline, test: pd.DataFrame, k: int = 10,
                     n_candidates: int = 50) -> dict:
    """Model vs popularity vs untuned MiniLM on the same users; AUC on labelled pairs."""
    users, relevant = test_targets(pipe, test)
    model = pipe.top_k(users, n_candidates, n_candidates)
    by_user = model.groupby("user_id")["item_id"].agg(list).to_dict()
    results = {"model": ranking_metrics([by_user.get(u, []) for u in users], relevant, k),
               "popularity": ranking_metrics([pipe.popular(u, k) for u in users], relevant, k),
               "minilm": ranking_metrics(minilm_rankings(pipe, users, k), relevant, k)}
    pu, pi, labels = auc_pairs(pipe, test, users)
    if len(set(labels)) == 2:
        scored = pipe.score_pairs(pu, pi)
        results["model"]["auc"] = roc_auc(labels, scored["score"].tolist())
        results["popularity"]["auc"] = roc_auc(labels, scored["popularity"].tolist())
        minilm = Embedder("minilm")
        sims = np.einsum("ij,ij->i", minilm.encode([pipe.profile(u) for u in pu]),
                         minilm.encode([pipe.text[i] for i in pi]))
        results["minilm"]["auc"] = roc_auc(labels, sims.tolist())
    results["users"] = len(users)
    return results


# ---- TALLRec-style CTR ------------------------------------------------------------------------


def ctr_texts(examples: Sequence[CtrExample]) -> tuple[list[str], list[str], list[int]]:
    return ([ctr_profile(e.liked, e.disliked) for e in examples], [e.target for e in examples],
            [e.label for e in examples])


def minilm_ctr_auc(examples: Sequence[CtrExample]) -> float:
    """Untuned baseline: cosine between the liked titles and the target title."""
    model = Embedder("minilm")
    liked = model.encode(["; ".join(e.liked) or "nothing" for e in examples])
    target = model.encode([e.target for e in examples])
    return roc_auc([e.label for e in examples], np.einsum("ij,ij->i", liked, target).tolist())


def evaluate_ctr(train: Sequence[CtrExample], test: Sequence[CtrExample], name: str,
                 base: str = "minilm", epochs: int = 3, max_length: int = 256,
                 batch_size: int = 16) -> dict:
    """Fine-tune the interest scorer on ``train``; AUC on ``test`` beside the MiniLM baseline."""
    profiles, targets, labels = ctr_texts(train)
    version = train_cross_encoder(profiles, targets, labels, name, base=base, epochs=epochs,
                                  test_fraction=0.0, max_length=max_length,
                                  batch_size=batch_size, patience=epochs)
    scorer = load_classifier(name, version)
    t_profiles, t_targets, t_labels = ctr_texts(test)
    probs = scorer.predict_proba(t_profiles, pairs=t_targets)[:, scorer.labels.index("1")]
    return {"auc": roc_auc(t_labels, probs.tolist()), "minilm_auc": minilm_ctr_auc(test),
            "model": f"{name}@{version}", "train": len(train), "test": len(test)}
