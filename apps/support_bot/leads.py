"""Which passages an answer leads with: the chunk holding the table row a question names
(:meth:`Leads.named_row`), and the chunk giving the contact it asks for (:meth:`Leads.contact`).
:class:`.answering.Answerer` calls both after search, on the :class:`.asked.Asked` it fills."""

from __future__ import annotations

from itertools import takewhile
from typing import TYPE_CHECKING

from .asked import Asked, similarity
from .asking import asks_for_no_line
from .knowledge import split_sentences
from .masking import contact_kinds
from .questions import new_subject, points_back, stands_for_a_noun, swaps_subject
from .retrieval import Passage
from .row_chunks import asks_beyond_rows, named_columns, names_another_row, row_namer, with_named_row
from .rows import asks_of_rows, names_a_row

if TYPE_CHECKING:
    from .service import SupportService

_REACH = {"phone", "email"}  # the contacts a contact page gives both of


class Leads:
    """The leads above, from one :class:`.service.SupportService`'s search and knowledge base."""

    def __init__(self, service: SupportService) -> None:
        self.service = service

    def contact(self, asked: Asked, wanted: set[str]) -> None:
        """For a message asking for the shop's phone number, e-mail or street address (``wanted``):
        the passages, where a table row the message names gives it ("What's the phone number for
        billing?") or the chunk nearest the message that gives it is among them; else that chunk
        alone (:meth:`_giving_contact`). subtle: "What number do I call if I break down?" was quoted
        the billing line's row, a phone number search found; the breakdown line's row is nearer."""
        gives = [p for p in asked.passages if wanted & contact_kinds([p.chunk.text])]
        if asked.row_named and gives and gives[0] is asked.passages[0]:
            return
        if (giving := self._giving_contact(asked, wanted)) and \
                giving[0].chunk.chunk_id not in {p.chunk.chunk_id for p in gives}:
            asked.passages, asked.row_named, asked.named_by = giving, False, asked.message

    def _giving_contact(self, asked: Asked, wanted: set[str]) -> list[Passage]:
        """For a message asking for the shop's phone number, e-mail or street address: of the
        chunks that give it, the one whose sentence giving it is nearest the message; for a message
        asking for no line in particular, one that gives both a phone number and an e-mail address
        (the contact page) first; [] when none gives it.
        subtle: "what's your phone number?" was handed off, nothing found above the floor; the
        contact article says "Call us on 01632 960418". "can I email you?" was quoted the notice
        FAQ's "or by e-mail to hello@...", not that article. "where is the Quayside site?" was
        quoted the phone booths at Quayside."""
        giving = [(c, kinds) for c, kinds in self.service.shop.contact_chunks if kinds & wanted]
        if not giving:
            return []
        retriever = self.service.retriever
        similar = similarity([(asked.own_vector(retriever.encode), 1.0)], retriever.encode_quoted)
        # the contact page for no line in particular; else by the sentence that gives it: an address, the
        # branch the message names; a number, the line. subtle: "What number do I call from abroad?" was
        # quoted the contact page's opening lines (0.51), not "From abroad, call +44 ..." (0.49 its chunk)
        scores = similar([c.text for c, _ in giving])
        if wanted <= _REACH and asks_for_no_line(asked.message):
            first = [float(len(kinds & _REACH)) for _, kinds in giving]
        else:  # chunks overlap: of two with the nearest sentence, the nearer
            giving_it = [(i, s) for i, (c, _) in enumerate(giving)
                         for s in [s for s in split_sentences(c.text) if wanted & contact_kinds([s])] or [c.text]]
            first = [float("-inf")] * len(giving)
            for (i, _), score in zip(giving_it, similar([s for _, s in giving_it]), strict=True):
                first[i] = max(first[i], score)
        best = max(range(len(giving)), key=lambda i: (first[i], scores[i]))
        return [Passage(giving[best][0], scores[best], scores[best])]

    def named_row(self, asked: Asked) -> None:
        """Lead ``asked.passages`` (none: none) with the chunk holding the table row the message
        names, else the last question it follows (:func:`.row_chunks.row_namer`), in a document search
        found above the floor. subtle: "what does the Plus plan include?" was quoted the data
        add-on FAQ alone; the plans table, found too (the reranker's 0.06), has the Plus row."""
        chunks_of, threshold = self.service.retriever.document_chunks, self.service.bot.threshold
        found = [p for p in asked.found if p.dense >= threshold]  # search ranks anything: its top 5
        # the last question only, and not for a new subject: "and for the family plan?" and then
        # "how many sims can I have on it?" named the Plus row of the question before them again
        # subtle: "and to Haverby?" after "a car to Skerrin Island?" swaps a column, not the row: the
        # car's row was lost, and the caravan's quoted
        last = self.service.speller.correct(asked.earlier[-1].question) if asked.earlier else ""
        # subtle: "and if I don't send it back?" after the Hub 3 Pro's row was quoted the Mesh Booster's:
        # "it" is the row the last question named
        # subtle: "Is there one on a Sunday?" after "When is yoga at Eastmoor?" (Monday's row) names
        # another row's first cell: it moves to that row
        new = new_subject(asked.message)
        before = [last] if last and (not swaps_subject(asked.message) or points_back(asked.message)
                                     or new <= named_columns(last, found, chunks_of)) \
            and not names_another_row(new, last, found, chunks_of) else []
        # subtle: "how much is a large one?" after "Do you sell boxes?" named the Large unit's
        # row by its own words; read with the question, it names the large box's
        joined = [asked.query] if asked.earlier and stands_for_a_noun(asked.message) else []
        named_by = row_namer([*joined, asked.message, *before], found, chunks_of) if asked.passages else None
        asked.named_by = named_by or asked.message
        if named_by is not None:
            beyond = asks_beyond_rows(asked.message, named_by, found, chunks_of)
            asked.passages = with_named_row(named_by, asked.passages, chunks_of, found=found,
                                            prose_first=beyond and not asks_of_rows(asked.message))
            # the row alone, where the message asks nothing beyond it: "How much is a locker per month?"
            # was quoted the Locker's row (£22), then the student deal's "£15 instead of £22"
            if not beyond:
                lead = asked.passages[0].chunk.doc_id if asked.passages else ""
                asked.passages = list(takewhile(lambda p: p.chunk.doc_id == lead and names_a_row(named_by, p.chunk),
                                                asked.passages)) or asked.passages[:1]
            asked.row_named = True
