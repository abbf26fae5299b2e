"""A FAISS vector index with string ids and metadata: exact when small, HNSW when large.

Vectors are kept beside the FAISS structure so removes and saves are exact and simple: a
remove drops rows and the search structure is rebuilt on the next search (cheap for the flat
index; HNSW collections are rebuilt, which is fine for their rare deletes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .errors import VectorIndexError
from .storage import atomic_dir

HNSW_THRESHOLD = 50_000
# subtle: a query or two is faster on one OpenMP thread; with two, faiss's threads fight the
# model runtime's spinning threads for the cores (measured: 13 ms -> 1.3 ms at 10k passages)
FEW_QUERIES = 8


@contextmanager
def _one_omp_thread() -> Iterator[None]:
    """One OpenMP thread for this Python thread's searches, then its old count back.

    subtle: no lock needed: OpenMP keeps the thread count (nthreads-var) per calling thread, so
    interleaved searches on two threads (support and recommender in one Streamlit process) each
    save and restore their own count (tests/shared/test_index.py checks this with threads).
    """
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


@dataclass
class Hit:
    """One search result: ``Hit(id="kb-3#0", score=0.82, meta={"title": "Refunds"})``."""

    id: str
    score: float
    meta: dict = field(default_factory=dict)


class VectorIndex:
    """Cosine search over L2-normalised vectors (inner product), with ids and metadata.

    >>> index = VectorIndex(2)
    >>> index.add(["a", "b"], np.array([[1, 0], [0, 1]], dtype="float32"))
    >>> index.search(np.array([1, 0], dtype="float32"), k=1)[0][0].id
    'a'
    """

    def __init__(self, dim: int, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        if dim < 1:
            raise VectorIndexError(f"dim must be greater than 0, got {dim}")
        self.dim, self.hnsw_threshold = dim, hnsw_threshold
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._metas: dict[str, dict] = {}
        self._faiss: faiss.Index | None = None

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    @property
    def kind(self) -> str:
        return "hnsw" if len(self) >= self.hnsw_threshold else "exact"

    def meta(self, id_: str) -> dict:
        return self._metas.get(id_, {})

    def add(
        self, ids: Sequence[str], vectors: np.ndarray, metas: Sequence[dict] | None = None
    ) -> None:
        """Add (or replace, for ids already present) vectors with their metadata."""
        ids = [str(i) for i in ids]  # ids are strings everywhere: 1 and "1" are one id
        vectors = self._check(vectors, len(ids))
        if len(set(ids)) != len(ids):
            raise VectorIndexError("ids passed to add() must be unique within one call")
        if metas is not None and len(metas) != len(ids):
            raise VectorIndexError(f"got {len(metas)} metas for {len(ids)} ids")
        present = set(self._ids) & set(ids)
        if present:
            self.remove(sorted(present))
        kind = self.kind
        self._vectors = np.vstack([self._vectors, vectors])
        self._ids.extend(ids)
        for i, id_ in enumerate(ids):
            self._metas[id_] = dict(metas[i]) if metas is not None else {}
        # incremental when nothing was replaced and the size did not cross into HNSW
        if (self._faiss is not None and not present and kind == self.kind
                and self._faiss.ntotal + len(ids) == len(self)):
            self._faiss.add(vectors)
        else:
            self._faiss = None

    def remove(self, ids: Sequence[str]) -> int:
        """Remove ids (unknown ones are ignored); returns how many were removed."""
        drop = set(map(str, ids))
        keep = [i for i, id_ in enumerate(self._ids) if id_ not in drop]
        removed = len(self._ids) - len(keep)
        if removed:
            self._vectors = self._vectors[keep]
            self._ids = [self._ids[i] for i in keep]
            for id_ in drop:
                self._metas.pop(id_, None)
            self._faiss = None
        return removed

    def search(self, queries: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """Top-``k`` hits per query row, best first (a 1-D query counts as one row)."""
        if k < 1:
            raise VectorIndexError(f"k must be greater than 0, got {k}")
        queries = self._check(queries)
        if not len(self):
            return [[] for _ in range(len(queries))]
        with _one_omp_thread() if len(queries) < FEW_QUERIES else nullcontext():
            scores, positions = self._structure().search(queries, min(k, len(self)))
        return [
            [Hit(self._ids[p], float(s), self._metas.get(self._ids[p], {})) for s, p in zip(srow, prow) if p >= 0]
            for srow, prow in zip(scores, positions)
        ]

    def _structure(self) -> faiss.Index:
        if self._faiss is None:
            if self.kind == "hnsw":
                index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction, index.hnsw.efSearch = 80, 96
            else:
                index = faiss.IndexFlatIP(self.dim)
                index = _maybe_gpu(index)
            index.add(self._vectors)
            self._faiss = index
        return self._faiss

    def _check(self, vectors: np.ndarray, n: int | None = None) -> np.ndarray:
        vectors = np.ascontiguousarray(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        if vectors.shape[1] != self.dim:
            raise VectorIndexError(f"vectors have dim {vectors.shape[1]}, index has dim {self.dim}")
        if n is not None and len(vectors) != n:
            raise VectorIndexError(f"got {len(vectors)} vectors for {n} ids")
        return vectors

    def save(self, directory: str | Path) -> Path:
        """Write vectors, ids and metadata atomically (a crash keeps the previous save)."""
        with atomic_dir(directory) as tmp:
            np.save(tmp / "vectors.npy", self._vectors)
            payload = {"dim": self.dim, "hnsw_threshold": self.hnsw_threshold, "ids": self._ids,
                       "metas": [self._metas[i] for i in self._ids]}
            (tmp / "ids.json").write_text(json.dumps(payload))
            if self.kind == "hnsw":
                # the HNSW graph is slow to build, so it is saved; HNSW always lives on the CPU
                faiss.write_index(self._structure(), str(tmp / "hnsw.faiss"))
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> VectorIndex:
        directory = Path(directory)
        try:
            payload = json.loads((directory / "ids.json").read_text())
            vectors = np.load(directory / "vectors.npy")
        except (OSError, ValueError) as err:
            raise VectorIndexError(f"cannot load index from {directory}: {err}") from None
        if len(vectors) != len(payload["ids"]):
            raise VectorIndexError(f"{directory}: {len(vectors)} vectors for {len(payload['ids'])} ids; rebuild it")
        index = cls(payload["dim"], payload.get("hnsw_threshold", HNSW_THRESHOLD))
        index._vectors, index._ids = vectors.astype(np.float32), list(payload["ids"])
        index._metas = dict(zip(index._ids, payload["metas"]))
        if (directory / "hnsw.faiss").exists():
            index._faiss = faiss.read_index(str(directory / "hnsw.faiss"))
        return index


def _maybe_gpu(index: faiss.Index) -> faiss.Index:
    from .settings import get_settings

    if get_settings().device == "cuda" and hasattr(faiss, "StandardGpuResources"):
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    return index
