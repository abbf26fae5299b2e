"""Honest metrics as pure functions: classification, calibration and ranking.

Each can be checked by hand, e.g. ``mrr([["a", "b"]], [{"b"}]) == 0.5``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def label_order(label: str) -> tuple:
    """How labels are ordered (a classifier's outputs, its card, the per-class tables):
    whole numbers as numbers, before words; words alphabetically; ties by the text, so the
    order never depends on a set's ("7" before "007").

    subtle: numeric labels came in text order, "0", "1", "10", "11", "2".

    >>> sorted(["10", "2", "neg", "1", "--1"], key=label_order)
    ['1', '2', '10', '--1', 'neg']
    """
    return (0, int(label), label) if re.fullmatch(r"-?\d+", label) else (1, 0, label)


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict:
    """Accuracy, macro-F1, a per-class report and the confusion matrix.

    macro-F1 is sklearn's ``f1_score(y_true, y_pred, average="macro")``: the mean F1 over every
    label seen in the truth or the predictions, so a class predicted but never true counts as 0.
    ``labels`` only orders the report and adds rows for classes absent from both (shown, not
    averaged: zeros there would say nothing about the model); labels outside it are appended,
    never dropped.

    >>> classification_metrics(["a", "a", "b", "b"], ["a", "c", "b", "b"])["macro_f1"]  # (2/3 + 1 + 0) / 3
    0.5555555555555555
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} vs {len(y_pred)}")
    seen = set(y_true) | set(y_pred)
    given = list(labels) if labels is not None else []
    all_labels = given + sorted(seen - set(given), key=label_order)
    index = {y: i for i, y in enumerate(all_labels)}
    confusion = np.zeros((len(all_labels), len(all_labels)), dtype=int)
    for t, p in zip(y_true, y_pred):
        confusion[index[t], index[p]] += 1
    per_class = {}
    for i, label in enumerate(all_labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": float(precision), "recall": float(recall),
                            "f1": float(f1), "support": int(confusion[i].sum())}
    accuracy = float(np.mean([t == p for t, p in zip(y_true, y_pred)])) if y_true else 0.0
    macro = float(np.mean([per_class[c]["f1"] for c in seen])) if seen else 0.0
    return {
        "accuracy": accuracy,
        "macro_f1": macro,
        "per_class": per_class,
        "labels": all_labels,
        "confusion": confusion.tolist(),
    }


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by bin size."""
    probs = np.asarray(probs)
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(1)
    correct = probs.argmax(1) == np.asarray(y_true)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


def recall_at_k(ranked: Sequence[Sequence], relevant: Sequence[set], k: int) -> float:
    """Share of queries with at least one relevant id in the top ``k``."""
    _check(ranked, relevant, k)
    hits = [bool(set(r[:k]) & rel) for r, rel in zip(ranked, relevant)]
    return float(np.mean(hits)) if hits else 0.0


def mrr(ranked: Sequence[Sequence], relevant: Sequence[set], k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant id within the top ``k`` (0 when absent)."""
    _check(ranked, relevant, k)
    scores = []
    for r, rel in zip(ranked, relevant):
        rank = next((i + 1 for i, x in enumerate(r[:k]) if x in rel), None)
        scores.append(1.0 / rank if rank else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def ndcg_at_k(ranked: Sequence[Sequence], relevant: Sequence[set], k: int = 10) -> float:
    """Binary-relevance nDCG@k: ``ndcg_at_k([["x", "a"]], [{"a"}], 2) == 1/log2(3)``."""
    _check(ranked, relevant, k)
    scores = []
    for r, rel in zip(ranked, relevant):
        dcg = sum(1.0 / np.log2(i + 2) for i, x in enumerate(r[:k]) if x in rel)
        ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(rel), k)))
        scores.append(dcg / ideal if ideal else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def roc_auc(y_true: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve via the rank-sum formula, ties counted half."""
    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc needs both positive and negative examples")
    order = s.argsort(kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _check(ranked: Sequence, relevant: Sequence, k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be greater than 0, got {k}")
    if len(ranked) != len(relevant):
        raise ValueError(f"ranked and relevant differ in length: {len(ranked)} vs {len(relevant)}")
