"""Pure ranking maths: a sparse BM25 (same scores as rank-bm25's BM25Okapi, but one sparse
product per query instead of a Python loop over documents), score fusion, and the grid search
that decides how much BM25 may weigh."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from shared import mrr
from shared.language import noun_lemma

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i if in is it me my of on or our so "
    "that the this to was we what when where which who why will with you your".split()
)


def singular(word: str) -> str:
    """A plural's singular, so "bikes" and "bike" compare equal: ``"bikes" -> "bike"``; short
    words and "-ss" stay ("bus", "address"); an "-es" plural English's word lists know as a noun
    is that noun ("batteries", "boxes"), others lose their "s".

    >>> singular("bikes"), singular("batteries"), singular("cookies"), singular("boxes"), singular("address")
    ('bike', 'battery', 'cookie', 'box', 'address')
    """
    if word.endswith("es") and len(word) > 4 and (lemma := noun_lemma(word)) != word:
        # subtle: "batteries" had been "batterie", so it never met "battery"; "boxes" "boxe", and
        # "how much is a large one?" after "Do you sell boxes?" named no box's row
        return lemma
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stop words: ``"Where is my order?" -> ["order"]``."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def bm25_terms(text: str) -> list[str]:
    """The terms BM25 indexes and searches: :func:`tokenize`'s words, plurals folded (:func:`singular`):
    ``"Do you store boats?" -> ["store", "boat"]``.

    subtle: "Do you store boats? how much is it?" found no chunk of the table row "Vehicle: Boat on
    a trailer": "boats" never met "boat" (an audit's follow-up was quoted the car bay's £55). On
    Bitext's same-intent retrieval (`benchmarks/support.py --quick --parts bitext`) dense + BM25
    by reciprocal rank went from recall@1 0.705 to 0.720 with the plurals folded."""
    return [singular(t) for t in tokenize(text)]


def word_set(text: str) -> set[str]:
    """A text's words as compared across turns, plurals folded: ``"Gift cards?" -> {"gift", "card"}``."""
    return set(bm25_terms(text))


@dataclass
class SparseBM25:
    """BM25Okapi over a fixed corpus as a (docs x terms) weight matrix.

    ``score(q) = sum over query tokens t of idf(t) * tf(t,d)*(k1+1) / (tf + k1*(1-b+b*dl/avgdl))``
    with rank-bm25's floor for negative idf (``epsilon * mean idf``), so scores match it exactly.
    """

    weights: sparse.csc_matrix
    vocab: dict[str, int]

    @classmethod
    def fit(cls, corpus: Sequence[list[str]], k1: float = 1.5, b: float = 0.75,
            epsilon: float = 0.25) -> SparseBM25:
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        for d, tokens in enumerate(corpus):
            terms, counts = np.unique(tokens, return_counts=True) if tokens else ([], [])
            for term, count in zip(terms, counts, strict=True):
                rows.append(d)
                cols.append(vocab.setdefault(str(term), len(vocab)))
                tfs.append(count)
        n_docs = len(corpus)
        tf = sparse.csr_matrix((np.asarray(tfs, float), (rows, cols)), shape=(n_docs, len(vocab)))
        lengths = np.array([len(t) for t in corpus], float)
        avgdl = lengths.mean() if n_docs else 1.0
        df = np.bincount(np.asarray(cols, int), minlength=len(vocab)).astype(float)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        idf[idf < 0] = epsilon * idf.mean() if len(idf) else 0.0
        tf = tf.tocoo()
        norm = k1 * (1 - b + b * lengths[tf.row] / max(avgdl, 1e-9))
        data = idf[tf.col] * tf.data * (k1 + 1) / (tf.data + norm)
        return cls(sparse.csc_matrix((data, (tf.row, tf.col)), shape=tf.shape), vocab)

    def scores(self, query: list[str]) -> np.ndarray:
        """BM25 score of every document for one tokenised query."""
        idx = [self.vocab[t] for t in query if t in self.vocab]
        if not idx:
            return np.zeros(self.weights.shape[0], np.float32)
        terms, counts = np.unique(idx, return_counts=True)
        return np.asarray(self.weights[:, terms] @ counts.astype(float)).ravel()


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (ties by lower index)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, int)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def fuse(dense: dict, bm25: dict, alpha: float) -> list[tuple[object, float]]:
    """Weighted fusion: ``cosine + alpha * bm25 / max(bm25)`` over the union of candidates.

    Missing dense scores count as the lowest dense score seen, missing BM25 as 0.

    >>> fuse({"a": 0.9, "b": 0.5}, {"b": 10.0}, 0.5)
    [('b', 1.0), ('a', 0.9)]
    """
    top = max(bm25.values(), default=0.0)
    floor = min(dense.values(), default=0.0)
    scored = {
        key: dense.get(key, floor) + (alpha * bm25.get(key, 0.0) / top if top > 0 else 0.0)
        for key in set(dense) | set(bm25)
    }
    return sorted(scored.items(), key=lambda kv: (-kv[1], str(kv[0])))


def choose_alpha(dense: list[dict], bm25: list[dict], relevant: list[set],
                 grid: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)) -> float:
    """The BM25 weight with the best MRR@10 on held-out queries; ties go to the smaller weight,
    so with no gain the hybrid is exactly dense (alpha 0) and never worse than it there."""
    best, best_mrr = 0.0, -1.0
    for alpha in grid:
        ranked = [[key for key, _ in fuse(d, b, alpha)] for d, b in zip(dense, bm25, strict=True)]
        value = mrr(ranked, relevant, 10)
        if value > best_mrr + 1e-9:
            best, best_mrr = alpha, value
    return best


def rrf(dense: dict, bm25: dict, k: int = 60) -> list[tuple[object, float]]:
    """Plain reciprocal-rank fusion, ``sum 1 / (k + rank)``: the reference the weighted fusion
    must beat (it can rank worse than dense alone on paraphrased questions).

    >>> [(key, round(score, 3)) for key, score in rrf({"a": 0.9, "b": 0.5}, {"b": 3.0}, k=1)]
    [('b', 0.833), ('a', 0.5)]
    """
    scored: dict = {}
    for scores in (dense, bm25):
        ranked = sorted(scores, key=lambda key: -scores[key])
        for rank, key in enumerate(ranked, start=1):
            scored[key] = scored.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scored.items(), key=lambda kv: (-kv[1], str(kv[0])))
