"""Hybrid retrieval over the KB chunks: dense (Embedder + FAISS) and BM25, fused with a weight
tuned on held-out questions, optionally reranked by a cross-encoder. The FAISS index lives under
``settings.indexes_dir / "support"`` and is checked against the database on every load."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared import Classifier, Embedder, VectorIndex, atomic_write_text, get_settings, load_classifier
from shared.errors import VectorIndexError, VerticalsError
from shared.storage import file_lock

from .knowledge import Chunk
from .ranking import SparseBM25, bm25_terms, choose_alpha, fuse, top_k
from .store import SupportStore
from .tables import KbChange


@dataclass
class RetrievalConfig:
    """Knobs of one retrieval: candidate depths, BM25 weight, reranking depth."""

    dense_k: int = 20
    bm25_k: int = 20
    alpha: float = 0.0
    rerank_k: int = 3
    use_reranker: bool = True
    rerank_margin: float | None = None  # skip reranking when the fused top-1 leads by this much

    def __post_init__(self) -> None:
        for name in ("dense_k", "bm25_k", "rerank_k"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0, got {getattr(self, name)}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.rerank_margin is not None and self.rerank_margin < 0:
            raise ValueError(f"rerank_margin must be >= 0, got {self.rerank_margin}")


@dataclass
class Passage:
    """A retrieved chunk with the scores of each stage; ``score`` is the final one."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    bm25: float = 0.0
    rerank: float | None = None
    stages: dict = field(default_factory=dict)


def index_dir() -> Path:
    return get_settings().indexes_dir / "support"


# a question this near an FAQ's (search cosine) asks it: "Tell me about your social tariff" / "Do you have a
# social tariff?" 0.86; not "wat r ur opening hrs" / "What are your opening hours?" 0.59 (see _question_scores)
SAME_QUESTION = 0.8
QUOTED_KEPT = 10_000  # quote windows kept embedded (1.5 kB each for MiniLM)


class Retriever:
    """Search the KB. Cheap to build; ``warm_up()`` loads models, index and BM25 once."""

    def __init__(self, store: SupportStore, embedder: str = "minilm",
                 reranker: str | None = None, config: RetrievalConfig | None = None,
                 path: Path | None = None) -> None:
        self.store, self.embedder_name, self.reranker_name = store, str(embedder), reranker
        self.path = path or index_dir()
        self.config = config or RetrievalConfig()
        self.embedder = Embedder(self.embedder_name)
        self.index: VectorIndex | None = None
        self.chunks: dict[int, Chunk] = {}
        self._bm25: SparseBM25 | None = None
        self._bm25_ids = np.empty(0, int)
        self._by_doc: dict[str, list[Chunk]] = {}
        self._doc_vectors: dict[tuple[int, ...], np.ndarray] = {}
        # each FAQ question's chunk ids and the questions embedded (see _question_scores); replaced
        # whole, never changed in place: a search reads it without the lock
        self._faq: tuple[list[list[int]], np.ndarray] = ([], np.zeros((0, 1), np.float32))
        self._quoted: OrderedDict[str, np.ndarray] = OrderedDict()  # see encode_quoted
        self._quoted_lock = threading.Lock()
        self._reranker: tuple[str | None, Classifier] | None = None
        # subtle: the dashboard shares one retriever between browser sessions; an upload must
        # not change index, chunks and BM25 under a search that is reading them
        self._lock = threading.RLock()

    # -- keeping index, BM25 and database in agreement ----------------------------------------
    def warm_up(self) -> None:
        if self.index is not None:
            return
        self.embedder.warm_up()
        self.chunks = {c.chunk_id: c for c in self.store.chunks()}
        self.index = self._load_or_rebuild()
        self._refresh_lookups()
        if self.reranker_name and self.config.use_reranker:
            self.reranker.warm_up()

    def _load_saved(self) -> VectorIndex | None:
        """The saved index, if there is one made by this embedder and it loads."""
        meta_path = self.path.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            return VectorIndex.load(self.path) if meta.get("embedder") == self.embedder_key else None
        except (VectorIndexError, OSError, ValueError):
            return None  # subtle: a missing or corrupt index is rebuilt from the database

    def _load_or_rebuild(self) -> VectorIndex:
        index = self._load_saved()
        if index is None:
            print("support: building the KB index from the database", file=sys.stderr)
            return self._rebuild()
        return self._sync(index)

    @property
    def embedder_key(self) -> str:
        """Which embedder made the index: its path, relative to home when inside it (a copied
        or moved home keeps its index instead of re-embedding the whole KB).

        subtle: the folder as named, before symlinks are resolved: a home whose ``models`` links
        to another home's stored the target's absolute path, and rebuilt the index when copied."""
        home, given = get_settings().home, Path(self.embedder_name)
        named = [(Path(os.path.abspath(given)), Path(os.path.abspath(home)))] if os.sep in self.embedder_name else []
        for path, root in named + [(self.embedder.path.resolve(), home.resolve())]:
            if path.is_relative_to(root):
                return str(path.relative_to(root))
        return str(self.embedder.path.resolve())

    def _sync(self, index: VectorIndex) -> VectorIndex:
        """Add chunks missing from the index and drop vectors whose chunk is gone."""
        in_index, in_db = {int(i) for i in index.ids}, set(self.chunks)
        missing, extra = in_db - in_index, in_index - in_db
        if extra:
            index.remove(sorted(extra))
        if missing:
            print(f"support: indexing {len(missing)} passages the database holds and the index lacks "
                  "(stored by a `kb add` that stopped or still runs)", file=sys.stderr)
            self._add(index, [self.chunks[i] for i in sorted(missing)])
        if missing or extra:
            print(f"support: index repaired (+{len(missing)} -{len(extra)})", file=sys.stderr)
            self._save(index)
        return index

    def _rebuild(self) -> VectorIndex:
        index = VectorIndex(self.embedder.dim)
        self._add(index, list(self.chunks.values()))
        self._save(index)
        return index

    def _embed(self, chunks: list[Chunk]) -> np.ndarray:
        return self.embedder.encode([c.search_text for c in chunks], batch_size=64)

    def _add(self, index: VectorIndex, chunks: list[Chunk]) -> None:
        if chunks:
            index.add([c.chunk_id for c in chunks], self._embed(chunks))

    def _save(self, index: VectorIndex) -> None:
        index.save(self.path)
        meta = {"embedder": self.embedder_key, "chunks": len(index)}
        atomic_write_text(self.path.with_suffix(".json"), json.dumps(meta))

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order (what a template answer quotes); [] if not indexed."""
        return self._by_doc.get(doc_id, [])

    def document_similarity(self, doc_id: str, vector: np.ndarray) -> float:
        """The best cosine between a question's ``vector`` and ``doc_id``'s chunks, as the index
        scores them (their vectors embedded once and kept: templates are a handful of FAQs)."""
        chunks = self.document_chunks(doc_id)
        if not chunks:
            return 0.0
        key = tuple(c.chunk_id for c in chunks)
        if key not in self._doc_vectors:
            self._doc_vectors[key] = self._embed(chunks)
        asked = self._question_scores(vector)
        return max(float((self._doc_vectors[key] @ vector).max()), *(asked.get(i, -1.0) for i in key))

    def _refresh_lookups(self) -> None:
        self._doc_vectors = {}  # chunks changed: so may their vectors (an id can be reused)
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in sorted(self.chunks.values(), key=lambda c: c.ordinal):
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        self._by_doc = by_doc
        questions: dict[str, list[int]] = {}
        for doc_id, question, _ in self.store.faq_pairs():
            questions.setdefault(question, []).extend(c.chunk_id for c in by_doc.get(doc_id, []))
        # embedded once each (encode_quoted keeps them): a KB change re-embeds only new questions
        self._faq = (list(questions.values()), self.encode_quoted(list(questions)))
        ids = sorted(self.chunks)
        self._bm25_ids = np.asarray(ids, int)
        self._bm25 = SparseBM25.fit([bm25_terms(self.chunks[i].search_text) for i in ids])

    def apply(self, change: KbChange, vectors: np.ndarray | None = None) -> None:
        """Bring index and BM25 up to date after an upsert/remove (incremental, then saved).

        ``vectors`` may carry precomputed embeddings of ``change.new_chunks`` (same order).
        """
        self.warm_up()
        if vectors is None and change.new_chunks:  # embed before taking the lock
            vectors = self._embed(change.new_chunks)
        # subtle: two `kb add` at once each saved their own index over the other's, and the
        # saved index lacked 18 of 283 chunks until the next load repaired it; under the file
        # lock, what the others saved (index and chunks) is read again first
        with self._lock, file_lock(self.path.with_suffix(".lock")):
            self.index = self._load_saved() or self.index
            if change.removed_chunk_ids:
                self.index.remove(change.removed_chunk_ids)
            if change.new_chunks:
                self.index.add([c.chunk_id for c in change.new_chunks], vectors)
            self.chunks = {c.chunk_id: c for c in self.store.chunks()}
            self._sync(self.index)  # what the others stored and have not indexed yet
            self._save(self.index)
            self._refresh_lookups()

    def reindex(self) -> int:
        """Re-embed every chunk (after changing the embedder); returns the chunk count."""
        with self._lock:
            self.chunks = {c.chunk_id: c for c in self.store.chunks()}
            self.index = self._rebuild()
            self._refresh_lookups()
            return len(self.index)

    # -- searching ------------------------------------------------------------------------------
    def encode(self, queries: str | list[str]) -> np.ndarray:
        return self.embedder.encode(queries)

    def encode_quoted(self, texts: list[str]) -> np.ndarray:
        """``texts`` of the knowledge base (the windows a quote is chosen from) embedded, each
        once: the last ``QUOTED_KEPT`` are kept. subtle: a long passage's windows cost more than
        the rest of an answer (on Bitext's 100-word responses, 51 ms a batch against a 5 ms
        question), and the passages people ask about are quoted again and again."""
        with self._quoted_lock:  # its own: a reindex holds the index's lock for seconds
            known = {t: self._quoted[t] for t in texts if t in self._quoted}
            for text in known:
                self._quoted.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        # copies: a row kept alone must not keep its whole batch alive
        fresh = {t: v.copy() for t, v in zip(missing, self.embedder.encode(missing), strict=True)} if missing else {}
        with self._quoted_lock:
            self._quoted.update(fresh)
            while len(self._quoted) > QUOTED_KEPT:
                self._quoted.popitem(last=False)
        vectors = known | fresh
        return np.stack([vectors[t] for t in texts]) if texts else np.zeros((0, self.embedder.dim), np.float32)

    def forget_quoted(self) -> None:
        """Drop the kept quote windows (:meth:`encode_quoted`): as after a restart."""
        with self._quoted_lock:
            self._quoted.clear()

    def candidates(self, query: str, vector: np.ndarray,
                   sparse: bool = True) -> tuple[dict, dict]:
        """Dense and BM25 candidate scores ``{chunk_id: score}`` for one query (BM25 left
        empty when ``sparse`` is False)."""
        self.warm_up()
        if not self.chunks:
            raise VerticalsError("the knowledge base is empty — add documents with "
                                 "`verticals support kb add PATH`")
        hits = self.index.search(vector.reshape(1, -1), self.config.dense_k)[0]
        dense = {int(h.id): float(h.score) for h in hits}
        for i, score in self._question_scores(vector).items():
            dense[i] = max(score, dense.get(i, score))
        if not sparse:
            return dense, {}
        scores = self._bm25.scores(bm25_terms(query))
        best = top_k(scores, self.config.bm25_k)
        bm25 = {int(self._bm25_ids[i]): float(scores[i]) for i in best if scores[i] > 0}
        return dense, bm25

    def _question_scores(self, vector: np.ndarray) -> dict[int, float]:
        """``{chunk_id: cosine}`` of a question's ``vector`` to the question of the FAQ each chunk
        answers, alone, where it is the same question (``SAME_QUESTION``): an FAQ's chunk scores the
        better of that and its own (question and answer).

        subtle: embedded with its answer, an FAQ's question is diluted by it: "Do you have a social
        tariff?" met its own FAQ at cosine 0.36 (the answer names "Brightline Essential" and five
        benefits, never "social tariff"), under the hand-off floor of 0.44, and was handed off.
        Questions merely alike score high too ("My broadband isn't working" / "Do I get compensation
        if my broadband stops working?" 0.63, "What's your fastest broadband?" / "How much does
        broadband cost?" 0.66): counted from 0, three audits' bots lost as many answers as they gained."""
        chunk_ids, vectors = self._faq
        if not chunk_ids:
            return {}
        return {i: float(score) for ids, score in zip(chunk_ids, vectors @ vector, strict=True)
                if score >= SAME_QUESTION for i in ids}

    def search(self, query: str, k: int = 5, vector: np.ndarray | None = None,
               rerank: bool | None = None, floor: float = -1.0) -> list[Passage]:
        """Top ``k`` passages for ``query``; pass ``vector`` to reuse an embedding.

        ``rerank=None`` follows the config: the reranker runs unless the fused top-1 leads by
        ``rerank_margin`` or no passage reaches the dense ``floor`` (the bot hands off below
        it, whatever the order). ``rerank=True`` always reranks, ``False`` never does.
        """
        vector = self.encode(query)[0] if vector is None else vector
        with self._lock:
            # subtle: with weight 0, BM25-only candidates score as the weakest dense one and
            # can never reach the top k, so scoring every chunk with BM25 (~1.5 ms at 10k
            # passages) is skipped
            dense, bm25 = self.candidates(query, vector, sparse=self.config.alpha > 0)
            fused = fuse(dense, bm25, self.config.alpha)
            passages = [Passage(self.chunks[i], s, dense.get(i, 0.0), bm25.get(i, 0.0))
                        for i, s in fused[: max(k, self.config.rerank_k)]]
        use = self._needs_rerank(passages, floor) if rerank is None else rerank
        if use and self.reranker_name and passages:
            cut = self.config.rerank_k  # subtle: the tail keeps its fused order below the head
            passages = self._rerank(query, passages[:cut]) + passages[cut:]
        return passages[:k]

    def _needs_rerank(self, passages: list[Passage], floor: float) -> bool:
        config = self.config
        if not config.use_reranker or not passages:
            return False
        if max(p.dense for p in passages) < floor:
            return False
        lead = passages[0].score - passages[1].score if len(passages) > 1 else float("inf")
        return config.rerank_margin is None or lead < config.rerank_margin

    def search_many(self, queries: list[str], k: int = 5,
                    rerank: bool | None = None) -> list[list[Passage]]:
        """:meth:`search` for a batch: the queries are embedded in one pass."""
        vectors = self.encode(queries)
        return [self.search(q, k, v, rerank) for q, v in zip(queries, vectors, strict=True)]

    @property
    def reranker(self) -> Classifier:
        """The reranker named by ``reranker_name``, looked up once per name (not per question:
        a lookup lists the registry and stats the export); training sets a new name."""
        if self._reranker is None or self._reranker[0] != self.reranker_name:
            self._reranker = (self.reranker_name, load_classifier(self.reranker_name))
        return self._reranker[1]

    def best_alpha(self, held: list[tuple[str, str]]) -> float:
        """The BM25 weight that ranks held-out ``(question, doc_id)`` pairs best (``choose_alpha``)."""
        vectors = self.encode([q for q, _ in held])
        cands = [self.candidates(q, v) for (q, _), v in zip(held, vectors, strict=True)]
        relevant = [{c.chunk_id for c in self.document_chunks(d)} for _, d in held]
        return choose_alpha([c[0] for c in cands], [c[1] for c in cands], relevant)

    def _rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        model = self.reranker
        column = model.labels.index("1") if "1" in model.labels else 1
        probs = model.predict_proba([query] * len(passages),
                                    pairs=[p.chunk.search_text for p in passages])[:, column]
        for passage, prob in zip(passages, probs, strict=True):
            passage.rerank = passage.score = float(prob)
        return sorted(passages, key=lambda p: -p.score)

