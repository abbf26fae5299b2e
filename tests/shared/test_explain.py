"""Occlusion explanations on a real fine-tuned classifier (the session's toy model)."""

from __future__ import annotations

import pytest

from shared.classifier import Classifier
from shared.errors import VerticalsError
from shared.explanations import explain, occlusions, top_words, word_spans


def test_words_and_occlusions_by_hand():
    text = "card declined, again!"
    spans = word_spans(text)
    assert [text[s:e] for s, e in spans] == ["card", "declined", ",", "again", "!"]
    assert occlusions("a b c", [(0, 1), (2, 3), (4, 5)]) == ["b c", "a c", "a b"]


def test_the_sentiment_word_carries_the_prediction(full_model, session_registry):
    clf = Classifier(session_registry.path("toy-full"))
    text = "the product was terrible today"
    attributions = explain(clf, text)
    assert [w for w, _ in attributions] == text.split()
    assert top_words(attributions, 1)[0][0] == "terrible"
    # toward the other label the same word argues against: its attribution flips sign
    against = dict(explain(clf, text, target="pos"))
    assert against["terrible"] < 0 < dict(attributions)["terrible"]
    # an attribution is a real probability drop: removing the word moves P(neg) by that much
    p_full = clf.predict_proba(text)[0, clf.labels.index("neg")]
    p_without = clf.predict_proba("the product was today")[0, clf.labels.index("neg")]
    assert dict(attributions)["terrible"] == pytest.approx(p_full - p_without, abs=1e-4)


def test_bad_targets_and_empty_text_are_clear(full_model, session_registry):
    clf = Classifier(session_registry.path("toy-full"))
    with pytest.raises(VerticalsError, match="not one of the model's labels"):
        explain(clf, "great app", target="meh")
    with pytest.raises(VerticalsError, match="empty text"):
        explain(clf, "   ")


def test_words_past_the_models_length_are_left_out_not_scored_zero(full_model, session_registry):
    clf = Classifier(session_registry.path("toy-full"))
    text = "the product was terrible today " + "and then some more words " * 20
    words = [w for w, _ in explain(clf, text)]
    assert words and len(words) < len(text.split()) and words == text.split()[:len(words)]
    assert clf.tokenizer(" ".join(words), truncation=False)["input_ids"].__len__() <= clf.max_length
