"""What a follow-up gets when its answer would only repeat the conversation: a passage found
with something not said yet (:meth:`FollowUps.fresher`), the passage that names its new subject
(:meth:`FollowUps.naming`), a closer passage of the document the repeat cites
(:meth:`FollowUps.closer`); and the answer to "and the other one?" (:meth:`FollowUps.other`).
:class:`.answering.Answerer` asks; each returns None where it has nothing better."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .answer import Answer, closer, grounded_answer, mostly_said, split_sentences
from .asked import Asked, Similarity
from .asking import gives_what_is_asked
from .handoff import named_intent
from .intents import IntentDecision
from .questions import names_inside, new_subject, points_back, says_nothing_new
from .ranking import word_set
from .retrieval import Passage

if TYPE_CHECKING:
    from .service import SupportService

# a follow-up may quote a passage with something not yet said found this far (cosine) below those chosen
FRESH_MARGIN = 0.1


class FollowUps:
    """The answers above, from one :class:`.service.SupportService`'s search and knowledge base."""

    def __init__(self, service: SupportService) -> None:
        self.service = service

    def fresher(self, asked: Asked, answer: Answer, intent: str | None, similarity: Similarity) -> Answer | None:
        """For a follow-up whose quotes are mostly said already (:func:`.answer.mostly_said`): the
        answer from a passage found within ``FRESH_MARGIN`` of those chosen (and above the floor)
        with most of it not said, whose nearest sentence is closer to the follow-up than every
        repeated one (:func:`.answer.closer`), the said sentences left out of its quote; None when
        there is none. subtle: "how long does that take?" after the refund template was quoted
        the template's FAQ again; the refund policy, found 0.07 below it, says "take 5 to 10
        working days". A repeat that is the answer stays: "how long does it take?" after a service
        answer, its "2 working days" the nearest sentence."""
        said = [t.answer for t in asked.earlier]
        if not answer.citations or not all(mostly_said(c.quote, said) for c in answer.citations):
            return None
        # subtle: "how much is it?" after the 100 GB plan's row (first) and the next row was quoted
        # the rows not said yet, the Lite's £7 and the Everyday's £11: a pronoun asking for a price,
        # time, duration or contact (what "" cannot give) that the repeat's lead gives is answered
        lead = split_sentences(answer.citations[0].quote)[0]
        if points_back(asked.message) and not gives_what_is_asked(asked.message, "") \
                and gives_what_is_asked(asked.message, lead):
            return None
        near = max(max((p.dense for p in asked.passages), default=0.0) - FRESH_MARGIN, self.service.bot.threshold)
        fresh = [(p, s) for p in asked.found if p.dense >= near and not mostly_said(p.chunk.text, said)
                 for s in split_sentences(p.chunk.text) if not mostly_said(s, said)]
        best = closer([s for _, s in fresh], answer, similarity)
        return None if best is None else \
            grounded_answer(asked.query, [fresh[best][0]], intent, similarity, said=said)

    def naming(self, asked: Asked, intent: str | None, similarity: Similarity) -> Answer | None:
        """For a follow-up whose answer only repeated the conversation: the answer from the first
        passage found (above the floor) that names all of its new subject; None when none does, or
        its quote still says nothing new.

        subtle: "and what about Safari?" after "which browsers does the clipper support?" got the
        browsers passage again; the next one, found too, names Safari. Every word of the subject:
        "store credit" is not in the payment passage's "credit cards". The title counts: a FAQ's
        question names what its answer may not ("Who can manage edge cache?")."""
        message, earlier = asked.message, asked.earlier
        subject = new_subject(message)
        # a pronoun keeps the earlier subject: the passage must name it too ("who can manage it?"
        # after an edge-cache question: not "Who can manage billing?")
        about = set().union(*(word_set(t.question) for t in earlier)) if points_back(message) else None
        naming = next((p for p in asked.found if p.dense >= self.service.bot.threshold
                       and subject <= (words := word_set(p.chunk.search_text))
                       and (about is None or about & words)), None)
        if naming is None:
            return None
        answer = grounded_answer(asked.query, [naming], intent, similarity)
        return None if says_nothing_new(answer, message, earlier) else answer

    def closer(self, asked: Asked, repeated: Answer, intent: str | None, similarity: Similarity) -> Answer | None:
        """For a pronoun's follow-up whose answer only repeated the conversation: the answer from
        another passage found (above the floor) of a document the repeat cites, with a sentence
        not yet said that is closer to the follow-up than every repeated one (:func:`closer`);
        None when none is. The same document: the pronoun keeps its subject.

        subtle: "do they expire?" after two gift-card questions got the guide's "Using a gift
        card" passage again; its validity passage, found too, says "valid for 3 years" (cosine
        0.43 to the follow-up, against 0.28 for the best repeated sentence)."""
        said = " ".join(t.answer for t in asked.earlier)
        cited = {c.doc_id for c in repeated.citations}
        fresh = [(p, s) for p in asked.found if p.dense >= self.service.bot.threshold and p.chunk.doc_id in cited
                 for s in split_sentences(p.chunk.text) if s not in said]
        best = closer([s for _, s in fresh], repeated, similarity)
        if best is None:
            return None
        answer = grounded_answer(asked.query, [fresh[best][0]], intent, similarity)
        return None if says_nothing_new(answer, asked.message, asked.earlier) else answer

    def other(self, asked: Asked, decision: IntentDecision | None) -> Answer | None:
        """For "and the other one?": from the documents the last answer cites, the sentence most
        like the one that answered its question (the quoted sentence nearest it), not said in the
        conversation and without the names the question gave that sentence ("Northfield"); None
        when the last turn quoted nothing, or the follow-up asks more than for the other one.

        subtle: "and the other one?" after "Where is your Northfield site?" was quoted the
        Northfield address again; "Eastbridge is at Unit 6, Canal Side Business Park, ..."
        (cosine 0.39 to the Northfield sentence, the next 0.29) was two sentences on."""
        retriever, last = self.service.retriever, asked.earlier[-1]
        if new_subject(asked.message) - {"other", "one", "ones"} - word_set(last.question):
            return None  # "is the other one open on Sunday?" asks more: search reads it
        cited = [retriever.chunks[i] for i in last.sources if i in retriever.chunks]
        quoted = list(dict.fromkeys(s for c in cited for s in split_sentences(c.text) if s in last.answer))
        if not quoted:
            return None
        chunk_of = {s: c for d in dict.fromkeys(c.doc_id for c in cited)
                    for c in reversed(retriever.document_chunks(d)) for s in split_sentences(c.text)}
        vectors = retriever.encode_quoted(quoted)
        answering = quoted[int(np.argmax(vectors @ retriever.encode(last.question)[0]))]
        # the names the last question gave ("Northfield"), not its kind of thing ("site"): in a short
        # document "site" can be in half the sentences, and the other site's was left out
        apart = names_inside(last.question) & word_set(answering)
        said = " ".join(t.answer for t in asked.earlier)
        others = [s for s in chunk_of if s not in said and not apart & word_set(s)]
        if not others:
            return None
        target = retriever.encode_quoted([answering])[0]
        cosines = retriever.encode_quoted(others) @ target
        best = int(np.argmax(cosines))
        passage = Passage(chunk_of[others[best]], float(cosines[best]), float(cosines[best]))
        answer = grounded_answer(asked.query, [passage], named_intent(decision),
                                 lambda texts: list(retriever.encode_quoted(texts) @ target),
                                 named_by=asked.message, said=[t.answer for t in asked.earlier])
        return None if says_nothing_new(answer, asked.message, asked.earlier) else answer
