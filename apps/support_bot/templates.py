"""A sure intent's answer template (:meth:`Templates.answer`): given unless another document is
closer or holds what the question asks and the template lacks; and, after it, another document's
sentence closer to the question than any of the template's (:meth:`Templates.beside`).
:class:`.answering.Answerer` asks when the intent model is sure."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .answer import Answer, Citation, mostly_said, outranked, template_answer
from .asked import Asked, similarity
from .asking import gives_what_is_asked, lacks_what_is_asked
from .handoff import handoff, listed
from .intents import IntentDecision
from .knowledge import ROW, split_sentences
from .ranking import word_set
from .row_chunks import lacks_named_rows, named_cells
from .rows import names_a_row

if TYPE_CHECKING:
    from .service import SupportService

# how much closer to an opening question another document's sentence must be than any of a sure
# template's, for the answer to quote it after the template; and how close the template's FAQ must
# come to the question for it to be that FAQ's own question, reworded, which needs nothing beside it
BESIDE_TEMPLATE, FAQ_ASKED = 0.05, 0.8


class Templates:
    """The templates of one :class:`.service.SupportService`'s bot, judged against its search."""

    def __init__(self, service: SupportService) -> None:
        self.service = service

    def answer(self, asked: Asked, decision: IntentDecision) -> Answer | None:
        """The confident intent's template, unless another document is clearly closer, holds the
        table row the message names, or the template lacks what the message asks for (a time, a
        price, a contact; the cells of the rows it names: None); a hand-off when the message names
        a thing the template does not address ("how do I reset my xbox password"); followed by
        another document's closer sentence (:meth:`beside`).

        subtle: "What time does Swindon open on Saturday?" got the opening-hours FAQ (p 0.97),
        which gives no clinic's hours; the clinics' table, found too, has Swindon's row."""
        retriever, bot = self.service.retriever, self.service.bot
        doc = bot.templates.get(decision.intent, "")
        chunks = retriever.document_chunks(doc)
        # subtle: "How much is a day pass?" yielded its FAQ ("A Day Pass costs £18 ...") to the plans
        # table's row, then quoted the FAQ and the Day Pass article as well: £18 three times
        rows_elsewhere = asked.row_named and not any(names_a_row(asked.named_by, c) for c in chunks)
        if rows_elsewhere and not any(
                word_set(cell) <= word_set(c.text)
                for cell in named_cells(asked.named_by, asked.found, retriever.document_chunks) for c in chunks):
            return None
        own = retriever.document_similarity(doc, asked.vector) if chunks else 0.0
        if not chunks or outranked(asked.found, doc, own, bot.template_margin, bot.threshold):
            return None
        answer = template_answer(chunks, decision.confidence, decision.intent)
        # the rows a question names by a superlative, or their cells it asks for, that the template
        # lacks: "How many spaces are there at Fenwick park and ride?" got the sites' FAQ (Fenwick's
        # price, not its 420 spaces), "Which park and ride site is the biggest?" too
        if rows_elsewhere and lacks_named_rows(asked.message, asked.named_by, answer.text, asked.found,
                                               retriever.document_chunks):
            return None
        # subtle: "What number do I ring about the Green Line?" got the contactless caps' template
        # (p 0.57), which gives no number
        if lacks_what_is_asked(asked.message, answer.text):
            return None
        if not asked.vouched and (things := self.service.shop.unaddressed_things(asked.message, answer,
                                                                                self.service.retriever.encode)):
            return handoff(decision, reason=f"asks about {listed(things)}, which the knowledge base never mentions "
                                            "and the answer template does not address", found=asked.found)
        return answer if own >= FAQ_ASKED else self.beside(asked, answer, doc)

    def beside(self, asked: Asked, template: Answer, doc: str) -> Answer:
        """``template``, and after it the sentence of another document that search found (above
        the floor; a table row's is the rows' to quote) where it is closer to an opening question
        than any of the template's by ``BESIDE_TEMPLATE`` and the template does not say it already.
        Not where the question is the FAQ's own (``FAQ_ASKED``): "cn i cancle my membrship" had
        its template, then how to cancel a meeting room.

        subtle: "What happens if my mobile dies and my ticket is on the app?" got the app tickets'
        template (p 0.89) on buying and activating; the app article says a flat battery is travelling
        without a ticket."""
        threshold = self.service.bot.threshold
        others = [p for p in asked.found if p.dense >= threshold and p.chunk.doc_id != doc]
        candidates = [(p, s) for p in others for s in split_sentences(p.chunk.text) if not ROW.match(s)]
        # a question for a time, price, duration or contact has it from the template (:func:`lacks_what_is_asked`):
        # "what's your phone number?" had then been told how to change the one on their profile
        if asked.earlier or not candidates or not gives_what_is_asked(asked.message, ""):
            return template
        own_sentences = split_sentences(template.citations[0].quote)
        scores = similarity([(asked.vector, 1.0)], self.service.retriever.encode_quoted)(
            [*own_sentences, *(s for _, s in candidates)])  # one encode
        own, scores = max(scores[:len(own_sentences)]), scores[len(own_sentences):]
        best = max(range(len(candidates)), key=scores.__getitem__)
        passage, sentence = candidates[best]
        if scores[best] - own < BESIDE_TEMPLATE or mostly_said(sentence, [template.text]):
            return template
        chunk = passage.chunk
        citation = Citation(2, chunk.chunk_id, chunk.doc_id, chunk.title, chunk.url, sentence)
        return replace(template, text=f"{template.text} {sentence} [2]", citations=[*template.citations, citation])
