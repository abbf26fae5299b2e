"""Which words pushed a prediction: word occlusion over any classifier's probabilities.

For a text of n words we score n + 1 texts in one batch: the text itself and the text with
each word left out. A word's attribution is how much the target class's probability drops
when it is gone (negative: the word argued against the target). It needs only
``predict_proba``, so it explains exactly the form that serves (int8/ONNX or torch) and costs
one batched forward pass instead of the dozens of forward+backward passes of integrated
gradients. Its known blind spot: two words that each suffice on their own both score low.

Example::

    explain(load_classifier("intents"), "my card was declined at the shop")
    # -> [("my", 0.01), ("card", 0.21), ("was", 0.0), ("declined", 0.64), ...]
"""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np

from .errors import VerticalsError

_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


class ProbabilisticClassifier(Protocol):
    """What :func:`explain` needs: ``shared.Classifier`` fits it."""

    labels: list[str]

    def predict_proba(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray: ...


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of words and punctuation marks.

    >>> word_spans("card declined!")
    [(0, 4), (5, 13), (13, 14)]
    """
    return [m.span() for m in _WORD.finditer(text)]


def occlusions(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """``text`` with each span removed in turn (whitespace around it collapsed).

    >>> occlusions("a b c", [(0, 1), (2, 3), (4, 5)])
    ['b c', 'a c', 'a b']
    """
    out = []
    for start, end in spans:
        out.append(" ".join((text[:start] + " " + text[end:]).split()))
    return out


def _target_index(labels: list[str], target: str | int | None, probs: np.ndarray) -> int:
    if target is None:
        return int(probs.argmax())
    if isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < len(labels):
            raise VerticalsError(f"target index must be in [0, {len(labels)}), got {target}")
        return target
    if str(target) not in labels:
        raise VerticalsError(f"target label {target!r} is not one of the model's labels ({', '.join(labels)})")
    return labels.index(str(target))


def explain(
    classifier: ProbabilisticClassifier,
    text: str,
    target: str | int | None = None,
    pair: str | None = None,
) -> list[tuple[str, float]]:
    """Words of ``text`` in order, each with its attribution toward ``target`` (a label name or
    index; default the predicted label): P(target | text) - P(target | text without the word).
    ``pair`` is the second text of a cross-encoder (kept whole). Only the words the model reads:
    a text longer than its ``max_length`` is cut (:func:`read_chars`).

    >>> explain(clf, "refund my order")  # doctest: +SKIP
    [('refund', 0.71), ('my', 0.02), ('order', 0.09)]
    """
    if not text or not text.strip():
        raise VerticalsError("cannot explain an empty text — pass the text that was classified")
    # subtle: a word past the cut changes nothing when left out: it scored 0.0, read as "no part
    # in the verdict" when the model never saw it
    read = read_chars(classifier, text) if pair is None else None
    spans = [(s, e) for s, e in word_spans(text) if read is None or s < read]
    variants = [text] + occlusions(text, spans)
    pairs = [pair] * len(variants) if pair is not None else None
    probs = np.asarray(classifier.predict_proba(variants, pairs=pairs))
    index = _target_index(list(classifier.labels), target, probs[0])
    drops = probs[0, index] - probs[1:, index]
    return [(text[s:e], round(float(d), 4)) for (s, e), d in zip(spans, drops, strict=True)]


def read_chars(classifier: ProbabilisticClassifier, text: str) -> int | None:
    """How many characters of ``text`` a classifier with a ``tokenizer`` and a ``max_length``
    reads (``len(text)`` when it reads it all); None when it says neither, or when an embedding
    probe (``head``) is averaged in: the probe's embedder reads up to its own length."""
    tokenizer, length = getattr(classifier, "tokenizer", None), getattr(classifier, "max_length", None)
    if tokenizer is None or not length or getattr(classifier, "head", None) is not None:
        return None
    encoded = tokenizer(text, truncation=True, max_length=length, return_offsets_mapping=True)
    if len(encoded["input_ids"]) < length:
        return len(text)
    return max((end for (_, end), which in zip(encoded["offset_mapping"], encoded.sequence_ids(), strict=True)
                if which == 0), default=0)


def top_words(attributions: list[tuple[str, float]], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words that pushed hardest toward the target, strongest first."""
    return sorted(attributions, key=lambda item: item[1], reverse=True)[:k]
