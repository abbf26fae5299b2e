"""The two evaluations a user runs on their own data: intents (with out-of-scope) and
retrieval (dense vs hybrid vs as the bot serves vs always reranked). Both train/tune only on
what they are given to tune on."""

from __future__ import annotations

import random
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from shared import (
    Registry,
    classification_metrics,
    mrr,
    read_labelled,
    recall_at_k,
)
from shared.data import check_labels_known
from shared.errors import VerticalsError

from .intents import (
    CONFIDENCE_GRID,
    INTENTS,
    IntentModel,
    Status,
    abstention_metrics,
    decide,
    intent_config,
    read_intents,
    split_calibration,
    train_intents,
)
from .knowledge import load_kb, read_questions
from .ranking import rrf
from .retrieval import RetrievalConfig, Retriever
from .service import BotSettings
from .store import SupportStore


def evaluate_intents(train_path: str | Path, test_path: str | Path, oos_label: str = "oos",
                     epochs: int = 8, max_length: int = 32, sweep: bool = False) -> dict:
    """Train on ``train_path`` (calibrating on 20% of it) in a scratch registry; score the test.

    With out-of-scope rows in the test set an abstention is predicted as ``oos_label``.
    ``sweep`` adds ``sweep``: in-scope accuracy and OOS recall on the test set at each confidence
    threshold of the calibration grid (margin as calibrated), to compare operating points with
    another model's; it chooses nothing.
    """
    rows = read_intents(train_path)
    test = read_labelled(test_path, min_classes=1)
    labels = {r.label for r in rows} | {r.label for r in test}
    if oos_label != "oos" and oos_label not in labels:  # "oos" rows were scored as one more intent
        raise VerticalsError(f"--oos-label {oos_label!r} names no row of {train_path} or {test_path} (their labels: "
                             f"{', '.join(sorted(labels)[:12])}) — pass the label your out-of-scope rows carry")
    # out-of-scope test rows need no training examples: the bot abstains on them
    check_labels_known(test, {r.label for r in rows} | {oos_label}, test_path)
    train, calib = split_calibration(rows)
    config = intent_config(len(train), epochs, max_length)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_intents(train, calib, "eval-intents", config, oos_label,
                               registry=Registry(root=tmp))
        model = IntentModel(result.path)
        probs = model.predict_proba([r.text for r in test])
    decisions = decide(probs, model.labels, result.thresholds)
    truth = [r.label for r in test]
    has_oos = oos_label in truth
    predicted = [d.intent if d.status is Status.CONFIDENT or not has_oos else oos_label
                 for d in decisions]
    metrics = classification_metrics(truth, predicted)
    out = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
           "n_train": len(train), "n_calibration": len(calib), "n_test": len(test),
           "confidence_threshold": result.thresholds.confidence,
           "margin_threshold": result.thresholds.margin}
    if has_oos:
        out |= abstention_metrics(decisions, truth, oos_label)
        if sweep:
            out["sweep"] = [{"confidence": float(c), **abstention_metrics(decide(
                probs, model.labels, replace(result.thresholds, confidence=float(c))), truth, oos_label)}
                for c in CONFIDENCE_GRID]
    return out


def _rrf_ranking(retriever: Retriever, query: str) -> list[str]:
    dense, bm25 = retriever.candidates(query, retriever.encode(query)[0])
    docs = [retriever.chunks[i].doc_id for i, _ in rrf(dense, bm25)]
    return list(dict.fromkeys(docs))[:10]


def _scores(retriever: Retriever, queries: list[tuple[str, str]], rerank: bool | None,
            floor: float = -1.0, fusion: bool = False) -> dict:
    """Doc-level metrics. ``rerank=None`` follows the retriever's config as the bot does
    (``use_reranker``, ``rerank_margin``, the dense ``floor``); ``fusion`` ranks by plain
    reciprocal-rank fusion instead."""
    return _metrics(_rankings(retriever, queries, rerank, floor, fusion), queries)


def _rankings(retriever: Retriever, queries: list[tuple[str, str]], rerank: bool | None,
              floor: float = -1.0, fusion: bool = False) -> list[list[str]]:
    """Each query's top 10 document ids, as :func:`_scores` ranks them."""
    if fusion:
        return [_rrf_ranking(retriever, q) for q, _ in queries]
    vectors = retriever.encode([q for q, _ in queries])
    found = [retriever.search(q, 10, v, rerank, floor) for (q, _), v in zip(queries, vectors, strict=True)]
    return [list(dict.fromkeys(p.chunk.doc_id for p in ps)) for ps in found]


def _metrics(ranked: list[list[str]], queries: list[tuple[str, str]]) -> dict:
    relevant = [{d} for _, d in queries]
    return {"recall@1": recall_at_k(ranked, relevant, 1), "recall@5": recall_at_k(ranked, relevant, 5),
            "mrr@10": mrr(ranked, relevant, 10)}


def evaluate_retrieval(kb_path: str | Path, queries_path: str | Path, seed: int = 0,
                       registry: Registry | None = None) -> dict:
    """Index ``kb_path`` in a scratch store; tune the BM25 weight on half the queries and report
    dense / hybrid / served / always-reranked on the other half (on all of them when there are
    under 10).

    The models are the trained bot's (the versions pinned in the intent model's card, from
    ``registry``). ``served_*`` ranks as the bot does: its reranker only where its settings
    (``use_reranker``, ``rerank_margin``) call for it; ``always_reranked_*`` reranks every
    question's top passages, to judge the reranker itself.
    """
    registry = registry or Registry()
    bot = BotSettings.from_card(registry.card(INTENTS)) if registry.current(INTENTS) else \
        BotSettings()
    reranker = _local(registry, bot.reranker) if bot.reranker else None
    config = RetrievalConfig(alpha=0.0, use_reranker=bot.use_reranker,
                             rerank_margin=bot.rerank_margin)
    with tempfile.TemporaryDirectory() as tmp:
        store = SupportStore(f"sqlite:///{tmp}/kb.db")
        store.upsert_documents(load_kb(kb_path))
        queries = read_questions(queries_path, {d["id"] for d in store.documents()}, kb=kb_path)
        retriever = Retriever(store, _local(registry, bot.embedder), reranker, config,
                              path=Path(tmp) / "index")
        # subtle: reindex, not warm_up, which would say it builds the bot's index
        print(f"eval-retrieval: indexing {kb_path} in a scratch store", file=sys.stderr)
        retriever.reindex()
        tune, test = _split(queries, seed)
        # subtle: under 10 queries the BM25 weight is tuned on the very queries it is scored on
        out = {"n_queries": len(test), "tuned_on": len(tune), "embedder": bot.embedder,
               "reranker": bot.reranker, "use_reranker": bot.use_reranker,
               "rerank_margin": bot.rerank_margin, "hybrid_held_out": tune is not test}
        if tune is test:
            print(f"eval-retrieval: only {len(queries)} queries, so the hybrid weight is tuned on "
                  "the ones it is scored on (not held out): give 10 or more", file=sys.stderr)
        out |= {f"dense_{k}": v for k, v in _scores(retriever, test, False).items()}
        out |= {f"rrf_{k}": v for k, v in _scores(retriever, test, None, fusion=True).items()}
        retriever.config.alpha = retriever.best_alpha(tune)
        out["alpha"] = retriever.config.alpha
        out |= {f"hybrid_{k}": v for k, v in _scores(retriever, test, False).items()}
        ranked = _rankings(retriever, test, None, bot.threshold)
        out |= {f"served_{k}": v for k, v in _metrics(ranked, test).items()}
        # which questions the bot's own ranking missed at 1: what to add to the KB or the questions file
        out["served_misses"] = [{"query": q, "relevant_id": d, "first": r[0] if r else None}
                                for (q, d), r in zip(test, ranked, strict=True) if not r or r[0] != d]
        if reranker:
            out |= {f"always_reranked_{k}": v for k, v in _scores(retriever, test, True).items()}
    return out


def _local(registry: Registry, name: str) -> str:
    """A pinned version (``support-retriever@v2``) -> its directory in ``registry``; a base name
    (``minilm``) or a path as given."""
    return str(registry.resolve(name)) if "@" in name else name


def _split(queries: list, seed: int) -> tuple[list, list]:
    if len(queries) < 10:
        return queries, queries
    shuffled = queries[:]
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


