"""Support bot on public data: Banking77 intents, Bitext retrieval, answer latency at scale.

    python benchmarks/support.py --quick            # small subsets, a few minutes on 2 cores
    python benchmarks/support.py                     # full sets, 1k/10k/100k passages (long)

Parts (``--parts banking77,bitext,latency``):
- banking77: the bot's intent recipe (fine-tune + calibration split) vs a frozen MiniLM +
  logistic-regression baseline; accuracy and macro-F1 on the official test set.
- bitext: a KB of agent responses (a few per intent), held-out customer utterances as queries,
  relevant = a response of the same intent; recall@1/@5 and MRR@10 for dense, hybrid (BM25
  weight tuned on the other half of the queries) and, with a reranker, reranked.
- latency: ``SupportService.ask`` end to end (intent model, hybrid retrieval, reranker, answer,
  SQLite record) over N questions at 1k/10k(/100k) passages, p50/p95; beside it the plain
  baseline (SentenceTransformer.encode + IndexFlatIP per question) and both recalls.
  Passages are Bitext responses, utterances and Banking77 texts; 100k tiles them with noise.

Timings on a shared CPU are noisy: the table prints them, nothing asserts them. Results go to
``benchmarks/results/support[-quick].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = Path(os.environ.get("VERTICALS_DATASETS", ROOT.parent / "shared" / "datasets"))
RESULTS = Path(__file__).resolve().parent / "results"
BITEXT = DATASETS / "bitext_customer_support" / "bitext_llm_4514_instruction_response.csv"


def _sample(frame: pd.DataFrame, label: str, per_class: int | None, seed: int = 0):
    if per_class is None:
        return frame
    return frame.groupby(label, group_keys=False).apply(
        lambda g: g.sample(min(per_class, len(g)), random_state=seed))


def banking77(quick: bool, epochs: int) -> dict:
    """Fine-tuned + calibrated intent model vs frozen embeddings + logistic regression."""
    from sklearn.linear_model import LogisticRegression

    from apps.support_bot.intents import IntentModel, split_calibration, train_intents
    from shared import Embedder, LabelledText, Registry, TrainConfig, classification_metrics

    train = _sample(pd.read_csv(DATASETS / "banking77" / "train.csv"), "category",
                    20 if quick else None)
    test = _sample(pd.read_csv(DATASETS / "banking77" / "test.csv"), "category",
                   8 if quick else None)
    rows = [LabelledText(t, y) for t, y in zip(train["text"], train["category"], strict=True)]
    embedder = Embedder("minilm")
    start = time.perf_counter()
    lr = LogisticRegression(max_iter=2000, C=10).fit(embedder.encode(list(train["text"])),
                                                     train["category"])
    base_pred = lr.predict(embedder.encode(list(test["text"])))
    base = classification_metrics(list(test["category"]), list(base_pred))
    base_s = time.perf_counter() - start
    fit, calib = split_calibration(rows, fraction=0.1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = train_intents(fit, calib, "b77", TrainConfig(epochs=epochs, max_length=48),
                               "oos", registry=Registry(root=tmp))
        pred = [d.intent for d in IntentModel(result.path).predict(list(test["text"]))]
    ours = classification_metrics(list(test["category"]), pred)
    return {"train_rows": len(train), "test_rows": len(test), "epochs": epochs,
            "baseline_lr_accuracy": base["accuracy"], "baseline_lr_macro_f1": base["macro_f1"],
            "baseline_seconds": base_s, "bot_accuracy": ours["accuracy"],
            "bot_macro_f1": ours["macro_f1"], "bot_train_seconds": time.perf_counter() - start,
            "reference": "BERT-base 0.9366 (full data)"}


def _bitext_split(quick: bool) -> tuple[list, list]:
    from apps.support_bot.knowledge import Document

    frame = pd.read_csv(BITEXT)
    per_intent = 3 if quick else 8
    kb_rows = frame.groupby("intent", group_keys=False).head(per_intent)
    docs = [Document(f"r{i}", "", str(r.response), kind="article")
            for i, r in kb_rows.iterrows()]
    by_intent: dict[str, set[str]] = {}
    for i, r in kb_rows.iterrows():
        by_intent.setdefault(r.intent, set()).add(f"r{i}")
    rest = frame.drop(kb_rows.index).sample(frac=1.0, random_state=0)
    rest = rest.head(400 if quick else 3000)
    queries = [(str(r.instruction), by_intent[r.intent]) for r in rest.itertuples()]
    return docs, queries


def bitext(quick: bool, rerank: bool) -> dict:
    """Dense vs hybrid (vs reranked) retrieval of same-intent responses."""
    from apps.support_bot.ranking import choose_alpha
    from apps.support_bot.retrieval import RetrievalConfig, Retriever
    from apps.support_bot.store import SupportStore
    from shared import Registry, mrr, recall_at_k

    docs, queries = _bitext_split(quick)
    registry = Registry()
    reranker = str(registry.path("support-reranker")) if rerank and \
        registry.current("support-reranker") else None
    with tempfile.TemporaryDirectory() as tmp:
        store = SupportStore(f"sqlite:///{tmp}/kb.db")
        store.upsert_documents(docs, lambda d: _one_chunk(d))
        retriever = Retriever(store, "minilm", reranker, RetrievalConfig(alpha=0.0),
                              path=Path(tmp) / "index")
        retriever.warm_up()
        half = len(queries) // 2
        tune, test = queries[:half], queries[half:]
        vectors = retriever.encode([q for q, _ in tune])
        cands = [retriever.candidates(q, v) for (q, _), v in zip(tune, vectors, strict=True)]
        rel_chunks = [{i for i, c in retriever.chunks.items() if c.doc_id in rel}
                      for _, rel in tune]
        alpha = choose_alpha([c[0] for c in cands], [c[1] for c in cands], rel_chunks)

        def scores(rerank_now: bool) -> dict:
            ranked = [[p.chunk.doc_id for p in retriever.search(q, 10, rerank=rerank_now)]
                      for q, _ in test]
            relevant = [rel for _, rel in test]
            return {"recall@1": recall_at_k(ranked, relevant, 1),
                    "recall@5": recall_at_k(ranked, relevant, 5),
                    "mrr@10": mrr(ranked, relevant, 10)}

        out = {"kb_docs": len(docs), "queries_tuned": len(tune), "queries_tested": len(test)}
        out |= {f"dense_{k}": v for k, v in scores(False).items()}
        retriever.config.alpha = alpha
        out["alpha"] = alpha
        out |= {f"hybrid_{k}": v for k, v in scores(False).items()}
        if reranker:
            out |= {f"reranked_{k}": v for k, v in scores(True).items()}
    return out


def _one_chunk(doc):
    from apps.support_bot.knowledge import chunk_document

    return chunk_document(doc, max_words=10_000)


def _passages(n_needed: int) -> list[str]:
    texts = list(pd.read_csv(BITEXT)["response"])
    texts += list(pd.read_csv(DATASETS / "bitext_customer_support" / "bitext_20k_utterances.csv",
                              encoding="utf-8-sig")["utterance"])
    texts += list(pd.read_csv(DATASETS / "banking77" / "train.csv")["text"])
    texts = list(dict.fromkeys(str(t) for t in texts))
    random.Random(0).shuffle(texts)
    return texts[:n_needed]


def latency(sizes: list[int], n_questions: int) -> list[dict]:
    """p50/p95 of a full ``ask`` at each KB size, beside the plain encode + IndexFlatIP loop."""
    import faiss

    from apps.support_bot.knowledge import Document
    from apps.support_bot.retrieval import index_dir
    from apps.support_bot.service import SupportService
    from shared import Embedder, VectorIndex, get_settings, load_sentence_model

    real = _passages(min(max(sizes), 40_000))
    embedder = Embedder("minilm")
    print(f"embedding {len(real)} passages…", file=sys.stderr)
    vectors = embedder.encode(real, batch_size=128)
    questions = list(pd.read_csv(DATASETS / "banking77" / "test.csv")["text"])[:n_questions]
    rows = []
    for size in sizes:
        texts, vecs = _tile(real, vectors, size)
        service = SupportService()
        ids = _load_kb(service, [Document(f"p{i}", "", t) for i, t in enumerate(texts)])
        index = VectorIndex(vecs.shape[1])
        index.add(ids, vecs)
        service.reload()
        service.warm_up()
        service.retriever.index = index  # subtle: precomputed vectors; skip 100k re-embeddings
        service.retriever.config.use_reranker = bool(service.retriever.reranker_name)
        timings = []
        for q in questions:
            start = time.perf_counter()
            service.ask(q)
            timings.append(time.perf_counter() - start)
        model = load_sentence_model("minilm")
        flat = faiss.IndexFlatIP(vecs.shape[1])
        flat.add(vecs)
        start = time.perf_counter()
        for q in questions:
            flat.search(model.encode([q], normalize_embeddings=True), 5)
        base_s = (time.perf_counter() - start) / len(questions)
        rows.append({"passages": size, "questions": len(questions),
                     "p50_ms": 1000 * float(np.percentile(timings, 50)),
                     "p95_ms": 1000 * float(np.percentile(timings, 95)),
                     "answers_per_s": 1 / float(np.mean(timings)),
                     "baseline_per_s": 1 / base_s,
                     "reranker": bool(service.retriever.config.use_reranker),
                     "home": str(get_settings().home), "index_dir": str(index_dir())})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def _tile(texts: list[str], vectors: np.ndarray, size: int) -> tuple[list[str], np.ndarray]:
    """``size`` passages: the real ones, then noisy copies (for the 100k timing only)."""
    if size <= len(texts):
        return texts[:size], vectors[:size]
    reps = -(-size // len(texts))
    rng = np.random.default_rng(0)
    tiled = np.vstack([vectors] + [vectors + rng.normal(0, 0.05, vectors.shape).astype("float32")
                                   for _ in range(reps - 1)])[:size]
    tiled /= np.linalg.norm(tiled, axis=1, keepdims=True)
    return (texts * reps)[:size], tiled.astype("float32")


def _load_kb(service, docs: list) -> list[str]:
    service.store.upsert_documents(docs, _one_chunk)
    return [str(c.chunk_id) for c in service.store.chunks()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="banking77,bitext,latency")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    parts = args.parts.split(",")
    results: dict = {}
    if "banking77" in parts:
        results["banking77"] = banking77(args.quick, args.epochs or (4 if args.quick else 3))
        _save(results, args.quick)
    if "bitext" in parts:
        results["bitext"] = bitext(args.quick, rerank=True)
        _save(results, args.quick)
    if "latency" in parts:
        sizes = [1000, 10_000] if args.quick else [1000, 10_000, 100_000]
        results["latency"] = latency(sizes, 200 if args.quick else 1000)
        _save(results, args.quick)
    _table(results)


def _save(results: dict, quick: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"support{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(results, indent=2, default=str))


def _table(results: dict) -> None:
    for part, value in results.items():
        print(f"\n## {part}")
        rows = value if isinstance(value, list) else [value]
        print(pd.DataFrame(rows).drop(columns=["home", "index_dir"], errors="ignore")
              .round(4).to_markdown(index=False))


if __name__ == "__main__":
    main()
