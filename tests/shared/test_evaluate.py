from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, roc_auc_score

from shared.evaluate import (
    classification_metrics,
    expected_calibration_error,
    mrr,
    ndcg_at_k,
    recall_at_k,
    roc_auc,
)


def test_classification_matches_sklearn():
    rng = np.random.default_rng(0)
    y_true = list(rng.choice(list("abc"), 200))
    y_pred = [t if rng.random() < 0.7 else rng.choice(list("abc")) for t in y_true]
    got = classification_metrics(y_true, y_pred)
    assert got["accuracy"] == pytest.approx(np.mean(np.array(y_true) == np.array(y_pred)))
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert sum(map(sum, got["confusion"])) == 200


def test_a_class_predicted_but_never_true_counts_in_macro_f1():
    got = classification_metrics(["a", "a", "b", "b"], ["a", "c", "b", "b"])
    assert got["macro_f1"] == pytest.approx(0.5556, abs=1e-4)  # (2/3 + 1 + 0) / 3, as sklearn
    assert got["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


_pairs = st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde")), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(_pairs)
def test_macro_f1_matches_sklearn_on_random_labels(pairs):
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    got = classification_metrics(y_true, y_pred)
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))


@settings(max_examples=200, deadline=None)
@given(_pairs, st.lists(st.sampled_from("abcde"), min_size=1, max_size=3, unique=True))
def test_rows_outside_the_given_labels_still_count(pairs, labels):
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    got = classification_metrics(y_true, y_pred, labels)
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert got["labels"][: len(labels)] == labels
    assert set(got["labels"]) == set(labels) | set(y_true) | set(y_pred)
    assert sum(map(sum, got["confusion"])) == len(pairs)  # no row silently dropped


def test_ranking_by_hand():
    ranked = [["x", "a", "b"], ["a", "y", "z"], ["p", "q", "r"]]
    relevant = [{"a"}, {"a"}, {"a"}]
    assert recall_at_k(ranked, relevant, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(2 / 3)
    assert mrr(ranked, relevant) == pytest.approx((0.5 + 1 + 0) / 3)
    assert ndcg_at_k(ranked, relevant, 3) == pytest.approx((1 / np.log2(3) + 1 + 0) / 3)
    with pytest.raises(ValueError, match="k must be greater than 0, got 0"):
        recall_at_k(ranked, relevant, 0)


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + y * 0.3, 1)  # rounding makes ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_calibration_of_a_perfectly_calibrated_model_is_zero():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.array([1, 0])) == pytest.approx(1.0)
