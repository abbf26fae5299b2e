"""How the bot answers a question (issue 3's order): the intent model's template when it is
sure, else quotes from the knowledge base found by hybrid search, else a hand-off; a follow-up
read with the turns it leans on, a message of several questions answered one by one.
:meth:`.service.SupportService.ask` hands it the messages it does not answer itself (a wait, a
request for a person, a complaint, a courtesy, a lesson, another language)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import takewhile
from typing import TYPE_CHECKING

import numpy as np

from .answer import (
    CITATION_MARK,
    Answer,
    AnswerKind,
    Citation,
    answer_words,
    combined,
    grounded_answer,
    mostly_said,
    outranked,
    select_passages,
    template_answer,
    without_repeats,
)
from .asking import asks_for_contact, asks_for_no_line, gives_what_is_asked, lacks_what_is_asked
from .follow_ups import FollowUps
from .handoff import NOT_READ, confident, handoff, listed, named_intent
from .intents import IntentDecision, IntentModel, Status
from .knowledge import ROW, split_sentences
from .masking import contact_kinds
from .questions import (
    asks_for_the_other,
    contextual_query,
    focus,
    is_follow_up,
    leans_wholly,
    names_a_subject,
    names_new_subject,
    new_subject,
    points_back,
    says_nothing_new,
    separate_questions,
    stands_for_a_noun,
    swaps_subject,
)
from .ranking import tokenize, word_set
from .retrieval import Passage
from .rows import (
    asks_beyond_rows,
    asks_of_rows,
    columns_said,
    lacks_named_rows,
    named_cells,
    named_columns,
    names_a_row,
    row_namer,
    with_named_row,
)
from .shop import far_words
from .tables import Turn

if TYPE_CHECKING:
    from .service import SupportService

# how much closer to an opening question another document's sentence must be than any of a sure
# template's, for the answer to quote it after the template; and how close the template's FAQ must
# come to the question for it to be that FAQ's own question, reworded, which needs nothing beside it
BESIDE_TEMPLATE, FAQ_ASKED = 0.05, 0.8
ANSWERED = ("template", "grounded", "handoff")  # turns a follow-up can lean on
_REACH = {"phone", "email"}  # the contacts a contact page gives both of
# two words for one thing (search cosine): "kid" / "child" 0.81, "bike" / "bicycle" 0.92; not "cat" /
# "dog" 0.66, "Norway" / "Switzerland" 0.68, "student" / "senior" 0.61 (but "Canada" / "USA" 0.78,
# "Sweden" / "Norway" 0.80: the earlier questions' words are left out)
SAME_THING = 0.75
SAID_OF_IT_WORDS = 6  # a longer pronoun follow-up asks more than a column of the row said (see _said_of_it)


@dataclass
class _Asked:
    """One message on the answer path: the query search reads (the message, or the message
    joined with the ``earlier`` turns it leans on), the query's vector, the message's own
    vector once encoded (``alone``), what search found and the passages to quote (led by a
    table row the message names, :meth:`Answerer._lead_with_named_row`); ``vouched``: an admin
    taught it to the knowledge base, so no word of it counts as one the knowledge base never
    mentions."""

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


class Answerer:
    """The answer path of one :class:`.service.SupportService`: reads its models, knowledge base
    and record through it (``service.answerer.answer(message, conversation_id)``)."""

    def __init__(self, service: SupportService) -> None:
        self.service = service
        self._pool: ThreadPoolExecutor | None = None  # see _judges
        self.follow_ups = FollowUps(service)
        self._parts: dict[str, list[Turn]] = {}  # per conversation, a message's questions answered so far

    def answer(self, message: str, cid: str, vouched: bool = False) -> Answer:
        """A message naming something the shop's texts never mention ("how do I cancel my Netflix
        subscription") is handed off unread: the intent model was 0.97 sure of the cancel FAQ.
        Names are sought in all of it; a long message is answered by its question
        (:func:`.questions.focus`), and several questions each
        (:func:`.questions.separate_questions`; :func:`.answer.combined`), unless the bot would
        hand off every one of them: then the message is answered whole, as one. ``vouched``: an
        admin taught it to the knowledge base (:class:`_Asked`).

        subtle: a question handed off "asks about happens, which the knowledge base never
        mentions", then taught knowledge_base, was handed off again for the same reason."""
        whole = self.service.speller.correct(message)
        names = [] if vouched else self.service.shop.unknown_names(whole)
        asked = focus(message)
        questions = separate_questions(asked)
        # subtle: "What time does the ticket office open in winter and do you take Amex?" was handed
        # off whole for "Amex"; a name in one of several questions hands off that one alone
        if questions and set(names) <= {n for q in questions for n in _named_in(names, q)}:
            answers = self._each(questions, cid, vouched, names)  # "Where is my order? Also, can I change the address?"
            if not all(a.kind is AnswerKind.HANDOFF for a in answers):
                return combined(questions, answers)
        if names:
            return _names_handoff(names)
        return self._answer(whole if asked == message else self.service.speller.correct(asked), cid, vouched)

    def _each(self, questions: list[str], cid: str, vouched: bool, names: tuple[str, ...] | list[str] = ()
              ) -> list[Answer]:
        """Each question of a message answered in turn, the answers before it counting as the
        conversation's last turns (:meth:`earlier`); one naming one of ``names`` (the message's
        names the shop's texts never use) is handed off. subtle: "is there a free trial? do i need a
        credit card?" handed the second off, "nothing matched", though the first's answer said
        "No card is needed to start it"."""
        answers: list[Answer] = []
        try:
            for question in questions:
                named = _named_in(names, question)  # the message's unknown names
                answers.append(answer := _names_handoff(named) if named else
                               self._answer(self.service.speller.correct(question), cid, vouched))
                if answer.kind is not AnswerKind.HANDOFF:
                    self._parts.setdefault(cid, []).append(Turn(0, cid, question, answer.text, str(answer.kind),
                                                                answer.intent, answer.confidence, [], None, ""))
        finally:
            self._parts.pop(cid, None)
        return answers

    def _answer(self, message: str, cid: str, vouched: bool = False) -> Answer:
        """Judge the message on its own; a likely follow-up is searched with the earlier turns
        it leans on (the intent model still reads the message alone: the joined question, led by
        the earlier turn, made it sure of the earlier intent again), and so is a message that
        finds nothing alone but takes up a word of an earlier answer (:meth:`_picked_up`).

        A question with a word only the out-of-scope examples use is handed off unread
        (:meth:`.Shop.foreign_words`). A confident intent answers with its template unless another
        document is clearly closer to the question (``template_margin``), or it was already given
        in the turns this one follows up: it did not answer them either; a person answers when the
        message names a thing the shop's texts never use and the template does not address it
        (:meth:`.Shop.unaddressed_things`). Else the passages found answer it (:meth:`_grounded`),
        else a person does.

        (A message naming something the shop's texts never mention is handed off before:
        :meth:`answer`.)

        subtle: gluing context onto every short message let "Tell me a joke" after a returns
        question be answered with the returns template.
        """
        # the admin said what such a word belongs to; the model, reading it in pieces, had not
        # learnt it: "reset my gmail password" got the password template (:meth:`.Shop.foreign_words`)
        if not vouched and (foreign := self.service.shop.foreign_words(message)):
            return handoff(None, reason=f"out of scope: about {listed(foreign)}, which only the out-of-scope "
                                        f"intent examples mention{NOT_READ}")
        asked, decision = self._judged(message, cid)
        asked.vouched = vouched
        if (unsearched := self._unsearched(asked, decision)) is not None:
            return unsearched
        if asked.earlier and asks_for_the_other(message) and (other := self.follow_ups.other(asked, decision)):
            return self.service.generator.rephrase(message, other) if self.service.generator else other
        self._search(asked, decision, cid)
        given = {t.intent for t in asked.earlier if t.kind == "template"}
        if confident(decision) and decision.intent not in given and not _said_of_it(asked) \
                and (template := self._template(asked, decision)):
            return template
        if asked.passages:
            return self._grounded(asked, decision)
        if confident(decision) and decision.intent not in self.service.bot.templates:
            # subtle: an audit's queue read "nothing in the knowledge base matched" beside social_tariff
            # at 0.78: the agent could not tell the bot was sure of an intent it has no answer for
            return handoff(decision, found=asked.found, reason=f"sure of {decision.intent}, which has no answer "
                                                               "template, and nothing in the knowledge base matched")
        return handoff(decision, found=asked.found)

    def _judged(self, message: str, cid: str) -> tuple[_Asked, IntentDecision | None]:
        """The message as search will read it (joined with the earlier turns a follow-up leans
        on) and the intent model's decision on the message alone."""
        intents, retriever = self.service.intents, self.service.retriever
        # the intent pass runs beside the question's embedding: both leave the GIL to onnxruntime
        # or torch, and on 2 cores (AMX Xeon) the two passes took 4.4 ms together against 5.9 in turn
        judging = self._judges().submit(intents.classifier.model_proba, [message]) if intents else None
        earlier = self.earlier(cid) if is_follow_up(message) else []
        query = self._in_context(earlier, message) if earlier else message
        asked = _Asked(message, query, retriever.encode(query)[0], earlier)
        if not judging:
            return asked, None
        reads = self._probe_reads_search(intents)
        vector = self._own_vector(asked) if reads else None
        return asked, self._decide(intents, message, judging.result(), vector)

    def _unsearched(self, asked: _Asked, decision: IntentDecision | None) -> Answer | None:
        """A hand-off before any search, for a message out of scope. Search finds the nearest
        passage for anything, and "when does Halfords open on sunday" got our opening hours. A
        message surely out of scope on its own goes; so does one the model puts out of scope less
        surely with a word the shop's texts never use: "can I cancel my gym membership" (P(oos)
        0.76) got the account FAQ. Two signals that agree."""
        if decision is None:
            return None
        if decision.surely_out_of_scope and not (asked.earlier and leans_wholly(asked.message)):
            return handoff(decision, searched=False)
        if decision.status is Status.OOS and not asked.earlier and not asked.vouched \
                and (unused := self.service.shop.unused_words(asked.message)):
            return handoff(decision, searched=False, reason=f"out of scope: about {listed(unused)}, which the "
                                                            "knowledge base never mentions")
        return None

    def _search(self, asked: _Asked, decision: IntentDecision | None, cid: str) -> None:
        """Fill ``asked.found`` and ``asked.passages``; a follow-up on a subject of its own is
        searched alone, and a message that finds nothing alone is searched again with an earlier
        answer whose word it takes up (:meth:`_picked_up`)."""
        retriever, threshold = self.service.retriever, self.service.bot.threshold
        if asked.earlier and confident(decision) and decision.intent not in {t.intent for t in asked.earlier} \
                and names_a_subject(asked.message) and not stands_for_a_noun(asked.message) and not _said_of_it(asked):
            # "how much are they?" names no subject to be sure of; "how much is a large one?" not one of its own
            # subtle: "ok so how do I return it then" after a cancel question is a new subject the
            # intent model is sure of (0.91); judged with the cancel question glued on, the cancel
            # FAQ outranked its template and was given again
            # unless it finds nothing alone: its subject is the earlier turns' after all. subtle: "what
            # if I use a different network?" after the charging FAQ got the joining template (p 0.42);
            # read with that question, search finds "Other public networks: your own card"
            alone = retriever.search(asked.message, k=5, vector=self._own_vector(asked), floor=threshold)
            if any(p.dense >= threshold for p in alone):
                asked.alone_again(self._own_vector(asked))
                asked.found = alone
        if not asked.found:
            asked.found = retriever.search(asked.query, k=5, vector=asked.vector, floor=threshold)
        asked.passages = select_passages(asked.found, threshold, message=asked.message)
        if not asked.earlier and not asked.passages and not confident(decision) \
                and (decision is None or not decision.surely_out_of_scope):
            if earlier := self._picked_up(asked.message, cid):
                asked.earlier, asked.query = earlier, self._in_context(earlier, asked.message)
                asked.vector = retriever.encode(asked.query)[0]
                asked.found = retriever.search(asked.query, k=5, vector=asked.vector, floor=threshold)
                asked.passages = select_passages(asked.found, threshold, message=asked.message)
        self._lead_with_named_row(asked)
        if wanted := asks_for_contact(asked.message):
            self._lead_with_contact(asked, wanted)

    def _lead_with_contact(self, asked: _Asked, wanted: set[str]) -> None:
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

    def _giving_contact(self, asked: _Asked, wanted: set[str]) -> list[Passage]:
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
        similarity = self._similarity([(self._own_vector(asked), 1.0)])
        # the contact page for no line in particular; else by the sentence that gives it: an address, the
        # branch the message names; a number, the line. subtle: "What number do I call from abroad?" was
        # quoted the contact page's opening lines (0.51), not "From abroad, call +44 ..." (0.49 its chunk)
        scores = similarity([c.text for c, _ in giving])
        if wanted <= _REACH and asks_for_no_line(asked.message):
            first = [float(len(kinds & _REACH)) for _, kinds in giving]
        else:  # chunks overlap: of two with the nearest sentence, the nearer
            giving_it = [(i, s) for i, (c, _) in enumerate(giving)
                         for s in [s for s in split_sentences(c.text) if wanted & contact_kinds([s])] or [c.text]]
            first = [float("-inf")] * len(giving)
            for (i, _), score in zip(giving_it, similarity([s for _, s in giving_it]), strict=True):
                first[i] = max(first[i], score)
        best = max(range(len(giving)), key=lambda i: (first[i], scores[i]))
        return [Passage(giving[best][0], scores[best], scores[best])]

    def _lead_with_named_row(self, asked: _Asked) -> None:
        """Lead ``asked.passages`` (none: none) with the chunk holding the table row the message
        names, else the last question it follows (:func:`.rows.row_namer`), in a document search
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
        before = [last] if last and (not swaps_subject(asked.message) or points_back(asked.message)
                                     or new_subject(asked.message) <= named_columns(last, found, chunks_of)) else []
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

    def _template(self, asked: _Asked, decision: IntentDecision) -> Answer | None:
        """The confident intent's template, unless another document is clearly closer, holds the
        table row the message names, or the template lacks what the message asks for (a time, a
        price, a contact; the cells of the rows it names: None); a hand-off when the message names
        a thing the template does not address ("how do I reset my xbox password"); followed by
        another document's closer sentence (:meth:`_beside_template`).

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
        return answer if own >= FAQ_ASKED else self._beside_template(asked, answer, doc)

    def _beside_template(self, asked: _Asked, template: Answer, doc: str) -> Answer:
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
        scores = self._similarity([(asked.vector, 1.0)])([*own_sentences, *(s for _, s in candidates)])  # one encode
        own, scores = max(scores[:len(own_sentences)]), scores[len(own_sentences):]
        best = max(range(len(candidates)), key=scores.__getitem__)
        passage, sentence = candidates[best]
        if scores[best] - own < BESIDE_TEMPLATE or mostly_said(sentence, [template.text]):
            return template
        chunk = passage.chunk
        citation = Citation(2, chunk.chunk_id, chunk.doc_id, chunk.title, chunk.url, sentence)
        return replace(template, text=f"{template.text} {sentence} [2]", citations=[*template.citations, citation])

    def _grounded(self, asked: _Asked, decision: IntentDecision | None) -> Answer:
        """Quotes from the passages found; a follow-up whose answer only repeats the conversation
        gets the passage that names what it asks, or a person; so does a question about something
        the knowledge base never mentions and the passages do not address."""
        message, earlier = asked.message, asked.earlier
        # subtle: a follow-up's quote must answer its own new part ("and to Norway?"); the
        # joined question's vector, led by the earlier turn, only breaks ties
        ranked = [(asked.vector, 1.0)] if asked.query == message else \
            [(self._own_vector(asked), 1.0), (asked.vector, 0.1)]
        similarity = self._similarity(ranked)
        answer = grounded_answer(asked.query, asked.passages, named_intent(decision), similarity,
                                 named_by=asked.named_by, chunks_of=self.service.retriever.document_chunks)
        if earlier and not asked.row_named and not names_new_subject(answer, message, earlier):
            answer = self.follow_ups.fresher(asked, answer, named_intent(decision), similarity) or answer
        # a named row is the answer, said before or not: "what's the fee if I don't return it?" after
        # the Hub 3's row (its "Fee if not returned: £60") was quoted the Mesh Booster's row (£35)
        if says_nothing_new(answer, message, earlier) and not asked.row_named:
            naming = self.follow_ups.naming(asked, named_intent(decision), similarity)
            if naming is None and points_back(message):
                naming = self.follow_ups.closer(asked, answer, named_intent(decision), similarity)
            # subtle: a pronoun's follow-up keeps the earlier answer when no passage names what it
            # asks: handed off, the conversation went quiet, and "who pays for it?" after the
            # returns answer (its prepaid label says who) lost the next question too
            # subtle: "and for a kid?" after fares quoting "a child single £7.00" was handed off: the
            # earlier answer names its subject in other words, and is its answer again. Not by the
            # words the earlier questions asked about: "and to Canada?" is not "USA" (cosine 0.78)
            asked_before = set().union(*(tokenize(t.question) for t in earlier))
            if naming is None and not points_back(message) and \
                    far_words(sorted(new_subject(message)), answer, self.service.retriever.encode, SAME_THING,
                              unless=asked_before):
                return handoff(decision, reason="a follow-up on a new subject: search found nothing "
                                                "on it beyond the earlier answer", found=[])
            answer = naming or answer
        # ... and its quote is kept: "how much is it?" after the Plus row
        answer = without_repeats(answer, [t.answer for t in earlier], keep_first=asked.row_named)
        if not asked.vouched and (unaddressed := self.service.shop.unaddressed(message, answer,
                                                                               self.service.retriever.encode)):
            return handoff(decision, reason=f"asks about {listed(unaddressed)}, which the knowledge base never "
                                            "mentions and the passages found do not address", found=asked.found)
        # an opening question only: a follow-up's words may be the earlier answer's subject
        if not earlier and not asked.vouched and (unanswered := self.service.shop.unanswered(
                message, answer, self.service.retriever.encode)):
            # the words a person reads: not "fi" of "Wi-Fi"
            said = [w for w in unanswered if len(w) > 2] or unanswered
            return handoff(decision, reason=f"asks about {listed(said)}, which the passages found do not address",
                           found=asked.found)
        return self.service.generator.rephrase(message, answer) if self.service.generator else answer

    def _own_vector(self, asked: _Asked) -> np.ndarray:
        """The message's own search vector (the query's when they are the same), encoded once."""
        if asked.alone is None:
            asked.alone = asked.vector if asked.query == asked.message else \
                self.service.retriever.encode(asked.message)[0]
        return asked.alone

    def _probe_reads_search(self, intents: IntentModel) -> bool:
        """Whether the intent model's probe was fitted on the embedder the bot searches with."""
        head = intents.classifier.head
        return head is not None and head.embedder == self.service.bot.embedder

    @staticmethod
    def _decide(intents: IntentModel, message: str, probs: np.ndarray,
                vector: np.ndarray | None) -> IntentDecision:
        """The intent model's decision on its own probabilities (``probs``), its probe reading the
        message's search ``vector`` (None: the probe embeds the message itself)."""
        return intents.judge([message], probs, None if vector is None else vector[None])[0]

    def _judges(self) -> ThreadPoolExecutor:
        """The thread that runs intent passes beside the caller's embedding (made once).

        subtle: one thread, so the intent model's fast tokenizer is never used by two threads
        at once (it keeps its padding and truncation settings as state: "Already borrowed").
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="support-intents")
        return self._pool

    def _in_context(self, earlier: list[Turn], message: str) -> str:
        """``message`` with the earlier questions it leans on (:func:`.questions.contextual_query`),
        as the speller reads them: the record keeps what was typed, and "forgot my pasword" then
        "how long is the link good for?" was handed off."""
        return contextual_query([self.service.speller.correct(t.question) for t in earlier], message)

    def earlier(self, cid: str) -> list[Turn]:
        """The conversation's last turns a follow-up can lean on (up to 3, oldest first), the
        questions answered before it in the same message too (:meth:`_each`)."""
        return ([t for t in self.service.store.history(cid, 3) if t.kind in ANSWERED] + self._parts.get(cid, []))[-3:]

    def _picked_up(self, message: str, cid: str) -> list[Turn]:
        """The earlier turns a message that found nothing alone leans on without a pronoun: it
        takes up a word of their answers ("how long is the link good for?" after "a reset link
        valid for 60 minutes"). None when it shares no word with them.

        subtle: retried on any message that found nothing, a new topic took the old one's
        answer: "do you sell skis?" after a service question quoted the service prices.
        """
        earlier = self.earlier(cid)
        said = {word for t in earlier if t.kind != "handoff" for word in answer_words(t.answer)}
        return earlier if said & set(tokenize(message)) else []

    def _similarity(self, weighted: list[tuple[np.ndarray, float]]) -> Callable[[list[str]], list[float]]:
        """Each text's weighted cosine to the question's vectors (how quotes are chosen)."""
        vectors, weights = np.stack([v for v, _ in weighted]), np.array([w for _, w in weighted])
        return lambda texts: (self.service.retriever.encode_quoted(texts) @ vectors.T @ weights).tolist()


def _said_of_it(asked: _Asked) -> bool:
    """Whether a follow-up with a pronoun asks about a column of a table row the last answer
    quotes: "is it open on Saturdays?" after the billing line's row ("Saturday: Closed") asks it
    of the billing line.

    subtle: read alone, the support-hours template (0.91) answered it with the support line's
    Saturday hours; the billing line is closed. By any word of the last answer, "ok so how do I
    return it then" after a cancel answer ("... or start a return instead") lost its template."""
    last = next((t for t in reversed(asked.earlier) if t.kind != "handoff"), None)
    # a short one only: "can I pay it by card on a Saturday?" asks more than the row's Saturday
    return last is not None and len(asked.message.split()) <= SAID_OF_IT_WORDS and points_back(asked.message) \
        and bool(new_subject(asked.message) & columns_said(CITATION_MARK.sub(" ", last.answer)))


def _named_in(names: Sequence[str], text: str) -> list[str]:
    """The ``names`` that ``text`` holds, in any case."""
    return [n for n in names if n.lower() in text.lower()]


def _names_handoff(names: list[str]) -> Answer:
    """A hand-off for a message naming something the shop's texts never mention (:meth:`Answerer.answer`)."""
    return handoff(None, reason=f"names {listed(names)}, which neither the knowledge base nor the intent examples "
                                f"mention{NOT_READ}")
