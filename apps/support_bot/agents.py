"""The support team's side of the bot: the hand-off queue and the agents' replies, the gaps
(what the bot could not answer) and the lessons that retrain its intent model. Reached as
``SupportService.agents``; no UI code here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from shared import LabelledText
from shared.errors import VerticalsError
from shared.language import language
from shared.output import count_of

from .answer import AnswerKind
from .courtesy import pleasantry_reply
from .escalation import UNJUDGED
from .handoff import was_judged
from .intents import INTENTS
from .masking import mask_pii
from .other_languages import courtesy_in_other_language, released_text, written_in
from .questions import leans_wholly, same_words, separate_questions
from .shop import KB_LANGUAGE_CHUNKS, kb_language
from .store import TAUGHT_KINDS
from .ticket_queue import count_waiting_tickets, with_guesses, with_waits

if TYPE_CHECKING:
    from .service import SupportService

MAX_REPLY_CHARS = 5000  # an agent's reply; a customer's message is cut at questions.MAX_CHARS


class AgentDesk:
    """What agents do with the bot's record: ``service.agents.handoffs()``, ``.reply(ticket,
    text)``, ``.teach(turn, intent)``, ``.retrain()``."""

    def __init__(self, service: SupportService) -> None:
        self.service, self.store, self.registry = service, service.store, service.registry

    def handoffs(self, status: str | None = "open", guesses: bool = True) -> list:
        """Hand-off tickets, each with who has the next word (:func:`.ticket_queue.with_waits`):
        first those waiting for an agent, the longest wait first, then those an agent answered
        last, oldest reply first (released ones: oldest first). With ``guesses``, each with the
        bot's intent and confidence at the hand-off (:meth:`guessed`, which a paged list calls
        per page)."""
        tickets = self.store.tickets(status)
        if status == "open":
            tickets = sorted(with_waits(self.store.engine, tickets),
                             key=lambda t: (t.waiting_since is None, t.waiting_since or t.replied or "", t.id))
        return self.guessed(tickets) if guesses else tickets

    def waiting_count(self) -> int:
        """Open hand-offs whose customer waits for an agent (an agent has not answered last)."""
        return count_waiting_tickets(self.store.engine)

    def guessed(self, tickets: list) -> list:
        """``tickets`` with the bot's intent and confidence at the hand-off; none where the bot did
        not judge the message (:func:`.handoff.was_judged`)."""
        return [replace(t, confidence=None) if not was_judged(t.reason) else t
                for t in with_guesses(self.store.engine, tickets)]

    def release(self, ticket_id: int) -> str:
        """Close a hand-off ticket; returns its conversation. Where the bot answers the
        conversation again (no other ticket of it open), its chat says so in the customer's
        language, asking them to write again what no reply answered (:meth:`unanswered`).

        subtle: the customer's chat still said a colleague would reply, and their next message
        was answered by the bot."""
        return self.store.release(ticket_id, self._released_notice(self.store.conversation_of(ticket_id)))

    def unanswered(self, conversation_id: str) -> list[str]:
        """What the customer wrote while waiting since the last hand-off or agent reply (masked,
        oldest first): the bot does not answer it once the ticket is released.

        subtle: "and do you also sell helmets?", written while waiting, was lost at the release:
        nothing said so, and the customer had to ask again. Thanks or a goodbye ("Danke!") asks
        nothing: it is left out, or the release asked the customer to write it again."""
        return _unanswered(self.service.conversation(conversation_id))

    def unanswered_of_ticket(self, ticket_id: int) -> list[str]:
        """:meth:`unanswered` in the ticket's conversation: what a reply now would answer, or not."""
        return self.unanswered(self.store.conversation_of(ticket_id))

    def reply(self, ticket_id: int, text: str, release: bool = False) -> int:
        """A human agent's reply in the ticket's conversation (the customer's chat shows it);
        with ``release`` the bot answers that conversation again. Returns the reply's turn id.

        >>> service.agents.reply(3, "Your parcel left the depot today.", release=True)  # doctest: +SKIP
        41
        """
        if not isinstance(text, str) or not text.strip():
            raise VerticalsError(f"the reply to ticket {ticket_id} is empty: write some text first")
        if len(text.strip()) > MAX_REPLY_CHARS:
            raise VerticalsError(f"the reply to ticket {ticket_id} has {len(text.strip()):,} characters: keep it "
                                 f"to {MAX_REPLY_CHARS:,} at most (link a help page for the details)")
        notice = self._released_notice(self.store.conversation_of(ticket_id), replied=True) if release else ""
        return self.store.add_agent_reply(ticket_id, text.strip(), release, notice)

    def _released_notice(self, conversation_id: str, replied: bool = False) -> str:
        """What the customer's chat says at a release (:func:`.other_languages.released_text`),
        in the language of what they wrote; ``replied``: the agent's reply comes with it."""
        turns = self.service.conversation(conversation_id)
        # subtle: "Send and release" counted its reply as the answer to all the customer wrote
        # while waiting; a reply on the handed-off question alone left a later one unanswered, unsaid
        return released_text(written_in(turns), self.kb_language(), unanswered=bool(_unanswered(turns)),
                             replied=replied)

    def gaps(self, limit: int = 50) -> list:
        """Questions the bot could not answer or users down-voted, less requests for a person
        and complaints (handed off too, but they say nothing about what the KB lacks)."""
        return self.store.gaps(limit, except_reasons=tuple(UNJUDGED))

    def leaning(self, turns: list) -> dict[int, str]:
        """``{turn id: the customer's question before it}`` for the ``turns`` (gaps) whose question
        names no subject of its own (:func:`.questions.leans_wholly`): it asked about what that one
        did, and :meth:`teach` refuses it. subtle: the gaps listed "how much per month?" alone, and
        an admin taught it parking."""
        out = {}
        for turn in turns:
            if leans_wholly(turn.question):
                before = [t for t in self.store.history(turn.conversation_id, None)
                          if t.id < turn.id and t.kind in TAUGHT_KINDS]
                out[turn.id] = before[-1].question if before else ""
        return out

    def taught(self) -> dict[int, str]:
        """``{turn id: intent}`` of the questions labelled so far (the gaps' "taught as")."""
        return {lesson.turn_id: lesson.intent for lesson in self.store.lessons()}

    def teach(self, turn_id: int, intent: str) -> dict:
        """Label a customer question (a gap, by its turn id) with one of the intent model's
        labels: the out-of-scope one, the knowledge base's ("search"), or an intent. It joins
        the intent model's training data at the next :meth:`retrain`."""
        intents = self.service.intents
        if intents is None:
            raise VerticalsError("no intent model yet: run `verticals support train` (or `support demo`) first")
        labels = list(intents.labels)
        same = [label for label in labels if label.lower() == str(intent).strip().lower()]  # "OOS" is oos
        if len(same) > 1 and intent not in same:
            raise VerticalsError(f"intent {intent!r} matches {' and '.join(same)}, which differ only in case: "
                                 "write it exactly")
        if not same:
            raise VerticalsError(f"unknown intent {intent!r}: use one of {', '.join(labels)}")
        intent = intent if intent in same else same[0]
        if written := self.other_language({turn_id: self.store.question(turn_id)}).get(turn_id):
            raise VerticalsError(f"turn {turn_id} is written in {written}, and the bot reads {self.kb_language()} "
                                 "only: a lesson in another language would teach the intent model words it never sees")
        if leans_wholly(asked := self.store.question(turn_id)):
            # subtle: "how much per month?", asked after a parking question and taught parking, then
            # answered a desk plan's "how much per month?" with the parking fees
            raise VerticalsError(f"turn {turn_id} ({asked!r}) names no subject of its own: it means what the turn "
                                 "before it asked about, and a lesson would answer every such question so — teach "
                                 "a question that names what it asks about")
        question, was = self.store.teach(turn_id, intent)
        lessons = self.store.lessons()
        # subtle: "do you sell helmets?" was taught knowledge_base at one turn and oos at another, unsaid
        other = next((lesson for lesson in lessons if lesson.turn_id != turn_id and lesson.intent != intent
                      and same_words(lesson.question) == same_words(question)), None)
        # subtle: "Where is my order? Also, can I pay by Klarna?" taught track_order taught the
        # model that Klarna questions are tracking ones
        several = separate_questions(question)
        notes = ([f"the same question is taught as {other.intent} at turn {other.turn_id}: `support unteach "
                  f"{other.turn_id}` or teach it {intent} too"] if other else []) + (
            [f"the message asks {len(several)} questions: the bot still answers each, but the next retrain learns "
             f"all of it as {intent} (`support unteach {turn_id}` if only one of them is)"] if several else [])
        searched = self._searched_as_taught(question, intent)
        if searched.startswith("handed off"):
            notes.append(f"search still finds nothing that answers it ({searched.removeprefix('handed off: ')}): "
                         "add an article or FAQ that does with `support kb add`")
        return {"turn_id": turn_id, "question": question, "intent": intent, "was": was, "lessons": len(lessons)} | (
            {"now": searched} if searched else {}) | ({"note": "; ".join(notes)} if notes else {})

    def _searched_as_taught(self, question: str, intent: str) -> str:
        """What search answers a question taught to it (the knowledge base's label, or an intent
        with no template): ``"answered from Title [doc id], ..."`` or ``"handed off: why"``; "" for
        a template or an out-of-scope lesson. subtle: "can i get my dogs nails clipped", taught
        as knowledge_base, was handed off as before, and nothing said so."""
        service = self.service
        if intent == service.intents.thresholds.oos_label or service.bot.templates.get(intent):
            return ""
        answer = service.as_taught(intent, question)
        if answer.kind is AnswerKind.HANDOFF:
            return f"handed off: {answer.reason or 'low confidence'}"
        return "answered from " + ", ".join(dict.fromkeys(f"{c.title} [{c.doc_id}]" for c in answer.citations))

    def kb_language(self) -> str | None:
        """The knowledge base's language, which the bot reads (from the database: loads no model)."""
        return kb_language(self.store.chunks(limit=KB_LANGUAGE_CHUNKS))  # every dashboard rerun: not all

    def other_language(self, questions: dict[int, str]) -> dict[int, str]:
        """``{turn id: language}`` of the ``questions`` written in another language than the
        knowledge base's: not to be taught (none when the KB's language is unknown)."""
        shop = self.kb_language() if questions else None
        return {turn: written for turn, text in questions.items()
                if shop and (written := language(text)) not in (None, shop)}

    def taught_intent(self, message: str) -> str | None:
        """The intent an admin taught for exactly this question (its words, any case, spacing or
        punctuation), else None: the bot answers it so at once, retrained or not.

        subtle: "what cards do you take" was taught check_payment_methods and retrained; the
        model, 0.36 sure of it, still left the question to search, which quoted the gift-card
        page again: the one question the owner corrected kept its wrong answer."""
        lessons = self.store.lessons()
        if not lessons or separate_questions(message):  # several questions: each is answered on its own
            return None
        asked = same_words(mask_pii(message))
        return next((lesson.intent for lesson in reversed(lessons) if same_words(lesson.question) == asked), None)

    def lesson_rows(self) -> list[LabelledText]:
        """Every lesson as a labelled question (``support train`` and ``retrain`` learn them)."""
        return [LabelledText(lesson.question, lesson.intent) for lesson in self.store.lessons()]

    def lessons(self) -> list:
        """Every lesson (a labelled customer question), oldest first."""
        return self.store.lessons()

    def unteach(self, turn_id: int) -> dict:
        """Take back a lesson: its question is no longer answered as taught, and `support train`
        leaves it out. A model already retrained on it keeps it, later retrains too: a retrain
        starts from the serving model's training rows."""
        lesson = self.store.forget_lesson(turn_id)
        return {"turn_id": turn_id, "question": lesson.question, "was": lesson.intent,
                "lessons": len(self.store.lessons())}

    def retrain(self, nightly: bool = False) -> dict | None:
        """Retrain the intent model on its training data and every lesson, with its card's recipe
        (``shared.retrain``); the new version serves only if its macro-F1 on the fixed
        evaluation set is not worse. Returns the report; ``nightly``: None, without training,
        when the last retrain used exactly these lessons (as the finance monitor's does)."""
        from shared import already_tried, retrain

        lessons = self.lesson_rows()
        if not lessons:
            raise VerticalsError("no lessons yet: label questions from the gaps first "
                                 "(`verticals support teach TURN INTENT`, or the dashboard's Gaps tab)")
        if self.service.intents is None:
            raise VerticalsError("no intent model yet: run `verticals support train` (or `support demo`) first")
        if nightly and already_tried(INTENTS, lessons, self.registry):
            return None
        report = retrain(INTENTS, lessons, self.registry, same=same_words)  # as lessons are compared everywhere
        if report.promoted:
            self.service.reload()
        return report.to_dict()


def waiting_note(left: list[str], quote: Callable[[str], str] = str) -> str:
    """What an agent is told of the messages ``left`` unanswered when their reply releases the
    conversation: the reply may not have answered them. ``quote`` escapes the customer's words
    (a dashboard's Markdown).

    >>> print(waiting_note(["and do you sell helmets?"]))  # doctest: +NORMALIZE_WHITESPACE
    the customer wrote 1 message while waiting (“and do you sell helmets?”): if your reply did not
    answer it, the customer's chat asks for it again
    """
    it, last = ("it", "") if len(left) == 1 else ("them", "the last: ")
    quoted = left[-1] if len(left[-1]) <= 80 else f"{left[-1][:80]}…"
    return (f"the customer wrote {count_of(len(left), 'message')} while waiting ({last}“{quote(quoted)}”): if your "
            f"reply did not answer {it}, the customer's chat asks for {it} again")


def _unanswered(turns: list) -> list[str]:
    """:meth:`AgentDesk.unanswered` of a conversation's ``turns``."""
    since = max((i for i, t in enumerate(turns) if t.kind in ("agent", "handoff", "unsure")), default=-1)
    return [t.question for t in turns[since + 1:] if t.kind == "waiting" and t.question
            and not pleasantry_reply(t.question) and not courtesy_in_other_language(t.question, {})]
