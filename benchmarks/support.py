"""Support bot on public data: Banking77 intents, Bitext retrieval, answer latency at scale.

    python benchmarks/support.py --quick            # small subsets, a few minutes on 2 cores
    python benchmarks/support.py                     # full sets, 1k/10k/100k passages (long)

Parts (``--parts banking77,oos,bitext,latency,trained-bot,demo``):
- banking77: the bot's intent recipe (fine-tune + calibration split) vs a frozen MiniLM +
  logistic-regression baseline; accuracy and macro-F1 on the official test set.
- oos: out-of-scope detection, ``support eval-intents`` on Banking77 (``--oos-set``, default)
  or Bitext's short utterances split by intent (40 examples of each intent in scope, the other
  intents out of scope) vs frozen MiniLM + logistic regression with a max-probability
  threshold: in-scope accuracy, OOS recall and precision.
- bitext: a KB of agent responses (a few per intent), held-out customer utterances as queries,
  relevant = a response of the same intent; recall@1/@5 and MRR@10 for dense, hybrid (BM25
  weight tuned on the other half of the queries) and, with a reranker, reranked.
- latency: ``SupportService.ask`` end to end (intent model, hybrid retrieval, reranker, answer,
  SQLite record) over N questions at 1k/10k(/100k) passages, p50/p95; beside it the plain
  baseline (SentenceTransformer.encode + IndexFlatIP per question) and both recalls.
  Passages are Bitext responses, utterances and Banking77 texts; beyond ``--real-passages``
  (40k, or 2k with --quick) the embedded ones are tiled with small noise: timing only.
- trained-bot: the same timing and recall for a bot trained by ``BotTrainer`` on Bitext (its
  own FAQs and intent examples) and asked Bitext questions it did not train on, at 1k and
  10k passages (FAQs, responses, Banking77 texts as filler; all embedded).

- demo: the whole demo bot (``support demo``'s training on ``datasets/support``) answering
  the demo's held-out questions, each in a new conversation: ``intents_test.csv`` (an intent's
  question is answered right from its template's document, an out-of-scope one by a hand-off)
  and ``queries.csv`` (answered right when the first citation is the relevant document; and
  whether the answer states the row's ``fact``, a phrase of the KB that answers it: the quote,
  not only the document); and ``unanswerable.csv``, questions about the shop's trade its KB
  cannot answer (handed off is right; by the rows' ``use``: the ones that set the answer check's
  thresholds, and the ones written after), ``other_trades.csv``, questions for other businesses in
  words like the shop's ("how do I reset my netflix password"; handed off is right; by ``use``
  too), and ``answerable_slang.csv``, answerable questions in words the shop never uses
  (answered is right). Lists every wrong answer. ``--demo-home``: a home whose trained demo
  bot is used (copied, so the questions leave no record there) instead of training one.

Timings on a shared CPU are noisy: the table prints them, nothing asserts them. Results go to
``benchmarks/results/support[-quick].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    return frame.sample(frac=1.0, random_state=seed).groupby(label).head(per_class)


def banking77(quick: bool, epochs: int, val_fraction: float = 0.1) -> dict:
    """Fine-tuned + calibrated intent model vs frozen embeddings + logistic regression.

    ``val_fraction=0`` trains the fixed epoch count on every row outside the calibration split
    (no early-stopping carve): a refit once an earlier run's validation curve chose the epochs.
    """
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
        result = train_intents(fit, calib, "b77", TrainConfig(epochs=epochs, max_length=48,
                                                               val_fraction=val_fraction),
                               "oos", registry=Registry(root=tmp))
        pred = [d.intent for d in IntentModel(result.path).predict(list(test["text"]))]
    ours = classification_metrics(list(test["category"]), pred)
    return {"train_rows": len(train), "test_rows": len(test), "epochs": epochs,
            "fit_rows": len(fit), "val_fraction": val_fraction,
            "baseline_lr_accuracy": base["accuracy"], "baseline_lr_macro_f1": base["macro_f1"],
            "baseline_seconds": base_s, "bot_accuracy": ours["accuracy"],
            "bot_macro_f1": ours["macro_f1"], "bot_train_seconds": time.perf_counter() - start,
            "reference": "BERT-base 0.9366 (full data)"}


OOS_SPLITS = {"banking77": (50, 10), "bitext": (18, 3)}  # intents in scope, giving oos rows
OOS_TEST_PER_INTENT = 100  # bitext: held-out utterances per intent in the test set


def intent_oos(dataset: str, quick: bool, per_intent: int = 40, seed: int = 0) -> dict:
    """Out-of-scope detection: ``support eval-intents`` beside the issue's baseline.

    The dataset is split by intent, as BANKING77-OOS does (Zhang et al. 2022, "Are pretrained
    transformers robust in intent classification?"), with our own seeded split: some intents
    in scope with ``per_intent`` training examples each; a few others give out-of-scope
    training rows (10 each, labelled ``oos``); the rest are the test set's unseen out-of-scope
    intents. ``banking77``: 50 in scope, 10 giving rows, 17 unseen; the test set is every
    official test question of the 50 and the 17 (the unseen intents are other banking
    questions, close to the in-scope ones). ``bitext``: the issue's kind of data, short
    customer-service utterances; 18 of its 27 intents in scope, 3 giving rows, 6 unseen; the
    test set is up to ``OOS_TEST_PER_INTENT`` utterances of each, none trained on.

    The baseline is frozen MiniLM embeddings + logistic regression over the in-scope intents,
    abstaining below a max-probability threshold tuned on the same 20% calibration split that
    ``eval-intents`` calibrates on, for the same objective (in-scope accuracy + OOS recall).
    As the issue defines it, the baseline uses the out-of-scope rows only to tune that
    threshold; ``eval-intents`` also learns them as a class.

    Each calibration picks one point on its model's curve, so the two are also compared at each
    other's out-of-scope recall, thresholds swept on the test set (a diagnostic: which model
    is better there, whatever its calibration picked).
    """
    from sklearn.linear_model import LogisticRegression

    from apps.support_bot.evaluation import evaluate_intents
    from apps.support_bot.intents import Thresholds, abstention_metrics, decide, split_calibration
    from shared import Embedder, LabelledText

    train, test = _intent_frames(dataset)
    intents = sorted(train["category"].unique())
    random.Random(seed).shuffle(intents)
    n_in, n_rows = OOS_SPLITS[dataset]
    in_scope, oos_train = set(intents[:n_in]), set(intents[n_in : n_in + n_rows])
    oos_test = set(intents[n_in + n_rows :])
    shuffled = train.sample(frac=1.0, random_state=seed)
    rows = [LabelledText(t, y) for t, y in _head(shuffled, in_scope, per_intent)]
    rows += [LabelledText(t, "oos") for t, _ in _head(shuffled, oos_train, 10)]
    if test is None:  # no official test set: utterances none of the rows trained on
        trained = {r.text for r in rows}
        test = shuffled[~shuffled["text"].isin(trained)].groupby("category").head(OOS_TEST_PER_INTENT)
    test = test[test["category"].isin(in_scope | oos_test)]
    if quick:
        test = test.sample(frac=1.0, random_state=seed).groupby("category").head(8)
    truth = [y if y in in_scope else "oos" for y in test["category"]]
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("train", [(r.text, r.label) for r in rows]),
                           ("test", list(zip(test["text"], truth, strict=True)))):
            pd.DataFrame(data, columns=["text", "label"]).to_csv(Path(tmp) / f"{name}.csv", index=False)
        start = time.perf_counter()
        ours = evaluate_intents(Path(tmp) / "train.csv", Path(tmp) / "test.csv", "oos", sweep=True)
        ours_s = time.perf_counter() - start

    fit, calib = split_calibration(rows)  # the split eval-intents calibrates on
    embedder = Embedder("minilm")
    fit_in = [r for r in fit if r.label != "oos"]
    model = LogisticRegression(max_iter=2000, C=10).fit(embedder.encode([r.text for r in fit_in]),
                                                        [r.label for r in fit_in])

    classes = [str(c) for c in model.classes_]

    def objective(probs: np.ndarray, threshold: float, labels: list[str]) -> dict:
        """Abstain below a max-probability ``threshold`` (margin 0: no near-tie rule)."""
        return abstention_metrics(decide(probs, classes, Thresholds(float(threshold), 0.0)), labels)

    calib_probs = model.predict_proba(embedder.encode([r.text for r in calib]))
    grid, values = np.round(np.arange(0.0, 1.0, 0.01), 2), []
    for threshold in grid:
        m = objective(calib_probs, threshold, [r.label for r in calib])
        values.append(m["in_scope_accuracy"] + m["oos_recall"])
    tied = [t for t, v in zip(grid, values, strict=True) if v >= max(values) - 1e-9]
    threshold = float(tied[len(tied) // 2])  # the middle of the ties, as calibrate() takes
    test_probs = model.predict_proba(embedder.encode(list(test["text"])))
    base = objective(test_probs, threshold, truth)
    # the two curves compared at each other's operating point, thresholds swept on the test set
    # (a diagnostic of the models; neither threshold above is chosen this way)
    base_sweep = [objective(test_probs, t, truth) for t in grid]
    bot_there = max((p["in_scope_accuracy"] for p in ours["sweep"]
                     if p["oos_recall"] >= base["oos_recall"]), default=None)
    base_there = max((p["in_scope_accuracy"] for p in base_sweep
                      if p["oos_recall"] >= ours["oos_recall"]), default=None)
    return {"dataset": dataset, "seed": seed, "in_scope_intents": len(in_scope),
            "oos_train_intents": len(oos_train), "oos_test_intents": len(oos_test), "train_rows": len(rows),
            "test_in_scope": sum(y != "oos" for y in truth), "test_oos": truth.count("oos"),
            "bot_in_scope_accuracy": ours["in_scope_accuracy"], "bot_oos_recall": ours["oos_recall"],
            "bot_oos_precision": ours["oos_precision"], "bot_seconds": ours_s,
            "bot_confidence_threshold": ours["confidence_threshold"],
            "bot_margin_threshold": ours["margin_threshold"],
            "baseline_in_scope_accuracy": base["in_scope_accuracy"],
            "baseline_oos_recall": base["oos_recall"], "baseline_oos_precision": base["oos_precision"],
            "baseline_threshold": threshold,
            "bot_in_scope_at_baseline_oos_recall": bot_there,
            "baseline_in_scope_at_bot_oos_recall": base_there,
            "reference": "issue: baseline about 0.93 in-scope with 0.80 OOS recall; beat both"}


def _intent_frames(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(train, test) with ``text`` and ``category`` columns; no test where there is no official one."""
    if dataset == "banking77":
        return (pd.read_csv(DATASETS / "banking77" / "train.csv"),
                pd.read_csv(DATASETS / "banking77" / "test.csv"))
    frame = pd.read_csv(DATASETS / "bitext_customer_support" / "bitext_20k_utterances.csv")
    frame = frame[["utterance", "intent"]].set_axis(["text", "category"], axis=1)  # not its category
    return frame.drop_duplicates("text"), None


def _head(frame: pd.DataFrame, intents: set, n: int) -> list[tuple[str, str]]:
    """The first ``n`` rows of each of ``intents`` in ``frame``: ``(text, intent)``."""
    picked = frame[frame["category"].isin(intents)].groupby("category").head(n)
    return list(zip(picked["text"], picked["category"], strict=True))


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
    from apps.support_bot.ranking import choose_alpha, rrf
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

        def rrf_ranking(query: str) -> list[str]:
            dense, bm25 = retriever.candidates(query, retriever.encode(query)[0])
            return [retriever.chunks[i].doc_id for i, _ in rrf(dense, bm25)][:10]

        def scores(rerank_now: bool | None) -> dict:
            if rerank_now is None:
                ranked = [rrf_ranking(q) for q, _ in test]
            else:
                found = retriever.search_many([q for q, _ in test], 10, rerank_now)
                ranked = [[p.chunk.doc_id for p in ps] for ps in found]
            relevant = [rel for _, rel in test]
            return {"recall@1": recall_at_k(ranked, relevant, 1),
                    "recall@5": recall_at_k(ranked, relevant, 5),
                    "mrr@10": mrr(ranked, relevant, 10)}

        out = {"kb_docs": len(docs), "queries_tuned": len(tune), "queries_tested": len(test)}
        out |= {f"dense_{k}": v for k, v in scores(False).items()}
        out |= {f"rrf_{k}": v for k, v in scores(None).items()}
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


def latency(sizes: list[int], n_questions: int, n_real: int) -> list[dict]:
    """p50/p95 of a full ``ask`` at each KB size, beside the plain encode + IndexFlatIP loop.

    ``n_real`` passages are embedded; larger sizes tile them with noise (timing only). With a
    reranker that training gated or turned off, each size is timed twice (see below).
    Recall@1 (top passage is a Banking77 training text of the question's intent) is measured
    untimed for the bot's retrieval and for the baseline. "as trained" is the bot as its
    training left it (reranker on, gated or off, whichever won on held-out questions); "always
    rerank" forces the reranker on every question that clears the hand-off floor.
    """
    import faiss

    from apps.support_bot.knowledge import Document
    from apps.support_bot.service import SupportService
    from apps.support_bot.store import SupportStore
    from shared import load_sentence_model

    real = _passages(min(max(sizes), n_real))
    train = pd.read_csv(DATASETS / "banking77" / "train.csv")
    intent_of = dict(zip(train["text"].astype(str), train["category"], strict=True))
    test = pd.read_csv(DATASETS / "banking77" / "test.csv").head(n_questions)
    questions, truth = list(test["text"]), list(test["category"])
    baseline_model = load_sentence_model("minilm")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        probe = SupportService(SupportStore(f"sqlite:///{tmp}/probe.db"),
                               index_path=Path(tmp) / "probe")
        probe.warm_up()  # the trained bot's embedder, reranker and thresholds, if any
        print(f"embedding {len(real)} passages…", file=sys.stderr)
        vectors = probe.retriever.embedder.encode(real, batch_size=128)
        # the baseline searches its own embeddings (the bot's retriever may be a tuned one)
        plain = baseline_model.encode(real, batch_size=128, normalize_embeddings=True)
        for size in sizes:
            texts, vecs = _tile(real, vectors, size)
            service = SupportService(SupportStore(f"sqlite:///{tmp}/kb{size}.db"),
                                     index_path=Path(tmp) / f"index{size}")
            docs = [Document(f"p{i}", "", t) for i, t in enumerate(texts)]
            service.retriever.apply(service.store.upsert_documents(docs, _one_chunk), vecs)
            retriever = service.retriever
            reranks = _count_reranks(retriever)
            always = retriever.config.use_reranker and retriever.config.rerank_margin is None
            modes = ["as trained"] + (["always rerank"] if retriever.reranker_name
                                      and not always else [])
            baseline_per_s, baseline_top = _baseline(baseline_model, faiss,
                                                     _tile(real, plain, size)[1], questions)
            for mode in modes:
                if mode == "always rerank":
                    retriever.config.use_reranker, retriever.config.rerank_margin = True, None
                timing, _ = _timed(service, questions, reranks)
                found = [retriever.search(q, 1, floor=service.bot.threshold)[0] for q in questions]
                rows.append({"passages": size, "mode": mode, "questions": len(questions),
                             **timing,
                             "recall@1": _recall([texts[int(p.chunk.doc_id[1:])] for p in found],
                                                 truth, intent_of),
                             "baseline_per_s": baseline_per_s,
                             "x_baseline": timing["answers_per_s"] / baseline_per_s,
                             "baseline_recall@1": _recall([texts[i] for i in baseline_top],
                                                          truth, intent_of),
                             "intents": service.intents is not None,
                             "reranker": bool(retriever.reranker_name
                                              and retriever.config.use_reranker),
                             "rerank_margin": retriever.config.rerank_margin})
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def _bitext_company(quick: bool) -> tuple:
    """Bitext as one company's data: (intent training rows, one FAQ per intent, articles
    (Bitext responses and Banking77 texts, shuffled), intent of each FAQ and response,
    held-out rows)."""
    from apps.support_bot.knowledge import Document

    frame = pd.read_csv(BITEXT).sample(frac=1.0, random_state=0)
    frame["instruction"], frame["response"] = frame["instruction"].astype(str), \
        frame["response"].astype(str)
    train_rows = frame.groupby("intent").head(12 if quick else 30)
    faqs = [Document(f"faq-{r.intent}", r.instruction, r.response, kind="faq")
            for r in train_rows.groupby("intent").head(1).itertuples()]
    intent_of = {d.doc_id: d.doc_id[4:] for d in faqs}
    articles = []
    for i, r in frame.groupby("intent").head(60 if quick else 160).iterrows():
        articles.append(Document(f"r{i}", "", r.response))
        intent_of[f"r{i}"] = r.intent
    banking = pd.read_csv(DATASETS / "banking77" / "train.csv")["text"].astype(str)
    articles += [Document(f"b{i}", "", t) for i, t in enumerate(banking)]
    random.Random(0).shuffle(articles)
    return train_rows, faqs, articles, intent_of, frame.drop(train_rows.index)


def trained_bot(sizes: list[int], n_questions: int, quick: bool,
                keep: Path | None = None) -> list[dict]:
    """The bot trained with ``BotTrainer`` on its own company's data, then timed and scored on
    that company's held-out questions (the "latency" part times the demo bike-shop bot on
    Banking77 questions: another domain, where its reranker hurts).

    The company is Bitext: one FAQ per intent (a customer's instruction as the question, the
    agent's response as the answer) and 30 instructions per intent (12 with --quick) to
    train on. The KB at each size is the FAQs plus Bitext responses and Banking77 texts
    (another domain, as filler), all really embedded.
    Questions are instructions outside the training rows. recall@1: the answer's first
    citation (for a hand-off, the passage it would have cited) is an FAQ or response of the
    question's intent; for the baseline, its top passage. answered_right: answered (not
    handed off) with such a citation. Modes: "as trained" (templates when the intent is
    sure, the reranker as training left it), "retrieval only" (no templates: every question
    searched), "retrieval, never rerank" (what the reranker adds, by its absence) and
    "retrieval, always rerank" (searched and reranked: the slowest path).
    ``keep``: a folder that keeps the trained bot; a bot already trained there is reused (time
    and score again without training).
    """
    import faiss

    from apps.support_bot.answer import AnswerKind
    from apps.support_bot.service import SupportService
    from apps.support_bot.store import SupportStore
    from apps.support_bot.training import BotTrainer, TrainOptions
    from shared import load_sentence_model

    train_rows, faqs, articles, intent_of, test = _bitext_company(quick)
    test = test.head(n_questions)
    questions, truth = list(test["instruction"]), list(test["intent"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp, _home(keep or tmp):
        home = str(keep or tmp)
        service, train_s = SupportService(), None
        if not service.registry.current("support-intents"):
            intents = Path(home) / "intents.csv"
            train_rows.rename(columns={"instruction": "text", "intent": "label"})[
                ["text", "label"]].to_csv(intents, index=False)
            # subtle: trained on the FAQs alone; training scores retrieval against the FAQ
            # linked to each intent, and same-intent responses beside them count as
            # misses there (the answer threshold then rose to 0.87: every search handed off)
            service.store.upsert_documents(faqs, _one_chunk)
            started = time.perf_counter()
            report = BotTrainer(service, TrainOptions()).run(intents)
            train_s = round(time.perf_counter() - started, 1)
            print(f"trained in {train_s:.0f} s: {json.dumps(report['bot'])}", file=sys.stderr)
        baseline_model = load_sentence_model("minilm")
        for size in sizes:
            docs = faqs + articles[: size - len(faqs)]
            bot = SupportService(SupportStore(f"sqlite:///{tmp}/kb{size}.db"),
                                 index_path=Path(tmp) / f"index{size}")
            bot.store.upsert_documents(docs, _one_chunk)
            print(f"embedding {len(docs)} passages…", file=sys.stderr)
            bot.warm_up()  # builds the index with the bot's embedder
            texts = [c.search_text for c in bot.store.chunks()]
            doc_ids = [c.doc_id for c in bot.store.chunks()]
            plain = baseline_model.encode(texts, batch_size=128, normalize_embeddings=True)
            baseline_per_s, top = _baseline(baseline_model, faiss, plain, questions)
            baseline_recall = float(np.mean([intent_of.get(doc_ids[i]) == t
                                             for i, t in zip(top, truth, strict=True)]))
            retriever = bot.retriever
            reranks = _count_reranks(retriever)
            for mode in ("as trained", "retrieval only", "retrieval, never rerank",
                         "retrieval, always rerank"):
                if mode != "as trained":
                    bot.bot.templates = {}
                if mode == "retrieval, never rerank":
                    retriever.config.use_reranker = False
                if mode == "retrieval, always rerank":
                    retriever.config.use_reranker, retriever.config.rerank_margin = True, None
                retriever.forget_quoted()  # each mode starts with no quote window embedded, as after a restart
                timing, answers = _timed(bot, questions, reranks)
                # the passage the answer cites first; for a hand-off, the one it would
                # have cited (so the recall compares retrieval with the baseline's top-1)
                cited = [a.citations[0].doc_id if a.citations else
                         retriever.search(q, 1, floor=bot.bot.threshold)[0].chunk.doc_id
                         for a, q in zip(answers, questions, strict=True)]
                hits = [intent_of.get(d) == t for d, t in zip(cited, truth, strict=True)]
                answered = [a.kind is not AnswerKind.HANDOFF and h
                            for a, h in zip(answers, hits, strict=True)]
                kinds = [a.kind for a in answers]
                rows.append({
                    "passages": len(docs), "mode": mode, "questions": len(questions),
                    **timing,
                    "template_share": kinds.count(AnswerKind.TEMPLATE) / len(kinds),
                    "handoff_share": kinds.count(AnswerKind.HANDOFF) / len(kinds),
                    "recall@1": float(np.mean(hits)),
                    "answered_right": float(np.mean(answered)),
                    "baseline_per_s": baseline_per_s,
                    "x_baseline": timing["answers_per_s"] / baseline_per_s,
                    "baseline_recall@1": baseline_recall,
                    "rerank_margin": retriever.config.rerank_margin,
                    "train_s": train_s})
                print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


@contextmanager
def _home(path: str | Path) -> Iterator[None]:
    """``VERTICALS_HOME`` set to ``path`` inside the block, as it was after it."""
    from shared import get_settings

    old = os.environ.get("VERTICALS_HOME")
    os.environ["VERTICALS_HOME"] = str(path)
    get_settings.cache_clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("VERTICALS_HOME", None)
        else:
            os.environ["VERTICALS_HOME"] = old
        get_settings.cache_clear()


def demo_answers(trained: Path | None = None) -> dict:
    """How the demo bot answers the demo's held-out questions (see the module's docstring):
    the share answered right per question set and overall, and each wrong answer."""
    from apps.support_bot.answer import AnswerKind
    from apps.support_bot.service import SupportService
    from apps.support_bot.training import BotTrainer, TrainOptions

    demo = ROOT / "datasets" / "support"
    with tempfile.TemporaryDirectory() as tmp, _home(tmp):
        if trained:
            shutil.copytree(trained, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("finance", "recommender"))
        service = SupportService()
        if not service.registry.current("support-intents"):
            service.kb_add(demo / "kb")
            BotTrainer(service, TrainOptions()).run(demo / "intents.csv", demo / "article_questions.csv")
            service.reload()
        service.warm_up()
        templates, oos = service.bot.templates, "oos"
        intents = pd.read_csv(demo / "intents_test.csv")
        queries = pd.read_csv(demo / "queries.csv")
        asked = [("intent, in scope", q, templates.get(label), None) for q, label in
                 zip(intents["text"], intents["label"], strict=True) if label != oos] + \
            [("intent, out of scope", q, "handoff", None) for q in intents.loc[intents["label"] == oos, "text"]] + \
            [("article", q, d, f) for q, d, f in zip(queries["query"], queries["relevant_id"], queries["fact"],
                                                    strict=True)]
        result, wrong, right, stated = {}, [], [], []
        for kind, question, expected, fact in asked:
            answer = service.ask(question)
            got = "handoff" if answer.kind is AnswerKind.HANDOFF else \
                (answer.citations[0].doc_id if answer.citations else str(answer.kind))
            right.append((kind, got == expected))
            if fact:
                stated.append(fact.lower() in " ".join(answer.text.split()).lower())
            if got != expected or (fact and not stated[-1]):
                wrong.append({"set": kind, "question": question, "expected": expected,
                              "got": got, "kind": str(answer.kind), "intent": answer.intent,
                              "confidence": round(answer.confidence, 2),
                              **({"fact": fact, "stated": stated[-1]} if fact else {})})
        for kind in dict.fromkeys(k for k, _ in right):
            hits = [ok for k, ok in right if k == kind]
            result[f"right: {kind} ({len(hits)})"] = float(np.mean(hits))
        result[f"right: all ({len(right)})"] = float(np.mean([ok for _, ok in right]))
        result[f"fact stated: article ({len(stated)})"] = float(np.mean(stated))
        # questions about the shop's trade that its knowledge base cannot answer, and questions for
        # other businesses in words like the shop's ("how do I reset my netflix password"):
        # handed off is right
        for file, what in (("unanswerable.csv", "unanswerable"), ("other_trades.csv", "other trades")):
            for use, rows in pd.read_csv(demo / file).groupby("use", sort=False):
                handed = []
                for question in rows["question"]:
                    answer = service.ask(question)
                    handed.append(answer.kind is AnswerKind.HANDOFF)
                    if not handed[-1]:
                        wrong.append({"set": f"{what} ({use})", "question": question, "expected": "handoff",
                                      "got": answer.citations[0].doc_id if answer.citations else str(answer.kind),
                                      "kind": str(answer.kind), "confidence": round(answer.confidence, 2)})
                result[f"handed off: {what}, {use} ({len(handed)})"] = float(np.mean(handed))
        # answerable questions in slang, words the shop never uses: answered is right
        for use, rows in pd.read_csv(demo / "answerable_slang.csv").groupby("use", sort=False):
            handed = []
            for question in rows["question"]:
                answer = service.ask(question)
                handed.append(answer.kind is AnswerKind.HANDOFF)
                if handed[-1]:
                    wrong.append({"set": f"answerable in slang ({use})", "question": question,
                                  "expected": "an answer", "got": "handoff", "reason": answer.reason})
            result[f"handed off: answerable in slang, {use} ({len(handed)})"] = float(np.mean(handed))
    for row in wrong:
        print(json.dumps(row), file=sys.stderr)
    return result | {"wrong": wrong}


def _timed(service, questions: list[str], reranks: list) -> tuple[dict, list]:
    """Ask every question once, after one warm-up: p50/p95 ms, answers/s and the share
    reranked (``reranks`` from :func:`_count_reranks`); and the answers."""
    service.ask(questions[0])
    reranks.clear()
    timings, answers = [], []
    for q in questions:
        start = time.perf_counter()
        answers.append(service.ask(q))
        timings.append(time.perf_counter() - start)
    return {"p50_ms": 1000 * float(np.percentile(timings, 50)),
            "p95_ms": 1000 * float(np.percentile(timings, 95)),
            "answers_per_s": 1 / float(np.mean(timings)),
            "reranked_share": len(reranks) / len(questions)}, answers


def _count_reranks(retriever) -> list:
    """A list that grows by one on every reranker call (the benchmark's probe, not the bot's)."""
    calls: list = []
    rerank = retriever._rerank

    def counted(query, passages):
        calls.append(1)
        return rerank(query, passages)

    retriever._rerank = counted
    return calls


def _recall(top_texts: list[str], truth: list[str], intent_of: dict) -> float:
    """Share of questions whose top passage is a training text of the same Banking77 intent."""
    hits = [intent_of.get(text) == label for text, label in zip(top_texts, truth, strict=True)]
    return float(np.mean(hits))


def _baseline(model, faiss, vecs: np.ndarray, questions: list[str]) -> tuple[float, list[int]]:
    """SentenceTransformer.encode + IndexFlatIP, one question at a time: questions per second
    and each question's top passage."""
    flat = faiss.IndexFlatIP(vecs.shape[1])
    flat.add(vecs)
    model.encode([questions[0]])
    top = []
    start = time.perf_counter()
    for q in questions:
        _, ids = flat.search(model.encode([q], normalize_embeddings=True), 5)
        top.append(int(ids[0][0]))
    return len(questions) / (time.perf_counter() - start), top


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="banking77,oos,bitext,latency,trained-bot,demo")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="the oos part's split of the intents")
    parser.add_argument("--oos-set", choices=sorted(OOS_SPLITS), default="banking77",
                        help="the oos part's dataset, split by intent")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="banking77: validation carve for early stopping (0 = refit on all "
                             "rows outside the calibration split for exactly --epochs)")
    parser.add_argument("--sizes", default=None, help="KB sizes for latency, e.g. 1000,10000")
    parser.add_argument("--questions", type=int, default=None)
    parser.add_argument("--real-passages", type=int, default=None,
                        help="passages really embedded; larger KBs tile them (default 40k, "
                             "2k with --quick)")
    parser.add_argument("--keep-bot", type=Path, default=None,
                        help="trained-bot: keep the trained bot in this folder (reused if there)")
    parser.add_argument("--demo-home", type=Path, default=None,
                        help="demo: use the demo bot trained in this home (e.g. var) instead of training one")
    args = parser.parse_args()
    parts = args.parts.split(",")
    results: dict = {}
    if "banking77" in parts:
        results["banking77"] = banking77(args.quick, args.epochs or (4 if args.quick else 3),
                                         args.val_fraction)
        _save(results, args.quick)
    if "oos" in parts:
        results["oos"] = intent_oos(args.oos_set, args.quick, seed=args.seed)
        _save(results, args.quick)
    if "bitext" in parts:
        results["bitext"] = bitext(args.quick, rerank=True)
        _save(results, args.quick)
    if "latency" in parts:
        sizes = [1000, 10_000] if args.quick else [1000, 10_000, 100_000]
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else sizes
        questions = args.questions or (200 if args.quick else 1000)
        real = args.real_passages or (2000 if args.quick else 40_000)
        results["latency"] = latency(sizes, questions, real)
        _save(results, args.quick)
    if "trained-bot" in parts:
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else [1000, 10_000]
        questions = args.questions or (200 if args.quick else 1000)
        results["trained_bot"] = trained_bot(sizes, questions, args.quick, args.keep_bot)
        _save(results, args.quick)
    if "demo" in parts:
        results["demo"] = demo_answers(args.demo_home)
        _save(results, args.quick)
    _table(results)


def _save(results: dict, quick: bool) -> None:
    from shared.export import cpu_name

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"support{'-quick' if quick else ''}.json"
    earlier = json.loads(path.read_text()) if path.exists() else {}
    # parts run apart, maybe on other machines: each keeps the CPU it ran on
    cpus = earlier.get("cpu", {}) | {part: cpu_name() for part in results}
    path.write_text(json.dumps(earlier | results | {"cpu": cpus}, indent=2, default=str))


def _table(results: dict) -> None:
    from shared.export import cpu_name

    print(f"CPU: {cpu_name()}")
    for part, value in results.items():
        print(f"\n## {part}")
        rows = value if isinstance(value, list) else [{k: v for k, v in value.items() if k != "wrong"}]
        print(pd.DataFrame(rows).round(4).T.to_string(header=False))


if __name__ == "__main__":
    main()
