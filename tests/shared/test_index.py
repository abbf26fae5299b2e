from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest

from shared.errors import VectorIndexError
from shared.index import VectorIndex, _one_omp_thread


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(vectors: np.ndarray, ids: list[str], query: np.ndarray, k: int) -> list[str]:
    return [ids[i] for i in np.argsort(-(vectors @ query))[:k]]


def test_exact_search_equals_brute_force():
    vectors, ids = _unit(500, 32, 0), [f"d{i}" for i in range(500)]
    index = VectorIndex(32)
    index.add(ids, vectors, [{"n": i} for i in range(500)])
    queries = _unit(20, 32, 1)
    for query, hits in zip(queries, index.search(queries, k=5)):
        assert [h.id for h in hits] == _brute(vectors, ids, query, 5)
    assert index.search(queries[0], k=1)[0][0].meta == {"n": int(np.argmax(vectors @ queries[0]))}


def test_hnsw_above_threshold_has_high_recall():
    vectors, ids = _unit(3000, 32, 2), [str(i) for i in range(3000)]
    index = VectorIndex(32, hnsw_threshold=1000)
    index.add(ids, vectors)
    assert index.kind == "hnsw"
    queries = _unit(50, 32, 3)
    found = [h.id for hits in index.search(queries, k=1) for h in hits]
    truth = [_brute(vectors, ids, q, 1)[0] for q in queries]
    assert np.mean([a == b for a, b in zip(found, truth)]) >= 0.95


def test_add_replace_remove_and_round_trip(tmp_path):
    vectors = _unit(10, 8, 4)
    index = VectorIndex(8)
    index.add([f"x{i}" for i in range(10)], vectors)
    index.add(["x0"], vectors[9:10], [{"v": 2}])  # replace x0 with x9's vector
    assert len(index) == 10 and index.meta("x0") == {"v": 2}
    assert {h.id for h in index.search(vectors[9], k=2)[0]} == {"x0", "x9"}
    assert index.remove(["x9", "nope"]) == 1
    assert "x9" not in index.ids
    loaded = VectorIndex.load(index.save(tmp_path / "idx"))
    assert loaded.ids == index.ids and loaded.meta("x0") == {"v": 2}
    q = _unit(3, 8, 5)
    assert [[h.id for h in r] for r in loaded.search(q, 3)] == [[h.id for h in r] for r in index.search(q, 3)]


def test_bad_shapes_and_k_are_named():
    index = VectorIndex(4)
    with pytest.raises(VectorIndexError, match="dim 3, index has dim 4"):
        index.add(["a"], np.ones((1, 3)))
    with pytest.raises(VectorIndexError, match="k must be greater than 0, got -3"):
        index.search(np.ones(4), k=-3)
    assert index.search(np.ones(4), k=2) == [[]]


def test_growing_past_the_threshold_builds_hnsw_and_ids_are_strings(tmp_path):
    import faiss

    vectors = _unit(40, 8, 6)
    index = VectorIndex(8, hnsw_threshold=30)
    index.add(range(20), vectors[:20])
    index.search(vectors[0], k=1)  # builds the exact structure
    index.add(range(20, 40), vectors[20:])  # one batch at a time, past the threshold
    assert index.kind == "hnsw"
    assert isinstance(index._structure(), faiss.IndexHNSWFlat)
    index.add([1], vectors[1:2])  # the int 1 is the id "1": replaced, not duplicated
    assert len(index) == 40 and index.ids.count("1") == 1
    loaded = VectorIndex.load(index.save(tmp_path / "idx"))
    assert isinstance(loaded._faiss, faiss.IndexHNSWFlat) and loaded.search(vectors[5], 1)[0][0].id == "5"


def test_interleaved_few_query_searches_leave_each_thread_its_omp_threads():
    # A enters, then B enters, then A leaves, then B leaves: were the count process-global, B
    # would save A's 1 and restore it, leaving FAISS single-threaded for good
    entered, left = threading.Barrier(2), threading.Barrier(2)
    after: dict[str, int] = {}

    def search(name: str, first: bool) -> None:
        faiss.omp_set_num_threads(3)
        ctx = _one_omp_thread()
        if not first:
            entered.wait()
        ctx.__enter__()
        if first:
            entered.wait()
            ctx.__exit__(None, None, None)
            left.wait()
        else:
            left.wait()
            ctx.__exit__(None, None, None)
        after[name] = faiss.omp_get_max_threads()

    before = faiss.omp_get_max_threads()
    threads = [threading.Thread(target=search, args=(n, n == "a")) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert after == {"a": 3, "b": 3} and faiss.omp_get_max_threads() == before


def test_concurrent_searches_agree_with_serial_ones():
    rng = np.random.default_rng(3)
    index = VectorIndex(16)
    index.add([str(i) for i in range(500)], rng.standard_normal((500, 16)).astype("float32"))
    queries = rng.standard_normal((40, 16)).astype("float32")
    serial = [[h.id for h in index.search(q, k=5)[0]] for q in queries]
    got: dict[int, list[str]] = {}

    def run(i: int) -> None:
        got[i] = [h.id for h in index.search(queries[i], k=5)[0]]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [got[i] for i in range(40)] == serial
