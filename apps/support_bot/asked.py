"""One message on the answer path (:class:`Asked`): what search reads, what it found and what the
answer will quote; and how a quote's sentences are scored against it (:func:`similarity`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .retrieval import Passage
from .tables import Turn

Similarity = Callable[[list[str]], list[float]]


@dataclass
class Asked:
    """One message on the answer path: the query search reads (the message, or the message
    joined with the ``earlier`` turns it leans on), the query's vector, the message's own
    vector once encoded (``alone``, :meth:`own_vector`), what search found and the passages to
    quote (led by a table row the message names, :meth:`.leads.Leads.named_row`); ``vouched``:
    an admin taught it to the knowledge base, so no word of it counts as one the knowledge base
    never mentions."""

    message: str
    query: str
    vector: np.ndarray
    earlier: list[Turn]
    alone: np.ndarray | None = None
    vouched: bool = False
    found: list[Passage] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    named_by: str = ""  # the text that names the table row the passages lead with, if any
    row_named: bool = False  # whether they lead with one

    def alone_again(self, vector: np.ndarray) -> None:
        """Read as a message of its own: the earlier turns set aside."""
        self.earlier, self.query, self.vector = [], self.message, vector

    def own_vector(self, encode: Callable[[str], np.ndarray]) -> np.ndarray:
        """The message's own search vector (the query's when they are the same), encoded once
        with ``encode`` (the retriever's)."""
        if self.alone is None:
            self.alone = self.vector if self.query == self.message else encode(self.message)[0]
        return self.alone


def similarity(weighted: list[tuple[np.ndarray, float]], encode_quoted: Callable[[list[str]], np.ndarray]
               ) -> Similarity:
    """Each text's weighted cosine to the question's vectors (how quotes are chosen), the texts
    encoded by ``encode_quoted`` (the retriever's, for quoted sentences).

    >>> unit = lambda texts: np.array([[1.0, 0.0] if "yes" in t else [0.0, 1.0] for t in texts])
    >>> similarity([(np.array([1.0, 0.0]), 1.0), (np.array([0.0, 1.0]), 0.1)], unit)(["yes", "no"])
    [1.0, 0.1]
    """
    vectors, weights = np.stack([v for v, _ in weighted]), np.array([w for _, w in weighted])
    return lambda texts: (encode_quoted(texts) @ vectors.T @ weights).tolist()
