"""How the bot answers a question (issue 3's order): the intent model's template when it is
sure, else quotes from the knowledge base found by hybrid search, else a hand-off; a follow-up
read with the turns it leans on, a message of several questions answered one by one.
:meth:`.service.SupportService.ask` hands it the messages it does not answer itself (a wait, a
request for a person, a complaint, a courtesy, a lesson, another language)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from .answer import (
    CITATION_MARK,
    Answer,
    AnswerKind,
    answer_words,
    combined,
    grounded_answer,
    select_passages,
    without_repeats,
)
from .asked import Asked, similarity
from .asking import asks_for_contact
from .follow_ups import FollowUps
from .handoff import NOT_READ, confident, handoff, listed, named_intent
from .intents import IntentDecision, IntentModel, Status
from .leads import Leads
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
)
from .ranking import tokenize
from .row_cells import columns_said
from .shop import far_words
from .tables import Turn
from .templates import Templates

if TYPE_CHECKING:
    from .service import SupportService

ANSWERED = ("template", "grounded", "handoff")  # turns a follow-up can lean on
# two words for one thing (search cosine): "kid" / "child" 0.81, "bike" / "bicycle" 0.92; not "cat" /
# "dog" 0.66, "Norway" / "Switzerland" 0.68, "student" / "senior" 0.61 (but "Canada" / "USA" 0.78,
# "Sweden" / "Norway" 0.80: the earlier questions' words are left out)
SAME_THING = 0.75
SAID_OF_IT_WORDS = 6  # a longer pronoun follow-up asks more than a column of the row said (see _said_of_it)


class Answerer:
    """The answer path of one :class:`.service.SupportService`: reads its models, knowledge base
    and record through it (``service.answerer.answer(message, conversation_id)``)."""

    def __init__(self, service: SupportService) -> None:
        self.service = service
        self._pool: ThreadPoolExecutor | None = None  # see _judges
        self.follow_ups, self.leads, self.templates = FollowUps(service), Leads(service), Templates(service)
        self._parts: dict[str, list[Turn]] = {}  # per conversation, a message's questions answered so far

    def answer(self, message: str, cid: str, vouched: bool = False) -> Answer:
        """A message naming something the shop's texts never mention ("how do I cancel my Netflix
        subscription") is handed off unread: the intent model was 0.97 sure of the cancel FAQ.
        Names are sought in all of it; a long message is answered by its question
        (:func:`.questions.focus`), and several questions each
        (:func:`.questions.separate_questions`; :func:`.answer.combined`), unless the bot would
        hand off every one of them: then the message is answered whole, as one. ``vouched``: an
        admin taught it to the knowledge base (:class:`.asked.Asked`).

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
                and (template := self.templates.answer(asked, decision)):
            return template
        if asked.passages:
            return self._grounded(asked, decision)
        if confident(decision) and decision.intent not in self.service.bot.templates:
            # subtle: an audit's queue read "nothing in the knowledge base matched" beside social_tariff
            # at 0.78: the agent could not tell the bot was sure of an intent it has no answer for
            return handoff(decision, found=asked.found, reason=f"sure of {decision.intent}, which has no answer "
                                                               "template, and nothing in the knowledge base matched")
        return handoff(decision, found=asked.found)

    def _judged(self, message: str, cid: str) -> tuple[Asked, IntentDecision | None]:
        """The message as search will read it (joined with the earlier turns a follow-up leans
        on) and the intent model's decision on the message alone."""
        intents, retriever = self.service.intents, self.service.retriever
        # the intent pass runs beside the question's embedding: both leave the GIL to onnxruntime
        # or torch, and on 2 cores (AMX Xeon) the two passes took 4.4 ms together against 5.9 in turn
        judging = self._judges().submit(intents.classifier.model_proba, [message]) if intents else None
        earlier = self.earlier(cid) if is_follow_up(message) else []
        query = self._in_context(earlier, message) if earlier else message
        asked = Asked(message, query, retriever.encode(query)[0], earlier)
        if not judging:
            return asked, None
        reads = self._probe_reads_search(intents)
        vector = asked.own_vector(self.service.retriever.encode) if reads else None
        return asked, self._decide(intents, message, judging.result(), vector)

    def _unsearched(self, asked: Asked, decision: IntentDecision | None) -> Answer | None:
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

    def _search(self, asked: Asked, decision: IntentDecision | None, cid: str) -> None:
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
            alone = retriever.search(asked.message, k=5, vector=asked.own_vector(retriever.encode), floor=threshold)
            if any(p.dense >= threshold for p in alone):
                asked.alone_again(asked.own_vector(retriever.encode))
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
        self.leads.named_row(asked)
        if wanted := asks_for_contact(asked.message):
            self.leads.contact(asked, wanted)

    def _grounded(self, asked: Asked, decision: IntentDecision | None) -> Answer:
        """Quotes from the passages found; a follow-up whose answer only repeats the conversation
        gets the passage that names what it asks, or a person; so does a question about something
        the knowledge base never mentions and the passages do not address."""
        message, earlier = asked.message, asked.earlier
        # subtle: a follow-up's quote must answer its own new part ("and to Norway?"); the
        # joined question's vector, led by the earlier turn, only breaks ties
        ranked = [(asked.vector, 1.0)] if asked.query == message else \
            [(asked.own_vector(self.service.retriever.encode), 1.0), (asked.vector, 0.1)]
        similar = similarity(ranked, self.service.retriever.encode_quoted)
        answer = grounded_answer(asked.query, asked.passages, named_intent(decision), similar,
                                 named_by=asked.named_by, chunks_of=self.service.retriever.document_chunks)
        if earlier and not asked.row_named and not names_new_subject(answer, message, earlier):
            answer = self.follow_ups.fresher(asked, answer, named_intent(decision), similar) or answer
        # a named row is the answer, said before or not: "what's the fee if I don't return it?" after
        # the Hub 3's row (its "Fee if not returned: £60") was quoted the Mesh Booster's row (£35)
        if says_nothing_new(answer, message, earlier) and not asked.row_named:
            naming = self.follow_ups.naming(asked, named_intent(decision), similar)
            if naming is None and points_back(message):
                naming = self.follow_ups.closer(asked, answer, named_intent(decision), similar)
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


def _said_of_it(asked: Asked) -> bool:
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
