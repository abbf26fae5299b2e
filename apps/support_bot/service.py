"""The support bot's logic, shared by the CLI and the dashboard: manage the KB, take each
message (what the bot answers itself goes to :mod:`.answering`: template -> grounded ->
hand-off), keep the record. No UI code here."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shared import Registry, read_table
from shared.language import language, things

from .agents import AgentDesk
from .answer import UNSURE_TEXT, WAITING_TEXT, Answer, AnswerKind, template_answer
from .answering import Answerer
from .courtesy import COURTESY_REPLIES, WAITING_COURTESY, pleasantry_reply
from .escalation import COMPLAINT_REASON, PERSON_REASON, UNJUDGED, asks_for_person, complaint
from .generator import Generator
from .handoff import NOT_READ, handoff
from .intents import INTENTS, KB_LABEL, IntentModel
from .knowledge import keep_ids, load_kb, skipped_files
from .masking import contacts
from .names import towns
from .other_languages import (
    HANDOFF_TEXTS,
    WAITING_TEXTS,
    courtesy_in_other_language,
    in_their_language,
    written_in,
)
from .questions import (
    clean,
    is_follow_up,
)
from .retrieval import RetrievalConfig, Retriever, index_dir
from .shop import Shop
from .spelling import Speller
from .store import SupportStore
from .tables import KbChange, Ticket

RERANKER, RETRIEVER = "support-reranker", "support-retriever"
KB_DRIFT = 0.2  # the share of the knowledge base changed since training that asks for a retrain


@dataclass
class BotSettings:
    """What training calibrated; lives in the intent model's card (``card["bot"]``)."""

    embedder: str = "minilm"
    reranker: str | None = None
    alpha: float = 0.0
    use_reranker: bool = False
    rerank_margin: float | None = None
    threshold: float = 0.35  # cosine floor before anything is calibrated
    templates: dict[str, str] = field(default_factory=dict)
    # search overrules a confident template when another document's passage is this much closer
    # (cosine) than the template's own: "How do I delete my account?" got the password-reset
    # template at p 0.98 while the delete FAQ was the top passage, 0.73 against 0.37. subtle: at
    # 0.2, a question about one detail got its intent's general FAQ ("I crashed and bent the
    # fork, will the warranty pay?" the warranty-cover template, not the warranty article's
    # crash clause): on two blind review sets (165 and 111 turns) 0.05 answered 9 and 7 more
    # right than 0.2, and 0 and 1 fewer; 0.02 or 0 lost answers the template gave right ("I
    # want to send back a jacket")
    template_margin: float = 0.05
    chunk_words: int | None = None  # the chunk size the floor and reranker were fitted on

    @classmethod
    def from_card(cls, card: dict) -> BotSettings:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in card.get("bot", {}).items() if k in known})


def unlinked_note(unlinked: dict[str, str]) -> str:
    """What ``templates_unlinked`` (of ``kb_add`` / ``kb_remove``) means for the bot, in words."""
    return (f"the answer template of {', '.join(sorted(unlinked))} is no longer in the knowledge base; those "
            "questions are answered by search until you run `verticals support train` again")


def serving_stamp(registry: Registry | None = None, index_path: Path | None = None,
                  store: SupportStore | None = None) -> tuple:
    """What a warm service was loaded from: the current versions of the bot's models, the
    index's last save and the knowledge base's chunks. A CLI ``train`` or ``kb add/remove``
    changes it (cheap to compute).

    subtle: the chunks count as well as the index, since ``kb add`` writes the database first:
    killed before its index save, it left a warm dashboard quoting replaced text for good.
    """
    registry = registry or Registry()
    meta = (index_path or index_dir()).with_suffix(".json")  # rewritten on every index save
    saved = meta.stat().st_mtime_ns if meta.exists() else None
    return tuple(registry.current(name) for name in (INTENTS, RERANKER, RETRIEVER)) + (
        saved, (store or SupportStore()).chunk_stamp())


class SupportService:
    """Everything the bot does. Cheap to construct; models load on first use."""

    def __init__(self, store: SupportStore | None = None, registry: Registry | None = None,
                 index_path: Path | None = None) -> None:
        self.store = store or SupportStore()
        self.registry = registry or Registry()
        self.index_path = index_path
        self.generator = Generator.from_env()
        self._intents: IntentModel | None = None
        self._retriever: Retriever | None = None
        self._shop: Shop | None = None  # see shop
        self.bot = BotSettings()
        self.agents = AgentDesk(self)  # hand-offs, replies, gaps and lessons
        self.answerer = Answerer(self)  # the answer path: intents, search, templates, quotes, hand-offs
        self._loading = threading.Lock()  # see warm_up

    # -- models -------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the intent model (when trained), embedder, index and reranker once.

        subtle: the dashboard shares one service between chats, and a chat's second message can
        run beside its first: on a cold server two runs could load the models at once, the second
        replacing what the first was reading. One thread loads; the others wait, then find them
        loaded.
        """
        if self._retriever is not None:
            return
        with self._loading:
            if self._retriever is not None:
                return
            intents, bot = None, self.bot
            if self.registry.current(INTENTS):
                # subtle: its pass runs beside the question's embedding (see answering.Answerer._answer)
                # on one thread: on 2 cores of an AMX Xeon, with both passes on both, they ran 166
                # answers/s at 10k passages, and 206/s so. A question is a few dozen tokens: a
                # second thread saved it only 7%
                intents = IntentModel(self.registry.path(INTENTS), threads=1)
                intents.warm_up()
                bot = BotSettings.from_card(intents.card)
            config = RetrievalConfig(alpha=bot.alpha, use_reranker=bot.use_reranker, rerank_margin=bot.rerank_margin)
            retriever = Retriever(self.store, self._resolve(bot.embedder),
                                  self._resolve(bot.reranker) if bot.reranker else None, config, self.index_path)
            retriever.warm_up()
            towns()  # the names check's towns: a second to load, spent here rather than on a first question
            things(["warm"])  # and the word lists of the things check: half a second
            self._intents, self.bot = intents, bot
            self._retriever = retriever  # last: what the check above reads without the lock

    def _resolve(self, name: str) -> str:
        """A pinned version (``support-retriever@v3``, as training records the models it
        calibrated with) -> its directory in this service's registry; a base name as given."""
        return str(self.registry.resolve(name)) if "@" in name else name

    def reload(self) -> None:
        """Forget loaded models (after training) so the next call picks up the new ones."""
        self._retriever, self._intents, self.bot, self._shop = None, None, BotSettings(), None

    @property
    def shop(self) -> Shop:
        """What the shop's KB and intent examples say of it (:class:`.shop.Shop`: its words,
        language, contacts and speller, and what it is not), read once per KB."""
        if self._shop is None:
            oos = self.intents.thresholds.oos_label if self.intents is not None else None
            # subtle: read without the calibration rows, "gmail" of an out-of-scope example in them
            # was a typo of "mail"
            trained, held = self._examples(("train.csv",)), self._examples(("eval.csv",))
            self._shop = Shop.read(self.retriever, pd.concat([trained, held], ignore_index=True), oos, held=held)
        return self._shop

    @property
    def speller(self) -> Speller:
        """Typo correction towards the shop's own words (:attr:`shop`)."""
        return self.shop.speller

    def _examples(self, parts: tuple[str, ...] = ("train.csv", "eval.csv")) -> pd.DataFrame:
        """The intent examples (``text``, ``label``) the model was trained on (``train.csv``: the
        intents file's rows, the lessons and the knowledge base's questions) and calibrated on
        (``eval.csv``), or those of the files named in ``parts``; none without a model."""
        folder = self.intents.classifier.path if self.intents is not None else None
        frames = [read_table(folder / part, ["text", "label"]) for part in parts
                  if folder is not None and (folder / part).is_file()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"text": [], "label": []})

    @property
    def retriever(self) -> Retriever:
        self.warm_up()
        return self._retriever

    @property
    def intents(self) -> IntentModel | None:
        self.warm_up()
        return self._intents

    # -- knowledge base -----------------------------------------------------------------------
    def kb_add(self, path: str | Path) -> dict:
        """Add or update documents from a file or folder; only changed ones are re-embedded.
        Documents added from the same file or folder before and no longer in it are removed."""
        documents = keep_ids(load_kb(path), self.store.markdown_sources(), alone=Path(path).is_file())
        # subtle: load the index before the database changes, or loading it "repairs" the
        # new chunks (embedding them) and apply() embeds them again
        retriever, linked = self.retriever, self._linked_templates()
        change = self.store.upsert_documents(documents, scope=path)
        retriever.apply(change)
        self._shop = None  # its words come from the KB
        result = {"added": len(change.added), "updated": len(change.updated),
                  "unchanged": len(change.unchanged), "removed": len(change.deleted),
                  "chunks_indexed": len(change.new_chunks),
                  "chunks_removed": len(change.removed_chunk_ids)}
        if change.deleted:  # gone from the file or folder: which, not only how many
            result["removed_ids"] = sorted(change.deleted)
        if change.taken_over:  # the same id came from another file: replaced, and said so
            result["replaced_from_other_files"] = change.taken_over
        if skipped := skipped_files(path):
            result["skipped_files"] = skipped
        if drift := self.kb_drift():
            result["retrain_note"] = drift
        return result | self._unlinked_since(linked)

    def kb_drift(self) -> str:
        """A note when the knowledge base has changed by a fifth or more since the bot was trained
        (documents added, changed or removed, against the count the intent model's card keeps),
        "" otherwise or for a card from before the count.

        subtle: the answer floor, the template links and the hand-off calibration are fitted to
        the KB at training; an operator who replaced the demo's with their own got confident
        wrong answers, and nothing said to train again."""
        card = self.intent_card()
        if not card or not card.get("kb_documents"):
            return ""
        trained, documents, then = card["created"][:19], self.store.documents(), card["kb_documents"]
        changed = sum(d["updated"][:19] > trained for d in documents)  # added or changed since
        # subtle: a document removed and added back counts as changed only: the card keeps a
        # count, not which ids, and "2 removed" was said of one removed and restored
        fewer = max(then - len(documents), 0)  # removed, at least
        if changed + fewer < KB_DRIFT * then:
            return ""
        fewer_note = f" ({fewer} fewer)" if fewer else ""
        return (f"{changed} of the {len(documents)} documents{fewer_note} were added or changed since the bot was "
                f"trained on {then} documents: run `verticals support train` so its answer floor and templates "
                "fit them")

    def kb_remove(self, doc_ids: list[str]) -> dict:
        """Remove documents and their vectors: ``{"removed_chunks": n}``, plus the intents whose
        answer template went with them (``templates_unlinked``)."""
        retriever, linked = self.retriever, self._linked_templates()  # before the database changes
        removed = self.store.remove_documents(doc_ids)
        retriever.apply(KbChange(removed_chunk_ids=removed))
        self._shop = None
        drift = self.kb_drift()
        return {"removed_chunks": len(removed)} | ({"retrain_note": drift} if drift else {}) \
            | self._unlinked_since(linked)

    def _linked_templates(self) -> set[str]:
        """The intents whose answer template (a document) the knowledge base holds."""
        retriever = self.retriever
        return {intent for intent, doc in self.bot.templates.items() if retriever.document_chunks(doc)}

    def _unlinked_since(self, linked: set[str]) -> dict:
        """``{"templates_unlinked": {intent: document id}}`` for the templates a change took away
        (a FAQ whose question was edited gets a new id): those intents are answered by search until
        the bot is trained again. Empty when none."""
        gone = {i: self.bot.templates[i] for i in sorted(linked - self._linked_templates())}
        return {"templates_unlinked": gone} if gone else {}

    def kb_list(self) -> list[dict]:
        return self.store.documents()

    def kb_count(self) -> int:
        """How many documents the knowledge base holds, without listing them: ``0`` when empty."""
        return self.store.document_count()

    def reindex(self) -> int:
        return self.retriever.reindex()

    # -- answering ----------------------------------------------------------------------------
    def ask(self, message: str, conversation_id: str | None = None) -> Answer:
        """Answer one message in a conversation (a new one when ``conversation_id`` is None or "")."""
        message, notice = clean(message)
        # subtle: a refused message stores nothing, so it starts no conversation: its answer
        # carries the id it came with ("" for none), which the next message continues
        if not message:
            return Answer("Please type a question.", AnswerKind.INVALID, conversation_id=conversation_id or "")
        if not re.search(r"[^\W_]", message):  # "?????", "🚲❓": no word to answer, nothing to hand off
            return Answer("Please type your question in words.", AnswerKind.INVALID,
                          conversation_id=conversation_id or "")
        cid, status = self.store.open_conversation(conversation_id)
        if status == "handed_off":
            # subtle: "thanks!" while waiting got the waiting text alone; thanked back, told again
            thanked = WAITING_COURTESY.get(pleasantry_reply(message) or "")
            waiting = self._in_their_language(WAITING_TEXTS, message, cid) or \
                (f"{thanked} {WAITING_TEXT}" if thanked else WAITING_TEXT)
            answer = Answer(waiting, AnswerKind.WAITING)
            self.store.add_contacts(cid, self._reach(message))  # "my number is ...": for the agent
            if asks_for_person(message):
                self.store.add_reason(cid, PERSON_REASON)
            if complaint(message):  # the agent learns the customer is upset
                self.store.add_reason(cid, COMPLAINT_REASON)
        elif asks_for_person(message):
            answer = Answer("", AnswerKind.HANDOFF, reason=PERSON_REASON)
        elif complaint(message):
            answer = Answer("", AnswerKind.HANDOFF, reason=COMPLAINT_REASON)
        elif reply := pleasantry_reply(message) or courtesy_in_other_language(message, COURTESY_REPLIES):
            # subtle: "thanks" after an answer is not an unknown question; handed off, it
            # silenced the bot and filled the agents' queue and the gaps list
            answer = Answer(reply, AnswerKind.COURTESY, 1.0)
        elif (taught := self.agents.taught_intent(message)) and not self._follows_up(message, cid):
            answer = self.as_taught(taught, message, cid)
        elif self.shop.out_of_scope_example(message) and not self._follows_up(message, cid):
            answer = handoff(None, reason=f"out of scope (an out-of-scope intent example){NOT_READ}")
        elif (written := language(message)) not in (None, self.shop.language) and self.shop.language:
            # before the speller, which reads another language's words as typos of the shop's
            answer = handoff(None, reason=f"written in {written}; the bot reads {self.shop.language} only{NOT_READ}")
        elif (held := self.shop.held_intent(message)) and not self._follows_up(message, cid):
            answer = self.as_taught(held, message, cid)  # as an admin's lesson is
        else:
            answer = self.answerer.answer(message, cid)
        return self._record(cid, message, answer, notice)

    def _follows_up(self, message: str, cid: str) -> bool:
        """Whether ``message`` reads as a follow-up and its conversation has earlier answers to
        lean on: then it means what was asked before, and neither an admin's lesson nor an
        out-of-scope example decides it alone (a lesson on "how much is it?" would answer every
        later one with the same template). subtle: only where there is a before: "can one of your
        mechanics look at it", taught and asked again in a new chat, read as a follow-up ("one",
        "it") and was handed off again."""
        return is_follow_up(message) and bool(self.answerer.earlier(cid))

    def as_taught(self, intent: str, message: str, cid: str = "") -> Answer:
        """The answer to a question an admin taught (:meth:`AgentDesk.taught_intent`): its
        intent's template, a hand-off for out of scope; the knowledge base's label, or an intent
        without a template, is searched as any question."""
        if self.intents is not None and intent == self.intents.thresholds.oos_label:
            return handoff(None, reason=f"taught as {intent}{NOT_READ}")
        chunks = self.retriever.document_chunks(self.bot.templates.get(intent, ""))
        return template_answer(chunks, 1.0, intent) if chunks else \
            self.answerer.answer(message, cid, vouched=intent == KB_LABEL)

    def _in_their_language(self, texts: dict[str, str], message: str, cid: str | None = None,
                           **fields) -> str | None:
        """``texts``' sentence for a customer writing another language than the knowledge base's
        (:func:`.other_languages.in_their_language`); the KB's language is read from the
        database: a wait loads no model. A message too short to tell ("Hallo??") is read in the
        language of what the customer wrote before in conversation ``cid``.

        subtle: a German customer's "Hallo??" while waiting got the English waiting text."""
        written = language(message)
        if not written and cid:
            written = written_in(self.store.history(cid, None))
        if not written:
            return None
        shop = self._shop.language if self._shop is not None else self.agents.kb_language()
        return in_their_language(texts, written, shop, **fields)

    def _reach(self, message: str) -> list[str]:
        """The e-mail addresses and phone numbers a customer wrote, the shop's own left out: the
        shop's texts are read (with the models) only when there are any (a wait needs none)."""
        return contacts(message, self.shop.contacts) if contacts(message) else []

    def _record(self, cid: str, message: str, answer: Answer, notice: str) -> Answer:
        answer.conversation_id, answer.notice = cid, notice
        if answer.kind is AnswerKind.HANDOFF:
            answer.ticket_id = self.store.open_ticket(cid, message, answer.reason or "low confidence",
                                                      self._reach(message))
            text = UNJUDGED.get(answer.reason, "").format(ticket=answer.ticket_id) or self._in_their_language(
                HANDOFF_TEXTS, message, ticket=answer.ticket_id) or UNSURE_TEXT.format(ticket=answer.ticket_id)
            answer.text = f"{answer.text}\n\n{text}" if answer.text else text  # after a message's answered questions
        if answer.kind is not AnswerKind.INVALID:
            sources = [c.chunk_id for c in answer.citations]
            contacts = self.shop.contacts if answer.citations else frozenset()  # quoted from the KB only
            answer.turn_id = self.store.add_turn(cid, message, answer.text, str(answer.kind), answer.intent,
                                                 answer.confidence, sources, keep=contacts)
        return answer

    # -- record -------------------------------------------------------------------------------
    def feedback(self, turn_id: int, up: bool) -> None:
        self.store.set_feedback(turn_id, 1 if up else -1)

    def chunks(self, ids: set[int]) -> list:
        """The knowledge base's chunks of these ids (a chat's citations rebuilt from its record)."""
        return self.store.chunks(ids)

    def tickets(self, conversation_id: str) -> list[Ticket]:
        """The hand-off tickets of one conversation, open or released, oldest first."""
        return self.store.tickets(status=None, conversation_id=conversation_id)

    def has_conversation(self, conversation_id: str) -> bool:
        return self.store.has_conversation(conversation_id)

    def conversation(self, conversation_id: str, limit: int | None = None) -> list:
        """The conversation's stored turns, oldest first: the customer's messages, the bot's
        answers and the agents' replies (kind ``agent``), masked."""
        return self.store.history(conversation_id, limit)

    def conversation_status(self, conversation_id: str) -> str:
        """``bot``, or ``handed_off`` while an agent's ticket is open."""
        return self.store.conversation_status(conversation_id)

    def unvote(self, turn_id: int) -> None:
        """Take back a thumbs up or down."""
        self.store.set_feedback(turn_id, None)

    def intent_card(self) -> dict | None:
        return self.registry.card(INTENTS) if self.registry.current(INTENTS) else None

